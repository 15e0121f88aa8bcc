// FAKE Kurento Media Server: a test double, NOT Kurento. It speaks the Kurento
// Protocol (JSON-RPC 2.0 over WebSocket: ping, create, invoke, subscribe,
// unsubscribe, release, onEvent) well enough to test the COMPEIT server's
// `kurento` media backend without a media server (KMS has no Debian 12
// package). It moves no media: processOffer returns a made-up but plausible
// SDP answer and gatherCandidates raises two made-up IceCandidateFound events
// (before its answer, as KMS may).
//
// What it is for:
//   - checks the shape of every request (jsonrpc "2.0", an id, a method, params,
//     the sessionId on every request after the first of a session) and records
//     each violation in `violations` (and answers it with an error);
//   - keeps a registry of live objects (ids like KMS's:
//     `<uuid>_kurento.MediaPipeline`, `<pipeline>/<uuid>_kurento.WebRtcEndpoint`),
//     so a test can assert that nothing leaked after release;
//   - injects errors (per method, operation or type) and drops connections,
//     stops listening (down/up) or forgets everything (reset = a KMS restart).
//
// In-process use (tests):  const kms = await startFakeKms(); kms.url; kms.liveObjects(); ...
// Stand-alone:              node tests/fake-kms/fake-kms.mjs [--port 8888]
//   with an HTTP control endpoint on the same port (see README.md).
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { WebSocketServer } from 'ws';

const TYPES = new Set(['MediaPipeline', 'WebRtcEndpoint', 'RecorderEndpoint', 'GStreamerFilter', 'FaceOverlayFilter',
  'ZBarFilter']);
const METHODS = new Set(['ping', 'create', 'invoke', 'subscribe', 'unsubscribe', 'release', 'describe']);

class RpcError extends Error {
  constructor(code, message, type) { super(message); this.code = code; this.type = type; }
}

const notFound = (id) => new RpcError(40101, `Object '${id}' not found`, 'MEDIA_OBJECT_NOT_FOUND');

export class FakeKms {
  // `tls`: {key, cert} (PEM) to listen for wss:// instead of ws://.
  constructor({ host = '127.0.0.1', path = '/kurento', tls } = {}) {
    this.host = host;
    this.tls = !!tls;
    this.path = path;
    this.port = 0;
    this.objects = new Map();     // id -> object record
    this.subscriptions = new Map(); // subscription id -> {object, type, session}
    this.sessions = new Map();    // sessionId -> current ws (or null)
    this.calls = [];              // every well-formed request: {method, params, at}
    this.violations = [];         // shape errors seen
    this.failures = [];           // injected error rules
    this.sockets = new Set();
    this.connectionCount = 0;     // connections accepted
    this.spokenMax = 0;           // the highest connection number that has sent a request
    this.connectionWaiters = [];
    this.stateWaiters = new Set(); // until(): predicates checked after every message handled
    const handler = (req, res) => this.control(req, res);
    this.server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
    this.wss = new WebSocketServer({ server: this.server, path });
    this.wss.on('connection', (ws) => this.accept(ws));
  }

  get url() { return `${this.tls ? 'wss' : 'ws'}://${this.host}:${this.port}${this.path}`; }

  async listen(port = 0) {
    await new Promise((res, rej) => {
      this.server.once('error', rej);
      this.server.listen(port, this.host, () => { this.server.off('error', rej); res(); });
    });
    this.port = this.server.address().port;
    return this;
  }

  // --- control (tests) -----------------------------------------------------------

  /** Live objects (released ones are gone), as [{id, type, ...}]. */
  liveObjects(type) { return [...this.objects.values()].filter((o) => !type || o.type === type); }

  /** The next `count` requests matching {method, operation?, type?} get an error answer. */
  failNext({ method, operation, type, message = 'Injected failure', code = 40000, count = 1 } = {}) {
    this.failures.push({ method, operation, type, message, code, count });
  }

  /** Closes every client connection abruptly (objects stay, as KMS keeps them for a while). */
  dropConnections() { for (const ws of this.sockets) ws.terminate(); }

  /** Stops listening and drops every connection: the media server is unreachable. */
  async down() {
    this.dropConnections();
    await new Promise((res) => this.server.close(() => res()));
  }

