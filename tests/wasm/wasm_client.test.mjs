// The WebAssembly connection agent (the core's client side, compiled with
// Emscripten) against the real server: the client side of CA-1..CA-12 and
// CH-1..CH-4, mixed rooms with socket.io-client 0.9.6, and reconnection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../node/lib/server.mjs';
import { Client, closeAll as closeAllClients } from '../node/lib/client.mjs';
import { Inbox, quietWindow } from '../node/lib/wait.mjs';
import { wasmAgent, closeAll } from './wasm_agent.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { closeAll(); closeAllClients(); await server?.stop(); });

const rejection = async (promise) => {
  try { await promise; } catch (e) { return e; }
  assert.fail('expected the request to be rejected');
};

test('CA-1: connect gives the user with its name', async () => {
  const a = await wasmAgent(server.url, 'Ada Wasm');
  assert.equal(a.user.name, 'Ada Wasm');
  assert.ok(Number.isInteger(a.user.id) && a.user.id > 0);
});

test('CA-2/CA-3/CA-7: join, see others, switch rooms, leave', async () => {
  const a = await wasmAgent(server.url, 'A');
  const b = await wasmAgent(server.url, 'B');
  const joinedA = await a.joinRoom(101);
  assert.deepEqual(joinedA.users.map((u) => u.id), [a.user.id]);
  const joinedB = await b.joinRoom(101);
  assert.deepEqual(joinedB.users.map((u) => u.id), [a.user.id, b.user.id]);
  const seen = await a.next('user_joined', (d) => d.user.id === b.user.id);
  assert.equal(seen.room, 101);
  assert.equal(a.room, 101);

  await b.joinRoom(102);  // CA-7: leaves 101 first
  await b.next('room_left', (d) => d.room === 101);
  await a.next('user_left', (d) => d.user.id === b.user.id && d.room === 101);
  assert.equal(b.room, 102);

  const left = await b.leaveRoom();
  assert.deepEqual(left, { room: 102 });
  assert.equal(b.room, null);
});

test('CA-4/CA-5/CA-6: agents registered from JS send to server, room and user', async () => {
  const a = await wasmAgent(server.url, 'A');
  const b = await wasmAgent(server.url, 'B');
  const gotA = new Inbox(); const gotB = new Inbox();
  const gameA = a.register('game', { onRoomMessage: (from, data) => gotA.push({ from, data }), onUserMessage: (from, data) => gotA.push({ from, data, user: true }) });
  const gameB = b.register('game', { onRoomMessage: (from, data) => gotB.push({ from, data }) });
  await a.joinRoom(201); await b.joinRoom(201);

  assert.deepEqual(await gameB.sendToRoom({ move: 'e4' }), { ok: true });
  const m = await gotA.take((x) => x.data?.move === 'e4');
  assert.equal(m.from, b.user.id);
  await quietWindow(150);
  assert.equal(gotB.items.length, 0, 'the sender does not get its own room_message');

  await gameB.sendToUser(a.user.id, { hint: 1 });
  const u = await gotA.take((x) => x.user && x.data?.hint === 1);
  assert.equal(u.from, b.user.id);

  const err = await rejection(gameA.sendToServer({ x: 1 }));  // no server agent for "game"
  assert.equal(err.code, 'unknown_type');
});

test('CA-10/CA-11: failures reject with the protocol code and leave state alone', async () => {
  const a = await wasmAgent(server.url, 'A');
  assert.equal((await rejection(a.joinRoom(-5))).code, 'bad_request');
  assert.equal((await rejection(a.leaveRoom())).code, 'not_in_room');
  const chatless = a.register('note');
  assert.equal((await rejection(chatless.sendToRoom({}))).code, 'not_in_room');
  const e = await rejection(chatless.sendToUser(999999, {}));
  assert.equal(e.code, 'unknown_user');
  assert.equal(e.event, 'server_message');
  assert.equal(e.type, 'note');
  await quietWindow(150);
  assert.deepEqual(a.events.items.filter((x) => x.item.name === 'request_error'), [], 'each error is reported once: by its promise');
  assert.equal(a.room, null);
});

