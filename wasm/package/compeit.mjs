// COMPEIT connection agent for web pages and Node.js 20: a thin driver around
// the WebAssembly core (compeit_core.wasm). The core decides everything
// protocol-related; this file only performs its I/O (fetch, WebSocket,
// timers) and turns its answers into events and promises.
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

class CompeitError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/** The connection agent: one connection to one COMPEIT server. */
export class ConnectionAgent {
  #core; #h = -1; #ws = null; #WebSocket; #timer = null; #listeners = new Map();
  #pending = new Map(); #agents = new Map(); #connectWaiters = [];
  #pcs = new Map(); #local = new Map(); #publishWaiters = []; #streamWaiters = [];
  user = null; room = null;

  constructor(core, WebSocketCtor) {
    this.#core = core;
    this.#WebSocket = WebSocketCtor;
    this.chat = {
      send: (text) => this.#call((s) => this.#core._compeit_chat_send(this.#h, s(text))),
      sendTo: (userId, text) => this.#call((s) => this.#core._compeit_chat_send_to(this.#h, userId, s(text))),
      history: ({ before, limit } = {}) =>
        this.#call(() => this.#core._compeit_chat_history(this.#h, before ?? -1, limit ?? -1)),
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
        if (!this.#local.has(stream)) return Promise.reject(new CompeitError('bad_request', 'media.start() first'));
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
    if (!this.#local.has(stream)) return Promise.reject(new CompeitError('bad_request', 'not publishing'));
    const done = new Promise((resolve, reject) => this.#streamWaiters.push({ action, stream, shows, resolve, reject }));
    call(stream);
    this.#pump();
    return done;
  }

  /** Listen to connected, reconnected, disconnect, reconnecting, reconnect_failed, error,
   *  room_joined, user_joined, user_left, room_left, request_error, chat_message, chat_history. */
  on(event, fn) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    this.#listeners.get(event).add(fn);
    return () => this.#listeners.get(event)?.delete(fn);
  }

  /** Connects and resolves with the user once the server says `connected`.
   *  `token`: the access token, for a server that requires one. */
  connect(url, { name = '', token = '' } = {}) {
    if (this.#h < 0) {
      this.#h = this.#withStrings((s) => this.#core._compeit_new(s(url), s(name), s(token)));
      for (const type of this.#agents.keys()) this.#withStrings((s) => this.#core._compeit_register(this.#h, s(type)));
    }
    const ready = new Promise((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    this.#core._compeit_connect(this.#h, now());
    this.#timer ??= setInterval(() => { this.#core._compeit_tick(this.#h, now()); this.#pump(); }, 100);
    this.#pump();
    return ready;
  }

  disconnect() {
    if (this.#h < 0) return;
    this.#core._compeit_disconnect(this.#h);
    this.#pump();
    clearInterval(this.#timer);
    this.#timer = null;
  }

  joinRoom(room) { return this.#call(() => this.#core._compeit_join_room(this.#h, room)); }
  leaveRoom() { return this.#call(() => this.#core._compeit_leave_room(this.#h)); }

  /** Registers an agent type; returns its send functions (each returns a promise of the ack). */
  register(type, callbacks = {}) {
    if (this.#agents.has(type)) throw new CompeitError('bad_request', `agent ${type} is already registered`);
    this.#agents.set(type, callbacks);
    if (this.#h >= 0) this.#withStrings((s) => this.#core._compeit_register(this.#h, s(type)));
    const send = (channel, to, data) =>
      this.#call((s) => this.#core._compeit_send(this.#h, channel, to, s(type), s(JSON.stringify(data ?? null))));
    return {
      sendToServer: (data) => send(0, 0, data),
      sendToRoom: (data) => send(1, 0, data),
      sendToUser: (userId, data) => send(2, userId, data),
    };
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

  #call(fn) {
    if (this.#h < 0) return Promise.reject(new CompeitError('not_connected', 'connect() first'));
    const id = this.#withStrings(fn);
    const settled = new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#pump();
    return settled;
  }

  #emit(event, payload) {
    for (const fn of this.#listeners.get(event) ?? []) {
      try { fn(payload); } catch (e) { queueMicrotask(() => { throw e; }); }
    }
  }

  #pump() {
    if (this.#h < 0) return;
    const outputs = JSON.parse(this.#core.UTF8ToString(this.#core._compeit_take_outputs(this.#h)));
    for (const o of outputs) this.#perform(o);
  }

  #perform(o) {
    switch (o.op) {
      case 'http_get': return this.#handshake(o.text);
      case 'ws_open': return this.#open(o.text);
      case 'ws_send': return this.#ws?.readyState === 1 && this.#ws.send(o.text);
      case 'ws_close': { const ws = this.#ws; this.#ws = null; if (ws) { ws.onclose = null; ws.close(); } return; }
      case 'ack': {
        const p = this.#pending.get(o.request);
        this.#pending.delete(o.request);
        if (!p) return;
        if (o.data && typeof o.data === 'object' && o.data.error) p.reject(new CompeitError(o.data.error.code, o.data.error.message));
        else p.resolve(o.data);
        return;
      }
      case 'agent': {
        const a = this.#agents.get(o.text);
        const cb = { server: a?.onServerMessage, room: a?.onRoomMessage, user: a?.onUserMessage }[o.channel];
        if (!cb) return;
        return o.channel === 'server' ? cb(o.data) : cb(o.from, o.data);
      }
      case 'event': return this.#event(o.text, o.data);
    }
  }

  #event(name, data) {
    if (name === 'rtc') return this.#rtc(data);
    // Media waiters are per stream name (events name theirs; 'camera' when they do not).
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
      for (const w of failed) w.reject(new CompeitError(data?.code ?? 'not_publishing', data?.message ?? 'the stream went away'));
    }
    if (name === 'media_error' && data.action === 'publish') {
      const [failed, rest] = take(this.#publishWaiters, about);
      this.#publishWaiters = rest;
      for (const w of failed) w.reject(new CompeitError(data.code, data.message));
    }
    if (name === 'connected' || name === 'reconnected') {
      this.user = data?.user ?? null;
      for (const w of this.#connectWaiters.splice(0)) w.resolve(this.user);
    }
    if (name === 'room_joined') this.room = data.room;
    if (name === 'room_left' || name === 'disconnect') this.room = null;
    if (name === 'reconnect_failed' || (name === 'error' && this.#connectWaiters.length)) {
      for (const w of this.#connectWaiters.splice(0)) w.reject(new CompeitError('connect_failed', data?.message ?? name));
    }
    for (const a of this.#agents.values()) {
      if (['room_joined', 'user_joined', 'user_left', 'room_left'].includes(name)) a.onMembership?.(name, data);
    }
    this.#emit(name, data);
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
      const entry = { pc, peer: op.peer, name, chain: Promise.resolve() };
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
