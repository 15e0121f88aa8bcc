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
  }

  /** Listen to connected, reconnected, disconnect, reconnecting, reconnect_failed, error,
   *  room_joined, user_joined, user_left, room_left, request_error, chat_message, chat_history. */
  on(event, fn) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    this.#listeners.get(event).add(fn);
    return () => this.#listeners.get(event)?.delete(fn);
  }

  /** Connects and resolves with the user once the server says `connected`. */
  connect(url, { name = '' } = {}) {
    if (this.#h < 0) {
      this.#h = this.#withStrings((s) => this.#core._compeit_new(s(url), s(name)));
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
