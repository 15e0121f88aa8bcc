// Members of /connection_agent for the fault test, one class per transport
// behind one shape, each recording what it lived through with timestamps
// (performance.now(), one clock for the whole test process) for the checker
// (checker.mjs): a Peer is one simulated user; every connection it opens is a
// Session {label, transport, node, sid, user, room, joinedAt, endedAt,
// endReason, events: [{t, name, arg}], requests: [{t0, name, arg, t1, ack}]}.
// A session ends when its connection does (the peer notices); a peer whose
// session ended may open another (a new handshake, a new user id).
import { Client } from '../../node/lib/client.mjs';
import { httpRequest, PollSession } from '../../node/lib/raw.mjs';
import { NS, eventPacket } from '../../node/lib/packet.mjs';
import { withTimeout } from '../../node/lib/wait.mjs';

const now = () => performance.now();

/** The node a sid names ("n2.xxxx" -> "n2"). */
export const nodeOfSid = (sid) => /^([a-z0-9-]{1,16})\./.exec(sid ?? '')?.[1] ?? null;

function newSession(label, transport) {
  return {
    label, transport, node: null, sid: null, user: null, room: null,
    openedAt: now(), joinedAt: null, endedAt: null, endReason: null,
    events: [], requests: [],
    waiting: new Set(),  // resolvers of requests still waiting for their ack
  };
}

/** Records a request and returns it; `settle(ack)` stamps its answer once. */
function request(session, name, arg) {
  const r = { t0: now(), name, arg, t1: null, ack: undefined };
  session.requests.push(r);
  return r;
}
/** A request not made (its connection had ended): not recorded, never answered. */
const unsent = (name, arg) => ({ t0: now(), name, arg, t1: null, ack: undefined, unsent: true });
function settle(r, ack) {
  if (r.t1 !== null) return;
  r.t1 = now();
  r.ack = ack;
}

/** socket.io-client 0.9.6 (websocket), through haproxy or pinned to one node's port. */
export class SioPeer {
  constructor(label, { url }) {
    Object.assign(this, { label, url, transport: 'websocket', session: null, sessions: [] });
  }

  async open({ url = this.url } = {}) {
    const s = newSession(this.label, this.transport);
    const c = await Client.connect(url, { name: this.label, timeout: 8000 });
    s.openedAt = now();
    s.sid = c.socket.socket.sessionid;
    s.node = nodeOfSid(s.sid);
    s.user = c.user;
    // every later event, with its time (the Client records them too, without one)
    const inner = c.socket.$emit;
    c.socket.$emit = function (name, ...args) {
      if (name === 'disconnect') end(s, `disconnect (${args[0] ?? ''})`);
      else s.events.push({ t: now(), name, arg: args[0] });
      return inner.call(this, name, ...args);
    };
    this.client = c;
    this.session = s;
    this.sessions.push(s);
    return s;
  }

  /** Sends `name` with an ack; resolves the request record once answered (never rejects). */
  send(name, arg) {
    const s = this.session;
    if (s.endedAt !== null) return Promise.resolve(unsent(name, arg));
    const r = request(s, name, arg);
    return new Promise((res) => {
      const unanswered = () => res(r);  // no ack will come for a dead connection: end() calls this
      s.waiting.add(unanswered);
      this.client.socket.emit(name, arg, (ack) => { settle(r, ack); s.waiting.delete(unanswered); res(r); });
    });
  }

  async join(room) {
    const r = await withTimeout(this.send('join_room', { room }), 8000, `${this.label}: join_room ack`);
    if (r.ack?.room !== room) throw new Error(`${this.label}: join_room ${room} answered ${JSON.stringify(r.ack)}`);
    this.session.room = room;
    this.session.joinedAt = r.t1;
  }

  close() {
    end(this.session, 'closed by the test');
    this.client?.disconnect();
  }
}

function end(s, reason) {
  if (!s || s.endedAt !== null) return;
  s.endedAt = now();
  s.endReason = reason;
  for (const unanswered of s.waiting) unanswered();
  s.waiting.clear();
}

/**
 * A raw xhr-polling or jsonp-polling member through haproxy, on a session of a
 * chosen node (handshakes until one lands there). One GET is always held; POSTs
 * go one at a time, in order; heartbeats are answered.
 */
export class PollPeer {
  constructor(label, { proxyPort, transport }) {
    Object.assign(this, { label, proxyPort, transport, session: null, sessions: [] });
    this.nextAckId = 1;
  }

