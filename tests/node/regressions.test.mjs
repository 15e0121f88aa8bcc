// Edges the rest of the harness did not reach, each found by planting a
// realistic one-line bug that every other test let through (issue 21):
// history read from the store (not the in-memory tail), the write-queue limit
// actually dropping a reader that stopped reading, the rate limiter's burst cap
// after an idle spell, chat texts of exactly --max-text characters, and the
// websocket decoder's refusals (UTF-8-encoded surrogates, fragmented control
// frames) seen end to end.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, perProcess } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { openAgentWs, buildFrame, PollSession, joinedPollSession } from './lib/raw.mjs';
import { NS, eventPacket } from './lib/packet.mjs';
import { quietWindow } from './lib/wait.mjs';

const MAX_TEXT = 50;
let srv;
let nextRoom = 2100;
const freshRoom = () => nextRoom++;
const raws = [];
const track = (ws) => { raws.push(ws); return ws; };

before(async () => { srv = await startServer(['--max-text', String(MAX_TEXT)]); });
afterEach(() => {
  closeAll();
  for (const ws of raws.splice(0)) ws.destroy();
});
after(async () => {
  const alive = srv?.alive();
  await srv?.stop();
  assert.ok(alive !== false, 'the server died during the test file');
});

/** The next chat-agent event `name` on c whose payload satisfies pred. */
const chatEvent = (c, name, pred = () => true, timeout = 5000) =>
  c.chat.take((e) => e.name === name && pred(e.args[0]), { timeout, what: `chat ${name} on ${c.user?.name}` })
    .then((e) => e.args[0]);
const historyOf = (c) => chatEvent(c, 'server_message', (m) => m.data.action === 'history').then((m) => m.data);
const say = (c, text) => c.ack('room_message', { type: 'chat', data: { text } });

async function joined(url, name, room) {
  const c = await Client.connect(url, { name });
  assert.equal((await c.ack('join_room', { room })).room, room);
  return c;
}

/** The texts of a history's chat messages (server events left out), and a check that ids only grow. */
function textsInOrder(history) {
  const ids = history.messages.map((m) => m.id);
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y), `history ids oldest first: ${ids}`);
  return history.messages.filter((m) => m.event === undefined).map((m) => m.text);
}

// ---------------------------------------------------------------- CH-4 history from the store

test('CH-4: the first joiner of an emptied room gets its stored history oldest first', async () => {
  const room = freshRoom();
  const ann = await joined(srv.url, 'Ann', room);
  for (let i = 0; i < 5; i++) assert.deepEqual(await say(ann, `stored ${i}`), { ok: true });
  await ann.ack('leave_room');  // nobody is left: the room's history now lives only in the store

  const ben = await Client.connect(srv.url, { name: 'Ben' });
  ben.emit('join_room', { room });
  const history = await historyOf(ben);
  assert.equal(history.room, room);
  assert.deepEqual(textsInOrder(history), ['stored 0', 'stored 1', 'stored 2', 'stored 3', 'stored 4']);
  const last = history.messages.at(-1);
  assert.equal(last.event, 'user_left', 'the newest entry, Ann leaving, comes last');
  assert.equal(last.user.id, ann.user.id);
});

