// CA-1..CA-13 with the unmodified socket.io-client 0.9.6 (plus a raw websocket
// where the client cannot produce the packet).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { openAgentWs, openWs } from './lib/raw.mjs';
import { parsePacket, NS } from './lib/packet.mjs';
import { quietWindow } from './lib/wait.mjs';

const MAX_DATA = 1000;
const MAX_ROOM_USERS = 3;
let srv;
let nextRoom = 100;
const freshRoom = () => nextRoom++;
const raws = [];

before(async () => {
  srv = await startServer(['--max-data', String(MAX_DATA), '--max-room-users', String(MAX_ROOM_USERS)]);
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

const connect = (name, opts = {}) => Client.connect(srv.url, { name, ...opts });
const byId = (users) => [...users].sort((a, b) => a.id - b.id);

/** Waits for the request_error of `event` on c and checks its shape and code. */
async function expectRequestError(c, event, code) {
  const err = await c.next('request_error', { filter: (e) => e?.event === event });
  assert.equal(err.code, code, `request_error for ${event}: ${JSON.stringify(err)}`);
  assert.equal(typeof err.message, 'string');
  // The extension of docs/protocol.md 2.1: messages name their agent type when it could be read.
  const keys = ['code', 'event', 'message'];
  if (['server_message', 'room_message'].includes(event) && 'type' in err) {
    assert.ok(typeof err.type === 'string' && err.type !== '', `type: ${JSON.stringify(err)}`);
    keys.push('type');
  }
  assert.deepEqual(Object.keys(err).sort(), keys.sort());
  return err;
}

/** Joins each client to room in turn, consuming the join notifications. */
async function joinAll(room, ...clients) {
  for (const [i, c] of clients.entries()) {
    const joined = await c.ack('join_room', { room });
    assert.equal(joined.room, room, JSON.stringify(joined));
    await c.next('room_joined', { filter: (r) => r.room === room });
    for (const other of clients.slice(0, i)) {
      await other.next('user_joined', { filter: (u) => u.room === room && u.user.id === c.user.id });
    }
  }
}

// ---------------------------------------------------------------- CA-1

test('CA-1 connected {user} with the name from the handshake query', async () => {
  const a = await connect('Alice');
  assert.equal(a.user.name, 'Alice');
  assert.ok(Number.isInteger(a.user.id) && a.user.id > 0, JSON.stringify(a.user));
  assert.deepEqual(Object.keys(a.user).sort(), ['id', 'name']);
});

test('CA-1 the name may come from the connect packet data (1::/connection_agent:?name=Bob)', async () => {
  const { ws, user } = await openAgentWs(srv.port, { connectData: '?name=Bob' });
  raws.push(ws);
  assert.equal(user.name, 'Bob');
  assert.ok(user.id > 0);
});

test('CA-1 a missing or empty name becomes user<id>', async () => {
  const a = await connect(undefined);
  assert.equal(a.user.name, `user${a.user.id}`);
  const b = await Client.connect(srv.url, { query: 'name=' });
  assert.equal(b.user.name, `user${b.user.id}`);
});

test('CA-1 a name longer than 100 characters is cut to 100', async () => {
  const long = 'N'.repeat(150);
  const a = await connect(long);
  assert.equal(a.user.name, long.slice(0, 100));
});

test('CA-1 a percent-encoded name is decoded', async () => {
  const a = await connect('Jürgen Ö');
  assert.equal(a.user.name, 'Jürgen Ö');
});

test('CA-1 a long multi-byte name is cut on character boundaries', async () => {
  const a = await connect('é'.repeat(150));
  assert.equal(a.user.name, 'é'.repeat(100));
  const emoji = '😀'.repeat(150);
  const b = await connect(emoji);
  assert.ok(emoji.startsWith(b.user.name), `not a prefix: ${JSON.stringify(b.user.name)}`);
  assert.ok(!/[\ud800-\udbff]$/.test(b.user.name), 'a surrogate pair was cut');
  const cps = [...b.user.name].length;
  assert.ok(cps >= 50 && cps <= 100, `${cps} code points`);
});

test('CA-1 user ids are positive, unique and not reused', async () => {
  const a = await connect('A');
  const b = await connect('B');
  const ids = [a.user.id, b.user.id];
  a.disconnect();
  const c = await connect('C');
  ids.push(c.user.id);
  assert.equal(new Set(ids).size, 3, JSON.stringify(ids));
  assert.ok(ids.every((id) => Number.isInteger(id) && id > 0));
});

// ---------------------------------------------------------------- TR-6 namespaces

test('TR-6 socket.io-client on an unknown namespace gets connect_failed', async () => {
  const c = await Client.connect(srv.url, { ns: '/other' });
  await c.next('connect_failed');
});

test('TR-6 1::/other gets 7::/other:2 and the connection stays usable', async () => {
  const ws = await openWs(srv.port, { query: 'name=Nsp' });
  raws.push(ws);
  ws.sendText('1::/other');
  assert.equal(await ws.next((m) => m.startsWith('7:'), { what: 'the error packet' }), '7::/other:2');
  ws.sendText('1::/connection_agent');
  await ws.next((m) => m === '1::/connection_agent', { what: '1::/connection_agent' });
  const { user } = await ws.nextEvent('connected');
  assert.equal(user.name, 'Nsp');
});

test('TR-6 the root namespace may be connected but carries no application events', async () => {
  const ws = await openWs(srv.port, { query: 'name=Root' });
  raws.push(ws);
  ws.sendText('1::');
  ws.sendText('5:::{"name":"join_room","args":[{"room":1}]}');
  await quietWindow(300);
  const rootEvents = ws.inbox.all((m) => { const p = parsePacket(m); return p?.type === 5 && p.endpoint === ''; });
  assert.deepEqual(rootEvents, []);
  ws.sendText('1::/connection_agent');
  const { user } = await ws.nextEvent('connected');
  assert.equal(user.name, 'Root');
});

// ---------------------------------------------------------------- CA-2 / CA-3

test('CA-2 join_room: room_joined with all members to the joiner, user_joined to the others', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  a.emit('join_room', { room });
  assert.deepEqual(await a.next('room_joined'), { room, users: [a.user] });
  b.emit('join_room', { room });
  const rj = await b.next('room_joined');
  assert.equal(rj.room, room);
  assert.deepEqual(byId(rj.users), byId([a.user, b.user]));
  assert.deepEqual(await a.next('user_joined'), { room, user: b.user });
  await b.none('user_joined');
});

test('CA-2 room 0 is a valid room', async () => {
  const a = await connect('Zero');
  assert.deepEqual(await a.ack('join_room', { room: 0 }), { room: 0, users: [a.user] });
});

test('CA-2 large room numbers are valid (2^32, 2^53-1)', async () => {
  const a = await connect('Big');
  for (const room of [2 ** 32, Number.MAX_SAFE_INTEGER]) {
    assert.deepEqual(await a.ack('join_room', { room }), { room, users: [a.user] });
    assert.deepEqual(await a.next('room_joined', { filter: (r) => r.room === room }), { room, users: [a.user] });
  }
});

test('TR-6 events sent before the namespace connect are not served', async () => {
  const ws = await openWs(srv.port, { query: 'name=Early' });
  raws.push(ws);
  ws.sendText(`5:1+:/connection_agent:${JSON.stringify({ name: 'join_room', args: [{ room: freshRoom() }] })}`);
  ws.sendText('1::/connection_agent');
  await ws.nextEvent('connected');
  ws.emit('leave_room', [], { id: '2' });
  assert.equal((await ws.nextAck('2')).error?.code, 'not_in_room', 'the early join_room must not have been served');
});

test('TR-6 after 0::/connection_agent the namespace can be connected again', async () => {
  const { ws } = await openAgentWs(srv.port, { name: 'Again' });
  raws.push(ws);
  ws.sendText('0::/connection_agent');
  ws.sendText('1::/connection_agent');
  const { user } = await ws.nextEvent('connected');
  assert.equal(user.name, 'Again');
  const room = freshRoom();
  ws.emit('join_room', [{ room }], { id: '1' });
  assert.deepEqual(await ws.nextAck('1'), { room, users: [user] });
});

test('CA-2 joining the room you are in: room_joined again, nobody sees user_left or user_joined', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  b.emit('join_room', { room });
  const again = await b.next('room_joined');
  assert.equal(again.room, room);
  assert.deepEqual(byId(again.users), byId([a.user, b.user]));
  await Promise.all([
    a.none('user_left'), a.none('user_joined'), b.none('room_left'), b.none('user_left'),
  ]);
});