  /** Listens again on the same port. */
  async up() { await this.listen(this.port); }

  /** Forgets every object and session (a restarted KMS). */
  reset() {
    this.objects.clear();
    this.subscriptions.clear();
    this.sessions.clear();
    this.stateChanged();
  }

  /**
   * Resolves once connection #n (counting every connection accepted), or a later
   * one, has sent its first request. Being accepted is not enough: the server's
   * side opens when the upgrade answer arrives, a moment later, and a media
   * request made before that fails as "not connected". The server pings as soon
   * as it is open, so its first message is the sign.
   */
  waitForConnections(n, timeout = 10000) {
    if (this.spokenMax >= n) return Promise.resolve();
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`fake KMS: no connection #${n} within ${timeout} ms`)), timeout);
      this.connectionWaiters.push({ n, res: () => { clearTimeout(timer); res(); } });
    });
  }

  /**
   * Resolves once pred() holds: checked at once and after every message the fake
   * has handled, so a test waits for the server's requests (a release sent just
   * before an answer to the browser) without polling. `what` (a string, or a
   * function called on timeout) describes the wait in the error.
   */
  until(pred, what = 'a state of the fake KMS', timeout = 5000) {
    if (pred()) return Promise.resolve();
    return new Promise((res, rej) => {
      const waiter = { pred, res: () => { clearTimeout(timer); res(); } };
      const timer = setTimeout(() => {
        this.stateWaiters.delete(waiter);
        rej(new Error(`fake KMS: timed out after ${timeout} ms waiting for ${typeof what === 'function' ? what() : what}`));
      }, timeout);
      this.stateWaiters.add(waiter);
    });
  }

  stateChanged() {
    for (const w of [...this.stateWaiters]) {
      if (w.pred()) {
        this.stateWaiters.delete(w);
        w.res();
      }
    }
  }

  /** Requests seen, filtered by method and (for invoke) operation. */
  seen(method, operation) {
    return this.calls.filter((c) => c.method === method && (!operation || c.params.operation === operation));
  }

  async close() {
    this.dropConnections();
    this.wss.close();
    await new Promise((res) => this.server.close(() => res()));
  }

  // --- connections -----------------------------------------------------------------

  accept(ws) {
    this.sockets.add(ws);
    this.connectionCount += 1;
    const conn = { ws, sessionId: null, number: this.connectionCount, spoke: false };
    ws.on('message', (data, isBinary) => {
      if (!conn.spoke) this.spoke(conn);
      this.onMessage(conn, data, isBinary);
      this.stateChanged();
    });
    ws.on('close', () => {
      this.sockets.delete(ws);
      if (conn.sessionId && this.sessions.get(conn.sessionId) === ws) this.sessions.set(conn.sessionId, null);
    });
    ws.on('error', () => {});
  }

  spoke(conn) {
    conn.spoke = true;
    this.spokenMax = Math.max(this.spokenMax, conn.number);
    for (const w of this.connectionWaiters.filter((x) => this.spokenMax >= x.n)) {
      this.connectionWaiters.splice(this.connectionWaiters.indexOf(w), 1);
      w.res();
    }
  }

  violation(conn, id, why) {
    this.violations.push(why);
    this.send(conn.ws, { jsonrpc: '2.0', id: id ?? null, error: { code: -32600, message: `Invalid request: ${why}` } });
  }

  send(ws, msg) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(msg)); }

  onMessage(conn, data, isBinary) {
    if (isBinary) return this.violation(conn, null, 'binary frame');
    let msg;
    try { msg = JSON.parse(data.toString('utf8')); } catch { return this.violation(conn, null, 'not JSON'); }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return this.violation(conn, null, 'not an object');
    const { id } = msg;
    if (msg.jsonrpc !== '2.0') return this.violation(conn, id, `jsonrpc is ${JSON.stringify(msg.jsonrpc)}`);
    if (!Number.isInteger(id) && typeof id !== 'string') return this.violation(conn, id, 'no id');
    if (!METHODS.has(msg.method)) return this.violation(conn, id, `unknown method ${JSON.stringify(msg.method)}`);
    const params = msg.params;
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      return this.violation(conn, id, `${msg.method}: params is not an object`);
    }
    // The session: the first request that creates state opens one (KMS answers
    // its id); every later request must carry it. A reconnecting client may
    // resume a session by sending its id first.
    const sid = params.sessionId;
    if (sid !== undefined && typeof sid !== 'string') return this.violation(conn, id, 'sessionId is not a string');
    if (conn.sessionId && sid !== undefined && sid !== conn.sessionId) {
      return this.violation(conn, id, `${msg.method}: sessionId ${sid} is not this connection's ${conn.sessionId}`);
    }
    if (msg.method !== 'ping') {
      if (!conn.sessionId && sid) conn.sessionId = sid;  // resumed (or adopted after a restart)
      else if (!conn.sessionId) conn.sessionId = randomUUID();
      else if (sid === undefined) return this.violation(conn, id, `${msg.method}: no sessionId after the first request`);
      this.sessions.set(conn.sessionId, conn.ws);
    }
    this.calls.push({ method: msg.method, params, at: Date.now() });
    try {
      this.injected(msg.method, params);
      const value = this[`rpc_${msg.method}`](params, conn);
      const result = msg.method === 'ping' ? { value } : { value, sessionId: conn.sessionId };
      if (value === undefined) delete result.value;
      this.send(conn.ws, { jsonrpc: '2.0', id, result });
    } catch (e) {
      if (!(e instanceof RpcError)) throw e;
      const error = { code: e.code, message: e.message };
      if (e.type) error.data = { type: e.type };
      this.send(conn.ws, { jsonrpc: '2.0', id, error });
    }
  }

  injected(method, params) {
    const rule = this.failures.find((f) => f.count > 0 && f.method === method &&
      (!f.operation || f.operation === params.operation) && (!f.type || f.type === params.type));
    if (!rule) return;
    rule.count -= 1;
    this.failures = this.failures.filter((f) => f.count > 0);
    throw new RpcError(rule.code, rule.message, 'INJECTED_ERROR');
  }

  // --- methods -----------------------------------------------------------------------

  rpc_ping(params) {
    if (params.interval !== undefined && !Number.isInteger(params.interval)) throw new RpcError(-32602, 'bad interval');
    return 'pong';
  }

  rpc_describe(params) {
    const o = this.live(params.object);
    return { type: o.type, hierarchy: ['kurento.MediaObject'] };
  }

  live(id, what = 'object') {
    if (typeof id !== 'string') throw new RpcError(-32602, `${what} id missing`);
    const o = this.objects.get(id);
    if (!o) throw notFound(id);
    return o;
  }

  rpc_create(params, conn) {
    const { type } = params;
    const ctor = params.constructorParams ?? {};
    if (!TYPES.has(type)) throw new RpcError(40100, `Unknown type '${type}'`, 'MEDIA_OBJECT_TYPE_NOT_FOUND');
    if (typeof ctor !== 'object') throw new RpcError(-32602, 'constructorParams is not an object');
    let id;
    const o = { type, session: conn.sessionId, source: null };
    if (type === 'MediaPipeline') {
      id = `${randomUUID()}_kurento.MediaPipeline`;
    } else {
      const pipeline = this.live(ctor.mediaPipeline, 'mediaPipeline');
      if (pipeline.type !== 'MediaPipeline') throw new RpcError(40106, 'mediaPipeline is not a MediaPipeline', 'MEDIA_OBJECT_ILLEGAL_PARAM_ERROR');
      id = `${ctor.mediaPipeline}/${randomUUID()}_kurento.${type}`;
      o.pipeline = ctor.mediaPipeline;
    }
    if (type === 'GStreamerFilter') {
      if (typeof ctor.command !== 'string' || !ctor.command) throw new RpcError(40106, 'GStreamerFilter needs a command', 'MEDIA_OBJECT_ILLEGAL_PARAM_ERROR');
      o.command = ctor.command;
    }
    if (type === 'RecorderEndpoint') {
      if (typeof ctor.uri !== 'string' || !/^(file|http|https):\/\//.test(ctor.uri)) {
        throw new RpcError(40106, `bad recorder uri ${ctor.uri}`, 'MEDIA_OBJECT_ILLEGAL_PARAM_ERROR');
      }
      o.uri = ctor.uri;
      o.mediaProfile = ctor.mediaProfile;
      o.state = 'stopped';
    }
    if (type === 'WebRtcEndpoint') o.remoteCandidates = [];
    o.id = id;
    this.objects.set(id, o);
    return id;
  }

  rpc_invoke(params) {
    const o = this.live(params.object);
    const op = params.operation;
    const args = params.operationParams ?? {};
    if (typeof op !== 'string') throw new RpcError(-32602, 'operation missing');
    if (typeof args !== 'object') throw new RpcError(-32602, 'operationParams is not an object');
    const only = (t) => {
      if (o.type !== t) throw new RpcError(40105, `${op} is not an operation of ${o.type}`, 'MEDIA_OBJECT_METHOD_NOT_FOUND');
    };
    switch (op) {
      case 'processOffer':
        only('WebRtcEndpoint');
        if (typeof args.offer !== 'string' || !args.offer.startsWith('v=0')) {
          throw new RpcError(40208, 'Error processing offer: SDP parse error', 'SDP_PARSE_ERROR');
        }
        o.offer = args.offer;
        o.answer = answerFor(args.offer);
        return o.answer;
      case 'gatherCandidates':
        only('WebRtcEndpoint');
        if (o.gathering) return undefined;
        o.gathering = true;
        // KMS may raise its first candidates before it answers gatherCandidates:
        // the harsher order, so the server must hold them until its SDP answer is out.
        this.raiseCandidates(o);
        return undefined;
      case 'addIceCandidate':
        only('WebRtcEndpoint');
        if (!args.candidate || typeof args.candidate.candidate !== 'string') {
          throw new RpcError(-32602, 'addIceCandidate needs candidate.candidate');
        }
        o.remoteCandidates.push(args.candidate);
        return undefined;
      case 'connect': {
        const sink = this.live(args.sink, 'sink');
        if (sink.pipeline !== o.pipeline || !o.pipeline) throw new RpcError(40106, 'elements of different pipelines', 'CONNECT_ERROR');
        if (sink === o) throw new RpcError(40106, 'an element cannot feed itself', 'CONNECT_ERROR');
        sink.source = o.id; // a sink has one source: connecting replaces it
        return undefined;
      }
      case 'disconnect': {
        const sink = this.live(args.sink, 'sink');
        if (sink.source === o.id) sink.source = null;
        return undefined;
      }
      case 'record':
        only('RecorderEndpoint');
        o.state = 'recording';
        return undefined;
      case 'stop':
      case 'stopAndWait':
        only('RecorderEndpoint');
        o.state = 'stopped';
        return undefined;
      default:
        throw new RpcError(40105, `Unknown operation ${op}`, 'MEDIA_OBJECT_METHOD_NOT_FOUND');
    }
  }

  raiseCandidates(o) {
    if (!this.objects.has(o.id)) return;
    const lines = [
      'candidate:1 1 UDP 2015363327 127.0.0.1 40001 typ host',
      'candidate:2 1 TCP 1015021823 127.0.0.1 9 typ host tcptype active',
    ];
    for (const [, s] of this.subscriptions) {
      if (s.object !== o.id || s.type !== 'IceCandidateFound') continue;
      for (const line of lines) {
        const now = Date.now();
        const data = {
          candidate: { __module__: 'kurento', __type__: 'IceCandidate', candidate: line, sdpMid: '0', sdpMLineIndex: 0 },
          componentId: 1, streamId: 1, source: o.id, tags: [], timestamp: String(Math.floor(now / 1000)),
          timestampMillis: String(now), type: 'IceCandidateFound',
        };
        this.send(this.sessions.get(s.session),
          { jsonrpc: '2.0', method: 'onEvent', params: { value: { data, object: o.id, type: 'IceCandidateFound' } } });
      }
    }
  }

  rpc_subscribe(params, conn) {
    const o = this.live(params.object);
    if (typeof params.type !== 'string') throw new RpcError(-32602, 'subscribe needs a type');
    if (params.type === 'IceCandidateFound' && o.type !== 'WebRtcEndpoint') {
      throw new RpcError(40109, `${o.type} has no event IceCandidateFound`, 'MEDIA_OBJECT_EVENT_NOT_SUPPORTED');
    }
    const sub = randomUUID();
    this.subscriptions.set(sub, { object: o.id, type: params.type, session: conn.sessionId });
    return sub;
  }

  rpc_unsubscribe(params) {
    if (!this.subscriptions.delete(params.subscription)) throw new RpcError(40101, 'unknown subscription');
    return undefined;
  }

  rpc_release(params) {
    const o = this.live(params.object);
    const gone = [o.id];
    if (o.type === 'MediaPipeline') for (const c of this.objects.values()) if (c.pipeline === o.id) gone.push(c.id);
    for (const id of gone) this.objects.delete(id);
    for (const c of this.objects.values()) if (gone.includes(c.source)) c.source = null;
    for (const [sub, s] of this.subscriptions) if (gone.includes(s.object)) this.subscriptions.delete(sub);
    return undefined;
  }

  // --- HTTP control endpoint (stand-alone use) -----------------------------------

  control(req, res) {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', async () => {
      const reply = (status, value) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      try {
        const route = `${req.method} ${req.url}`;
        if (route === 'GET /control/objects') return reply(200, this.liveObjects());
        if (route === 'GET /control/calls') return reply(200, this.calls);
        if (route === 'GET /control/violations') return reply(200, this.violations);
        if (route === 'POST /control/fail') { this.failNext(JSON.parse(body || '{}')); return reply(200, { ok: true }); }
        if (route === 'POST /control/drop') { this.dropConnections(); return reply(200, { ok: true }); }
        if (route === 'POST /control/reset') { this.reset(); return reply(200, { ok: true }); }
        return reply(404, { error: 'not found' });
      } catch (e) {
        return reply(400, { error: String(e.message) });
      }
    });
  }
}

