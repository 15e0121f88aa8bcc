// LIM-1..LIM-4 (and TR-5 heartbeats) with raw frames and raw TCP.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { startServer, perProcess } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { RawWs, openWs, openAgentWs, httpRequest, handshake, tcpExchange, PollSession, buildFrame, joinedPollSession } from './lib/raw.mjs';
import { NS, eventPacket, countEvents } from './lib/packet.mjs';
import { quietWindow, withTimeout } from './lib/wait.mjs';

const MAX_FRAME = 65536;
let srv;
let nextRoom = 900;
const freshRoom = () => nextRoom++;
const raws = [];

before(async () => {
  srv = await startServer(['--max-frame', String(MAX_FRAME), '--request-timeout', '1', '--handshake-timeout', '1']);
});
afterEach(() => {
  closeAll();
  for (const ws of raws.splice(0)) ws.destroy();
});
after(async () => {
  const alive = srv?.alive();
  await srv?.stop();
  assert.ok(alive !== false, 'the server died during the test file');
});

const track = (ws) => { raws.push(ws); return ws; };

/** A raw agent websocket and a socket.io-client peer, both in a fresh room. */
async function rawAndPeer(port = srv.port, url = srv.url) {
  const room = freshRoom();
  const { ws, user } = await openAgentWs(port, { name: 'Raw' });
  track(ws);
  ws.emit('join_room', [{ room }]);
  await ws.nextEvent('room_joined');
  const peer = await Client.connect(url, { name: 'Peer' });
  await peer.ack('join_room', { room });
  await ws.nextEvent('user_joined');
  return { ws, user, peer, room };
}

/** The raw websocket still works: an acked room_message reaches the peer. */
async function stillWorks(ws, peer, tag) {
  const id = String(1000 + Math.floor(Math.random() * 1e6));
  ws.emit('room_message', [{ type: 'probe', data: tag }], { id });
  assert.deepEqual(await ws.nextAck(id), { ok: true });
  assert.deepEqual(await peer.next('room_message', { filter: (m) => m.type === 'probe' }), { from: ws.user.id, type: 'probe', data: tag });
}

/** A fresh client can still connect and be served. */
async function serverServes(url = srv.url) {
  const c = await Client.connect(url, { name: 'Check' });
  assert.deepEqual(await c.ack('join_room', { room: freshRoom() }).then((r) => r.users), [c.user]);
  c.disconnect();
}

// ---------------------------------------------------------------- LIM-1 garbage

test('LIM-1 garbage packets on a websocket: nothing breaks, the connection still works', async () => {
  const { ws, peer } = await rawAndPeer();
  const garbage = [
    '9::', '9:::x', 'hello', '', ':::', '::::::::', '5', '5:', '5::', '5:::', '5:::{bad json',
    `5:1+::${NS}:{bad`, `5::${NS}:[1,2]`, `5::${NS}:"str"`, `5::${NS}:{"args":[1]}`, `5::${NS}:{"name":5}`,
    `5::${NS}:{"name":"join_room","args":"notarray"}`,
    `5:1+:${NS}:{bad`, `5:2:${NS}:{"name":`, `5:x+:${NS}:{"name":"leave_room"}`, `5:3+:${NS}:[1]`, `5:4+:${NS}:{"args":[]}`,
    `6:${NS}:`, `6::${NS}:`, `6::${NS}:+`, `6::${NS}:77+not json`, `0::${NS}x`, `4:5+:${NS}:{"a":`,
    `5::${NS}:null`, `5::${NS}:{"name":null,"args":null}`, `5:abc::${NS}:{"name":"leave_room"}`,
    `6:::99`, `6::${NS}:1+5`, `6::${NS}:abc`, `6::${NS}:1+[`, '7:::', '7:::1+0', `7::${NS}:2+0`,
    '3:::hello', `3::${NS}:hello`, '4:::not json', `4::${NS}:{"a":`, '3:5::hi', '3:5+::hi',
    '0::/nonexistent', '1::/other', '1::/other:?x=1', `1::${NS}?x=1`,
    '\ufffd30\ufffd5:::{"name":"x","args":[]}\ufffd3\ufffd2::', '\ufffd', '\ufffd\ufffd', '\ufffd999\ufffd3:::x',
    'x'.repeat(20000), `5::${NS}:${'['.repeat(40000)}`, `5::${NS}:{"name":"room_message","args":[${'{"a":'.repeat(8000)}`,
    `5::${NS}:{"name":"\\ud800","args":["\\udfff"]}`,
    '\u0000\u0001\u0002', '\u2028\u2029', '😀:😀:😀',
  ];
  for (let i = 0; i < 20; i++) garbage.push(randomBytes(40).toString('base64').replace(/[A-F]/g, ':'));
  for (const g of garbage) ws.sendText(g);
  await stillWorks(ws, peer, 'after garbage packets');
  assert.ok(srv.alive(), srv.stderr());
  assert.equal(peer.count('room_message'), 1, 'garbage must not reach the room');
});