test('CH-4 / CH-5: after a restart the history on join comes from the database, the newest 50, oldest first', {
  skip: perProcess('stops the process and starts another on its --data-dir; a cluster keeps chat in PostgreSQL'),
}, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'compeit-restart-'));
  const room = 5;
  try {
    const first = await startServer(['--data-dir', dataDir]);
    try {
      const ann = await joined(first.url, 'Ann', room);
      for (let i = 0; i < 55; i++) assert.deepEqual(await say(ann, `m${i}`), { ok: true });
      closeAll();
    } finally {
      await first.stop();
    }
    const second = await startServer(['--data-dir', dataDir]);
    try {
      const ben = await Client.connect(second.url, { name: 'Ben' });
      ben.emit('join_room', { room });
      const history = await historyOf(ben);
      assert.equal(history.messages.length, 50);
      const texts = textsInOrder(history);
      assert.equal(texts.at(-1), 'm54', 'the newest message comes last');
      const expected = Array.from({ length: 55 }, (_, i) => `m${i}`).slice(-texts.length);
      assert.deepEqual(texts, expected);
    } finally {
      closeAll();
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- LIM-3 chat text at the limit

test('LIM-3 / CH-6: a chat text of exactly --max-text characters passes, counted in code points; one more is refused', async () => {
  const room = freshRoom();
  const a = await joined(srv.url, 'Ada', room);
  const b = await joined(srv.url, 'Bo', room);
  // ASCII (1 byte), Latin (2 bytes), CJK (3 bytes, one UTF-16 unit), emoji (4 bytes, two UTF-16 units)
  for (const ch of ['x', 'é', '中', '😀']) {
    const text = ch.repeat(MAX_TEXT);
    assert.deepEqual(await say(a, text), { ok: true }, `${MAX_TEXT} x ${ch}`);
    const got = await chatEvent(b, 'room_message', (m) => m.data.text === text);
    assert.equal([...got.data.text].length, MAX_TEXT);

    const over = await say(a, text + ch);
    assert.equal(over.error?.code, 'too_large', `${MAX_TEXT + 1} x ${ch}: ${JSON.stringify(over)}`);
  }
  // the refused ones reached nobody: b saw exactly the four texts at the limit
  assert.deepEqual(b.chat.all((e) => e.name === 'room_message' && e.args[0].data.text !== undefined)
    .map((e) => [...e.args[0].data.text].length), [MAX_TEXT, MAX_TEXT, MAX_TEXT, MAX_TEXT]);
});

// ---------------------------------------------------------------- LIM-3 rate limiter after idling

test('LIM-3: after idling longer than burst/rate, exactly --burst requests pass at once', async () => {
  const RATE = 4;
  const BURST = 6;
  const rl = await startServer(['--rate', String(RATE), '--burst', String(BURST)]);
  try {
    const { ws } = await openAgentWs(rl.port, { name: 'Idler' });
    track(ws);
    ws.emit('join_room', [{ room: 1 }], { id: '1' });
    assert.equal((await ws.nextAck('1')).room, 1);
    // Nothing to wait for: the bucket refills with time. 2 s idle refills 8 tokens; the bucket holds 6.
    await quietWindow(2000);
    // Twelve acked requests in one TCP write: the server takes them all within a few ms,
    // far less than the 250 ms one more token needs.
    const N = 12;
    const ids = Array.from({ length: N }, (_, i) => String(100 + i));
    ws.sendRaw(Buffer.concat(ids.map((id) => buildFrame({ payload: eventPacket('room_message', [{ type: 'tick', data: id }], { id }) }))));
    const acks = [];
    for (const id of ids) acks.push(await ws.nextAck(id));
    const passed = acks.filter((a) => a.ok === true).length;
    const limited = acks.filter((a) => a.error?.code === 'rate_limited').length;
    assert.equal(passed + limited, N, JSON.stringify(acks));
    assert.equal(passed, BURST, `${passed} of ${N} passed after idling: ${JSON.stringify(acks)}`);
    assert.deepEqual(acks.slice(0, BURST), Array(BURST).fill({ ok: true }), 'the first ones pass, in order');
  } finally {
    await rl.stop();
  }
});

// ---------------------------------------------------------------- LIM-1 write queue

test('LIM-1: a websocket that stops reading is dropped once more than --max-write-queue waits for it', async () => {
  const LIMIT = 64 * 1024;
  const wq = await startServer(['--max-write-queue', String(LIMIT)]);
  try {
    const room = 1;
    const sender = await joined(wq.url, 'Sender', room);
    const { ws: stuck, user } = await openAgentWs(wq.port, { name: 'Stuck' });
    track(stuck);
    stuck.emit('join_room', [{ room }]);
    await stuck.nextEvent('room_joined');
    await sender.next('user_joined', { filter: (u) => u.user.id === user.id });
    stuck.sock.pause();  // stops reading: what the server sends it piles up

    // The sender keeps talking (60 kB a message, each acked) until the room sees the stuck one go.
    // The kernel's socket buffers take a few MB; past them the queue outgrows 8 x the limit at once.
    const big = 'q'.repeat(60000);
    const left = sender.next('user_left', { filter: (u) => u.user.id === user.id, timeout: 20000 });
    let dropped = false;
    left.then(() => { dropped = true; }, () => {});
    let sent = 0;
    const deadline = Date.now() + 20000;
    while (!dropped && Date.now() < deadline) {
      const ack = await sender.ack('room_message', { type: 'flood', data: `${sent}:${big}` });
      if (ack.ok) sent++;
    }
    assert.deepEqual(await left, { room, user }, `not dropped after ${sent} messages (${(sent * 60000 / 1e6).toFixed(1)} MB)`);
    // the server closed it: once the stuck client reads again it finds the end of the connection
    stuck.sock.resume();
    await stuck.waitClosed(10000);
    // and the sender was never the one to suffer
    assert.deepEqual(await sender.ack('room_message', { type: 'probe', data: 'still here' }), { ok: true });
    assert.ok(wq.alive(), wq.stderr());
  } finally {
    closeAll();
    await wq.stop();
  }
});

// ---------------------------------------------------------------- LIM-1 / TR-1 decoder refusals end to end

/** A raw websocket and a socket.io-client peer in a fresh room of srv. */
async function rawAndPeer() {
  const room = freshRoom();
  const { ws, user } = await openAgentWs(srv.port, { name: 'Raw' });
  track(ws);
  ws.emit('join_room', [{ room }]);
  await ws.nextEvent('room_joined');
  const peer = await Client.connect(srv.url, { name: 'Peer' });
  await peer.ack('join_room', { room });
  return { ws, user, peer, room };
}

const SURROGATE_UTF8 = Buffer.from([0xed, 0xa0, 0x80]);  // U+D800 encoded as if it were a character
const withSurrogate = (tag) => {
  const [head, tail] = eventPacket('room_message', [{ type: 'probe', data: `${tag}#` }]).split('#');
  return Buffer.concat([Buffer.from(head), SURROGATE_UTF8, Buffer.from(tail)]);
};

test('LIM-1: a websocket text frame with a UTF-8-encoded surrogate is refused with close 1007 and reaches nobody', async () => {
  const { ws, user, peer, room } = await rawAndPeer();
  ws.sendFrame({ opcode: 1, payload: withSurrogate('bad') });
  const { closeFrame } = await ws.waitClosed();
  assert.equal(closeFrame?.code, 1007, `close frame ${JSON.stringify(closeFrame)}`);
  assert.deepEqual(await peer.next('user_left'), { room, user });
  assert.equal(peer.count('room_message'), 0, 'the invalid text was not relayed');
  // the same surrogate split across two fragments is refused too
  const again = await rawAndPeer();
  const bytes = withSurrogate('split');
  const cut = bytes.indexOf(SURROGATE_UTF8) + 1;
  again.ws.sendFrame({ fin: false, opcode: 1, payload: bytes.subarray(0, cut) });
  again.ws.sendFrame({ fin: true, opcode: 0, payload: bytes.subarray(cut) });
  assert.equal((await again.ws.waitClosed()).closeFrame?.code, 1007);
  assert.equal(again.peer.count('room_message'), 0);
});

test('LIM-1: a POST with a UTF-8-encoded surrogate is dropped and the polling session goes on', async () => {
  const room = freshRoom();
  const peer = await Client.connect(srv.url, { name: 'Peer' });
  await peer.ack('join_room', { room });
  const { s, user } = await joinedPollSession(srv.port, room);
  const res = await s.post(withSurrogate('bad'));  // a Buffer: the bytes go out as they are
  assert.equal(res.status, 200, JSON.stringify(res));
  await s.emit('room_message', [{ type: 'probe', data: 'after' }]);
  assert.deepEqual(await peer.next('room_message'), { from: user.id, type: 'probe', data: 'after' });
  assert.equal(peer.count('room_message'), 1, 'the packet with the surrogate was dropped');
});

test('LIM-1: fragmented control frames are refused with close 1002 (and get no pong)', async () => {
  for (const opcode of [9, 10, 8]) {
    const { ws, user, peer, room } = await rawAndPeer();
    ws.sendFrame({ fin: false, opcode, payload: 'frag' });
    ws.sendFrame({ fin: true, opcode: 0, payload: 'ment' });
    const { closeFrame } = await ws.waitClosed();
    assert.equal(closeFrame?.code, 1002, `opcode ${opcode}: close frame ${JSON.stringify(closeFrame)}`);
    assert.equal(ws.controls.all((f) => f.opcode === 10).length, 0, `opcode ${opcode}: no pong`);
    assert.deepEqual(await peer.next('user_left'), { room, user });
  }
  // a control frame over 125 bytes is a protocol error as well
  const { ws } = await rawAndPeer();
  ws.sendFrame({ opcode: 9, payload: 'p'.repeat(126) });
  assert.equal((await ws.waitClosed()).closeFrame?.code, 1002);
  assert.equal(ws.controls.all((f) => f.opcode === 10).length, 0);
});

// ---------------------------------------------------------------- rules with no end-to-end test before

test('TR-4 / CA-10: message and json packets on /connection_agent get request_error bad_request; an id+ gets the error ack', async () => {
  const { ws, peer } = await rawAndPeer();
  ws.sendText(`3:7+:${NS}:hello`);
  const ack = await ws.nextAck('7');
  assert.equal(ack.error?.code, 'bad_request', JSON.stringify(ack));
  const err = await ws.nextEvent('request_error');
  assert.deepEqual([err.event, err.code], ['message', 'bad_request']);
  ws.sendText(`4::${NS}:{"a":1}`);
  assert.equal((await ws.nextEvent('request_error')).code, 'bad_request');
  // nothing reached the room, and the connection goes on
  ws.emit('room_message', [{ type: 'probe', data: 'after' }], { id: '8' });
  assert.deepEqual(await ws.nextAck('8'), { ok: true });
  assert.deepEqual(await peer.next('room_message'), { from: ws.user.id, type: 'probe', data: 'after' });
  assert.equal(peer.count('message'), 0);
});

test('CH-4 / CA-10: a history request outside a room gets not_in_room', async () => {
  const c = await Client.connect(srv.url, { name: 'Nomad' });
  const ack = await c.ack('server_message', { type: 'chat', data: { action: 'history' } });
  assert.equal(ack.error?.code, 'not_in_room', JSON.stringify(ack));
  const err = await c.next('request_error', { filter: (e) => e.event === 'server_message' });
  assert.equal(err.code, 'not_in_room');
  assert.equal(c.chat.all((e) => e.args[0]?.data?.action === 'history').length, 0);
});
