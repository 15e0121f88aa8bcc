// TR-3 / TR-5 over xhr-polling and jsonp-polling, with raw HTTP requests,
// mixed with websocket peers (the real client and the raw one).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { PollSession, httpRequest, openAgentWs } from './lib/raw.mjs';
import { quietWindow } from './lib/wait.mjs';
import { NS, encodePayload, eventPacket, decodePayload, isFramed, countEvents } from './lib/packet.mjs';

let srv;
let nextRoom = 500;
const freshRoom = () => nextRoom++;
const raws = [];

before(async () => { srv = await startServer(['--polling-duration', '1']); });
afterEach(() => {
  closeAll();
  for (const ws of raws.splice(0)) ws.destroy();
});
after(async () => {
  const alive = srv?.alive();
  await srv?.stop();
  assert.ok(alive !== false, 'the server died during the test file');
});

/** A polling session connected to /connection_agent; the name goes in the handshake query. */
async function pollAgent(port, { name = 'Poller', transport = 'xhr-polling', jsonpIndex = 0 } = {}) {
  const s = await PollSession.open(port, { query: `name=${encodeURIComponent(name)}`, transport, jsonpIndex });
  const first = await s.get();
  assert.equal(first.payload, '1::');
  const posted = await s.post(`1::${NS}`);
  assert.equal(posted.status, 200);
  assert.equal(posted.body, '1');
  await s.waitFor((p) => p.type === 1 && p.endpoint === NS, { what: `1::${NS}` });
  const { user } = await s.waitEvent('connected');
  s.user = user;
  return s;
}

test('TR-3 xhr-polling: the first GET answers 1:: at once as text/plain', async () => {
  const s = await PollSession.open(srv.port);
  const { res, payload } = await s.get();
  assert.equal(payload, '1::');
  assert.match(res.headers['content-type'] ?? '', /^text\/plain\b/);
});

test('TR-3 xhr-polling: namespace connect over POST, connected {user} with the handshake name', async () => {
  const s = await pollAgent(srv.port, { name: 'Polly' });
  assert.equal(s.user.name, 'Polly');
  assert.ok(Number.isInteger(s.user.id) && s.user.id > 0);
});

test('TR-3 xhr-polling: an idle GET is held for the polling duration, then answers 8::', async () => {
  const s = await pollAgent(srv.port);
  const t0 = Date.now();
  const { payload } = await s.get({ timeout: 5000 });
  const held = Date.now() - t0;
  assert.equal(payload, '8::');
  assert.ok(held >= 700, `answered after ${held} ms, expected about 1000`);
});

test('TR-3 xhr-polling: a held GET completes as soon as a packet arrives', async () => {
  const room = freshRoom();
  const s = await pollAgent(srv.port);
  const peer = await Client.connect(srv.url, { name: 'Peer' });
  await s.emit('join_room', [{ room }]);
  await s.waitEvent('room_joined');
  await peer.ack('join_room', { room });
  await s.waitEvent('user_joined');
  const pending = s.get({ timeout: 5000 });
  peer.emit('room_message', { type: 'game', data: 'wake up' });
  const { packets } = await pending;
  assert.ok(packets.length >= 1);
  const msg = await s.waitEvent('room_message');
  assert.deepEqual(msg, { from: peer.user.id, type: 'game', data: 'wake up' });
});