test('CA-3 leave_room: room_left to the sender, user_left to the others', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  b.emit('leave_room');
  assert.deepEqual(await b.next('room_left'), { room });
  assert.deepEqual(await a.next('user_left'), { room, user: b.user });
  // b is out: it no longer receives the room's messages.
  a.emit('room_message', { type: 'game', data: 1 });
  await b.none('room_message');
});

test('CA-3 leave_room outside a room: request_error not_in_room', async () => {
  const a = await connect('A');
  a.emit('leave_room');
  await expectRequestError(a, 'leave_room', 'not_in_room');
  const ack = await a.ack('leave_room');
  assert.equal(ack.error?.code, 'not_in_room', JSON.stringify(ack));
});

// ---------------------------------------------------------------- CA-4 / CA-5 / CA-9

test('CA-4 server_message of a type without a server agent: unknown_type', async () => {
  const a = await connect('A');
  a.emit('server_message', { type: 'echo-test', data: { x: 1 } });
  await expectRequestError(a, 'server_message', 'unknown_type');
  const ack = await a.ack('server_message', { type: 'game', data: null });
  assert.equal(ack.error?.code, 'unknown_type', JSON.stringify(ack));
  assert.equal(typeof ack.error.message, 'string');
});

test('CA-5/CA-9 room_message is relayed as-is to the others, not to the sender', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  const c = await connect('C');
  await joinAll(room, a, b, c);
  const samples = [
    { k: 'v', nested: { list: [1, 2.5, 'x', null, true], deep: { e: '😀é€' } } },
    [1, 'two', { three: 3 }],
    'a string with "quotes", \\ and :colons:',
    'controls \u0000\u0001\u001f\u007f tab\t nl\n cr\r \u2028\u2029 slash / </script> \ufffd',
    { 'key with "quotes" and \u0000': ['\ud83d\ude00', '\\'] },
    1e21,
    123456789012,
    42,
    -0.5,
    true,
    false,
    null,
  ];
  for (const data of samples) a.emit('room_message', { type: 'game', data });
  for (const r of [b, c]) {
    for (const data of samples) {
      assert.deepEqual(await r.next('room_message'), { from: a.user.id, type: 'game', data });
    }
  }
  await a.none('room_message');
});