test('CA-12: per-sender order is kept', async () => {
  const a = await wasmAgent(server.url, 'A');
  const b = await wasmAgent(server.url, 'B');
  const got = new Inbox();
  const port = a.register('seq');
  b.register('seq', { onRoomMessage: (from, data) => got.push(data.n) });
  await a.joinRoom(301); await b.joinRoom(301);
  await Promise.all(Array.from({ length: 100 }, (_, n) => port.sendToRoom({ n })));
  await got.take((n) => n === 99, { timeout: 5000 });
  assert.deepEqual(got.items.map((e) => e.item), Array.from({ length: 100 }, (_, n) => n));
});

test('CH-1..CH-4: room chat, private chat, events and history through the C++ chat client', async () => {
  const a = await wasmAgent(server.url, 'Alice');
  await a.joinRoom(401);
  await a.chat.send('first');
  await a.next('chat_message', (d) => d.message.text === 'first');  // CH-1: the sender gets it too

  const b = await wasmAgent(server.url, 'Bob');
  await b.joinRoom(401);
  const history = await b.next('chat_history');  // CH-4: last messages on join
  assert.ok(history.messages.some((m) => m.text === 'first'));
  const ids = history.messages.map((m) => m.id);
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'history is oldest first');
  await a.next('chat_event', (d) => d.message.event === 'user_joined' && d.message.user.id === b.user.id);  // CH-3

  await b.chat.sendTo(a.user.id, 'psst');  // CH-2: both ends
  const priv = await a.next('private_message', (d) => d.message.text === 'psst');
  assert.equal(priv.message.to, a.user.id);
  assert.equal(priv.message.room, null);
  await b.next('private_message', (d) => d.message.text === 'psst');

  assert.equal((await rejection(b.chat.send(''))).code, 'bad_request');  // CH-6
  const one = await b.chat.history({ limit: 1 });  // CH-4: a page: the newest message, older ones remain
  assert.equal(one.messages.length, 1);
  assert.equal(one.hasMore, true);
  assert.ok(!a.events.items.some((x) => x.item.name === 'chat_message' && x.item.data.message.event), 'chat_message is room text only');
});

test('a WASM client and socket.io-client 0.9.6 share a room', async () => {
  const w = await wasmAgent(server.url, 'Wasm');
  const s = await Client.connect(server.url, { name: 'Sio' });
  await w.joinRoom(501);
  await s.ack('join_room', { room: 501 });
  await w.next('user_joined', (d) => d.user.name === 'Sio');

  s.socket.emit('room_message', { type: 'chat', data: { text: 'from 0.9.6' } });
  await w.next('chat_message', (d) => d.message.text === 'from 0.9.6');

  await w.chat.send('from wasm');
  const got = await s.chat.take((e) => e.name === 'room_message' && e.args[0].data.text === 'from wasm');
  assert.equal(got.args[0].from, w.user.id);
});

test('reconnects after the server restarts and rejoins its room', async () => {
  const own = await startServer();
  const port = own.port;
  const a = await wasmAgent(own.url, 'Phoenix');
  await a.joinRoom(601);
  await a.next('room_joined', (d) => d.room === 601);  // the first join, so the rejoin is awaited below
  await own.stop();
  await a.next('disconnect');
  await a.next('reconnecting');
  const again = await startServer(['--port', String(port)]);
  try {
    const re = await a.next('reconnected', () => true, 15000);
    assert.equal(re.user.name, 'Phoenix');
    const rejoined = await a.next('room_joined', (d) => d.room === 601, 5000);
    assert.deepEqual(rejoined.users.map((u) => u.name), ['Phoenix']);
    assert.equal(a.room, 601);
  } finally {
    a.disconnect();
    await again.stop();
  }
});