test('LIM-1 binary frames are ignored; fragmented messages are reassembled; pings get pongs', async () => {
  const { ws, peer } = await rawAndPeer();
  ws.sendFrame({ opcode: 2, payload: randomBytes(300) });
  ws.sendFrame({ opcode: 2, payload: Buffer.from(eventPacket('room_message', [{ type: 'probe', data: 'binary' }])) });
  // fragmented text: 3 pieces with a ping in between
  const text = eventPacket('room_message', [{ type: 'probe', data: 'fragmented é😀' }]);
  const bytes = Buffer.from(text);
  const cut = bytes.indexOf(Buffer.from('😀')) + 2; // the fragments split the emoji's UTF-8 bytes
  ws.sendFrame({ fin: false, opcode: 1, payload: bytes.subarray(0, 10) });
  ws.sendFrame({ opcode: 9, payload: 'ping-1' });
  ws.sendFrame({ fin: false, opcode: 0, payload: bytes.subarray(10, cut) });
  ws.sendFrame({ fin: true, opcode: 0, payload: bytes.subarray(cut) });
  const pong = await ws.controls.take((f) => f.opcode === 10, { what: 'pong' });
  assert.equal(pong.payload.toString(), 'ping-1');
  assert.deepEqual(await peer.next('room_message', { filter: (m) => m.type === 'probe' }),
    { from: ws.user.id, type: 'probe', data: 'fragmented é😀' });
  ws.sendFrame({ opcode: 9, payload: Buffer.alloc(0) });
  const empty = await ws.controls.take((f) => f.opcode === 10, { what: 'empty pong' });
  assert.equal(empty.payload.length, 0);
  await stillWorks(ws, peer, 'after frames');
  assert.equal(ws.protocolErrors ?? 0, 0, 'server frames must not be masked');
});

test('LIM-1 broken frames close at most that connection, never the server or the others', async () => {
  const room = freshRoom();
  const peer = await Client.connect(srv.url, { name: 'Bystander' });
  await peer.ack('join_room', { room });
  const attacks = [
    (ws) => ws.sendFrame({ rsv: 4, payload: '5::' }),
    (ws) => ws.sendFrame({ opcode: 3, payload: 'x' }),
    (ws) => ws.sendFrame({ opcode: 0, payload: 'orphan continuation' }),
    (ws) => ws.sendFrame({ payload: Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]) }), // invalid UTF-8
    (ws) => ws.sendFrame({ mask: false, payload: eventPacket('leave_room') }),
    (ws) => ws.sendFrame({ opcode: 9, payload: 'x'.repeat(200) }), // control frame over 125 bytes
    (ws) => ws.sendFrame({ fin: false, opcode: 9, payload: 'frag ping' }),
    (ws) => ws.sendRaw(randomBytes(2000)),
    (ws) => ws.sendRaw(Buffer.from([0x81])), // a header cut short, then silence
  ];
  for (const attack of attacks) {
    const { ws } = await openAgentWs(srv.port, { name: 'Attacker' });
    track(ws);
    ws.emit('join_room', [{ room }]);
    await ws.nextEvent('room_joined');
    await peer.next('user_joined');
    attack(ws);
    ws.sendText(eventPacket('room_message', [{ type: 'probe', data: 'after attack' }]));
    // whether the attacker is kept or dropped, the bystander is served
    assert.deepEqual(await peer.ack('room_message', { type: 'bystander', data: 1 }), { ok: true });
    ws.destroy();
    await peer.next('user_left', { filter: (u) => u.user.id === ws.user.id });
  }
  assert.ok(srv.alive(), srv.stderr());
  await serverServes();
  await peer.none('user_left', 300);
});

