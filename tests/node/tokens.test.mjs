// Identity and access (issue 13) end to end: servers in token mode (HS256,
// ES256, RS256) and in open mode, the unmodified socket.io-client 0.9.6
// (websocket) and raw peers (xhr-polling, jsonp, Authorization header).
// Tokens are minted with node:crypto (lib/tokens.mjs), as an application
// backend would, and by `compeit-server token`.
//
// Every refused handshake gets 403 `handshake unauthorized` (JSONP: 200 with
// `io.j[N](new Error("handshake unauthorized"));`), the reason goes to the
// server log, and no log line ever holds a token.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { sign } from 'node:crypto';
import { startServer, serverBinary } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { httpRequest, handshake, PollSession, RawWs } from './lib/raw.mjs';
import { NS } from './lib/packet.mjs';
import { withTimeout } from './lib/wait.mjs';
import { waitLog } from './lib/logs.mjs';
import {
  SECRET, claims, jwt, hmac, hs256, es256, rs256, keyPair, nowSeconds, parts, payloadOf, resign, b64url,
} from './lib/tokens.mjs';

let hs;    // --auth-secret SECRET
let es;    // --auth-public-key <P-256>
let rs;    // --auth-public-key <RSA 2048>
let open;  // no auth flag
let ec;
let rsa;
const minted = [];  // every token this file used: none may reach a log
const mint = (t) => { minted.push(t); return t; };

before(async () => {
  ec = keyPair('ec');
  rsa = keyPair('rsa');
  [hs, es, rs, open] = await Promise.all([
    startServer(['--auth-secret', SECRET, '--log-level', 'debug']),
    startServer(['--auth-public-key', ec.file, '--log-level', 'debug']),
    startServer(['--auth-public-key', rsa.file, '--log-level', 'debug']),
    startServer(['--log-level', 'debug']),
  ]);
});
afterEach(() => closeAll());
after(async () => {
  closeAll();
  await Promise.all([hs, es, rs, open].map((s) => s?.stop()));
  ec?.remove();
  rsa?.remove();
});

let nextRoom = 13000;
const newRoom = () => nextRoom++;

const hsHandshake = (srv, query, headers = {}) => httpRequest(srv.port, { path: `/socket.io/1/?${query}`, headers });
const tokenQuery = (token) => `token=${encodeURIComponent(token)}`;


/** The token's parts long enough to be recognized (the payload and the signature), none in `text`. */
function assertNoToken(text, token, what) {
  for (const seg of [token, ...parts(token)].filter((s) => s.length >= 8)) {
    assert.ok(!text.includes(seg), `${what}: the log holds (part of) a token: ${seg.slice(0, 40)}...`);
  }
}

/**
 * One HTTP request; resolves {status, headers, body, peer}: `peer` is the
 * address the server logs for it ("127.0.0.1:<our port>"), so the test reads
 * this request's own log line and no other's.
 */
function request(srv, path, headers = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, path, headers, agent: false });
    let peer;
    req.on('socket', (sock) => sock.on('connect', () => { peer = `127.0.0.1:${sock.localPort}`; }));
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), peer }));
    });
    req.on('error', reject);
    req.end();
  }), 5000, `HTTP GET ${path.slice(0, 60)}`);
}

/** The reason the server logged for refusing the handshake `res` came from. */
async function loggedReason(srv, res, what) {
  const re = new RegExp(`handshake unauthorized from ${res.peer.replaceAll('.', '\\.')}: ([^\n]*)\n`);
  return (await waitLog(srv, (t) => re.exec(t), { what: `the log line of ${what} (${res.peer})` }))[1];
}

/**
 * The handshake with `token` in the query is refused with 403 `handshake
 * unauthorized`; the log line that says why matches `reason`, and the log
 * holds no part of the token. The same in the Authorization header, and as
 * JSONP (200 with the error the 0.9.6 client's script-tag handshake reads).
 */