  /** Handshakes through haproxy (until the sid names `node`, if given) and connects /connection_agent. */
  async open({ node } = {}) {
    const s = newSession(this.label, this.transport);
    const query = `name=${encodeURIComponent(this.label)}`;
    let sid = null;
    for (let i = 0; i < 40 && sid === null; i++) {
      const res = await httpRequest(this.proxyPort, { path: `/socket.io/1/?${query}`, timeout: 8000 });
      if (res.status !== 200) throw new Error(`${this.label}: handshake through haproxy answered ${JSON.stringify(res)}`);
      const got = res.body.split(':')[0];
      if (!node || nodeOfSid(got) === node) sid = got;
    }
    if (sid === null) throw new Error(`${this.label}: 40 handshakes through haproxy, none on ${node}`);
    s.sid = sid;
    s.node = nodeOfSid(sid);
    this.poll = new PollSession(this.proxyPort, sid, { transport: this.transport, query, jsonpIndex: 0 });
    this.session = s;
    this.sessions.push(s);
    this.acks = new Map();  // ack id -> {r, resolve}
    this.posting = Promise.resolve();
    const first = await this.poll.get({ timeout: 8000 });
    if (first.payload !== '1::') throw new Error(`${this.label}: first poll answered ${JSON.stringify(first.payload)}`);
    const connected = new Promise((res) => { this.onConnected = res; });
    this.loop(s);
    await this.post(`1::${NS}`);
    s.user = (await withTimeout(connected, 8000, `${this.label}: connected`)).user;
    return s;
  }

  /** Long-polls until the session ends; every packet is recorded as it arrives. */
  async loop(s) {
    while (s.endedAt === null) {
      let got;
      try {
        got = await this.poll.get({ timeout: 30000 });
      } catch (e) {
        return this.ended(s, `poll failed: ${e.message}`);
      }
      for (const p of got.packets) this.packet(s, p);
    }
  }

  packet(s, p) {
    if (p.type === 5 && p.endpoint === NS) {
      if (p.name === 'connected') this.onConnected?.(p.args[0]);
      else s.events.push({ t: now(), name: p.name, arg: p.args[0] });
    } else if (p.type === 6 && p.endpoint === NS && p.ackId) {
      const a = this.acks.get(p.ackId);
      if (a) { this.acks.delete(p.ackId); settle(a.r, p.ackArgs[0]); a.resolve(a.r); }
    } else if (p.type === 2) {
      this.post('2::').catch(() => {});
    } else if (p.type === 0 && (p.endpoint === '' || p.endpoint === NS)) {
      this.ended(s, `server sent ${p.raw}`);
    } else if (p.type === 7) {
      this.ended(s, `server sent ${p.raw}`);
    }
  }

  ended(s, reason) {
    end(s, reason);
    for (const { resolve, r } of this.acks.values()) resolve(r);
    this.acks.clear();
  }

  /** One POST at a time, in the order asked (concurrent POSTs could overtake each other). */
  post(payload) {
    const s = this.session;
    const p = this.posting.then(async () => {
      if (s.endedAt !== null) return;
      const res = await this.poll.post(payload, { timeout: 8000 });
      if (res.noResponse || res.status !== 200 || res.body !== '1') {
        this.ended(s, `POST answered ${res.noResponse ? `nothing (${res.error?.code})` : `${res.status} ${JSON.stringify(res.body)}`}`);
      }
    });
    this.posting = p.catch(() => {});
    return p;
  }

  send(name, arg) {
    const s = this.session;
    if (s.endedAt !== null) return Promise.resolve(unsent(name, arg));
    const r = request(s, name, arg);
    const id = String(this.nextAckId++);
    return new Promise((resolve) => {
      this.acks.set(id, { r, resolve });
      this.post(eventPacket(name, [arg], { id })).catch((e) => this.ended(s, `POST failed: ${e.message}`));
    });
  }

  async join(room) {
    const r = await withTimeout(this.send('join_room', { room }), 8000, `${this.label}: join_room ack`);
    if (r.ack?.room !== room) throw new Error(`${this.label}: join_room ${room} answered ${JSON.stringify(r.ack)}`);
    this.session.room = room;
    this.session.joinedAt = r.t1;
  }

  close() {
    const s = this.session;
    if (!s || s.endedAt !== null) return;
    this.ended(s, 'closed by the test');
    httpRequest(this.proxyPort, { path: this.poll.path('disconnect'), timeout: 3000 }).catch(() => {});
  }
}