test('CA-5 fan-out: a room of 30 members, every message reaches all the others', async () => {
  const fan = await startServer();
  try {
    const room = 7;
    const members = [];
    for (let i = 0; i < 30; i++) {
      const c = await Client.connect(fan.url, { name: `F${i}` });
      await c.ack('join_room', { room });
      members.push(c);
    }
    for (const [i, m] of members.entries()) if (i % 10 === 0) m.emit('room_message', { type: 'game', data: `from ${i}` });
    for (const [j, m] of members.entries()) {
      for (let i = 0; i < 30; i += 10) {
        if (i === j) continue;
        await m.next('room_message', { filter: (x) => x.data === `from ${i}` && x.from === members[i].user.id });
      }
    }
  } finally {
    closeAll();
    await fan.stop();
  }
});

// A \ud800 escape with no low half is valid JSON grammar (RFC 8259 allows it), so
// data, relayed as sent (CA-9, docs/protocol.md: "data may be any JSON value"),
// arrives unchanged. A chat text is a string the server must read: there it is
// not a valid string and gets bad_request (CH-6), and nothing is stored or sent.
test('LIM-1 / CA-9 a lone surrogate escape in data is relayed as sent; in a chat text it is refused', async () => {
  const room = freshRoom();
  const { ws } = await openAgentWs(srv.port, { name: 'A' });
  raws.push(ws);
  ws.emit('join_room', [{ room }], { id: '1' });
  assert.equal((await ws.nextAck('1')).room, room);
  const b = await connect('B');
  await b.ack('join_room', { room });
  ws.sendText(`5:9+:${NS}:{"name":"room_message","args":[{"type":"game","data":"x\\ud800y"}]}`);
  assert.deepEqual(await ws.nextAck('9'), { ok: true });
  assert.deepEqual(await b.next('room_message'), { from: ws.user.id, type: 'game', data: 'x\ud800y' });

  ws.sendText(`5:10+:${NS}:{"name":"room_message","args":[{"type":"chat","data":{"text":"x\\ud800y"}}]}`);
  assert.equal((await ws.nextAck('10')).error?.code, 'bad_request');
  ws.emit('room_message', [{ type: 'game', data: 'after' }], { id: '11' });
  assert.deepEqual(await ws.nextAck('11'), { ok: true });
  assert.deepEqual(await b.next('room_message'), { from: ws.user.id, type: 'game', data: 'after' });
  assert.equal(b.chat.all((e) => e.name === 'room_message' && e.args[0].data.text !== undefined).length, 0,
    'the refused chat text reached nobody');
});

