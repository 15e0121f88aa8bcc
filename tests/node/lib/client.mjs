// The real socket.io-client 0.9.6 (websocket only in Node) with promise helpers.
// Every event a namespace socket emits is recorded, so a test can wait for an event
// that may already have arrived.
import io from 'socket.io-client';
import { Inbox, withTimeout, quietWindow } from './wait.mjs';
import { isChatTraffic } from './packet.mjs';

export { io };

/** Resolves with the first argument of the next `event` on `socket` (bounded). */
export function once(socket, event, timeout = 5000) {
  return withTimeout(new Promise((res) => socket.once(event, (arg) => res(arg))), timeout, `event ${event}`);
}

/** emit(event, arg, callback); resolves with the ack's first argument (bounded). */
export function emitAck(socket, event, arg, timeout = 5000) {
  return withTimeout(new Promise((res) => {
    if (arg === undefined) socket.emit(event, (a) => res(a));
    else socket.emit(event, arg, (a) => res(a));
  }), timeout, `ack of ${event}`);
}

const open = new Set();

/**
 * A connected /connection_agent client. `events` records [name, ...args] of
 * everything the namespace socket emitted, in order.
 */
export class Client {
  constructor(socket) {
    this.socket = socket;
    this.events = new Inbox((e) => `${e.name}:${JSON.stringify(e.args[0])}`.slice(0, 160));
    this.chat = new Inbox((e) => `${e.name}:${JSON.stringify(e.args[0])}`.slice(0, 160));
    const orig = socket.$emit;
    const { events, chat } = this;
    socket.$emit = function (name, ...args) {
      // the chat agent's own traffic is kept apart so Connection Agent tests see only theirs
      (isChatTraffic(name, args[0]) ? chat : events).push({ name, args });
      return orig.call(this, name, ...args);
    };
  }

  /** Opens a client. `name` goes in the URL query, which client 0.9.6 puts on the handshake. */
  static async connect(url, { name, query, ns = '/connection_agent', timeout = 5000 } = {}) {
    let q = query ?? (name === undefined ? '' : `name=${encodeURIComponent(name)}`);
    const socket = io.connect(`${url}${ns}${q ? `?${q}` : ''}`, {
      'force new connection': true,
      reconnect: false,
      'connect timeout': timeout,
    });
    const c = new Client(socket);
    open.add(c);
    if (ns !== '/connection_agent') return c;
    const first = await c.events.take((e) => ['connected', 'error', 'connect_failed'].includes(e.name),
      { timeout, what: 'connected' });
    if (first.name !== 'connected') throw new Error(`connect failed: ${first.name} ${JSON.stringify(first.args)}`);
    c.user = first.args[0].user;
    return c;
  }

  /** Payload (first argument) of the next `name` event matching filter(payload). */
  async next(name, { filter = () => true, timeout = 5000 } = {}) {
    const e = await this.events.take((x) => x.name === name && filter(x.args[0]),
      { timeout, what: `${name} on ${this.user?.name ?? 'client'}` });
    return e.args[0];
  }

  /** Fails if a `name` event matching filter arrives within ms (unconsumed ones count too). */
  async none(name, ms = 300, filter = () => true) {
    await quietWindow(ms);
    const got = this.events.items.filter((e) => !e.consumed && e.item.name === name && filter(e.item.args[0]));
    if (got.length) {
      throw new Error(`unexpected ${name} on ${this.user?.name}: ${JSON.stringify(got.map((e) => e.item.args[0]))}`);
    }
  }

  /** Count of recorded `name` events (consumed or not) matching filter. */
  count(name, filter = () => true) {
    return this.events.all((e) => e.name === name && filter(e.args[0])).length;
  }

  emit(name, ...args) { this.socket.emit(name, ...args); }

  ack(name, arg, timeout) { return emitAck(this.socket, name, arg, timeout); }

  /** Sends a raw event packet (any name, any args) on this namespace. */
  packet(name, args = []) { this.socket.packet({ type: 'event', name, args }); }

  /** Ends the whole connection: `0::` then the websocket close. */
  disconnect() {
    open.delete(this);
    try { this.socket.socket.disconnect(); } catch { /* already gone */ }
  }

  /** Destroys the TCP connection under the client: no `0::`, no close frame. */
  dropTransport() {
    open.delete(this);
    const tcp = this.socket.socket.transport?.websocket?._socket;
    if (!tcp) throw new Error('no websocket TCP socket to drop');
    tcp.destroy();
  }
}

/** Closes every client still open (for afterEach). */
export function closeAll() {
  for (const c of [...open]) c.disconnect();
  open.clear();
}