test('LIM-1 frames and requests trickled byte by byte are decoded', async () => {
  const { ws, peer } = await rawAndPeer();
  ws.sock.setNoDelay(true);
  const bytes = Buffer.concat([
    buildFrame({ payload: eventPacket('room_message', [{ type: 'probe', data: 'trickle 1 😀' }]) }),
    buildFrame({ payload: eventPacket('room_message', [{ type: 'probe', data: 'x'.repeat(300) }]) }),
  ]);
  for (const b of bytes) {
    ws.sendRaw(Buffer.from([b]));
    await new Promise((r) => setImmediate(r)); // pacing, so the bytes go out in separate writes
  }
  assert.equal((await peer.next('room_message')).data, 'trickle 1 😀');
  assert.equal((await peer.next('room_message')).data, 'x'.repeat(300));
  // an HTTP handshake trickled the same way
  const res = await new Promise((resolve) => {
    const sock = net.connect(srv.port, '127.0.0.1', async () => {
      sock.setNoDelay(true);
      for (const ch of 'GET /socket.io/1/?t=5 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n') {
        sock.write(ch);
        await new Promise((r) => setImmediate(r));
      }
    });
    let got = '';
    sock.on('data', (d) => { got += d; if (/\r\n\r\n[A-Za-z0-9_-]{22}:/.test(got)) { sock.destroy(); resolve(got); } });
    sock.on('close', () => resolve(got));
  });
  assert.match(res, /^HTTP\/1\.1 200 /);
});

test('LIM-1 a POST whose UTF-8 is split across TCP segments is decoded whole', async () => {
  const room = freshRoom();
  const peer = await Client.connect(srv.url, { name: 'Peer' });
  await peer.ack('join_room', { room });
  const s = await PollSession.open(srv.port, { query: 'name=Split' });
  await s.get();
  await s.post(`1::${NS}`);
  await s.waitEvent('connected');
  await s.emit('join_room', [{ room }]);
  await s.waitEvent('room_joined');
  const body = Buffer.from(eventPacket('room_message', [{ type: 'probe', data: 'split 😀 é' }]));
  const cut = body.indexOf(Buffer.from('😀')) + 1;
  const head = `POST ${s.path()} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: ${body.length}\r\n\r\n`;
  const answer = await new Promise((resolve) => {
    const sock = net.connect(srv.port, '127.0.0.1', async () => {
      sock.setNoDelay(true);
      sock.write(Buffer.concat([Buffer.from(head), body.subarray(0, cut)]));
      await quietWindow(50); // pacing: the rest goes in a second segment
      sock.write(body.subarray(cut));
    });
    let got = '';
    sock.on('data', (d) => { got += d; });
    sock.on('close', () => resolve(got));
    sock.on('error', () => {});
    setTimeout(() => sock.destroy(), 3000);
  });
  assert.match(answer, /^HTTP\/1\.1 200 [\s\S]*\r\n\r\n1$/);
  assert.equal((await peer.next('room_message')).data, 'split 😀 é');
});