test('CA-5 room_message without data delivers data: null', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  a.emit('room_message', { type: 'ping-agent' });
  assert.deepEqual(await b.next('room_message'), { from: a.user.id, type: 'ping-agent', data: null });
});

test('CA-5 room_message outside a room: not_in_room; a type that is not a non-empty string: bad_request', async () => {
  const a = await connect('A');
  a.emit('room_message', { type: 'game', data: 1 });
  await expectRequestError(a, 'room_message', 'not_in_room');
  const room = freshRoom();
  const b = await connect('B');
  await joinAll(room, a, b);
  for (const arg of [{ type: '', data: 1 }, { type: 5, data: 1 }, { data: 1 }, { type: null }, { type: ['x'] }]) {
    a.emit('room_message', arg);
    await expectRequestError(a, 'room_message', 'bad_request');
  }
  await b.none('room_message');
});

// ---------------------------------------------------------------- CA-6

test('CA-6 server_message {to} reaches the user in any room or none as user_message', async () => {
  const a = await connect('A');
  const lonely = await connect('Lonely');
  const roomed = await connect('Roomed');
  await joinAll(freshRoom(), roomed);
  await joinAll(freshRoom(), a);
  const data = { text: 'hi 😀', n: [1, 2] };
  assert.deepEqual(await a.ack('server_message', { to: lonely.user.id, type: 'dm', data }), { ok: true });
  assert.deepEqual(await lonely.next('user_message'), { from: a.user.id, type: 'dm', data });
  a.emit('server_message', { to: roomed.user.id, type: 'dm', data: 7 });
  assert.deepEqual(await roomed.next('user_message'), { from: a.user.id, type: 'dm', data: 7 });
  await a.none('user_message');
});

test('CA-6 server_message to an unknown user: unknown_user; to that is not an integer: bad_request', async () => {
  const a = await connect('A');
  const b = await connect('B');
  a.emit('server_message', { to: 987654321, type: 'dm', data: 1 });
  await expectRequestError(a, 'server_message', 'unknown_user');
  for (const to of [String(b.user.id), b.user.id + 0.5, true, [b.user.id], { id: b.user.id }]) {
    a.emit('server_message', { to, type: 'dm', data: 1 });
    await expectRequestError(a, 'server_message', 'bad_request');
  }
  await b.none('user_message');
});

