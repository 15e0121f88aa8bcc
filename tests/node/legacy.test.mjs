// Issue 19, legacy pages: what a page written for socket.io 0.9 (and the old
// COMPEIT server) relies on. The client library at /socket.io/socket.io.js
// (from the npm socket.io-client 0.9.6 package, with ETag, 304, gzip and a
// cache policy), --resource, join_room's ack after the room's state (history,
// media config, streams), joining the room one is in, and `?disconnect`.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { readFileSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { startServer, serverBinary, sidPattern, perProcess, clusterTodo } from './lib/server.mjs';
import { Client, closeAll, io } from './lib/client.mjs';
import { PollSession, httpRequest } from './lib/raw.mjs';
import { NS, eventPacket } from './lib/packet.mjs';
import { quietWindow, withTimeout } from './lib/wait.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const packageDir = join(repoRoot, 'node_modules/socket.io-client');
const full = readFileSync(join(packageDir, 'dist/socket.io.js'));
const min = readFileSync(join(packageDir, 'dist/socket.io.min.js'));

let srv;
let nextRoom = 1900;
const freshRoom = () => nextRoom++;
const polls = [];

before(async () => { srv = await startServer(['--polling-duration', '2']); });
afterEach(() => {
  closeAll();
  polls.splice(0);
});
after(async () => {
  const alive = srv?.alive();
  await srv?.stop();
  assert.ok(alive !== false, 'the server died during the test file');
});

/** GET (or another method) with the body kept as bytes. */
function fetchRaw(port, path, { method = 'GET', headers = {} } = {}) {
  return withTimeout(new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', rej);
    req.end();
  }), 5000, `${method} ${path}`);
}

