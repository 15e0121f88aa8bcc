// The Chat Agent (CH-1..CH-6) with the real socket.io-client 0.9.6, the admin
// announcement endpoint, and durability across a SIGKILL (CH-5).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, perProcess } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';

const TOKEN = 'test-admin-token';
let server;
before(async () => { server = await startServer(['--admin-token', TOKEN, '--max-text', '50']); });
after(async () => { closeAll(); await server?.stop(); });

const chatEvent = (c, name, pred, timeout = 5000) =>
  c.chat.take((e) => e.name === name && pred(e.args[0]), { timeout, what: `${name} on ${c.user?.name}` })
    .then((e) => e.args[0]);

async function joined(name, room) {
  const c = await Client.connect(server.url, { name });
  await c.ack('join_room', { room });
  return c;
}

test('CH-1: room chat is stamped and reaches every member, the sender too', async () => {
  const a = await joined('Ann', 11);
  const b = await joined('Ben', 11);
  assert.deepEqual(await a.ack('room_message', { type: 'chat', data: { text: 'hi all' } }), { ok: true });
  for (const c of [a, b]) {
    const m = await chatEvent(c, 'room_message', (x) => x.data.text === 'hi all');
    assert.equal(m.from, a.user.id);
    assert.equal(m.data.room, 11);
    assert.deepEqual(m.data.user, a.user);
    assert.ok(Number.isInteger(m.data.id) && m.data.id > 0);
    assert.ok(Math.abs(m.data.ts - Date.now()) < 60_000);
  }
});

test('CH-2: user-to-user chat reaches the recipient and echoes to the sender', async () => {
  const a = await joined('Cat', 12);
  const b = await Client.connect(server.url, { name: 'Dan' });  // in no room
  await a.ack('server_message', { to: b.user.id, type: 'chat', data: { text: 'psst' } });
  for (const c of [a, b]) {
    const m = await chatEvent(c, 'user_message', (x) => x.data.text === 'psst');
    assert.equal(m.from, a.user.id);
    assert.equal(m.data.to, b.user.id);
    assert.equal(m.data.room, null);
  }
});