// ---------------------------------------------------------------- CA-7

test('CA-7 join_room while in a room leaves the old one first', async () => {
  const r1 = freshRoom();
  const r2 = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  const c = await connect('C');
  await joinAll(r1, a, b);
  await joinAll(r2, c);
  a.emit('join_room', { room: r2 });
  assert.deepEqual(await a.next('room_left'), { room: r1 });
  const rj = await a.next('room_joined');
  assert.equal(rj.room, r2);
  assert.deepEqual(byId(rj.users), byId([a.user, c.user]));
  const iLeft = a.events.indexOf((e) => e.name === 'room_left');
  const iJoined = a.events.indexOf((e) => e.name === 'room_joined' && e.args[0].room === r2);
  assert.ok(iLeft < iJoined, 'room_left must come before room_joined');
  assert.deepEqual(await b.next('user_left'), { room: r1, user: a.user });
  assert.deepEqual(await c.next('user_joined'), { room: r2, user: a.user });
  // a is now only in r2
  b.emit('room_message', { type: 'game', data: 'r1' });
  c.emit('room_message', { type: 'game', data: 'r2' });
  assert.deepEqual(await a.next('room_message'), { from: c.user.id, type: 'game', data: 'r2' });
  await a.none('room_message');
});

// ---------------------------------------------------------------- CA-8

async function userLeftOnce(observer, room, user) {
  assert.deepEqual(await observer.next('user_left'), { room, user });
  await observer.none('user_left', 400);
}

test('CA-8 a transport close gives user_left exactly once', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  b.dropTransport();
  await userLeftOnce(a, room, b.user);
});

test('CA-8 a TCP half-close (FIN, no close frame) gives user_left exactly once', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const { ws, user } = await openAgentWs(srv.port, { name: 'Fin' });
  raws.push(ws);
  ws.emit('join_room', [{ room }]);
  await ws.nextEvent('room_joined');
  await a.ack('join_room', { room });
  ws.sock.end();
  await userLeftOnce(a, room, user);
});

test('CA-8 a namespace disconnect 0::/connection_agent gives user_left exactly once', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  b.socket.disconnect(); // namespace socket: sends 0::/connection_agent only
  await userLeftOnce(a, room, b.user);
  b.disconnect(); // now the transport too: must not produce a second user_left
  await a.none('user_left', 400);
});

test('CA-8 a full disconnect (0:: then close) gives user_left exactly once', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  b.disconnect();
  await userLeftOnce(a, room, b.user);
});

test('CA-8 a disconnected user is no longer addressable', async () => {
  const a = await connect('A');
  const b = await connect('B');
  const room = freshRoom();
  await joinAll(room, a, b);
  b.disconnect();
  await a.next('user_left');
  a.emit('server_message', { to: b.user.id, type: 'dm', data: 1 });
  await expectRequestError(a, 'server_message', 'unknown_user');
});

// ---------------------------------------------------------------- CA-10

test('CA-10 unknown event names get request_error bad_request', async () => {
  const a = await connect('A');
  for (const name of ['no_such_event', 'JOIN_ROOM', 'room_joined', 'connected']) {
    a.emit(name, { room: 1 });
    await expectRequestError(a, name, 'bad_request');
  }
});

test('CA-10 bad join_room arguments get bad_request and change nothing', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  const bad = [[{ room: '5' }], [{ room: 1.5 }], [{ room: -1 }], [{}], [{ room: null }], [{ room: [1] }],
    [5], ['x'], [[1]], [null], []];
  for (const args of bad) {
    a.emit('join_room', ...args);
    await expectRequestError(a, 'join_room', 'bad_request');
  }
  await Promise.all([a.none('room_left', 200), b.none('user_left', 200), b.none('user_joined', 200)]);
  // a is still in the room
  b.emit('room_message', { type: 'game', data: 'still here?' });
  assert.deepEqual(await a.next('room_message'), { from: b.user.id, type: 'game', data: 'still here?' });
});