async function assertRefused(srv, token, reason, what) {
  // A cluster node logs the peer it sees, haproxy's connection: ask one node directly there.
  srv = srv.cluster?.nodes[0].server ?? srv;
  const query = token === null ? '' : tokenQuery(mint(token));
  const answers = [
    ['query', await request(srv, `/socket.io/1/?${query}`)],
    ['jsonp', await request(srv, `/socket.io/1/?jsonp=4&${query}`)],
  ];
  if (token !== null) answers.push(['header', await request(srv, '/socket.io/1/', { Authorization: `Bearer ${token}` })]);
  for (const [how, res] of answers) {
    if (how === 'jsonp') {
      assert.equal(res.status, 200, `${what} (${how})`);
      assert.equal(res.body, 'io.j[4](new Error("handshake unauthorized"));', `${what} (${how})`);
    } else {
      assert.equal(res.status, 403, `${what} (${how}): ${JSON.stringify(res.body)}`);
      assert.equal(res.body, 'handshake unauthorized', `${what} (${how})`);
    }
    assert.equal(res.headers['set-cookie'], undefined);
    assert.match(await loggedReason(srv, res, `${what} (${how})`), reason, `${what} (${how})`);
  }
  if (token !== null) assertNoToken(srv.stderr(), token, what);
}

/** A 0.9.6 client on `srv` with `token` (and `extra` query); resolves the Client. */
const connectWith = (srv, token, extra = '') =>
  Client.connect(srv.url, { query: [tokenQuery(mint(token)), extra].filter(Boolean).join('&') });

const kurento = (c, data) => c.ack('server_message', { type: 'kurento', data });

async function expectForbidden(c, event, arg, pattern) {
  const ack = await c.ack(event, arg);
  assert.equal(ack?.error?.code, 'forbidden', `${event} ${JSON.stringify(arg)}: ${JSON.stringify(ack)}`);
  assert.match(ack.error.message, pattern);
  const e = await c.next('request_error', { filter: (x) => x.code === 'forbidden' && x.message === ack.error.message });
  assert.equal(e.event, event);
}

// ---------------------------------------------------------------- start-up

test('the start-up log says which tokens are required, or that the server is open', async () => {
  await waitLog(hs, (t) => /access tokens required \(HS256\)/.test(t), { what: 'HS256 start-up line' });
  await waitLog(es, (t) => /access tokens required \(ES256\)/.test(t), { what: 'ES256 start-up line' });
  await waitLog(rs, (t) => /access tokens required \(RS256\)/.test(t), { what: 'RS256 start-up line' });
  await waitLog(open, (t) => /open mode: .*anyone may connect/.test(t), { what: 'open-mode warning' });
  assert.doesNotMatch(hs.stderr(), /open mode/);
});

test('a server that cannot use its key does not start: short secret, missing or wrong key file', async () => {
  for (const args of [['--auth-secret', 'too-short'], ['--auth-public-key', '/nonexistent/key.pem']]) {
    await assert.rejects(startServer(args, { readyTimeout: 5000 }), /exited before ready/, args.join(' '));
  }
  await assert.rejects(startServer([], { env: { COMPEIT_AUTH_SECRET: 'short' }, readyTimeout: 5000 }), /exited before ready/);
});

// ---------------------------------------------------------------- allowed handshakes

test('HS256: the 0.9.6 client with ?token= connects over websocket as the token says; the token\'s name wins over ?name=', async () => {
  const c = await connectWith(hs, hs256(claims({ sub: 'app-user-1', name: 'Ada' })), 'name=Eve');
  assert.equal(c.user.name, 'Ada');
  assert.ok(Number.isInteger(c.user.id) && c.user.id > 0);
  await waitLog(hs, (t) => / handshake from [^\n]* as app-user-1\n/.test(t), { what: 'the handshake log line with the sub' });

  // no name claim: ?name= is still ignored
  const d = await connectWith(hs, hs256(claims({ sub: 'app-user-2' })), 'name=Eve');
  assert.match(d.user.name, /^user\d+$/);
  assert.equal(d.user.name, `user${d.user.id}`);

  // the token's name is cleaned like any other; the application may name a user "server"
  const e = await connectWith(hs, hs256(claims({ name: ' A\u202Eda\u0007 ' })));
  assert.equal(e.user.name, 'Ada');
  const f = await connectWith(hs, hs256(claims({ name: 'server' })));
  assert.equal(f.user.name, 'server');
});

test('HS256 over xhr-polling (raw): the handshake with ?token= opens a session; the connect packet\'s name is ignored', async () => {
  const token = mint(hs256(claims({ name: 'Bea' })));
  const s = await PollSession.open(hs.port, { query: tokenQuery(token) });
  await s.waitFor((p) => p.type === 1 && p.endpoint === '', { what: '1::' });
  const post = await s.post(`1::${NS}:?name=server`);
  assert.equal(post.status, 200);
  const { user } = await s.waitEvent('connected');
  assert.equal(user.name, 'Bea');
  await s.post(`0::${NS}`);
});