// A made-up SDP answer that mirrors the offer's m-lines (media, mid,
// direction flipped, the first codec of each), with its own ICE credentials
// and DTLS fingerprint.
export function answerFor(offer) {
  const lines = offer.split(/\r?\n/).filter(Boolean);
  const out = ['v=0', `o=- ${Date.now()} 0 IN IP4 127.0.0.1`, 's=Kurento Media Server (fake)', 't=0 0'];
  const mids = [];
  let m = null;
  const flush = () => {
    if (!m) return;
    out.push(`m=${m.media} 9 ${m.proto} ${m.pt ?? '0'}`, 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
      `a=ice-ufrag:${m.ufrag}`, 'a=ice-pwd:fakekmsfakekmsfakekmsfake',
      'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
      'a=setup:active', `a=mid:${m.mid}`, `a=${m.dir}`, 'a=rtcp-mux');
    if (m.rtpmap) out.push(m.rtpmap);
    mids.push(m.mid);
  };
  const flip = { sendonly: 'recvonly', recvonly: 'sendonly', sendrecv: 'sendrecv', inactive: 'inactive' };
  for (const line of lines) {
    if (line.startsWith('m=')) {
      flush();
      const [media, , proto, ...pts] = line.slice(2).split(' ');
      m = { media, proto, pt: pts[0], mid: String(mids.length), dir: 'sendrecv', ufrag: 'fake' };
    } else if (m && line.startsWith('a=mid:')) m.mid = line.slice(6);
    else if (m && flip[line.slice(2)]) m.dir = flip[line.slice(2)];
    else if (m && !m.rtpmap && line.startsWith(`a=rtpmap:${m.pt} `)) m.rtpmap = line;
  }
  flush();
  if (mids.length) out.splice(4, 0, `a=group:BUNDLE ${mids.join(' ')}`);
  return `${out.join('\r\n')}\r\n`;
}

export async function startFakeKms({ port = 0, host, path, tls } = {}) {
  return new FakeKms({ host, path, tls }).listen(port);
}

// Stand-alone: node fake-kms.mjs [--port N] [--host H]
if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : dflt;
  };
  const kms = await startFakeKms({ port: Number(arg('--port', '8888')), host: arg('--host', '127.0.0.1') });
  console.log(`FAKE Kurento Media Server (a test double) on ${kms.url}; control at http://${kms.host}:${kms.port}/control/`);
}