test('CA-11 over xhr-polling: ack 6::/connection_agent:<n>+[...] and the reply event', async () => {
  const room = freshRoom();
  const s = await pollAgent(srv.port);
  await s.post(eventPacket('join_room', [{ room }], { id: '1' }));
  const ack = await s.waitFor((p) => p.type === 6 && p.endpoint === NS && p.ackId === '1', { what: 'ack 1' });
  assert.match(ack.raw, /^6::\/connection_agent:1\+\[/);
  assert.deepEqual(ack.ackArgs, [{ room, users: [s.user] }]);
  assert.deepEqual(await s.waitEvent('room_joined'), { room, users: [s.user] });
});

test('TR-3 buffered packets come back framed with UTF-16 lengths', async () => {
  const room = freshRoom();
  const s = await pollAgent(srv.port);
  const peer = await Client.connect(srv.url, { name: 'Peer' });
  await s.emit('join_room', [{ room }]);
  await s.waitEvent('room_joined');
  await peer.ack('join_room', { room });
  await s.waitEvent('user_joined');
  // No GET is open now: everything below is buffered for the poller.
  const datas = ['😀 one', 'two é€ 😀😀', { three: '🎉' }];
  for (const data of datas) assert.deepEqual(await peer.ack('room_message', { type: 'game', data }), { ok: true });
  const before = s.responses.length;
  const got = [];
  for (const data of datas) {
    const m = await s.waitEvent('room_message');
    got.push(m);
    assert.deepEqual(m, { from: peer.user.id, type: 'game', data });
  }
  const framed = s.responses.slice(before).filter(isFramed);
  assert.ok(framed.length >= 1, `no framed payload in ${JSON.stringify(s.responses.slice(before))}`);
  for (const body of framed) {
    const packets = decodePayload(body); // strict: byte or code point lengths would fail here
    assert.ok(packets.length >= 2);
    assert.equal(encodePayload(packets), body, 'lengths must be UTF-16 code units');
  }
  assert.ok(framed.some((b) => /[\u{1F600}\u{1F389}]/u.test(b)), 'the framed payload should carry the emoji');
});

test('TR-3 a POST with a framed payload (UTF-16 lengths, emoji) delivers every packet in order', async () => {
  const room = freshRoom();
  const s = await pollAgent(srv.port);
  const peer = await Client.connect(srv.url, { name: 'Peer' });
  await s.emit('join_room', [{ room }]);
  await s.waitEvent('room_joined');
  await peer.ack('join_room', { room });
  const datas = ['é€😀', 'second 🎉 with : colons', { n: 3, s: '😀😀' }];
  const body = encodePayload(datas.map((data) => eventPacket('room_message', [{ type: 'game', data }])));
  assert.notEqual(body.length, [...body].length, 'the test payload must have non-BMP characters');
  const res = await s.post(body);
  assert.equal(res.status, 200);
  assert.equal(res.body, '1');
  for (const data of datas) {
    assert.deepEqual(await peer.next('room_message'), { from: s.user.id, type: 'game', data });
  }
});

test('TR-3 a mixed room: raw polling client and socket.io-client peer talk both ways', async () => {
  const room = freshRoom();
  const peer = await Client.connect(srv.url, { name: 'WsPeer' });
  await peer.ack('join_room', { room });
  const s = await pollAgent(srv.port, { name: 'PollPeer' });
  await s.post(eventPacket('join_room', [{ room }], { id: '7' }));
  const joined = await s.waitEvent('room_joined');
  assert.deepEqual(joined.users.map((u) => u.id).sort((a, b) => a - b), [peer.user.id, s.user.id].sort((a, b) => a - b));
  assert.deepEqual(await peer.next('user_joined'), { room, user: s.user });
  peer.emit('room_message', { type: 'game', data: { move: 'e4' } });
  assert.deepEqual(await s.waitEvent('room_message'), { from: peer.user.id, type: 'game', data: { move: 'e4' } });
  await s.emit('room_message', [{ type: 'game', data: { move: 'e5' } }]);
  assert.deepEqual(await peer.next('room_message'), { from: s.user.id, type: 'game', data: { move: 'e5' } });
  await s.emit('server_message', [{ to: peer.user.id, type: 'dm', data: 'psst' }]);
  assert.deepEqual(await peer.next('user_message'), { from: s.user.id, type: 'dm', data: 'psst' });
  peer.emit('server_message', { to: s.user.id, type: 'dm', data: 'back' });
  assert.deepEqual(await s.waitEvent('user_message'), { from: peer.user.id, type: 'dm', data: 'back' });
  // a namespace disconnect over POST: the peer sees user_left once
  await s.post(`0::${NS}`);
  assert.deepEqual(await peer.next('user_left'), { room, user: s.user });
  await peer.none('user_left', 400);
});

// ---------------------------------------------------------------- jsonp-polling

test('TR-3 jsonp-polling: GET ?i=N answers io.j[N]("...") as text/javascript', async () => {
  const s = await PollSession.open(srv.port, { transport: 'jsonp-polling', jsonpIndex: 3 });
  const res = await httpRequest(srv.port, { path: s.path() });
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] ?? '', /^text\/javascript\b/);
  assert.equal(res.body, 'io.j[3]("1::");');
});

test('TR-3 jsonp-polling: form POST d=<JSON string>, events both ways with a websocket peer', async () => {
  const room = freshRoom();
  const s = await pollAgent(srv.port, { name: 'Jay', transport: 'jsonp-polling', jsonpIndex: 2 });
  assert.equal(s.user.name, 'Jay');
  const peer = await Client.connect(srv.url, { name: 'Peer' });
  await peer.ack('join_room', { room });
  await s.post(eventPacket('join_room', [{ room }], { id: '1' }));
  const ack = await s.waitFor((p) => p.type === 6 && p.ackId === '1', { what: 'ack 1' });
  assert.equal(ack.ackArgs[0].room, room);
  // spaces arrive as '+' in the form body; quotes, </script>, emoji and a newline must survive
  const data = 'a b  "c" </script> 😀\nline2 + plus & amp = eq';
  await s.emit('room_message', [{ type: 'game', data }]);
  assert.deepEqual(await peer.next('room_message'), { from: s.user.id, type: 'game', data });
  peer.emit('room_message', { type: 'game', data });
  assert.deepEqual(await s.waitEvent('room_message'), { from: peer.user.id, type: 'game', data });
  // a framed payload inside d
  const datas = ['😀', 'two'];
  await s.post(datas.map((d) => eventPacket('room_message', [{ type: 'game', data: d }])));
  for (const d of datas) assert.deepEqual(await peer.next('room_message'), { from: s.user.id, type: 'game', data: d });
});

