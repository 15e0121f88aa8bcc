// COMPEIT connection agent for web pages and Node.js 20: a thin driver around
// the WebAssembly core (compeit_core.wasm). The core decides everything
// protocol-related; this file only performs its I/O (fetch, WebSocket,
// timers) and turns its answers into events and promises.
//
// Application code (listeners, register() callbacks) is called through one
// guard: whatever it throws is reported (console and the `error` event) and
// the agent goes on, so no callback can stop later events or requests.
import createCompeitCore from './compeit_core.mjs';

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

async function loadCore(options = {}) {
  const moduleArgs = {};
  if (options.wasmBinary) moduleArgs.wasmBinary = options.wasmBinary;
  else if (isNode) {
    // Node's fetch() cannot read file: URLs, so hand the binary over directly.
    const { readFile } = await import('node:fs/promises');
    moduleArgs.wasmBinary = await readFile(new URL('./compeit_core.wasm', import.meta.url));
  }
  return createCompeitCore(moduleArgs);
}

async function webSocketClass(options) {
  if (options.WebSocket) return options.WebSocket;
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
  const ws = await import('ws');  // Node.js 20 has no global WebSocket
  return ws.WebSocket ?? ws.default;
}

const now = () => Math.floor(globalThis.performance?.now?.() ?? Date.now());

// Sentences for the codes the agent itself reports; the server's request
// errors come with their own message (which names the field at fault).
const MESSAGES = {
  not_connected: 'Not connected: call connect() first.',
  disconnected: 'The connection was lost before the server answered.',
  connect_failed: 'Could not connect to the server.',
  unauthorized: 'The server refused the access token.',
};

/** An error with a `code` an application can switch on (see compeit.d.ts ErrorCode). */
class CompeitError extends Error {
  constructor(code, message, details = {}) {
    super(message || MESSAGES[code] || code);
    this.name = 'CompeitError';
    this.code = code;
    if (details.event) this.event = details.event;  // the request that failed (join_room, room_message, ...)
    if (details.type) this.type = details.type;     // its agent type, for messages
  }
}

// The reconnection options the core takes (compeit_configure); others stay here.
const CORE_OPTIONS = ['reconnect', 'maxAttempts', 'minDelay', 'maxDelay', 'jitter', 'resume'];

function randomSeed() {
  const word = new Uint32Array(1);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(word);
  else word[0] = Math.floor(Math.random() * 2 ** 32);
  return word[0];
}

/** The connection agent: one connection to one COMPEIT server. */
export class ConnectionAgent {
  #core; #h = -1; #ws = null; #WebSocket; #timer = null; #listeners = new Map();
  #pending = new Map(); #agents = new Map(); #connectWaiters = []; #httpStatus = 0;
  #pcs = new Map(); #local = new Map(); #publishWaiters = []; #streamWaiters = [];
  #state = 'disconnected';
  user = null; room = null;