test('CA-10 non-object arguments to room_message and server_message get bad_request', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  for (const ev of ['room_message', 'server_message']) {
    for (const args of [['text'], [5], [[{ type: 'game' }]], [null], []]) {
      a.emit(ev, ...args);
      await expectRequestError(a, ev, 'bad_request');
    }
  }
  await b.none('room_message', 200);
});

test('CA-10 / LIM-3 data larger than --max-data gets too_large and is not delivered', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  a.emit('room_message', { type: 'game', data: 'x'.repeat(MAX_DATA + 10) });
  await expectRequestError(a, 'room_message', 'too_large');
  // 300 emoji: 600 UTF-16 units but at least 1200 bytes of JSON
  const ack = await a.ack('room_message', { type: 'game', data: '😀'.repeat(300) });
  assert.equal(ack.error?.code, 'too_large', JSON.stringify(ack).slice(0, 200));
  a.emit('server_message', { to: b.user.id, type: 'dm', data: ['y'.repeat(MAX_DATA)] });
  await expectRequestError(a, 'server_message', 'too_large');
  await Promise.all([b.none('room_message', 200), b.none('user_message', 200)]);
  // a message under the limit goes through
  const small = 'z'.repeat(MAX_DATA - 100);
  assert.deepEqual(await a.ack('room_message', { type: 'game', data: small }), { ok: true });
  assert.deepEqual(await b.next('room_message'), { from: a.user.id, type: 'game', data: small });
});

test('LIM-3 --max-data is exact: data of exactly max-data bytes of JSON passes, one more byte does not', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  const fits = 'x'.repeat(MAX_DATA - 2); // JSON adds the two quotes
  assert.deepEqual(await a.ack('room_message', { type: 'game', data: fits }), { ok: true });
  assert.equal((await b.next('room_message')).data, fits);
  const over = await a.ack('room_message', { type: 'game', data: fits + 'x' });
  assert.equal(over.error?.code, 'too_large');
  const multi = 'é'.repeat((MAX_DATA - 2) / 2); // 2 bytes each in UTF-8
  assert.deepEqual(await a.ack('room_message', { type: 'game', data: multi }), { ok: true });
  assert.equal((await a.ack('room_message', { type: 'game', data: multi + 'é' })).error?.code, 'too_large');
});

test('CA-10 / LIM-3 a room at --max-room-users refuses with room_full and changes nothing', async () => {
  const room = freshRoom();
  const elsewhere = freshRoom();
  const members = [];
  for (let i = 0; i < MAX_ROOM_USERS; i++) members.push(await connect(`M${i}`));
  await joinAll(room, ...members);
  const late = await connect('Late');
  const mate = await connect('Mate');
  await joinAll(elsewhere, late, mate);
  late.emit('join_room', { room });
  await expectRequestError(late, 'join_room', 'room_full');
  const ack = await late.ack('join_room', { room });
  assert.equal(ack.error?.code, 'room_full', JSON.stringify(ack));
  await Promise.all([...members.map((m) => m.none('user_joined', 200)), late.none('room_left', 200), mate.none('user_left', 200)]);
  // late is still in its old room
  late.emit('room_message', { type: 'game', data: 'from late' });
  assert.deepEqual(await mate.next('room_message'), { from: late.user.id, type: 'game', data: 'from late' });
  // a member leaving frees a place
  members[0].emit('leave_room');
  await members[0].next('room_left');
  const rj = await late.ack('join_room', { room });
  assert.equal(rj.room, room);
  assert.equal(rj.users.length, MAX_ROOM_USERS);
});

// ---------------------------------------------------------------- CA-11

