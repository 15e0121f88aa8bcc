// Which web pages may use the server (--allowed-origin): a page of another
// origin is refused on the handshake, the transports and the websocket
// upgrade, and never gets CORS headers; the server's own origin and listed
// origins are served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { httpRequest, handshake, RawWs } from './lib/raw.mjs';

const EVIL = 'http://evil.example';
const FRIEND = 'https://app.example.com';
let open;   // default: the server's own origins
let listed; // --allowed-origin FRIEND

before(async () => {
  open = await startServer();
  listed = await startServer(['--allowed-origin', FRIEND]);
});
after(async () => { await open?.stop(); await listed?.stop(); });

const handshakeFrom = (srv, origin) => httpRequest(srv.port, { path: '/socket.io/1/', headers: { Origin: origin } });

test('a page of another origin is refused at the handshake: 403 handshake bad origin, no CORS', async () => {
  for (const origin of [EVIL, `http://127.0.0.1:${open.port + 1}`, 'null']) {
    const res = await handshakeFrom(open, origin);
    assert.equal(res.status, 403, origin);
    assert.equal(res.body, 'handshake bad origin');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  }
});

test('the server\'s own origin, and clients that send no browser origin, are served', async () => {
  for (const origin of [`http://127.0.0.1:${open.port}`, `http://localhost:${open.port}`]) {
    const res = await handshakeFrom(open, origin);
    assert.equal(res.status, 200, origin);
    assert.equal(res.headers['access-control-allow-origin'], origin);
  }
  assert.equal((await httpRequest(open.port, { path: '/socket.io/1/' })).status, 200);
  // socket.io-client 0.9.6 in Node sends "host:port", which no browser sends
  assert.equal((await handshakeFrom(open, `127.0.0.1:${open.port}`)).status, 200);
});

test('transport requests and the websocket upgrade from another origin are refused', async () => {
  const sid = await handshake(open.port);
  for (const method of ['GET', 'POST']) {
    const res = await httpRequest(open.port, {
      method, path: `/socket.io/1/xhr-polling/${sid}?t=1`, headers: { Origin: EVIL }, body: method === 'POST' ? '2::' : undefined,
    });
    assert.equal(res.status, 403, method);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  }
  await assert.rejects(RawWs.connect(open.port, `/socket.io/1/websocket/${sid}`, { headers: { Origin: EVIL } }),
    (e) => e.status === 403);
  // The session itself is untouched: its own client still opens it.
  const ws = await RawWs.connect(open.port, `/socket.io/1/websocket/${sid}`);
  assert.equal(await ws.next(() => true, { what: '1::' }), '1::');
  ws.destroy();
});

test('--allowed-origin lists more origins to serve, besides the server\'s own', async () => {
  const ok = await handshakeFrom(listed, FRIEND);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['access-control-allow-origin'], FRIEND);
  assert.equal(ok.headers['access-control-allow-credentials'], 'true');
  assert.equal((await handshakeFrom(listed, 'https://APP.example.com:443')).status, 200, 'origins compare normalized');
  assert.equal((await handshakeFrom(listed, EVIL)).status, 403);
  assert.equal((await handshakeFrom(listed, `http://127.0.0.1:${listed.port}`)).status, 200);
});

test('static files carry the security headers', async () => {
  const res = await httpRequest(open.port, { path: '/' });
  assert.equal(res.status, 200);
  assert.match(res.headers['content-security-policy'], /default-src 'self'/);
  assert.match(res.headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.doesNotMatch(res.headers['content-security-policy'], /unsafe-inline/);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['referrer-policy'], 'same-origin');
});