test('LIM-1 a close frame ends the session: the others get user_left once', async () => {
  const { ws, peer, room, user } = await rawAndPeer();
  const code = Buffer.alloc(2);
  code.writeUInt16BE(1000);
  ws.sendFrame({ opcode: 8, payload: code });
  await ws.waitClosed();
  assert.deepEqual(await peer.next('user_left'), { room, user });
  await peer.none('user_left', 400);
});

test('LIM-1 garbage HTTP requests and bytes never take the server down', async () => {
  const sid = await handshake(srv.port);
  const inputs = [
    [randomBytes(4000)],
    ['GARBAGE\r\n\r\n'],
    ['GET\r\n\r\n'],
    ['GET /socket.io/1/ HTTP/9.9\r\n\r\n'],
    ['GET /socket.io/1/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n'],
    ['POST /socket.io/1/xhr-polling/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
    ['GET /socket.io/1/ HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(200000) + '\r\n\r\n'],
    ['GET /' + 'a'.repeat(100000) + ' HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['GET /socket.io/1/xhr-polling/' + sid + ' HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'],
    ['GET /socket.io/1/websocket/' + sid + ' HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Version: 13\r\n\r\n'],
    ['GET /socket.io/1/websocket/NOPE HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['POST /socket.io/1/xhr-polling/' + sid + ' HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n'],
    ['GET /socket.io/1/%ZZ%00 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'], // a TLS ClientHello start
  ];
  await Promise.all(inputs.map((chunks) => tcpExchange(srv.port, chunks, { timeout: 4000 })));
  assert.ok(srv.alive(), srv.stderr());
  await serverServes();
});

test('LIM-1 garbage POST payloads on xhr-polling are answered 1 and the session goes on', async () => {
  const room = freshRoom();
  const peer = await Client.connect(srv.url, { name: 'Peer' });
  await peer.ack('join_room', { room });
  const { s, user } = await joinedPollSession(srv.port, room);
  const bodies = ['\ufffd', '\ufffdabc\ufffd5:::', '\ufffd999\ufffd', '\ufffd-1\ufffdx', '\ufffd3\ufffd2::\ufffd', 'garbage',
    '\ufffd1\ufffd', '\ufffd\ufffd\ufffd', `5::${NS}:{`, '\ufffd9999999999999999999999\ufffdx', '\ufffd2\ufffd😀'];
  for (const b of bodies) {
    const res = await s.post(b);
    assert.equal(res.status, 200, `${JSON.stringify(b)}: ${JSON.stringify(res)}`);
    assert.equal(res.body, '1');
  }
  await s.emit('room_message', [{ type: 'probe', data: 'poll ok' }]);
  assert.deepEqual(await peer.next('room_message'), { from: user.id, type: 'probe', data: 'poll ok' });
});

// ---------------------------------------------------------------- LIM-2 sizes

test('LIM-2 a websocket frame declared over --max-frame is refused with close 1009', async () => {
  const { ws, peer, room, user } = await rawAndPeer();
  // header says MAX_FRAME + 1 bytes; only a few are sent: the server must not wait for the rest
  ws.sendFrame({ opcode: 1, payload: Buffer.from('5::'), declaredLength: MAX_FRAME + 1 });
  const closed = await ws.waitClosed(5000);
  assert.equal(closed.closeFrame?.code, 1009, `close frame: ${JSON.stringify(closed.closeFrame)}`);
  assert.deepEqual(await peer.next('user_left'), { room, user });
  await peer.none('user_left', 300);

  // a huge 64-bit length too
  const other = track(await openWs(srv.port));
  other.sendFrame({ opcode: 1, payload: Buffer.from('x'), declaredLength: 2 ** 40 });
  assert.equal((await other.waitClosed(5000)).closeFrame?.code, 1009);
  assert.ok(srv.alive());
});

test('LIM-2 a frame of exactly --max-frame bytes is accepted', async () => {
  const { ws, peer } = await rawAndPeer();
  const envelope = eventPacket('room_message', [{ type: 'big', data: '' }], { id: '5' });
  const data = 'd'.repeat(MAX_FRAME - Buffer.byteLength(envelope));
  const packet = eventPacket('room_message', [{ type: 'big', data }], { id: '5' });
  assert.equal(Buffer.byteLength(packet), MAX_FRAME);
  ws.sendText(packet);
  assert.deepEqual(await ws.nextAck('5'), { ok: true });
  assert.equal((await peer.next('room_message')).data.length, data.length);
  await stillWorks(ws, peer, 'after a big frame');
});

test('LIM-2 a POST of exactly --max-frame bytes is accepted', async () => {
  const sid = await handshake(srv.port);
  await httpRequest(srv.port, { path: `/socket.io/1/xhr-polling/${sid}` });
  const body = `3::${NS}:${'p'.repeat(MAX_FRAME - 4 - NS.length)}`;
  assert.equal(Buffer.byteLength(body), MAX_FRAME);
  const res = await httpRequest(srv.port, { method: 'POST', path: `/socket.io/1/xhr-polling/${sid}`, body,
    headers: { 'Content-Length': MAX_FRAME } });
  assert.equal(res.status, 200);
  assert.equal(res.body, '1');
});

test('LIM-2 a POST over --max-frame gets 413 and the connection is closed', {
  skip: perProcess('the node closes its connection to haproxy, which keeps the client\'s open'),
}, async () => {
  const sid = await handshake(srv.port);
  await httpRequest(srv.port, { path: `/socket.io/1/xhr-polling/${sid}` });
  // Content-Length over the limit; only the first KiB is sent
  const head = `POST /socket.io/1/xhr-polling/${sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${MAX_FRAME * 4}\r\n\r\n`;
  const r = await tcpExchange(srv.port, [head, 'x'.repeat(1024)], { timeout: 5000 });
  assert.match(r.text, /^HTTP\/1\.[01] 413 /, `answer: ${r.text.slice(0, 200)}`);
  assert.equal(r.closed, true, 'the connection must be closed');
  // a whole body over the limit, sent at once
  const big = 'y'.repeat(MAX_FRAME + 100);
  const r2 = await tcpExchange(srv.port, [
    `POST /socket.io/1/xhr-polling/${sid} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${big.length}\r\n\r\n${big}`,
  ], { timeout: 5000 });
  assert.match(r2.text, /^HTTP\/1\.[01] 413 /, `answer: ${r2.text.slice(0, 200)}`);
  assert.equal(r2.closed, true);
  assert.ok(srv.alive());
});

test('TR-3 server frames have correct lengths at the 7/16/64-bit boundaries (125..127, 65535..65537)', async () => {
  const { ws: a } = await openAgentWs(srv.port, { name: 'Sender' });
  const { ws: b } = await openAgentWs(srv.port, { name: 'Receiver' });
  track(a);
  track(b);
  const room = freshRoom();
  for (const ws of [a, b]) {
    ws.emit('join_room', [{ room }]);
    await ws.nextEvent('room_joined');
  }
  const isMsg = (m) => m.includes('"room_message"') && m.includes('"sizer"');
  // learn the envelope the server puts around data for this receiver
  a.emit('room_message', [{ type: 'sizer', data: '' }]);
  const overhead = Buffer.byteLength(await b.next(isMsg, { what: 'the sizing message' }));
  for (const total of [125, 126, 127, 65535, 65536, 65537]) {
    const data = 'L'.repeat(total - overhead);
    a.emit('room_message', [{ type: 'sizer', data }], { id: String(total) });
    assert.deepEqual(await a.nextAck(String(total)), { ok: true }, `sending ${total}`);
    const got = await b.next(isMsg, { what: `a ${total}-byte packet` });
    assert.equal(Buffer.byteLength(got), total);
    assert.ok(got.includes(data));
  }
  await stillWorks(a, await Client.connect(srv.url, { name: 'P' }).then(async (p) => {
    await p.ack('join_room', { room });
    return p;
  }), 'after big frames');
});

test('LIM-1 a websocket that stops reading does not stall the others', async () => {
  const room = freshRoom();
  const sender = await Client.connect(srv.url, { name: 'Sender' });
  const reader = await Client.connect(srv.url, { name: 'Reader' });
  await sender.ack('join_room', { room });
  await reader.ack('join_room', { room });
  const { ws: stuck } = await openAgentWs(srv.port, { name: 'Stuck' });
  track(stuck);
  stuck.emit('join_room', [{ room }]);
  await stuck.nextEvent('room_joined');
  await reader.next('user_joined');
  stuck.sock.pause(); // stops reading: the server's writes to it back up
  const big = 'b'.repeat(60000);
  const N = 250; // about 15 MB towards the stuck reader, more than the socket buffers hold
  for (let i = 0; i < N; i++) sender.emit('room_message', { type: 'flood', data: `${i}:${big}` });
  const last = await reader.next('room_message', { filter: (m) => m.data.startsWith(`${N - 1}:`), timeout: 15000 });
  assert.ok(last);
  const got = reader.events.all((e) => e.name === 'room_message').map((e) => Number(e.args[0].data.split(':')[0]));
  assert.deepEqual(got, Array.from({ length: N }, (_, i) => i));
  assert.deepEqual(await reader.ack('room_message', { type: 'probe', data: 'alive' }), { ok: true });
  assert.ok(srv.alive());
  stuck.destroy();
});

// ---------------------------------------------------------------- sids

test('TR-2 a sid that was disconnected answers 7:::1+0 on every transport', async () => {
  const ws = track(await openWs(srv.port));
  ws.sendText('0::');
  await ws.waitClosed();
  const xhr = await httpRequest(srv.port, { path: `/socket.io/1/xhr-polling/${ws.sid}` });
  assert.equal(xhr.status, 200);
  assert.equal(xhr.body, '7:::1+0');
  const jsonp = await httpRequest(srv.port, { path: `/socket.io/1/jsonp-polling/${ws.sid}?i=9` });
  assert.equal(jsonp.body, 'io.j[9]("7:::1+0");');
  const again = track(await RawWs.connect(srv.port, `/socket.io/1/websocket/${ws.sid}`));
  assert.equal(await again.next(), '7:::1+0');
  await again.waitClosed();
});

// ---------------------------------------------------------------- LIM-4 slow clients

test('LIM-4 an unfinished HTTP request is closed after --request-timeout', {
  skip: perProcess('haproxy holds an unfinished request (its own timeout http-request, 10 s); the node never sees it'),
}, async () => {
  const sid = await handshake(srv.port);
  assert.equal((await httpRequest(srv.port, { path: `/socket.io/1/xhr-polling/${sid}` })).body, '1::');
  const t0 = Date.now();
  const results = await Promise.all([
    tcpExchange(srv.port, ['GET /socket.io/1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n'], { timeout: 5000 }),
    tcpExchange(srv.port, [], { timeout: 5000 }),
    tcpExchange(srv.port, [`POST /socket.io/1/xhr-polling/${sid} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n3::`], { timeout: 5000 }),
    tcpExchange(srv.port, ['GET /socket.io/1/websocket/x HTTP/1.1\r\nUpgrade: websocket\r\n'], { timeout: 5000 }),
  ]);
  for (const [i, r] of results.entries()) {
    assert.equal(r.closed, true, `connection ${i} was not closed within 5 s`);
    assert.ok(r.text === '' || /^HTTP\/1\.[01] 408 /.test(r.text), `connection ${i} answered ${r.text.slice(0, 100)}`);
  }
  assert.ok(Date.now() - t0 >= 800, 'closed before the request timeout');
  await serverServes();
});

test('LIM-4 a handshake never used expires after --handshake-timeout', async () => {
  const sid = await handshake(srv.port);
  await quietWindow(2500); // nothing to wait for: expiry is a timer on the server
  const res = await httpRequest(srv.port, { path: `/socket.io/1/xhr-polling/${sid}` });
  assert.equal(res.body, '7:::1+0');
});

// ---------------------------------------------------------------- TR-5 heartbeats

test('TR-5 / CA-8 a websocket that does not answer heartbeats is dropped; the others see user_left once', async () => {
  const hb = await startServer(['--heartbeat-interval', '0.3', '--heartbeat-timeout', '0.6']);
  try {
    const room = 1;
    const watcher = track((await openAgentWs(hb.port, { name: 'Watcher' })).ws);
    watcher.emit('join_room', [{ room }]);
    await watcher.nextEvent('room_joined');
    const { ws: mute, user } = await openAgentWs(hb.port, { name: 'Mute', autoHeartbeat: false });
    track(mute);
    mute.emit('join_room', [{ room }]);
    await mute.nextEvent('room_joined');
    assert.equal(await mute.next((m) => m === '2::', { what: 'a heartbeat' }), '2::');
    // keep sending events: only a 2:: answer counts as a heartbeat reply
    const chatter = setInterval(() => mute.emit('room_message', [{ type: 'noise', data: 0 }]), 100);
    try {
      await mute.waitClosed(4000);
    } finally {
      clearInterval(chatter);
    }
    assert.deepEqual(await watcher.nextEvent('user_left', { timeout: 3000 }), { room, user });
    await quietWindow(400);
    assert.equal(countEvents(watcher.inbox.all(), 'user_left'), 1, 'user_left must come once');
    // the connection that answers keeps going through several heartbeats
    const before = watcher.heartbeats;
    watcher.inbox.drain();
    for (let i = 0; i < 4; i++) await watcher.next((m) => m === '2::', { what: `heartbeat ${i}` });
    assert.ok(watcher.heartbeats >= before + 4);
    assert.equal(watcher.isClosed, false);
    watcher.emit('leave_room', [], { id: '3' });
    assert.deepEqual(await watcher.nextAck('3'), { room });
    assert.ok(hb.alive());
  } finally {
    await hb.stop();
  }
});

test('TR-5 polling clients get no heartbeats and are not dropped by the heartbeat timeout', async () => {
  const hb = await startServer(['--heartbeat-interval', '0.3', '--heartbeat-timeout', '0.6', '--polling-duration', '0.4']);
  try {
    const s = await PollSession.open(hb.port, { query: 'name=Pol' });
    await s.get();
    await s.post(`1::${NS}`);
    await s.waitEvent('connected');
    const t0 = Date.now();
    while (Date.now() - t0 < 1800) await s.get({ timeout: 3000 }); // each GET is held about 0.4 s
    assert.deepEqual(s.inbox.all((p) => p.type === 2), [], 'no 2:: on polling');
    await s.emit('join_room', [{ room: 1 }]);
    assert.equal((await s.waitEvent('room_joined')).room, 1);
  } finally {
    await hb.stop();
  }
});

test('TR-5 sub-second timeouts: the handshake advertises them usably and socket.io-client stays connected', async () => {
  const hb = await startServer(['--heartbeat-interval', '0.3', '--heartbeat-timeout', '0.6', '--close-timeout', '1.5']);
  try {
    const body = (await httpRequest(hb.port, { path: '/socket.io/1/' })).body;
    const [, hbField, closeField] = body.split(':');
    // client 0.9.6 drops the connection after (field * 1000) ms of silence: 0 or less than the real timeout breaks it
    assert.ok(Number(hbField) >= 0.6, `heartbeat timeout field ${JSON.stringify(hbField)} in ${body}`);
    assert.ok(Number(closeField) >= 1.5, `close timeout field ${JSON.stringify(closeField)} in ${body}`);
    const c = await Client.connect(hb.url, { name: 'Sub' });
    const t0 = Date.now();
    // stay connected for about 2 s of heartbeats, measured by acks every few hundred ms
    while (Date.now() - t0 < 2000) {
      assert.deepEqual(await c.ack('join_room', { room: 1 }).then((r) => r.room), 1);
      await quietWindow(250);
    }
    assert.equal(c.count('disconnect'), 0);
  } finally {
    closeAll();
    await hb.stop();
  }
});

// ---------------------------------------------------------------- LIM-3 rate

test('LIM-3 / CA-10 more than --rate msgs/s beyond --burst gets rate_limited', async () => {
  const rl = await startServer(['--rate', '5', '--burst', '10']);
  try {
    const room = 1;
    const a = await Client.connect(rl.url, { name: 'Spammer' });
    const b = await Client.connect(rl.url, { name: 'Reader' });
    await a.ack('join_room', { room });
    await b.ack('join_room', { room });
    const N = 40;
    const acks = await Promise.all(Array.from({ length: N }, (_, i) => a.ack('room_message', { type: 'seq', data: i })));
    const ok = acks.map((x, i) => (x.ok ? i : -1)).filter((i) => i >= 0);
    const limited = acks.filter((x) => x.error?.code === 'rate_limited').length;
    assert.equal(ok.length + limited, N, JSON.stringify(acks));
    assert.ok(ok.length >= 8 && ok.length <= 15, `${ok.length} accepted of ${N}`);
    await a.next('request_error', { filter: (e) => e.code === 'rate_limited' && e.event === 'room_message' });
    // the reader got exactly the accepted ones, in order
    await b.next('room_message', { filter: (m) => m.data === ok[ok.length - 1] });
    await b.none('room_message', 200, (m) => !ok.includes(m.data));
    assert.deepEqual(b.events.all((e) => e.name === 'room_message').map((e) => e.args[0].data), ok);
    // tokens come back with time: within about a second a message is accepted again
    const deadline = Date.now() + 4000;
    let again;
    do {
      await quietWindow(250);
      again = await a.ack('room_message', { type: 'seq', data: 'later' });
    } while (!again.ok && Date.now() < deadline);
    assert.deepEqual(again, { ok: true });
    // another connection was never limited
    assert.deepEqual(await b.ack('room_message', { type: 'seq', data: 'b' }), { ok: true });
  } finally {
    closeAll();
    await rl.stop();
  }
});

test('LIM-3 / CA-10 --max-rooms: a join that would create one room too many is refused', {
  skip: perProcess('--max-rooms counts the rooms of one node (docs/protocol.md section 6)'),
}, async () => {
  const mr = await startServer(['--max-rooms', '2']);
  try {
    const [a, b, c] = [await Client.connect(mr.url, { name: 'A' }), await Client.connect(mr.url, { name: 'B' }),
      await Client.connect(mr.url, { name: 'C' })];
    await a.ack('join_room', { room: 1 });
    await b.ack('join_room', { room: 2 });
    const refused = await c.ack('join_room', { room: 3 });
    assert.ok(refused.error && typeof refused.error.code === 'string', JSON.stringify(refused));
    const err = await c.next('request_error', { filter: (e) => e.event === 'join_room' });
    assert.equal(err.code, refused.error.code);
    await c.none('room_joined', 200);
    // joining an existing room is still fine
    assert.equal((await c.ack('join_room', { room: 2 })).users.length, 2);
    // an emptied room no longer counts
    await a.ack('leave_room');
    assert.deepEqual((await a.ack('join_room', { room: 3 })).users, [a.user]);
  } finally {
    closeAll();
    await mr.stop();
  }
});

test('LIM-1 the server survived the whole file', async () => {
  assert.ok(srv.alive(), srv.stderr());
  await serverServes();
});
