// TR-2: the socket.io 0.9 handshake and its error answers, over raw HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, perProcess, sidPattern } from './lib/server.mjs';
import { httpRequest, handshake, RawWs, tcpExchange } from './lib/raw.mjs';

const HS_RE = new RegExp(`^${sidPattern}:60:60:websocket,xhr-polling,jsonp-polling$`);
let srv;

before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

test('TR-2 GET /socket.io/1/?t=... answers 200 text/plain sid:60:60:transports', async () => {
  const res = await httpRequest(srv.port, { path: '/socket.io/1/?t=123' });
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] ?? '', /^text\/plain\b/);
  assert.match(res.body, HS_RE);
});

test('TR-2 GET /socket.io/1 (no slash, no t) and a user query are handshakes too', async () => {
  for (const path of ['/socket.io/1', '/socket.io/1/', '/socket.io/1/?name=Alice&t=1', '/socket.io/1?foo=bar']) {
    const res = await httpRequest(srv.port, { path });
    assert.equal(res.status, 200, path);
    assert.match(res.body, HS_RE, path);
  }
});

test('TR-2 the method is ignored: POST and OPTIONS handshake as well', async () => {
  for (const method of ['POST', 'OPTIONS']) {
    const res = await httpRequest(srv.port, { method, path: '/socket.io/1/', headers: { 'Content-Length': 0 } });
    assert.equal(res.status, 200, method);
    assert.match(res.body, HS_RE, method);
  }
});

test('TR-2 every handshake gets a fresh sid', async () => {
  const sids = new Set();
  for (let i = 0; i < 20; i++) sids.add(await handshake(srv.port));
  assert.equal(sids.size, 20);
});

test('TR-2 ?jsonp=N answers io.j[N]("<handshake>"); as application/javascript', async () => {
  const res = await httpRequest(srv.port, { path: '/socket.io/1/?t=1&jsonp=3' });
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] ?? '', /^application\/javascript\b/);
  const m = /^io\.j\[3\]\(("[^"]*")\);$/.exec(res.body);
  assert.ok(m, `body ${res.body}`);
  assert.match(JSON.parse(m[1]), HS_RE);
});

test('TR-2 a non-numeric jsonp index is ignored (plain handshake)', async () => {
  const res = await httpRequest(srv.port, { path: '/socket.io/1/?jsonp=abc' });
  assert.equal(res.status, 200);
  assert.match(res.body, HS_RE);
});

test('TR-2 an allowed Origin (by default the server\'s own) is echoed with credentials allowed', async () => {
  const origin = `http://127.0.0.1:${srv.port}`;
  const res = await httpRequest(srv.port, { path: '/socket.io/1/', headers: { Origin: origin } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['access-control-allow-origin'], origin);
  assert.equal(res.headers['access-control-allow-credentials'], 'true');
  assert.match(res.body, HS_RE);
});

test('TR-2 /socket.io/2/ answers 500 "Protocol version not supported."', async () => {
  const res = await httpRequest(srv.port, { path: '/socket.io/2/' });
  assert.equal(res.status, 500);
  assert.equal(res.body, 'Protocol version not supported.');
});

test('TR-2 /socket.io/ answers 200 "Welcome to socket.io."', async () => {
  const res = await httpRequest(srv.port, { path: '/socket.io/' });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'Welcome to socket.io.');
});

test('TR-2 unknown sid on xhr-polling answers 200 7:::1+0', async () => {
  const res = await httpRequest(srv.port, { path: '/socket.io/1/xhr-polling/NOPEnopeNOPEnope1234?t=1' });
  assert.equal(res.status, 200);
  assert.equal(res.body, '7:::1+0');
});

test('TR-2 unknown sid on jsonp-polling answers io.j[4]("7:::1+0");', async () => {
  const res = await httpRequest(srv.port, { path: '/socket.io/1/jsonp-polling/NOPEnopeNOPEnope1234?t=1&i=4' });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'io.j[4]("7:::1+0");');
});

test('TR-2 unknown sid on websocket: 101, a 7:::1+0 frame, then close', async () => {
  const ws = await RawWs.connect(srv.port, '/socket.io/1/websocket/NOPEnopeNOPEnope1234');
  assert.equal(await ws.next(() => true, { what: 'the error frame' }), '7:::1+0');
  await ws.waitClosed();
});

test('TR-2 unknown transport name: the connection is closed with no response', {
  skip: perProcess('the node closes its own connection; haproxy in front answers the client 502 instead'),
}, async () => {
  const sid = await handshake(srv.port);
  const res = await httpRequest(srv.port, { path: `/socket.io/1/bogus/${sid}` });
  assert.equal(res.noResponse, true, `got a response: ${JSON.stringify(res)}`);
  // The same on a raw socket: not one byte comes back before the close.
  const raw = await tcpExchange(srv.port, [`GET /socket.io/1/bogus/${sid} HTTP/1.1\r\nHost: x\r\n\r\n`]);
  assert.equal(raw.closed, true);
  assert.equal(raw.data.length, 0, raw.text);
});

test('TR-2 a fresh sid connects: the first xhr-polling GET answers 1:: at once', async () => {
  const sid = await handshake(srv.port);
  const res = await httpRequest(srv.port, { path: `/socket.io/1/xhr-polling/${sid}?t=2` });
  assert.equal(res.status, 200);
  assert.equal(res.body, '1::');
});

test('TR-2 the handshake advertises the configured heartbeat and close timeouts', async () => {
  const other = await startServer(['--heartbeat-timeout', '7', '--close-timeout', '9']);
  try {
    const res = await httpRequest(other.port, { path: '/socket.io/1/' });
    assert.match(res.body, new RegExp(`^${sidPattern}:7:9:websocket,xhr-polling,jsonp-polling$`));
  } finally {
    await other.stop();
  }
});

test('the server exits 0 on SIGTERM', async () => {
  const other = await startServer();
  const info = await other.stop({ signal: 'SIGTERM' });
  assert.equal(info.code, 0, JSON.stringify(info));
});

test('the server exits 0 on SIGINT', async () => {
  const other = await startServer();
  other.proc.kill('SIGINT');
  const info = await Promise.race([other.exited, new Promise((r) => setTimeout(() => r('timeout'), 5000))]);
  await other.stop();
  assert.deepEqual(info, { code: 0, signal: null });
});

test('the server is still alive after the handshake tests', () => {
  assert.ok(srv.alive(), srv.stderr());
});
