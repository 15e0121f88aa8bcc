// Raw clients for the tests that must control the bytes on the wire:
// HTTP requests (handshake, xhr-polling, jsonp-polling) and a WebSocket client
// written over node:net so it can send unmasked, fragmented or broken frames.
import http from 'node:http';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { Inbox, withTimeout } from './wait.mjs';
import { parsePacket, encodePayload, decodePayload, NS, eventPacket, isChatTraffic } from './packet.mjs';

// ---------------------------------------------------------------- HTTP

/**
 * One HTTP request on its own connection. Resolves to
 * {status, headers, body (utf8 string)} or, if the server closed the connection
 * without answering, {noResponse: true, error}.
 */
export function httpRequest(port, { method = 'GET', path = '/', headers = {}, body, timeout = 5000, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false, localAddress });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`HTTP ${method} ${path}: no answer within ${timeout} ms`));
    }, timeout);
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (error) => { clearTimeout(timer); resolve({ noResponse: true, error }); });
    });
    req.on('error', (error) => { clearTimeout(timer); resolve({ noResponse: true, error }); });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/**
 * Handshake; returns the sid (asserting the body shape loosely; tests check it exactly).
 * `localAddress` (e.g. 127.0.0.2: any 127.x works on Linux loopback) picks the peer address.
 */
export async function handshake(port, query = '', { localAddress } = {}) {
  const res = await httpRequest(port, { path: `/socket.io/1/${query ? `?${query}` : ''}`, localAddress });
  if (res.status !== 200) throw new Error(`handshake failed: ${JSON.stringify(res)}`);
  const sid = res.body.split(':')[0];
  return sid;
}

/**
 * Writes bytes on a plain TCP connection and collects everything until the server
 * closes (or the timeout). Resolves {data: Buffer, text, closed: bool, error}.
 */
export function tcpExchange(port, chunks, { timeout = 5000, keepOpen = false } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const got = [];
    let error = null;
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const data = Buffer.concat(got);
      resolve({ data, text: data.toString('latin1'), closed, error });
    };
    const timer = setTimeout(() => finish(false), timeout);
    sock.on('connect', () => {
      for (const c of chunks) sock.write(c);
      if (!keepOpen) { /* leave the write side open: the server decides */ }
    });
    sock.on('data', (d) => got.push(d));
    sock.on('error', (e) => { error = e; });
    sock.on('close', () => finish(true));
  });
}

// ---------------------------------------------------------------- polling

/**
 * A raw xhr-polling or jsonp-polling session. Received packets go to an inbox;
 * waitFor() polls (bounded) until a matching packet has arrived.
 */
export class PollSession {
  constructor(port, sid, { transport = 'xhr-polling', query = '', jsonpIndex = 0 } = {}) {
    Object.assign(this, { port, sid, transport, query, jsonpIndex });
    this.inbox = new Inbox((p) => p.raw);
    this.responses = []; // raw GET bodies (after jsonp unwrapping), for framing checks
    this.pendingGet = null;
  }

  static async open(port, opts = {}) {
    const sid = await handshake(port, opts.query || '');
    return new PollSession(port, sid, opts);
  }

  path(extra = '') {
    const q = [this.query, `t=${Date.now()}`];
    if (this.transport === 'jsonp-polling') q.push(`i=${this.jsonpIndex}`);
    if (extra) q.push(extra);
    return `/socket.io/1/${this.transport}/${this.sid}?${q.filter(Boolean).join('&')}`;
  }

  /** Unwraps `io.j[N]("...");` into the payload string. */
  unwrapJsonp(body) {
    const m = /^io\.j\[(\d+)\]\(([\s\S]*)\);$/.exec(body);
    if (!m) throw new Error(`not a jsonp body: ${JSON.stringify(body)}`);
    if (Number(m[1]) !== this.jsonpIndex) throw new Error(`jsonp index ${m[1]}, expected ${this.jsonpIndex}`);
    return JSON.parse(m[2]);
  }

  /** One long-poll GET; its packets go to the inbox. Resolves {res, payload, packets}. */
  async get({ timeout = 5000 } = {}) {
    const res = await httpRequest(this.port, { path: this.path(), timeout });
    if (res.noResponse) throw new Error(`poll GET: connection closed without response (${res.error?.code})`);
    if (res.status !== 200) throw new Error(`poll GET: status ${res.status} body ${res.body}`);
    const payload = this.transport === 'jsonp-polling' ? this.unwrapJsonp(res.body) : res.body;
    this.responses.push(payload);
    const packets = decodePayload(payload).map((s) => parsePacket(s) ?? { raw: s, unparsed: true });
    for (const p of packets) this.inbox.push(p);
    return { res, payload, packets };
  }