test('Authorization: Bearer is accepted in place of ?token=; other schemes are not', async () => {
  const token = mint(hs256(claims({ name: 'Cai' })));
  const res = await httpRequest(hs.port, { path: '/socket.io/1/', headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const sid = res.body.split(':')[0];
  const ws = await RawWs.connect(hs.port, `/socket.io/1/websocket/${sid}`);
  assert.equal(await ws.next(() => true, { what: '1::' }), '1::');
  ws.sendText(`1::${NS}`);
  assert.equal((await ws.nextEvent('connected')).user.name, 'Cai');
  ws.destroy();

  for (const auth of [`Basic ${token}`, token, `Bearer`, `Bearer `]) {
    const r = await httpRequest(hs.port, { path: '/socket.io/1/', headers: { Authorization: auth } });
    assert.equal(r.status, 403, auth.slice(0, 12));
  }
});

test('ES256 (P-256, r||s) and RS256 (RSA 2048) tokens are accepted by servers with those public keys', async () => {
  const a = await connectWith(es, es256(claims({ name: 'Eda' }), ec.privateKey));
  assert.equal(a.user.name, 'Eda');
  const b = await connectWith(rs, rs256(claims({ name: 'Rae' }), rsa.privateKey));
  assert.equal(b.user.name, 'Rae');
  const s = await PollSession.open(es.port, { query: tokenQuery(mint(es256(claims({ name: 'Poll' }), ec.privateKey))) });
  await s.post(`1::${NS}`);
  assert.equal((await s.waitEvent('connected')).user.name, 'Poll');
});

// ---------------------------------------------------------------- refused handshakes

test('the 0.9.6 client reports a refused handshake as an `error` and never connects', async () => {
  await assert.rejects(Client.connect(hs.url, { name: 'NoToken' }), /connect failed: error \["handshake unauthorized"\]/);
  const forged = hs256(claims({ name: 'Mallory' }), 'a-different-secret-of-enough-length!!');
  await assert.rejects(connectWith(hs, forged), /connect failed: error \["handshake unauthorized"\]/);
  await assert.rejects(connectWith(es, hs256(claims())), /connect failed: error \["handshake unauthorized"\]/);
});

test('refused on every transport\'s handshake: no token, and a raw jsonp handshake', async () => {
  await assertRefused(hs, null, /^no token$/, 'no token');
  const jsonp = await hsHandshake(hs, 'jsonp=0');
  assert.equal(jsonp.status, 200);
  assert.equal(jsonp.body, 'io.j[0](new Error("handshake unauthorized"));');
  assert.match(jsonp.headers['content-type'], /javascript/);
  // a refused handshake made no session: a websocket or a poll to a guessed sid is not served
  await assert.rejects(PollSession.open(hs.port), /handshake failed/);
});

test('forged, altered and truncated HS256 tokens are refused, the reason logged, the token never', async () => {
  const good = hs256(claims({ name: 'Ada' }));
  await assertRefused(hs, hs256(claims(), `${SECRET}x`), /bad signature/, 'another secret');
  await assertRefused(hs, resign(good, (s) => { s[0] ^= 1; return s; }), /bad signature/, 'a flipped signature bit');
  await assertRefused(hs, resign(good, (s) => s.subarray(0, 16)), /bad signature/, 'half a signature');
  const [h, , sig] = parts(good);
  await assertRefused(hs, `${h}.${b64url(JSON.stringify(claims({ rooms: '*', caps: ['admin'] })))}.${sig}`,
    /bad signature/, 'other claims under the signature');
  await assertRefused(hs, good.slice(0, -5), /signature/, 'the text cut short');
  await assertRefused(hs, parts(good).slice(0, 2).join('.'), /three parts/, 'no signature part');
  await assertRefused(hs, `${parts(good).slice(0, 2).join('.')}.`, /signature/, 'an empty signature');
  await assertRefused(hs, 'not-a-token', /three parts/, 'garbage');
  await assertRefused(hs, `${good}.${sig}`, /three parts/, 'four parts');
});

test('expired and not-yet-valid tokens are refused (30 s of clock skew allowed)', async () => {
  await assertRefused(hs, hs256(claims({ exp: nowSeconds() - 120 })), /^expired$/, 'expired two minutes ago');
  await assertRefused(hs, hs256(claims({ nbf: nowSeconds() + 300 })), /^not valid yet$/, 'valid in five minutes');
  // within the skew: accepted
  const c = await connectWith(hs, hs256(claims({ exp: nowSeconds() - 5, nbf: nowSeconds() + 20, name: 'Skew' })));
  assert.equal(c.user.name, 'Skew');
});

test('alg none, other algorithms and headers the server does not take are refused', async () => {
  const c = claims();
  await assertRefused(hs, jwt({ alg: 'none', typ: 'JWT' }, c, () => Buffer.alloc(0)), /alg none is not accepted/, 'alg none, no signature');
  await assertRefused(hs, jwt({ alg: 'none' }, c, hmac(SECRET)), /alg none is not accepted/, 'alg none with a MAC');
  await assertRefused(hs, jwt({ alg: 'HS384' }, c, (i) => hmac(SECRET)(i)), /alg HS384 is not accepted/, 'HS384');
  await assertRefused(hs, jwt({ typ: 'JWT' }, c, hmac(SECRET)), /alg/, 'no alg');
  await assertRefused(hs, jwt({ alg: 'HS256', typ: 'JWS' }, c, hmac(SECRET)), /typ must be JWT/, 'typ JWS');
  await assertRefused(hs, jwt({ alg: 'HS256', crit: ['exp'] }, c, hmac(SECRET)), /crit/, 'crit');
  await assertRefused(hs, jwt('not json', c, hmac(SECRET)), /header is not a JSON object/, 'header not JSON');
  // an ES256 or RS256 token on a server with only a secret
  await assertRefused(hs, es256(c, ec.privateKey), /no key for ES256/, 'ES256 on an HS256 server');
});

test('algorithm confusion: HS256 keyed with the server\'s public key, and the other public-key algorithm, are refused', async () => {
  const c = claims({ name: 'Mallory' });
  await assertRefused(es, hs256(c, ec.publicPem), /no key for HS256/, 'HS256 keyed with the EC public PEM');
  await assertRefused(rs, hs256(c, rsa.publicPem), /no key for HS256/, 'HS256 keyed with the RSA public PEM');
  await assertRefused(rs, es256(c, ec.privateKey), /no key for ES256/, 'ES256 on an RS256 server');
  await assertRefused(es, rs256(c, rsa.privateKey), /no key for RS256/, 'RS256 on an ES256 server');
  // the right key, the wrong form or the wrong key
  const der = jwt({ alg: 'ES256' }, c, (i) => sign('sha256', Buffer.from(i), { key: ec.privateKey, dsaEncoding: 'der' }));
  await assertRefused(es, der, /bad signature/, 'ES256 signature in DER form');
  const other = keyPair('ec');
  other.remove();
  await assertRefused(es, es256(c, other.privateKey), /bad signature/, 'ES256 by another key');
});

test('oversized tokens are refused (8192 bytes at most), in the query and in the header', async () => {
  const big = hs256(claims({ pad: 'x'.repeat(9000) }));
  assert.ok(big.length > 8192);
  await assertRefused(hs, big, /longer than 8192/, 'a 12 kB token');
});

test('claims of the wrong type are refused, each with its reason', async () => {
  const cases = [
    [{ sub: 42 }, /sub/], [{ sub: '' }, /sub/], [{ sub: undefined }, /sub/],
    [{ rooms: '7' }, /rooms/], [{ rooms: [-1] }, /rooms/], [{ rooms: [1.5] }, /rooms/], [{ rooms: ['7'] }, /rooms/],
    [{ rooms: undefined }, /rooms/], [{ rooms: Array.from({ length: 1001 }, (_, i) => i) }, /rooms/],
    [{ caps: ['fly'] }, /caps: unknown capability fly/], [{ caps: 'publish' }, /caps/],
    [{ exp: undefined }, /exp/], [{ exp: String(nowSeconds() + 3600) }, /exp/], [{ exp: nowSeconds() + 3600.5 }, /exp/],
    [{ nbf: 'now' }, /nbf/], [{ name: 7 }, /name/],
  ];
  for (const [over, reason] of cases) {
    await assertRefused(hs, hs256(claims(over)), reason, `claims ${JSON.stringify(over).slice(0, 60)}`);
  }
  await assertRefused(hs, jwt({ alg: 'HS256' }, '[1,2]', hmac(SECRET)), /payload is not a JSON object/, 'payload an array');
  // text from an unverified token cannot write a line of its own into the log
  const forged = '2026-12-01T00:00:00.000Z error FORGED-LOG-LINE';
  await assertRefused(hs, hs256(claims({ caps: [`fly\n${forged}`] }), 'not the secret, not verified at all'),
    /^caps: unknown capability fly\?2026/, 'a capability with a newline');
  await assertRefused(hs, jwt({ alg: `x\n${forged}`.slice(0, 16) }, claims(), hmac(SECRET)), /^header: alg x\?2026/, 'an alg with a newline');
  assert.doesNotMatch(hs.stderr(), /^2026-12-01T00:00:00\.000Z/m);
});

// ---------------------------------------------------------------- what a token allows

test('room claims: join_room to a listed room works, another gets request_error forbidden; "*" allows any', async () => {
  const [r1, r2, r3] = [newRoom(), newRoom(), newRoom()];
  const c = await connectWith(hs, hs256(claims({ name: 'Rooms', rooms: [r1, r2] })));
  const joined = await c.ack('join_room', { room: r1 });
  assert.equal(joined.room, r1);
  assert.deepEqual((await c.next('room_joined')).room, r1);
  await expectForbidden(c, 'join_room', { room: r3 }, new RegExp(`does not allow room ${r3}`));
  // still in r1; the other listed room works too
  assert.equal((await c.ack('join_room', { room: r2 })).room, r2);
  assert.equal(c.count('room_joined', (x) => x.room === r3), 0);

  const none = await connectWith(hs, hs256(claims({ rooms: [] })));
  await expectForbidden(none, 'join_room', { room: r1 }, /does not allow room/);

  const any = await connectWith(hs, hs256(claims({ rooms: '*' })));
  assert.equal((await any.ack('join_room', { room: r3 })).room, r3);
  assert.equal((await any.ack('join_room', { room: 9007199254740991 })).room, 9007199254740991);

  // open mode: any room
  const o = await Client.connect(open.url, { name: 'Open' });
  assert.equal((await o.ack('join_room', { room: r3 })).room, r3);
});

test('capabilities: publish, set_filter and recording need publish, filter and record (mesh mode)', async () => {
  const room = newRoom();
  const bare = await connectWith(hs, hs256(claims({ name: 'Bare' })));
  await bare.ack('join_room', { room });
  await expectForbidden(bare, 'server_message', { type: 'kurento', data: { action: 'publish', sdp: null } }, /publish/);
  await expectForbidden(bare, 'server_message', { type: 'kurento', data: { action: 'set_filter', filter: 'grayscale' } }, /filter/);
  await expectForbidden(bare, 'server_message', { type: 'kurento', data: { action: 'record_start' } }, /record/);
  await expectForbidden(bare, 'server_message', { type: 'kurento', data: { action: 'record_stop' } }, /record/);
  // without a capability, what needs none still works
  assert.notEqual((await kurento(bare, { action: 'unpublish' })).error?.code, 'forbidden');

  const full = await connectWith(hs, hs256(claims({ name: 'Full', caps: ['publish', 'filter', 'record'] })));
  await full.ack('join_room', { room });
  assert.deepEqual(await kurento(full, { action: 'publish', sdp: null }), { ok: true });
  // mesh mode has no filters or recording: allowed, then not supported
  assert.equal((await kurento(full, { action: 'set_filter', filter: 'grayscale' })).error?.code, 'not_supported');
  assert.equal((await kurento(full, { action: 'record_start' })).error?.code, 'not_supported');

  const pubOnly = await connectWith(hs, hs256(claims({ name: 'Pub', caps: ['publish'] })));
  await pubOnly.ack('join_room', { room });
  assert.deepEqual(await kurento(pubOnly, { action: 'publish', sdp: null }), { ok: true });
  await expectForbidden(pubOnly, 'server_message', { type: 'kurento', data: { action: 'record_start' } }, /record/);

  // open mode: everything a user could do before tokens
  const o = await Client.connect(open.url, { name: 'OpenPub' });
  await o.ack('join_room', { room });
  assert.deepEqual(await kurento(o, { action: 'publish', sdp: null }), { ok: true });
});

test('expiry during a session: the session goes on; a new handshake with the same token is refused', async () => {
  // valid for about 2 s more: exp is 27 s ago, and 30 s of skew are allowed
  const exp = nowSeconds() - 27;
  const token = mint(hs256(claims({ name: 'Brief', exp, rooms: '*' })));
  const c = await connectWith(hs, token);
  assert.equal(c.user.name, 'Brief');
  const poll = await PollSession.open(hs.port, { query: tokenQuery(token) });
  await poll.post(`1::${NS}`);
  await poll.waitEvent('connected');

  // a bounded wait on the clock: until the server counts the token expired
  const expiredAt = (exp + 30) * 1000 + 100;
  assert.ok(expiredAt - Date.now() < 5000, 'the token should expire within seconds');
  await new Promise((r) => setTimeout(r, Math.max(0, expiredAt - Date.now())));

  const room = newRoom();
  assert.equal((await c.ack('join_room', { room })).room, room);
  await poll.emit('join_room', [{ room }]);
  const joined = await c.next('user_joined');
  assert.equal(joined.room, room);
  await assertRefused(hs, token, /^expired$/, 'the same token after its expiry');
  await assert.rejects(Client.connect(hs.url, { query: tokenQuery(token) }), /handshake unauthorized/);
  // and the first client is still there
  assert.equal((await c.ack('leave_room')).room, room);
});

// ---------------------------------------------------------------- compeit-server token

function tokenCommand(args, env = {}) {
  const clean = { ...process.env };
  delete clean.COMPEIT_AUTH_SECRET;
  const r = spawnSync(serverBinary, ['token', ...args], { env: { ...clean, ...env }, encoding: 'utf8', timeout: 10000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('`compeit-server token` prints a token a server with that secret accepts', async () => {
  const room = newRoom();
  const r = tokenCommand(['--secret', SECRET, '--sub', 'u9', '--name', 'Cy', '--rooms', `${room},8`, '--ttl', '1h',
    '--caps', 'publish,record']);
  assert.equal(r.status, 0, r.stderr);
  const token = mint(r.stdout.trim());
  assert.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  assert.deepEqual(JSON.parse(Buffer.from(parts(token)[0], 'base64url')), { alg: 'HS256', typ: 'JWT' });
  const p = payloadOf(token);
  assert.equal(p.sub, 'u9');
  assert.equal(p.name, 'Cy');
  assert.deepEqual(p.rooms, [8, room]);
  assert.deepEqual(p.caps, ['publish', 'record']);
  assert.ok(Math.abs(p.exp - (nowSeconds() + 3600)) <= 5, `exp ${p.exp}`);

  const c = await connectWith(hs, token, 'name=Other');
  assert.equal(c.user.name, 'Cy');
  assert.equal((await c.ack('join_room', { room })).room, room);
  await expectForbidden(c, 'join_room', { room: room + 1 }, /does not allow room/);
  assert.deepEqual(await kurento(c, { action: 'publish', sdp: null }), { ok: true });
  await expectForbidden(c, 'server_message', { type: 'kurento', data: { action: 'set_filter', filter: 'x' } }, /filter/);

  // the defaults: every room, an hour, no capability; the secret from the environment
  const d = tokenCommand(['--sub', 'u10'], { COMPEIT_AUTH_SECRET: SECRET });
  assert.equal(d.status, 0, d.stderr);
  const dp = payloadOf(mint(d.stdout.trim()));
  assert.equal(dp.rooms, '*');
  assert.deepEqual(dp.caps, []);
  assert.equal(dp.name, undefined);
  assert.equal((await connectWith(hs, d.stdout.trim())).user.name.startsWith('user'), true);
  // a token for another secret is refused
  const x = tokenCommand(['--secret', `${SECRET}-other`, '--sub', 'u11']);
  assert.equal(x.status, 0);
  await assertRefused(hs, x.stdout.trim(), /bad signature/, 'a token minted with another secret');
});

test('`compeit-server token`: bad flags exit 2 with the reason and the usage, and print no token', () => {
  const ok = ['--secret', SECRET, '--sub', 'u1'];
  const cases = [
    [[], /--secret must be at least 32 bytes/],
    [['--secret', 'short', '--sub', 'u1'], /at least 32 bytes/],
    [['--secret', SECRET], /--sub is required/],
    [[...ok, '--ttl', '0'], /bad --ttl/], [[...ok, '--ttl', '1x'], /bad --ttl/], [[...ok, '--ttl', '-5'], /bad --ttl/],
    [[...ok, '--ttl', 'h'], /bad --ttl/], [[...ok, '--ttl', '1w'], /bad --ttl/],
    // at most ten years, in any unit
    [[...ok, '--ttl', '3651d'], /bad --ttl/], [[...ok, '--ttl', '87601h'], /bad --ttl/],
    [[...ok, '--ttl', '5256001m'], /bad --ttl/], [[...ok, '--ttl', '315360001'], /bad --ttl/],
    [[...ok, '--ttl', '99999999999999999999d'], /bad --ttl/],
    [[...ok, '--rooms', '7,x'], /bad room id/], [[...ok, '--rooms', '7,,8'], /bad room id/],
    [[...ok, '--rooms', '-1'], /bad room id/], [[...ok, '--rooms', '9007199254740992'], /bad room id/],
    [[...ok, '--rooms', ''], /bad room id/],
    [[...ok, '--caps', 'publish,fly'], /unknown capability: fly/],
    [[...ok, '--bogus', 'x'], /unknown flag: --bogus/],
    [[...ok, '--name'], /--name needs a value/],
  ];
  for (const [args, reason] of cases) {
    const r = tokenCommand(args);
    const what = args.join(' ');
    assert.equal(r.status, 2, `${what}: exit ${r.status}`);
    assert.equal(r.stdout, '', what);
    assert.match(r.stderr, /^compeit-server token: /, what);
    assert.match(r.stderr, reason, what);
    assert.match(r.stderr, /usage: compeit-server token/, what);
  }
  for (const ttl of ['3650d', '87600h', '315360000', '90s', '15m']) {
    const r = tokenCommand([...ok, '--ttl', ttl]);
    assert.equal(r.status, 0, `--ttl ${ttl}: ${r.stderr}`);
  }
  const tenYears = payloadOf(tokenCommand([...ok, '--ttl', '3650d']).stdout.trim()).exp - nowSeconds();
  assert.ok(Math.abs(tenYears - 315360000) <= 5, `ten years: ${tenYears}`);
  const help = tokenCommand(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: compeit-server token/);
});

// ---------------------------------------------------------------- open mode names

test('open mode: names are cleaned of controls and bidi overrides, trimmed and bounded; "server" cannot be taken', async () => {
  const cases = [
    ['Ev\u202Eil\u0007 ', 'Evil'],
    ['\u2066Ada\u2069', 'Ada'],
    ['  Bo\tb\n', 'Bob'],
    ['A\u0085\u009Fda\u007F\uFEFF', 'Ada'],
    ['Zo\u00EB \u{1F600}', 'Zo\u00EB \u{1F600}'],
  ];
  for (const [name, want] of cases) {
    const c = await Client.connect(open.url, { name });
    assert.equal(c.user.name, want, JSON.stringify(name));
  }
  for (const name of ['server', 'SERVER', 'Server', ' server\u200F ', 'ser\u202Dver', '\u0001\u0002', ' ']) {
    const c = await Client.connect(open.url, { name });
    assert.equal(c.user.name, `user${c.user.id}`, JSON.stringify(name));
  }
  const long = await Client.connect(open.url, { name: 'x'.repeat(500) });
  assert.equal(long.user.name, 'x'.repeat(100));
  // the connect packet's name is cleaned too, and others see the cleaned name
  const room = newRoom();
  const ws = await RawWs.connect(open.port, `/socket.io/1/websocket/${await handshake(open.port)}`);
  assert.equal(await ws.next(() => true, { what: '1::' }), '1::');
  ws.sendText(`1::${NS}:?name=${encodeURIComponent('SeRvEr')}`);
  const { user } = await ws.nextEvent('connected');
  assert.equal(user.name, `user${user.id}`);
  const watcher = await Client.connect(open.url, { name: 'Watcher' });
  await watcher.ack('join_room', { room });
  const rlo = await Client.connect(open.url, { name: 'Mal\u202Elory' });
  await rlo.ack('join_room', { room });
  assert.equal((await watcher.next('user_joined')).user.name, 'Mallory');
  ws.destroy();
});

// ---------------------------------------------------------------- logs

test('no server log holds any token this file used', () => {
  assert.ok(minted.length > 30, `only ${minted.length} tokens`);
  for (const srv of [hs, es, rs, open]) {
    const log = srv.stderr();
    for (const t of minted) assertNoToken(log, t, `server ${srv.port}`);
  }
});