test('CH-3: joins, leaves and announcements appear in the room chat; the admin token is required', async () => {
  const a = await joined('Eve', 13);
  const b = await joined('Fay', 13);
  const j = await chatEvent(a, 'room_message', (x) => x.data.event === 'user_joined' && x.data.user.id === b.user.id);
  assert.equal(j.from, 0);
  assert.equal(j.data.room, 13);

  const url = `${server.url}/admin/rooms/13/announce`;
  const body = JSON.stringify({ text: 'maintenance at noon' });
  const denied = await fetch(url, { method: 'POST', body });
  assert.equal(denied.status, 401);
  const wrong = await fetch(url, { method: 'POST', body, headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  const ok = await fetch(url, { method: 'POST', body, headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(ok.status, 200);
  const stored = await ok.json();
  const ann = await chatEvent(b, 'room_message', (x) => x.data.event === 'announcement');
  assert.equal(ann.data.text, 'maintenance at noon');
  assert.equal(ann.data.id, stored.id);
  // The refused posts left no trace: exactly one announcement.
  assert.equal(b.chat.all((e) => e.args[0]?.data?.event === 'announcement').length, 1);

  await b.ack('leave_room');
  const l = await chatEvent(a, 'room_message', (x) => x.data.event === 'user_left' && x.data.user.id === b.user.id);
  assert.equal(l.from, 0);
});

test('CH-4: history on join (last 50) and on request with before/limit', async () => {
  const a = await joined('Gus', 14);
  for (let i = 0; i < 55; i++) await a.ack('room_message', { type: 'chat', data: { text: `m${i}` } });
  const b = await Client.connect(server.url, { name: 'Hal' });
  b.emit('join_room', { room: 14 });
  const h = await chatEvent(b, 'server_message', (x) => x.data.action === 'history');
  assert.equal(h.data.room, 14);
  assert.equal(h.data.messages.length, 50);
  assert.equal(h.data.messages.at(-1).text, 'm54');
  const ids = h.data.messages.map((m) => m.id);
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y));

  await b.ack('server_message', { type: 'chat', data: { action: 'history', before: ids[0], limit: 3 } });
  const older = await chatEvent(b, 'server_message', (x) => x.data.action === 'history' && x.data.messages.length === 3);
  assert.ok(older.data.messages.every((m) => m.id < ids[0]));
  assert.ok(older.data.messages.at(-1).id < ids[0]);
});

test('CH-6: bad chat input gets request_error and is neither delivered nor stored', async () => {
  const a = await joined('Ivy', 15);
  const b = await joined('Jon', 15);
  const cases = [
    [{ text: '' }, 'bad_request'],
    [{ text: 42 }, 'bad_request'],
    [{}, 'bad_request'],
    [{ text: 'x'.repeat(51) }, 'too_large'],
  ];
  for (const [data, code] of cases) {
    const ack = await a.ack('room_message', { type: 'chat', data });
    assert.equal(ack.error.code, code, JSON.stringify(data));
    const err = await a.next('request_error', { filter: (e) => e.code === code });
    assert.equal(err.event, 'room_message');
  }
  for (const limit of [0, 201, 'x', 1.5]) {
    const ack = await a.ack('server_message', { type: 'chat', data: { action: 'history', limit } });
    assert.equal(ack.error.code, 'bad_request', `limit ${limit}`);
  }
  await a.ack('server_message', { type: 'chat', data: { action: 'history' } });
  const h = await chatEvent(a, 'server_message', (x) => x.data.action === 'history' && x.data.messages.every((m) => m.event || m.text));
  assert.ok(!h.data.messages.some((m) => 'text' in m && m.event === undefined && (m.text === '' || m.text.length > 50)));
  assert.equal(b.chat.all((e) => e.name === 'room_message' && !e.args[0].data.event).length, 0);
});

test('CH-5: every delivered message survives SIGKILL with the same id; ids keep increasing', {
  skip: perProcess('kills the process and starts another on its --data-dir; a cluster keeps chat in PostgreSQL'),
}, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'compeit-crash-'));
  const first = await startServer(['--data-dir', dataDir, '--rate', '100000', '--burst', '100000']);
  const received = new Map();  // id -> text, as any client saw it
  try {
    const clients = await Promise.all(['K1', 'K2', 'K3'].map((n) => Client.connect(first.url, { name: n })));
    for (const c of clients) {
      await c.ack('join_room', { room: 77 });
      c.socket.on('room_message', (m) => { if (m.type === 'chat' && m.data.text) received.set(m.data.id, m.data.text); });
    }
    // Chat flat out from every client, and kill the server in the middle of it.
    let sent = 0;
    const pump = setInterval(() => {
      for (const c of clients) c.emit('room_message', { type: 'chat', data: { text: `${c.user.name}-${sent++}` } });
    }, 1);
    await new Promise((resolve) => {
      const check = setInterval(() => { if (received.size >= 300) { clearInterval(check); resolve(); } }, 5);
    });
    first.proc.kill('SIGKILL');
    await first.exited;
    await first.stop();  // already dead: only removes its own scratch folder
    clearInterval(pump);
    closeAll();
  } catch (e) {
    await first.stop();
    throw e;
  }

  const second = await startServer(['--data-dir', dataDir]);
  try {
    const c = await Client.connect(second.url, { name: 'Auditor' });
    await c.ack('join_room', { room: 77 });
    await chatEvent(c, 'server_message', (x) => x.data.action === 'history');  // the automatic one on join
    const stored = new Map();
    let before;
    for (;;) {  // page through the whole history
      await c.ack('server_message', { type: 'chat', data: { action: 'history', limit: 200, ...(before ? { before } : {}) } });
      const h = await chatEvent(c, 'server_message', (x) => x.data.action === 'history' && (before === undefined || x.data.messages.every((m) => m.id < before)));
      for (const m of h.data.messages) stored.set(m.id, m.text);
      if (h.data.messages.length < 200) break;
      before = h.data.messages[0].id;
    }
    const missing = [...received].filter(([id, text]) => stored.get(id) !== text);
    assert.equal(missing.length, 0, `delivered but not in history: ${JSON.stringify(missing.slice(0, 5))}`);
    assert.ok(received.size >= 300);

    const maxBefore = Math.max(...stored.keys());
    await c.ack('room_message', { type: 'chat', data: { text: 'after the crash' } });
    const m = await chatEvent(c, 'room_message', (x) => x.data.text === 'after the crash');
    assert.ok(m.data.id > maxBefore, `id ${m.data.id} after ${maxBefore}`);
  } finally {
    closeAll();
    await second.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