/** Runs compeit-server with args until it exits (it is expected to refuse to start). */
function runToExit(args) {
  return withTimeout(new Promise((res) => {
    const p = spawn(serverBinary, ['--bind', '127.0.0.1', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    p.on('exit', (code) => res({ code, stderr: err }));
  }), 5000, 'the server to exit');
}

/** A polling session on /connection_agent; resolves with it once `connected` came. */
async function pollAgent(name, { transport = 'xhr-polling', port = srv.port } = {}) {
  const s = await PollSession.open(port, { query: `name=${name}`, transport });
  await s.get();
  await s.post(`1::${NS}`);
  s.user = (await s.waitEvent('connected')).user;
  polls.push(s);
  return s;
}

// --- the client library ------------------------------------------------------------------

test('/socket.io/socket.io.js is the npm socket.io-client 0.9.6 bundle, with an ETag and no-cache', async () => {
  const res = await fetchRaw(srv.port, '/socket.io/socket.io.js');
  assert.equal(res.status, 200);
  assert.ok(res.body.equals(full), 'the bytes of node_modules/socket.io-client/dist/socket.io.js');
  assert.match(res.body.subarray(0, 80).toString(), /build:0\.9\.6/);
  assert.match(res.headers['content-type'], /^text\/javascript/);
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.equal(res.headers.vary, 'Accept-Encoding');
  assert.equal(res.headers['content-encoding'], undefined);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.match(res.headers.etag, /^"0\.9\.6-[0-9a-f]{12}"$/);

  const min2 = await fetchRaw(srv.port, '/socket.io/socket.io.min.js');
  assert.equal(min2.status, 200);
  assert.ok(min2.body.equals(min), 'the bytes of dist/socket.io.min.js');
  assert.notEqual(min2.headers.etag, res.headers.etag);
});

test('the versioned name /socket.io/socket.io.v0.9.6.js is cached for a year; other versions are not served', async () => {
  const res = await fetchRaw(srv.port, '/socket.io/socket.io.v0.9.6.js');
  assert.equal(res.status, 200);
  assert.ok(res.body.equals(full));
  assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
  for (const name of ['socket.io.v0.9.16.js', 'socket.io+websocket.js']) {
    const other = await fetchRaw(srv.port, `/socket.io/${name}`);
    assert.equal(other.status, 404, name);
  }
});

test('If-None-Match answers 304 without a body: exact, weak, in a list, and *', async () => {
  const { headers: { etag } } = await fetchRaw(srv.port, '/socket.io/socket.io.js');
  for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const res = await fetchRaw(srv.port, '/socket.io/socket.io.js', { headers: { 'If-None-Match': inm } });
    assert.equal(res.status, 304, inm);
    assert.equal(res.body.length, 0);
    assert.equal(res.headers.etag, etag);
  }
  const stale = await fetchRaw(srv.port, '/socket.io/socket.io.js', { headers: { 'If-None-Match': '"0.9.6-000000000000"' } });
  assert.equal(stale.status, 200);
  assert.ok(stale.body.equals(full));
});

test('gzip when the client accepts it, with its own ETag; 304 on that ETag; not with q=0', async () => {
  const plain = await fetchRaw(srv.port, '/socket.io/socket.io.js');
  const gz = await fetchRaw(srv.port, '/socket.io/socket.io.js', { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
  assert.equal(gz.status, 200);
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.ok(gz.body.length < full.length / 2, `gzip: ${gz.body.length} bytes`);
  assert.ok(gunzipSync(gz.body).equals(full));
  assert.notEqual(gz.headers.etag, plain.headers.etag);
  assert.equal(gz.headers.vary, 'Accept-Encoding');
  const again = await fetchRaw(srv.port, '/socket.io/socket.io.js',
    { headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': gz.headers.etag } });
  assert.equal(again.status, 304);
  const gzMin = await fetchRaw(srv.port, '/socket.io/socket.io.min.js', { headers: { 'Accept-Encoding': 'gzip' } });
  assert.ok(gunzipSync(gzMin.body).equals(min));
  const refused = await fetchRaw(srv.port, '/socket.io/socket.io.js', { headers: { 'Accept-Encoding': 'gzip;q=0, identity' } });
  assert.equal(refused.headers['content-encoding'], undefined);
  assert.ok(refused.body.equals(full));
});

test('HEAD gives the length without the body; other methods get 405; any origin may load it', async () => {
  const head = await fetchRaw(srv.port, '/socket.io/socket.io.js', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers['content-length']), full.length);
  assert.equal(head.body.length, 0);
  const post = await fetchRaw(srv.port, '/socket.io/socket.io.js', { method: 'POST' });
  assert.equal(post.status, 405);
  // A script is public: a page of any origin may include it (the socket.io
  // endpoints themselves still refuse origins that are not allowed).
  const foreign = await fetchRaw(srv.port, '/socket.io/socket.io.js', { headers: { Origin: 'http://elsewhere.example' } });
  assert.equal(foreign.status, 200);
  const hs = await httpRequest(srv.port, { path: '/socket.io/1/', headers: { Origin: 'http://elsewhere.example' } });
  assert.equal(hs.status, 403);
});

test('--legacy-client off: not served (404), socket.io itself unchanged', async () => {
  const off = await startServer(['--legacy-client', 'off']);
  try {
    for (const name of ['socket.io.js', 'socket.io.min.js', 'socket.io.v0.9.6.js']) {
      const res = await fetchRaw(off.port, `/socket.io/${name}`);
      assert.equal(res.status, 404, name);
    }
    const hs = await httpRequest(off.port, { path: '/socket.io/1/' });
    assert.equal(hs.status, 200);
    assert.match(hs.body, new RegExp(`^${sidPattern}:60:60:websocket,xhr-polling,jsonp-polling$`));
  } finally {
    await off.stop();
  }
});

test('--legacy-client DIR serves that package; a DIR without one stops the start with a reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'compeit-legacy-'));
  try {
    mkdirSync(join(dir, 'dist'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'socket.io-client', version: '0.9.6' }));
    writeFileSync(join(dir, 'dist/socket.io.js'), '/* a copy */ var io = {};\n');
    writeFileSync(join(dir, 'dist/socket.io.min.js'), 'var io={};\n');
    const other = await startServer(['--legacy-client', dir]);
    try {
      const res = await fetchRaw(other.port, '/socket.io/socket.io.js');
      assert.equal(res.body.toString(), '/* a copy */ var io = {};\n');
    } finally {
      await other.stop();
    }
    rmSync(join(dir, 'dist/socket.io.min.js'));
    const missing = await runToExit(['--legacy-client', dir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--legacy-client: cannot read .*socket\.io\.min\.js/);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'socket.io-client', version: '1.4.0' }));
    const wrong = await runToExit(['--legacy-client', dir]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /not 0\.9\.x/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// --- --resource ------------------------------------------------------------------------------

test('--resource moves socket.io and its client library; the 0.9.6 client follows with {resource}', {
  skip: perProcess('haproxy routes sessions by their sid under /socket.io only (deploy/haproxy/compeit.cfg)'),
}, async () => {
  const moved = await startServer(['--resource', '/realtime/sio']);
  try {
    assert.equal((await httpRequest(moved.port, { path: '/realtime/sio/1/' })).status, 200);
    assert.equal((await httpRequest(moved.port, { path: '/realtime/sio/' })).body, 'Welcome to socket.io.');
    assert.equal((await httpRequest(moved.port, { path: '/realtime/sio/2/' })).status, 500);
    assert.equal((await fetchRaw(moved.port, '/realtime/sio/socket.io.js')).status, 200);
    // The old place is just a path of the web root now.
    assert.equal((await httpRequest(moved.port, { path: '/socket.io/1/' })).status, 404);
    assert.equal((await fetchRaw(moved.port, '/socket.io/socket.io.js')).status, 404);

    const socket = io.connect(`${moved.url}/connection_agent?name=Moved`,
      { resource: 'realtime/sio', 'force new connection': true, reconnect: false });
    try {
      const connected = await withTimeout(new Promise((res) => socket.on('connected', res)), 5000, 'connected');
      assert.equal(connected.user.name, 'Moved');
      const ack = await withTimeout(new Promise((res) => socket.emit('join_room', { room: 3 }, res)), 5000, 'ack');
      assert.equal(ack.room, 3);
    } finally {
      socket.socket.disconnect();
    }

    // Polling under the moved resource.
    const sid = (await httpRequest(moved.port, { path: '/realtime/sio/1/' })).body.split(':')[0];
    const poll = await httpRequest(moved.port, { path: `/realtime/sio/1/xhr-polling/${sid}?t=1` });
    assert.equal(poll.body, '1::');
  } finally {
    await moved.stop();
  }
  const trailing = await startServer(['--resource', 'realtime/']);
  try {
    assert.equal((await httpRequest(trailing.port, { path: '/realtime/1/' })).status, 200);
  } finally {
    await trailing.stop();
  }
  for (const bad of ['/', '/admin', '/wasm/x', '/a/../b', '/a b', '/a?b']) {
    const r = await runToExit(['--resource', bad]);
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, /resource must be a path such as \/socket\.io.*\(got /);
  }
});

// --- join_room: the ack after the room's state ---------------------------------------------

/**
 * Joins `room` with an ack callback and records, at the moment the callback
 * runs, which parts of the room's state the client already had.
 */
function joinAndLook(c, room) {
  return withTimeout(new Promise((res) => {
    const before = { events: c.events.items.length, chat: c.chat.items.length };
    c.socket.emit('join_room', { room }, (ack) => {
      const events = c.events.items.slice(before.events).map((e) => e.item);
      const chat = c.chat.items.slice(before.chat).map((e) => e.item);
      const kurento = (action) => events.some((e) => e.name === 'server_message' && e.args[0]?.type === 'kurento' &&
        e.args[0].data?.action === action);
      res({
        ack,
        roomJoined: events.some((e) => e.name === 'room_joined'),
        history: chat.find((e) => e.name === 'server_message' && e.args[0].data?.action === 'history')?.args[0].data,
        config: kurento('config'),
        streams: kurento('streams'),
      });
    });
  }), 5000, 'the ack of join_room');
}

test('join_room: the ack comes after room_joined, the chat history, the media config and the stream list', async () => {
  const room = freshRoom();
  const a = await Client.connect(srv.url, { name: 'First' });
  // The first member: the history is read from the store (another thread).
  const first = await joinAndLook(a, room);
  assert.equal(first.ack.room, room);
  assert.ok(first.roomJoined, 'room_joined before the ack');
  assert.ok(first.history, 'the history before the ack');
  assert.equal(first.history.room, room);
  assert.ok(first.config, 'the media config before the ack');
  assert.ok(first.streams, 'the stream list before the ack');

  await withTimeout(new Promise((res) => a.socket.emit('room_message', { type: 'chat', data: { text: 'before B' } }, res)),
    5000, 'chat ack');
  // A later member: the history comes from memory, and holds A's message.
  const b = await Client.connect(srv.url, { name: 'Second' });
  const second = await joinAndLook(b, room);
  assert.ok(second.roomJoined && second.config && second.streams);
  assert.ok(second.history.messages.some((m) => m.text === 'before B'), JSON.stringify(second.history));
  assert.deepEqual(second.ack.users.map((u) => u.name), ['First', 'Second']);
});

test('join_room over xhr-polling: room_joined, history, config, streams, then the ack, on the wire', async () => {
  const s = await pollAgent('Poller');
  const room = freshRoom();
  await s.post(eventPacket('join_room', [{ room }], { id: '7' }));
  await s.waitFor((p) => p.type === 6 && p.ackId === '7', { what: 'the ack' });
  const seq = (pred) => s.inbox.items.findIndex((e) => pred(e.item));
  const event = (name, pred = () => true) => seq((p) => p.type === 5 && p.name === name && pred(p.args[0]));
  const ack = seq((p) => p.type === 6 && p.ackId === '7');
  const joined = event('room_joined');
  const history = event('server_message', (a) => a.type === 'chat' && a.data.action === 'history');
  const config = event('server_message', (a) => a.type === 'kurento' && a.data.action === 'config');
  const streams = event('server_message', (a) => a.type === 'kurento' && a.data.action === 'streams');
  for (const [what, at] of Object.entries({ joined, history, config, streams })) {
    assert.ok(at >= 0 && at < ack, `${what} (${at}) before the ack (${ack}): ${s.inbox.summary(20)}`);
  }
  assert.ok(joined < history && joined < config, 'room_joined first');
});

test('joining the room one is in: its state again, then the ack; the others see no leave or join', async () => {
  const room = freshRoom();
  const a = await Client.connect(srv.url, { name: 'Stayer' });
  const b = await Client.connect(srv.url, { name: 'Rejoiner' });
  await a.ack('join_room', { room });
  await b.ack('join_room', { room });
  await a.next('user_joined');
  await withTimeout(new Promise((res) => b.socket.emit('room_message', { type: 'chat', data: { text: 'said once' } }, res)),
    5000, 'chat ack');
  await quietWindow(200);  // B's own join event and chat reach A
  a.events.drain();
  a.chat.drain();

  const again = await joinAndLook(b, room);
  assert.equal(again.ack.room, room);
  assert.deepEqual(again.ack.users.map((u) => u.name), ['Stayer', 'Rejoiner']);
  assert.ok(again.roomJoined && again.config && again.streams, JSON.stringify(again));
  assert.ok(again.history?.messages.some((m) => m.text === 'said once'));
  // Nobody else hears of it: no user_left/user_joined, no chat join or leave event.
  await quietWindow(300);
  assert.deepEqual(a.events.items.filter((e) => !e.consumed).map((e) => e.item.name), []);
  assert.deepEqual(a.chat.items.filter((e) => !e.consumed).map((e) => e.item.args[0]), []);
  assert.equal(b.count('room_left'), 0);
  // Without an ack the state comes all the same.
  const histories = b.chat.all((e) => e.args[0]?.data?.action === 'history').length;
  b.emit('join_room', { room });
  await b.next('room_joined', { filter: (r) => r.room === room });
  await withTimeout((async () => {
    while (b.chat.all((e) => e.args[0]?.data?.action === 'history').length === histories) await quietWindow(20);
  })(), 3000, 'the history again');
});

// --- ?disconnect -------------------------------------------------------------------------------

/** Polls until the chat's event of s's own join came: the last thing a join sends it. */
const ownJoinEvent = (s) => s.waitFor((p) => p.type === 5 && p.name === 'room_message' &&
  p.args[0]?.data?.event === 'user_joined' && p.args[0].data.user.id === s.user.id, { what: 'its own join event' });

for (const [what, path] of [
  ['xhr-polling/<sid>?disconnect', (sid) => `/socket.io/1/xhr-polling/${sid}?disconnect`],
  ["socket.io-client 0.9.16's //<sid>/?disconnect=1", (sid) => `/socket.io/1//${sid}/?disconnect=1`],
  ['jsonp-polling/<sid>?disconnect=1', (sid) => `/socket.io/1/jsonp-polling/${sid}?t=1&i=0&disconnect=1`],
]) {
  test(`?disconnect (${what}) ends a polling session at once: the room sees user_left, a held poll gets 0::`, {
    todo: clusterTodo('the join\'s chat traffic can reach the poll after it is held, before 0::'),
  }, async () => {
    const room = freshRoom();
    const watcher = await Client.connect(srv.url, { name: 'Watcher' });
    await watcher.ack('join_room', { room });
    const p = await pollAgent('Leaver');
    await p.emit('join_room', [{ room }]);
    await ownJoinEvent(p);  // nothing waits for it any more: the next poll is held
    await watcher.next('user_joined');
    const held = p.get({ timeout: 3000 });
    await quietWindow(100);
    const t0 = Date.now();
    const res = await httpRequest(srv.port, { path: path(p.sid) });
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
    const left = await watcher.next('user_left', { timeout: 1000 });
    assert.equal(left.user.id, p.user.id);
    assert.ok(Date.now() - t0 < 1000, `user_left after ${Date.now() - t0} ms`);
    const { packets } = await held;
    assert.deepEqual(packets.map((x) => x.raw), ['0::']);
    const after = await p.get();
    assert.deepEqual(after.packets.map((x) => x.raw), ['7:::1+0']);  // the sid is gone
  });
}

test('without ?disconnect a polling user whose page went away lingers for the close timeout', {
  todo: clusterTodo('through haproxy the 0.9.6 watcher\'s own 2 s close timeout races the user_left'),
}, async () => {
  // socket.io-client 0.9.6 gives up a connection it has heard nothing on for
  // the close timeout: the watcher needs heartbeats more often than that.
  const short = await startServer(['--close-timeout', '2', '--polling-duration', '1', '--heartbeat-interval', '0.5']);
  try {
    const room = 1;
    const watcher = await Client.connect(short.url, { name: 'Watcher' });
    await watcher.ack('join_room', { room });
    const s = await PollSession.open(short.port, { query: 'name=Gone' });
    await s.get();
    await s.post(`1::${NS}`);
    s.user = (await s.waitEvent('connected')).user;
    await s.emit('join_room', [{ room }]);
    await ownJoinEvent(s);
    await watcher.next('user_joined');
    // The page goes away: its held long-poll is aborted (the connection closes).
    const req = http.request({ host: '127.0.0.1', port: short.port, agent: false,
      path: `/socket.io/1/xhr-polling/${s.sid}?t=2` });
    req.on('error', () => {});
    req.end();
    await quietWindow(200);
    const t0 = Date.now();
    req.destroy();
    const left = await watcher.next('user_left', { timeout: 5000 });
    const lingered = Date.now() - t0;
    assert.equal(left.user.name, 'Gone');
    assert.ok(lingered >= 1500 && lingered < 3500, `user_left after ${lingered} ms, expected about 2000`);
  } finally {
    await short.stop();
  }
});