test('CA-11 acks: the reply object, {ok:true}, or {error}; the reply event is still sent', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  const joined = await a.ack('join_room', { room });
  assert.deepEqual(joined, { room, users: [a.user] });
  assert.deepEqual(await a.next('room_joined'), joined);
  const joinedB = await b.ack('join_room', { room });
  assert.deepEqual(await b.next('room_joined'), joinedB);
  assert.deepEqual(await a.ack('room_message', { type: 'game', data: 1 }), { ok: true });
  assert.deepEqual(await a.ack('server_message', { to: b.user.id, type: 'dm', data: 2 }), { ok: true });
  const left = await b.ack('leave_room');
  assert.deepEqual(left, { room });
  assert.deepEqual(await b.next('room_left'), left);
  const failed = await b.ack('room_message', { type: 'game', data: 3 });
  assert.deepEqual(Object.keys(failed), ['error']);
  assert.equal(failed.error.code, 'not_in_room');
  assert.equal(typeof failed.error.message, 'string');
  await expectRequestError(b, 'room_message', 'not_in_room');
  const unknown = await a.ack('frobnicate', { x: 1 });
  assert.equal(unknown.error?.code, 'bad_request');
  await expectRequestError(a, 'frobnicate', 'bad_request');
});

test('TR-4 an event with an id but no + is auto-acked 6::/connection_agent:<id> before it is handled', async () => {
  const room = freshRoom();
  const { ws } = await openAgentWs(srv.port, { name: 'Auto' });
  raws.push(ws);
  ws.sendText(`5:7:/connection_agent:${JSON.stringify({ name: 'join_room', args: [{ room }] })}`);
  const ack = await ws.next((m) => m.startsWith('6:'), { what: 'the auto ack' });
  assert.equal(ack, '6::/connection_agent:7');
  const joined = await ws.nextEvent('room_joined');
  assert.equal(joined.room, room);
  const iAck = ws.inbox.indexOf((m) => m === ack);
  const iJoined = ws.inbox.indexOf((m) => m.includes('"room_joined"'));
  assert.ok(iAck < iJoined, 'the auto ack comes first');
  ws.sendText(`5:8+:/connection_agent:${JSON.stringify({ name: 'leave_room' })}`);
  assert.equal(await ws.next((m) => m.startsWith('6:'), { what: 'the data ack' }), `6::/connection_agent:8+${JSON.stringify([{ room }])}`);
});

// ---------------------------------------------------------------- CA-12

test('CA-12 per-sender order: 200 numbered messages arrive in order', async () => {
  const room = freshRoom();
  const a = await connect('A');
  const b = await connect('B');
  await joinAll(room, a, b);
  const N = 200;
  for (let i = 0; i < N; i++) {
    if (i % 3 === 2) a.emit('server_message', { to: b.user.id, type: 'seq', data: i });
    else a.emit('room_message', { type: 'seq', data: i });
  }
  const last = N - 1;
  const lastEvent = last % 3 === 2 ? 'user_message' : 'room_message';
  await b.next(lastEvent, { filter: (m) => m.data === last, timeout: 10000 });
  const got = b.events.all((e) => (e.name === 'room_message' || e.name === 'user_message') && e.args[0].type === 'seq')
    .map((e) => e.args[0].data);
  assert.deepEqual(got, Array.from({ length: N }, (_, i) => i));
});

// ---------------------------------------------------------------- CA-13

test('CA-13 reserved socket.io event names are refused with bad_request', async () => {
  const a = await connect('A');
  const names = ['connect', 'disconnect', 'message', 'error', 'reconnect', 'connecting', 'connect_failed',
    'reconnecting', 'reconnect_failed', 'newListener', 'newListenerX'];
  for (const name of names) {
    a.packet(name, [{ room: 1 }]);
    await expectRequestError(a, name, 'bad_request');
  }
  // still connected and working
  assert.deepEqual(await a.ack('join_room', { room: freshRoom() }).then((r) => r.users), [a.user]);
});