  /** POST a payload (array of packets is framed; a string is sent as is). */
  async post(payload, { timeout = 5000, headers = {} } = {}) {
    const text = Array.isArray(payload) ? encodePayload(payload) : payload;
    let body;
    let ctype;
    if (this.transport === 'jsonp-polling') {
      body = new URLSearchParams({ d: JSON.stringify(text) }).toString();
      ctype = 'application/x-www-form-urlencoded';
    } else {
      body = text;
      ctype = 'text/plain;charset=UTF-8';
    }
    return httpRequest(this.port, {
      method: 'POST',
      path: this.path(),
      headers: { 'Content-Type': ctype, 'Content-Length': Buffer.byteLength(body), ...headers },
      body,
      timeout,
    });
  }

  async emit(name, args = [], opts = {}) {
    const res = await this.post(eventPacket(name, args, opts));
    if (res.status !== 200 || res.body !== '1') throw new Error(`POST answered ${JSON.stringify(res)}`);
    return res;
  }

  /** Polls (GET after GET) until a packet matching pred has arrived. */
  async waitFor(pred, { timeout = 5000, what = 'a matching packet' } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = this.inbox.items.find((e) => !e.consumed && pred(e.item));
      if (found) { found.consumed = true; return found.item; }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received: ${this.inbox.summary()}`);
      await this.get({ timeout: left });
    }
  }

  /** Next event `name` on /connection_agent (chat agent traffic skipped); resolves with its argument. */
  waitEvent(name, opts = {}) {
    return this.waitFor((p) => p.type === 5 && p.endpoint === NS && p.name === name && !isChatTraffic(name, p.args[0]),
      { what: `event ${name}`, ...opts })
      .then((p) => p.args[0]);
  }
}

/** An xhr-polling client on /connection_agent, joined to `room`; resolves {s, user}. */
export async function joinedPollSession(port, room, { name = 'Poll' } = {}) {
  const s = await PollSession.open(port, { query: `name=${encodeURIComponent(name)}` });
  await s.get();
  await s.post(`1::${NS}`);
  const { user } = await s.waitEvent('connected');
  await s.emit('join_room', [{ room }]);
  await s.waitEvent('room_joined');
  return { s, user };
}

// ---------------------------------------------------------------- websocket

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Builds one WebSocket frame; every field can be set wrong on purpose. */
export function buildFrame({ fin = true, rsv = 0, opcode = 1, payload = Buffer.alloc(0), mask = true, declaredLength } = {}) {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const len = declaredLength ?? data.length;
  let header;
  if (len < 126) {
    header = Buffer.alloc(2);
    header[1] = len;
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  header[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  if (!mask) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const key = randomBytes(4);
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([header, key, masked]);
}

/**
 * A WebSocket client over a raw TCP socket. Text messages (fragments reassembled)
 * go to `inbox` as strings; control frames go to `controls`. Answers `2::` heartbeats
 * by itself unless autoHeartbeat is false. `ws.tap = (text) => bool` sees every text
 * message first; a message it returns true for is not kept in the inbox.
 */
export class RawWs {
  constructor(sock, { autoHeartbeat = true } = {}) {
    this.sock = sock;
    this.autoHeartbeat = autoHeartbeat;
    this.inbox = new Inbox((m) => JSON.stringify(m).slice(0, 120));
    this.controls = new Inbox((f) => `op${f.opcode}`);
    this.heartbeats = 0;
    this.buf = Buffer.alloc(0);
    this.fragments = null;
    this.closeFrame = null;
    this.isClosed = false;
    this.closed = new Promise((res) => {
      sock.on('close', () => {
        this.isClosed = true;
        this.inbox.close('connection closed');
        this.controls.close('connection closed');
        res({ closeFrame: this.closeFrame });
      });
    });
    sock.on('error', () => {});
    sock.on('data', (d) => this.onData(d));
  }

  /** Opens a WebSocket on `path`. Rejects with {status, head} if the answer is not 101. */
  static connect(port, path, { headers = {}, timeout = 5000, autoHeartbeat = true, localAddress } = {}) {
    return withTimeout(new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: '127.0.0.1', localAddress });
      const key = randomBytes(16).toString('base64');
      let head = Buffer.alloc(0);
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      sock.on('connect', () => {
        sock.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
      });
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.off('data', onData);
        sock.off('close', onClose);
        const text = head.subarray(0, end).toString('latin1');
        const rest = head.subarray(end + 4);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
        if (status !== 101) {
          sock.destroy();
          reject(Object.assign(new Error(`upgrade answered ${status}: ${text}`), { status, head: text }));
          return;
        }
        const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(text)?.[1];
        const expected = createHash('sha1').update(key + WS_GUID).digest('base64');
        if (accept !== expected) {
          sock.destroy();
          reject(new Error(`bad Sec-WebSocket-Accept ${accept}, expected ${expected}`));
          return;
        }
        const ws = new RawWs(sock, { autoHeartbeat });
        ws.responseHead = text;
        if (rest.length) ws.onData(rest);
        resolve(ws);
      };
      const onClose = () => reject(Object.assign(new Error('closed before the upgrade answer'), { status: 0, head: head.toString('latin1') }));
      sock.on('data', onData);
      sock.on('close', onClose);
      sock.on('error', () => {});
    }), timeout, `websocket upgrade of ${path}`);
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      let key = null;
      if (masked) {
        if (b.length < off + 4) return;
        key = b.subarray(off, off + 4);
        off += 4;
      }
      if (b.length < off + len) return;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      this.buf = b.subarray(off + len);
      this.onFrame({ fin, opcode, payload, masked });
    }
  }

  onFrame(f) {
    if (f.masked) this.protocolErrors = (this.protocolErrors || 0) + 1; // servers must not mask
    if (f.opcode >= 8) {
      if (f.opcode === 8) {
        this.closeFrame = {
          code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null,
          reason: f.payload.subarray(2).toString('utf8'),
        };
      }
      this.controls.push(f);
      return;
    }
    if (f.opcode === 0 && this.fragments) {
      this.fragments.push(f.payload);
    } else {
      this.fragments = [f.payload];
      this.fragOpcode = f.opcode;
    }
    if (!f.fin) return;
    const whole = Buffer.concat(this.fragments);
    this.fragments = null;
    if (this.fragOpcode !== 1) { this.controls.push({ opcode: this.fragOpcode, payload: whole }); return; }
    const text = whole.toString('utf8');
    if (text === '2::') {
      this.heartbeats++;
      if (this.autoHeartbeat) this.sendText('2::');
    }
    if (this.tap?.(text)) return;  // taken by the tap: not kept (floods would fill the inbox)
    this.inbox.push(text);
  }

  sendRaw(buf) {
    if (!this.isClosed) this.sock.write(buf);
  }

  sendFrame(opts) {
    this.sendRaw(buildFrame(opts));
  }

  sendText(text, opts = {}) {
    this.sendFrame({ opcode: 1, payload: text, ...opts });
  }

  /** Next text message that satisfies pred (strings), bounded. */
  next(pred = () => true, opts = {}) {
    return this.inbox.take(pred, opts);
  }

  /** Next socket.io packet matching pred(parsedPacket). */
  async nextPacket(pred, opts = {}) {
    const raw = await this.inbox.take((m) => { const p = parsePacket(m); return p !== null && pred(p); }, opts);
    return parsePacket(raw);
  }

  /** Next event on /connection_agent with this name (chat agent traffic skipped); resolves with its argument. */
  async nextEvent(name, opts = {}) {
    const p = await this.nextPacket((q) => q.type === 5 && q.endpoint === NS && q.name === name && !isChatTraffic(name, q.args[0]),
      { what: `event ${name}`, ...opts });
    return p.args[0];
  }

  /** Ack for id on /connection_agent; resolves with the ack's first argument. */
  async nextAck(id, opts = {}) {
    const p = await this.nextPacket((q) => q.type === 6 && q.endpoint === NS && q.ackId === String(id), { what: `ack ${id}`, ...opts });
    return p.ackArgs[0];
  }

  emit(name, args = [], opts = {}) {
    this.sendText(eventPacket(name, args, opts));
  }

  /** The /connection_agent events received so far but `connected` and `request_error` (what session resume counts), parsed. */
  namespaceEvents() {
    return this.inbox.all().map(parsePacket)
      .filter((p) => p?.type === 5 && p.endpoint === NS && p.name !== 'connected' && p.name !== 'request_error');
  }

  /** Resolves once the TCP connection is closed (bounded). */
  waitClosed(timeout = 5000) {
    return withTimeout(this.closed, timeout, 'the server to close the websocket');
  }

  destroy() { this.sock.destroy(); }
}

/** Handshake plus websocket, the first `1::` consumed. */
export async function openWs(port, { query = '', autoHeartbeat = true, localAddress } = {}) {
  const sid = await handshake(port, query, { localAddress });
  const ws = await RawWs.connect(port, `/socket.io/1/websocket/${sid}${query ? `?${query}` : ''}`, { autoHeartbeat, localAddress });
  const first = await ws.next(() => true, { what: 'the first frame 1::' });
  if (first !== '1::') throw new Error(`first frame was ${JSON.stringify(first)}, expected 1::`);
  ws.sid = sid;
  return ws;
}

/** A raw websocket connected to /connection_agent; resolves {ws, user}. */
export async function openAgentWs(port, { name, connectData, autoHeartbeat = true, localAddress } = {}) {
  const query = name === undefined ? '' : `name=${encodeURIComponent(name)}`;
  const ws = await openWs(port, { query, autoHeartbeat, localAddress });
  ws.sendText(connectData === undefined ? `1::${NS}` : `1::${NS}:${connectData}`);
  await ws.next((m) => m === `1::${NS}`, { what: `1::${NS}` });
  const connected = await ws.nextEvent('connected');
  ws.user = connected.user;
  ws.connected = connected;  // the whole answer: {user[, resume, resumed, missed]} (docs/protocol.md §8)
  return { ws, user: connected.user, connected };
}

// ---------------------------------------------------------------- floods (resource tests, soak)

const nextTick = () => new Promise((r) => setImmediate(r));

/**
 * Sends websocket pings of payloadBytes (125, the most RFC 6455 allows for a
 * control frame) on ws as fast as the socket takes them, and never reads: the
 * socket is paused first, so every pong the server owes piles up on its side.
 * Only what the kernel accepts is written (no backlog in this process). Stops
 * after durationMs, when stop() returns true or when the server closes the
 * connection. Resolves {pings, bytes, closedByServer, ms}.
 */
export async function pingFlood(ws, { payloadBytes = 125, durationMs = 10000, stop = () => false } = {}) {
  ws.sock.pause();
  const one = buildFrame({ opcode: 9, payload: Buffer.alloc(payloadBytes, 0x70) });
  const perChunk = Math.max(1, Math.floor((256 * 1024) / one.length));
  const chunk = Buffer.concat(Array(perChunk).fill(one));
  const t0 = performance.now();
  let pings = 0;
  while (!ws.isClosed && !stop() && performance.now() - t0 < durationMs) {
    if (ws.sock.writableNeedDrain) {
      // the kernel is full: wait (in steps, so stop() is heard) until it takes more or the socket closes
      await new Promise((res) => {
        const t = setTimeout(finish, 100);
        function finish() { clearTimeout(t); ws.sock.off('drain', finish); ws.sock.off('close', finish); res(); }
        ws.sock.once('drain', finish);
        ws.sock.once('close', finish);
      });
      continue;
    }
    ws.sock.write(chunk);
    pings += perChunk;
    await nextTick();
  }
  return { pings, bytes: pings * one.length, closedByServer: ws.isClosed, ms: performance.now() - t0 };
}

/**
 * Asks for handshakes as fast as possible and never uses them: `connections`
 * keep-alive connections from localAddress, each with `depth` pipelined
 * `GET /socket.io/1/`. A connection the server closes is opened again. Runs for
 * durationMs or until stop() returns true. Resolves {requests, answered, statuses
 * ({status: count}), bodies ({status: first body}), reconnects}.
 */
export function handshakeFlood(port, { connections = 8, depth = 16, durationMs = 3000, localAddress, stop = () => false } = {}) {
  const result = { requests: 0, answered: 0, statuses: {}, bodies: {}, reconnects: -connections };
  const request = Buffer.from(`GET /socket.io/1/ HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  const t0 = performance.now();
  const over = () => stop() || performance.now() - t0 >= durationMs;
  const socks = new Set();
  return new Promise((resolve) => {
    let live = 0;
    const open = () => {
      if (over()) {
        if (live === 0) { clearInterval(watch); resolve(result); }
        return;
      }
      live++;
      result.reconnects++;
      const sock = net.connect({ port, host: '127.0.0.1', localAddress });
      socks.add(sock);
      let buf = '';
      const send = (n) => {
        for (let i = 0; i < n; i++) sock.write(request);
        result.requests += n;
      };
      sock.setNoDelay(true);
      sock.on('connect', () => send(depth));
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        let answered = 0;
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) break;
          const head = buf.slice(0, end);
          const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + len) break;
          const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
          result.statuses[status] = (result.statuses[status] ?? 0) + 1;
          result.bodies[status] ??= buf.slice(end + 4, end + 4 + len);
          buf = buf.slice(end + 4 + len);
          answered++;
        }
        result.answered += answered;
        if (over()) sock.destroy();
        else if (answered) send(answered);
      });
      sock.on('error', () => {});
      sock.on('close', () => {
        socks.delete(sock);
        live--;
        setImmediate(open);  // not in a tight loop: one event-loop turn between attempts
      });
    };
    // ends the flood even when the server answers nothing at all
    const watch = setInterval(() => { if (over()) for (const s of socks) s.destroy(); }, 50);
    for (let i = 0; i < connections; i++) open();
  });
}
