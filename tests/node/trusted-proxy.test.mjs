// --trusted-proxy (docs/operations.md, "Behind a reverse proxy"): requests from
// a trusted proxy count for the client its X-Forwarded-For names (the nearest
// hop, i.e. the last entry), everyone else's header is ignored, and the
// proxy's own connections are not limited per address. The test's "clients
// behind the proxy" are header values; the proxy is 127.0.0.1 and an
// untrusted peer is 127.0.0.2 (any 127.x is loopback on Linux).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, perProcess } from './lib/server.mjs';
import { httpRequest } from './lib/raw.mjs';
import { waitLog } from './lib/logs.mjs';
import { withTimeout } from './lib/wait.mjs';

const skip = perProcess('haproxy in front is the proxy the nodes trust');
const PROXY = '127.0.0.1';
const STRANGER = '127.0.0.2';
let srv;

before(async () => {
  if (skip) return;
  srv = await startServer(['--trusted-proxy', `${PROXY}/32`, '--max-handshakes-per-address', '2',
    '--max-connections-per-address', '1', '--log-level', 'info']);
});
after(async () => { await srv?.stop(); });

/** A handshake's status, from `localAddress`, with X-Forwarded-For line(s) `forwarded`. */
async function handshake(forwarded, localAddress = PROXY) {
  const headers = forwarded === undefined ? {} : { 'X-Forwarded-For': forwarded };
  const res = await httpRequest(srv.port, { path: '/socket.io/1/', headers, localAddress });
  return { status: res.status, sid: res.status === 200 ? res.body.split(':')[0] : null };
}

test("from the trusted proxy, handshake limits count each forwarded client", { skip }, async () => {
  assert.equal((await handshake('10.1.0.1')).status, 200);
  assert.equal((await handshake('10.1.0.1')).status, 200);
  assert.equal((await handshake('10.1.0.1')).status, 503, 'the third pending handshake of one client');
  assert.equal((await handshake('10.1.0.2')).status, 200, 'another client behind the same proxy');
});

test("the proxy's line counts, not one the client wrote before it", { skip }, async () => {
  // The client sent its own header; the proxy added the real address after it.
  assert.equal((await handshake(['10.1.0.7', '10.1.0.5'])).status, 200);
  assert.equal((await handshake('192.0.2.1, 10.1.0.5')).status, 200);
  assert.equal((await handshake('10.1.0.5')).status, 503, '10.1.0.5 has had its two');
  assert.equal((await handshake('10.1.0.7')).status, 200, 'the forged address was never counted');
});

test('an untrusted peer cannot choose its address with the header', { skip }, async () => {
  assert.equal((await handshake('10.1.0.8', STRANGER)).status, 200);
  assert.equal((await handshake('10.1.0.9', STRANGER)).status, 200);
  assert.equal((await handshake('10.1.0.10', STRANGER)).status, 503, 'all counted as 127.0.0.2');
});

test("a session is bound to its forwarded client's address", { skip }, async () => {
  const { sid } = await handshake('10.3.0.1');
  const poll = (forwarded) => httpRequest(srv.port, {
    path: `/socket.io/1/xhr-polling/${sid}?t=${Date.now()}`, headers: { 'X-Forwarded-For': forwarded },
  });
  const elsewhere = await poll('10.3.0.2');
  assert.doesNotMatch(elsewhere.body, /^1::/, 'another client presenting the sid');
  const own = await poll('10.3.0.1');
  assert.equal(own.status, 200);
  assert.match(own.body, /^1::/);
  await waitLog(srv, (t) => t.includes('10.3.0.1 via 127.0.0.1:'), { what: 'the log naming the client and the proxy' });
});

test("the proxy's connections are not limited per address; a stranger's are", { skip }, async () => {
  const open = (localAddress) => withTimeout(new Promise((res, rej) => {
    const s = net.connect({ host: '127.0.0.1', port: srv.port, localAddress }, () => res(s));
    s.once('error', rej);
  }), 5000, 'a TCP connection');
  /** What the server says to a connection that sends a request: its first bytes. */
  const answer = (s) => withTimeout(new Promise((res) => {
    s.once('data', (d) => res(String(d)));
    s.once('close', () => res(''));
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  }), 5000, 'an answer');
  const sockets = [];
  try {
    for (let i = 0; i < 3; i++) sockets.push(await open(PROXY));
    for (const s of sockets) assert.match(await answer(s), /^HTTP\/1\.1 200/);
    const first = await open(STRANGER);
    sockets.push(first);
    assert.match(await answer(first), /^HTTP\/1\.1 200/);
    const second = await open(STRANGER);
    sockets.push(second);
    assert.match(await answer(second), /too many connections|^$/, 'the second from 127.0.0.2 is refused');
  } finally {
    for (const s of sockets) s.destroy();
  }
});