  constructor(core, WebSocketCtor) {
    this.#core = core;
    this.#WebSocket = WebSocketCtor;
    this.chat = {
      send: (text) => this.#call((s) => this.#core._compeit_chat_send(this.#h, s(text)), 'room_message', 'chat'),
      sendTo: (userId, text) =>
        this.#call((s) => this.#core._compeit_chat_send_to(this.#h, userId, s(text)), 'server_message', 'chat'),
      /** One page of the room's chat, oldest first: {messages, hasMore}. `before`: an id (the oldest one has). */
      history: ({ before, limit } = {}) =>
        this.#call(() => this.#core._compeit_chat_history(this.#h, before ?? -1, limit ?? -1), 'server_message', 'chat'),
    };
    const self = this;  // for the getter below
    // Local streams by name: 'camera' (getUserMedia), 'screen' (getDisplayMedia),
    // or any stream name with a MediaStream of the caller's (e.g. a canvas's).
    const named = (o) => (typeof o === 'string' ? o : o?.stream) ?? 'camera';
    const media = (fn) => this.#withStrings(fn);
    this.media = {
      /** Opens a local stream and returns it: the camera and microphone (getUserMedia) unless
       *  `stream` names another; 'screen' asks for a screen (getDisplayMedia); `mediaStream`
       *  gives one of your own. Opened once per name until stop(). */
      start: async ({ stream = 'camera', audio = stream !== 'screen', video = true, mediaStream } = {}) => {
        if (!this.#local.has(stream)) {
          const opened = mediaStream ?? (stream === 'screen'
            ? await navigator.mediaDevices.getDisplayMedia({ video: true, audio: !!audio })
            : await navigator.mediaDevices.getUserMedia({ audio, video }));
          this.#local.set(stream, opened);
        }
        return this.#local.get(stream);
      },
      /** The local camera stream (start()), or null. */
      get localStream() { return self.#local.get('camera') ?? null; },
      /** Every open local stream by name. */
      get localStreams() { return new Map(self.#local); },
      /** Publishes a local stream (start() first) to the room; resolves once the server confirms. */
      publish: ({ audio = true, video = true, stream = 'camera' } = {}) => {
        if (!this.#local.has(stream)) return Promise.reject(new CompeitError('bad_request', 'Call media.start() first.'));
        const done = new Promise((resolve, reject) => this.#publishWaiters.push({ stream, resolve, reject }));
        media((str) => this.#core._compeit_media_publish(this.#h, audio ? 1 : 0, video ? 1 : 0, str(stream)));
        this.#pump();
        return done;
      },
      /** Stops publishing a stream (the camera unless named: unpublish('screen') or unpublish({stream})). */
      unpublish: (which) => { media((str) => this.#core._compeit_media_unpublish(this.#h, str(named(which)))); this.#pump(); },
      /** Shares a screen next to the camera: start({stream:'screen'}) and publish it; the browser's
       *  own "Stop sharing" stops it too. `mediaStream`: share this one instead of asking. */
      shareScreen: async ({ audio = false, mediaStream } = {}) => {
        const screen = await this.media.start({ stream: 'screen', audio, video: true, mediaStream });
        const track = screen.getVideoTracks()[0];
        if (track) track.addEventListener('ended', () => { if (this.#local.get('screen') === screen) this.media.stop('screen'); });
        await this.media.publish({ stream: 'screen', audio: screen.getAudioTracks().length > 0, video: true });
        return screen;
      },
      /** Stops sharing the screen (unpublish and stop its tracks). */
      stopScreen: () => this.media.stop('screen'),
      /** Media server only: records a published stream (the camera unless `stream`), or stops; resolves once the room is told. */
      record: (on = true, which) => this.#streamChange(on ? 'record_start' : 'record_stop', named(which),
        (s) => !!s.recording === !!on, (stream) => media((str) => this.#core._compeit_media_record(this.#h, on ? 1 : 0, str(stream)))),
      /** Media server only: a filter on a published stream (Kurento); resolves once the room is told. */
      setFilter: (filter, which) => this.#streamChange('set_filter', named(which), (s) => (s.filter ?? '') === String(filter),
        (stream) => media((str) => this.#core._compeit_media_filter(this.#h, str(String(filter)), str(stream)))),
      /** Mutes or unmutes (the camera unless `stream`): tracks are switched off here and the flags announced to the room. */
      mute: ({ audio, video, stream = 'camera' }) => {
        const local = this.#local.get(stream);
        for (const t of local?.getAudioTracks() ?? []) if (audio !== undefined) t.enabled = audio;
        for (const t of local?.getVideoTracks() ?? []) if (video !== undefined) t.enabled = video;
        const a = local?.getAudioTracks()[0]?.enabled ?? false;
        const v = local?.getVideoTracks()[0]?.enabled ?? false;
        media((str) => this.#core._compeit_media_update(this.#h, a ? 1 : 0, v ? 1 : 0, str(stream)));
        this.#pump();
      },
      /** Puts `track` in place of the local stream's track of its kind (the camera unless
       *  `stream`), on every connection that sends it (RTCRtpSender.replaceTrack: nothing is
       *  renegotiated, the others keep their connections). The old track is stopped. */
      replaceTrack: async (track, { stream = 'camera' } = {}) => {
        const local = this.#local.get(stream);
        if (!local) throw new CompeitError('bad_request', 'Call media.start() first.');
        const old = local.getTracks().find((t) => t.kind === track.kind);
        const senders = [...this.#pcs.values()].filter((e) => e.send && e.name === stream)
          .flatMap((e) => e.pc.getSenders().filter((s) => s.track ? s.track === old : false));
        await Promise.all(senders.map((s) => s.replaceTrack(track)));
        if (old) { local.removeTrack(old); old.stop(); }
        local.addTrack(track);
      },
      /** Unpublishes and closes a local stream: every one without an argument, else the one named. */
      stop: (which) => {
        const names = which === undefined ? [...this.#local.keys()] : [named(which)];
        for (const name of names) {
          this.media.unpublish(name);
          for (const t of this.#local.get(name)?.getTracks() ?? []) t.stop();
          this.#local.delete(name);
        }
      },
    };
  }

  // A change of one of our published streams: settles on the streams event
  // that shows it, or on the media_error of its request.
  #streamChange(action, stream, shows, call) {
    if (!this.#local.has(stream)) return Promise.reject(new CompeitError('bad_request', 'Not publishing.'));
    const done = new Promise((resolve, reject) => this.#streamWaiters.push({ action, stream, shows, resolve, reject }));
    call(stream);
    this.#pump();
    return done;
  }

  /** connecting, connected, reconnecting or disconnected. */
  get state() { return this.#state; }

  /** Listens to an event (see compeit.d.ts EventMap); returns a function that stops listening. */
  on(event, fn) {
    if (typeof fn !== 'function') throw new TypeError('on(event, listener): the listener must be a function');
    if (!this.#listeners.has(event)) this.#listeners.set(event, []);
    const entry = { fn };
    this.#listeners.get(event).push(entry);
    return () => this.#remove(event, entry);
  }

  /** Stops a listener given to on() or once(). */
  off(event, fn) {
    const list = this.#listeners.get(event) ?? [];
    const entry = list.find((e) => e.fn === fn || e.original === fn);
    if (entry) this.#remove(event, entry);
  }

  /** Listens to the next one of an event only; returns a function that stops listening. */
  once(event, fn) {
    let stop;
    const wrapper = (payload) => { stop(); fn(payload); };
    stop = this.on(event, wrapper);
    this.#listeners.get(event).at(-1).original = fn;
    return stop;
  }

  #remove(event, entry) {
    const list = this.#listeners.get(event);
    const i = list?.indexOf(entry) ?? -1;
    if (i >= 0) list.splice(i, 1);
  }

  /** Connects and resolves with the user once the server says `connected`; rejects once
   *  (connect_failed, unauthorized) when it cannot, and then tries no more.
   *  `token`: the access token, for a server that requires one; the other options tune reconnection. */
  connect(url, options = {}) {
    const { name = '', token = '' } = options;
    if (this.#state === 'connected') return Promise.resolve(this.user);
    if (this.#h < 0) {
      this.#h = this.#withStrings((s) => this.#core._compeit_new(s(url), s(name), s(token)));
      for (const type of this.#agents.keys()) this.#withStrings((s) => this.#core._compeit_register(this.#h, s(type)));
    }
    this.#configure(options);
    const ready = new Promise((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    this.#httpStatus = 0;
    this.#core._compeit_connect(this.#h, now());
    this.#timer ??= setInterval(() => { this.#core._compeit_tick(this.#h, now()); this.#pump(); }, 100);
    this.#leaveWithPage();
    this.#pump();
    return ready;
  }

  // A page that goes away (closed, reloaded, navigated) leaves at once: a
  // session the page can never resume would otherwise stay in its room,
  // parked for resume, until the server's resume timeout.
  #pageListener = null;
  #leaveWithPage() {
    if (this.#pageListener || typeof globalThis.addEventListener !== 'function' || isNode) return;
    this.#pageListener = () => this.disconnect();
    globalThis.addEventListener('pagehide', this.#pageListener);
  }

  // The reconnection options, for the core (which runs its own backoff from the seed).
  #configure(options) {
    if (typeof this.#core._compeit_configure !== 'function') return;
    const config = { seed: randomSeed() };
    for (const key of CORE_OPTIONS) if (options[key] !== undefined) config[key] = options[key];
    this.#withStrings((s) => this.#core._compeit_configure(this.#h, s(JSON.stringify(config))));
  }

  disconnect() {
    if (this.#h < 0) return;
    this.#core._compeit_disconnect(this.#h);
    this.#pump();
    this.#stopTimer();
  }

  #stopTimer() {
    clearInterval(this.#timer);
    this.#timer = null;
  }

  joinRoom(room) { return this.#call(() => this.#core._compeit_join_room(this.#h, room), 'join_room'); }
  leaveRoom() { return this.#call(() => this.#core._compeit_leave_room(this.#h), 'leave_room'); }

  /** Registers an agent type; returns its send functions (each returns a promise of the ack). */
  register(type, callbacks = {}) {
    if (this.#agents.has(type)) throw new CompeitError('bad_request', `Agent ${type} is already registered.`);
    this.#agents.set(type, callbacks);
    if (this.#h >= 0) this.#withStrings((s) => this.#core._compeit_register(this.#h, s(type)));
    const send = (channel, to, data) =>
      this.#call((s) => this.#core._compeit_send(this.#h, channel, to, s(type), s(JSON.stringify(data ?? null))),
        channel === 1 ? 'room_message' : 'server_message', type);
    return {
      sendToServer: (data) => send(0, 0, data),
      sendToRoom: (data) => send(1, 0, data),
      sendToUser: (userId, data) => send(2, userId, data),
    };
  }

  // --- calling the application --------------------------------------------------

  // Calls application code; what it throws is reported and goes no further.
  #guard(source, fn, ...args) {
    try {
      fn(...args);
    } catch (error) {
      this.#reportError(error, source);
    }
  }

  // On the console and as an `error` event; a throwing `error` listener is
  // only logged, so reporting never recurses.
  #reportError(error, source) {
    console.error(`compeit: ${source} threw:`, error);
    if (source.startsWith('listener:error')) return;
    this.#emit('error', { error, source });
  }

  #emit(event, payload) {
    for (const { fn } of [...(this.#listeners.get(event) ?? [])]) this.#guard(`listener:${event}`, fn, payload);
  }

  // --- plumbing -------------------------------------------------------------

  #withStrings(fn) {
    const allocated = [];
    const s = (str) => {
      const size = this.#core.lengthBytesUTF8(str) + 1;
      const ptr = this.#core._malloc(size);
      this.#core.stringToUTF8(str, ptr, size);
      allocated.push(ptr);
      return ptr;
    };
    try { return fn(s); } finally { for (const p of allocated) this.#core._free(p); }
  }

  // A request: `event` and `type` name it in its CompeitError.
  #call(fn, event, type) {
    if (this.#h < 0) return Promise.reject(new CompeitError('not_connected', '', { event, type }));
    const id = this.#withStrings(fn);
    const settled = new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject, event, type }));
    this.#pump();
    return settled;
  }

  #pump() {
    if (this.#h < 0) return;
    const outputs = JSON.parse(this.#core.UTF8ToString(this.#core._compeit_take_outputs(this.#h)));
    // Each output on its own: one that fails must not lose the ones after it.
    for (const o of outputs) {
      try {
        this.#perform(o);
      } catch (error) {
        this.#reportError(error, `agent:${o.op}`);
      }
    }
  }

  #perform(o) {
    switch (o.op) {
      case 'http_get': return this.#handshake(o.text);
      case 'ws_open': return this.#open(o.text);
      case 'ws_send': return this.#ws?.readyState === 1 && this.#ws.send(o.text);
      case 'ws_close': { const ws = this.#ws; this.#ws = null; if (ws) { ws.onclose = null; ws.close(); } return; }
      case 'ack': return this.#settle(o.request, o.data);
      case 'agent': {
        const a = this.#agents.get(o.text);
        const cb = { server: a?.onServerMessage, room: a?.onRoomMessage, user: a?.onUserMessage }[o.channel];
        if (!cb) return;
        const source = `register:${o.text}:${o.channel}`;
        return o.channel === 'server' ? this.#guard(source, cb, o.data) : this.#guard(source, cb, o.from, o.data);
      }
      case 'event': return this.#event(o.text, o.data);
    }
  }

  // A request's ack: {error:{code,message}} rejects, anything else resolves.
  #settle(id, data) {
    const p = this.#pending.get(id);
    this.#pending.delete(id);
    if (!p) return;
    const error = data && typeof data === 'object' ? data.error : undefined;
    if (!error) return p.resolve(data);
    const code = String(error.code ?? 'internal');
    p.reject(new CompeitError(code, code in MESSAGES ? '' : String(error.message ?? ''), p));
  }

  #event(name, data) {
    if (name === 'rtc') return this.#rtc(data);
    if (name === 'state') return this.#stateChange(data);
    this.#mediaWaiters(name, data);
    if (name === 'connected' || name === 'reconnected') {
      this.user = data?.user ?? null;
      for (const w of this.#connectWaiters.splice(0)) w.resolve(this.user);
    }
    // A resumed session is still in its room (docs/protocol.md 8); any other
    // reconnect rejoins it, and room_joined says so.
    if (name === 'room_joined') this.room = data.room;
    if (name === 'room_left' || (name === 'reconnected' && !data?.resumed)) this.room = null;
    if (name === 'error') {  // the core's: a failed handshake; its connect() rejection says it
      if (this.#connectWaiters.length) return this.#rejectConnect();
      return this.#emit('error', { error: new CompeitError('connect_failed'), source: 'connection' });
    }
    if (['room_joined', 'user_joined', 'user_left', 'room_left'].includes(name)) {
      for (const [type, a] of this.#agents) if (a.onMembership) this.#guard(`register:${type}:membership`, a.onMembership, name, data);
    }
    this.#emit(name, data);
  }

  // The core's connection state: `statechange` for the application; a
  // first connect that ends in `disconnected` rejects connect() once.
  #stateChange({ state, reason, attempt, delay, status }) {
    if (status) this.#httpStatus = status;  // a refused handshake's HTTP status
    const previous = this.#state;
    this.#state = state;
    const change = { state, previous, reason };
    if (attempt !== undefined) change.attempt = attempt;
    if (delay !== undefined) change.delay = delay;
    if (state === 'disconnected') {
      this.#stopTimer();  // nothing more will happen until connect() again
      this.room = null;
      if (this.#connectWaiters.length) this.#rejectConnect(reason);
    }
    this.#emit('statechange', change);
  }

  #rejectConnect(reason) {
    const refused = this.#httpStatus === 401 || this.#httpStatus === 403;
    const code = refused ? 'unauthorized' : 'connect_failed';
    const why = reason === 'connect_timeout' ? ' (no answer in time)' : this.#httpStatus ? ` (HTTP ${this.#httpStatus})` : '';
    const error = new CompeitError(code, refused ? MESSAGES.unauthorized : MESSAGES.connect_failed.replace('.', `${why}.`));
    for (const w of this.#connectWaiters.splice(0)) w.reject(error);
  }

  // Media promises settle on the events that show their outcome; waiters are
  // per stream name (events name theirs; 'camera' when they do not).
  #mediaWaiters(name, data) {
    const about = (w) => (data?.stream ?? 'camera') === w.stream;
    const take = (list, pred) => { const out = list.filter(pred); return [out, list.filter((w) => !out.includes(w))]; };
    if (name === 'published') {
      const [done, rest] = take(this.#publishWaiters, about);
      this.#publishWaiters = rest;
      for (const w of done) w.resolve(data);
    }
    if (name === 'streams') {
      const mine = (w) => data.streams?.find((s) => s.user === this.user?.id && (s.stream ?? 'camera') === w.stream);
      const [settled, rest] = take(this.#streamWaiters, (w) => { const s = mine(w); return s && w.shows(s); });
      this.#streamWaiters = rest;
      for (const w of settled) w.resolve(mine(w));
    }
    if (name === 'media_error' || name === 'unpublished' || name === 'disconnect') {
      const [failed, rest] = take(this.#streamWaiters, (w) => name === 'disconnect' ||
        (about(w) && (name === 'unpublished' || w.action === data.action)));
      this.#streamWaiters = rest;
      for (const w of failed) w.reject(new CompeitError(data?.code ?? 'not_publishing', data?.message ?? 'The stream went away.'));
    }
    if (name === 'media_error' && data.action === 'publish') {
      const [failed, rest] = take(this.#publishWaiters, about);
      this.#publishWaiters = rest;
      for (const w of failed) w.reject(new CompeitError(data.code, data.message));
    }
  }

  // --- WebRTC: the core decides, this performs ------------------------------------

  #report(op, pc, payload = {}) {
    this.#withStrings((s) => this.#core._compeit_media_report(this.#h, s(op), s(pc), s(JSON.stringify(payload))));
    this.#pump();
  }

  #rtc(op) {
    if (op.op === 'create') {
      this.#pcs.get(op.pc)?.pc.close();  // never leave a replaced connection running
      const pc = new RTCPeerConnection({ iceServers: op.iceServers ?? [] });
      const name = op.stream ?? 'camera';
      const entry = { pc, peer: op.peer, name, send: op.kind === 'send', chain: Promise.resolve() };
      this.#pcs.set(op.pc, entry);
      if (op.kind === 'send') {
        const local = this.#local.get(name);
        for (const track of local?.getTracks() ?? []) pc.addTrack(track, local);
      } else {
        if (op.offers !== false) {  // an answering end takes the offer's m-lines instead
          pc.addTransceiver('audio', { direction: 'recvonly' });
          pc.addTransceiver('video', { direction: 'recvonly' });
        }
        pc.ontrack = (ev) => {
          entry.stream ??= ev.streams[0] ?? new MediaStream();
          if (!ev.streams[0]) entry.stream.addTrack(ev.track);
          // `stream` (the MediaStream) as before; `name` says which of the user's streams it is.
          this.#emit('remote_stream', { user: op.peer, name, mediaStream: entry.stream, stream: entry.stream });
        };
      }
      pc.onicecandidate = (ev) => { if (ev.candidate && this.#pcs.get(op.pc) === entry) this.#report('candidate', op.pc, { candidate: ev.candidate.toJSON() }); };
      pc.onconnectionstatechange = () => { if (pc.connectionState === 'failed' && this.#pcs.get(op.pc) === entry) this.#report('failed', op.pc); };
      return;
    }
    const entry = this.#pcs.get(op.pc);
    if (!entry) return;
    if (op.op === 'close') {
      this.#pcs.delete(op.pc);
      entry.pc.close();
      if (op.pc.startsWith('sub:')) this.#emit('remote_stream_removed', { user: entry.peer, name: entry.name });
      return;
    }
    // One operation at a time per connection, in the order the core asked.
    const step = async () => {
      const pc = entry.pc;
      if (this.#pcs.get(op.pc) !== entry) return;
      switch (op.op) {
        case 'offer': {
          await pc.setLocalDescription(await pc.createOffer());
          return this.#report('offer', op.pc, { sdp: pc.localDescription.sdp });
        }
        case 'answer': {
          await pc.setRemoteDescription({ type: 'offer', sdp: op.sdp });
          this.#report('remote_set', op.pc);
          await pc.setLocalDescription(await pc.createAnswer());
          return this.#report('answer', op.pc, { sdp: pc.localDescription.sdp });
        }
        case 'remote_answer': {
          await pc.setRemoteDescription({ type: 'answer', sdp: op.sdp });
          return this.#report('remote_set', op.pc);
        }
        case 'candidate': return pc.addIceCandidate(op.candidate);
      }
    };
    entry.chain = entry.chain.then(step).catch((e) => {
      this.#emit('media_error', { action: op.op, code: 'webrtc', message: String(e?.message ?? e) });
      if (this.#pcs.get(op.pc) === entry) this.#report('failed', op.pc);
    });
  }

  async #handshake(url) {
    let status = 0, body = '';
    try {
      const res = await fetch(url, { credentials: 'include' });
      status = res.status;
      body = await res.text();
    } catch (e) {
      body = String(e?.message ?? e);
    }
    this.#httpStatus = status;
    this.#withStrings((s) => this.#core._compeit_on_http(this.#h, status, s(body), now()));
    this.#pump();
  }

  #open(url) {
    const ws = new this.#WebSocket(url);
    this.#ws = ws;
    ws.onopen = () => { if (this.#ws === ws) { this.#core._compeit_on_ws_open(this.#h, now()); this.#pump(); } };
    ws.onmessage = (ev) => {
      if (this.#ws !== ws) return;
      this.#withStrings((s) => this.#core._compeit_on_ws_message(this.#h, s(String(ev.data)), now()));
      this.#pump();
    };
    ws.onclose = () => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#core._compeit_on_ws_close(this.#h, now());
      this.#pump();
    };
    ws.onerror = () => {};
  }
}

/** Loads the WebAssembly core and returns a new, unconnected agent. */
export async function createConnectionAgent(options = {}) {
  const [core, WebSocketCtor] = await Promise.all([loadCore(options), webSocketClass(options)]);
  return new ConnectionAgent(core, WebSocketCtor);
}

export { CompeitError };