test('TR-3 / LIM-1 jsonp-polling: a bad d is ignored (200 1) and the session goes on', async () => {
  const room = freshRoom();
  const s = await pollAgent(srv.port, { transport: 'jsonp-polling', jsonpIndex: 1 });
  const peer = await Client.connect(srv.url, { name: 'Peer' });
  await peer.ack('join_room', { room });
  await s.emit('join_room', [{ room }]);
  await s.waitEvent('room_joined');
  const bodies = ['d=not%20json', 'no_d_here=1', 'd=', 'd=42', 'd=%7B%22a%22%3A1%7D', '', 'd=%22unterminated', 'd=%ZZ%22x%22'];
  for (const body of bodies) {
    const res = await httpRequest(srv.port, {
      method: 'POST', path: s.path(), body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
    });
    assert.equal(res.status, 200, `body ${body}: ${JSON.stringify(res)}`);
    assert.equal(res.body, '1', `body ${body}`);
  }
  assert.ok(srv.alive(), 'server died');
  await s.emit('room_message', [{ type: 'game', data: 'after garbage' }]);
  assert.deepEqual(await peer.next('room_message'), { from: s.user.id, type: 'game', data: 'after garbage' });
});

// ---------------------------------------------------------------- close timeout

test('TR-5 / CA-8 a polling client that stops polling is dropped after the close timeout', async () => {
  const short = await startServer(['--close-timeout', '1', '--polling-duration', '0.5']);
  let ws;
  try {
    const room = 1;
    ({ ws } = await openAgentWs(short.port, { name: 'WsWatcher' }));
    ws.emit('join_room', [{ room }]);
    await ws.nextEvent('room_joined');
    const s = await pollAgent(short.port, { name: 'Quitter' });
    await s.emit('join_room', [{ room }]);
    await s.waitEvent('room_joined');
    assert.deepEqual(await ws.nextEvent('user_joined'), { room, user: s.user });
    // stop polling now; the server must drop the session after about 1 s
    const t0 = Date.now();
    const left = await ws.nextEvent('user_left', { timeout: 6000 });
    assert.deepEqual(left, { room, user: s.user });
    assert.ok(Date.now() - t0 >= 500, 'dropped too early');
    await quietWindow(400); // window for a wrong second user_left
    assert.equal(countEvents(ws.inbox.all(), 'user_left'), 1, 'user_left must come once');
    const res = await httpRequest(short.port, { path: s.path() });
    assert.equal(res.body, '7:::1+0');
  } finally {
    ws?.destroy();
    await short.stop();
  }
});

test('TR-5 the close timeout does not run while a GET is held', async () => {
  const short = await startServer(['--close-timeout', '1', '--polling-duration', '2']);
  try {
    const s = await pollAgent(short.port, { name: 'Patient' });
    const t0 = Date.now();
    const { payload } = await s.get({ timeout: 5000 }); // held 2 s, longer than the 1 s close timeout
    assert.equal(payload, '8::');
    assert.ok(Date.now() - t0 >= 1500, 'the GET was not held');
    await s.emit('join_room', [{ room: 3 }]);
    assert.equal((await s.waitEvent('room_joined')).room, 3);
  } finally {
    await short.stop();
  }
});

test('TR-5 packets for a polling client between requests are buffered in order, not lost', async () => {
  const room = freshRoom();
  const s = await pollAgent(srv.port);
  const peer = await Client.connect(srv.url, { name: 'Peer' });
  await s.emit('join_room', [{ room }]);
  await s.waitEvent('room_joined');
  await peer.ack('join_room', { room });
  const N = 50;
  for (let i = 0; i < N; i++) peer.emit('room_message', { type: 'seq', data: i });
  await peer.ack('room_message', { type: 'seq', data: 'end' });
  const got = [];
  for (;;) {
    const m = await s.waitEvent('room_message', { timeout: 8000 });
    if (m.data === 'end') break;
    got.push(m.data);
  }
  assert.deepEqual(got, Array.from({ length: N }, (_, i) => i));
});
