// The Chat Agent on PostgreSQL (--chat-db postgresql://...): a scratch
// PostgreSQL 15 (lib/postgres.mjs) shared by compeit-server processes, with the
// real socket.io-client 0.9.6. Committed before delivered, history across
// restarts and across servers, ids in commit order and a contiguous seq per
// room (checked in the database with psql), PostgreSQL going away and coming
// back, and bad --chat-db values. Skipped only when PostgreSQL is not installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { startServer, serverBinary, perProcess } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { startPostgres, postgresMissing } from './lib/postgres.mjs';
import { pollUntil } from './lib/proc.mjs';
import { quietWindow } from './lib/wait.mjs';

const missing = postgresMissing();
const skip = missing ? `PostgreSQL is not installed: ${missing}` : false;
// The unit tests of PgChatStore itself ([.pg], hidden from a plain core_tests run), built next to the server.
const coreTests = process.env.COMPEIT_CORE_TESTS || resolve(dirname(serverBinary), '../tests/unit/core_tests');

let pg;
const servers = [];
before(async () => { if (!skip) pg = await startPostgres(); });
after(async () => {
  closeAll();
  for (const s of servers) await s.stop();
  await pg?.stop();
});

async function server() {
  const s = await startServer(['--chat-db', pg.url, '--rate', '100000', '--burst', '100000']);
  servers.push(s);
  return s;
}

/** Stops a server and checks its whole log never held the database password. */
async function stopped(s) {
  await s.stop();
  assert.ok(!s.stderr().includes(pg.password) && !s.stdout().includes(pg.password), 'the password reached the log');
  assert.match(s.stderr(), /chat history in postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres \(PostgreSQL\)/);
}

const chatEvent = (c, name, pred, timeout = 5000) =>
  c.chat.take((e) => e.name === name && pred(e.args[0]), { timeout, what: `${name} on ${c.user?.name}` })
    .then((e) => e.args[0]);

async function joined(s, name, room) {
  const c = await Client.connect(s.url, { name });
  await c.ack('join_room', { room });
  await chatEvent(c, 'server_message', (x) => x.data.action === 'history');  // the automatic one on join
  return c;
}

const say = (c, text) => c.ack('room_message', { type: 'chat', data: { text } });

/** The whole stored history of the client's room (up to 200 messages), oldest first. */
async function history(c) {
  assert.deepEqual(await c.ack('server_message', { type: 'chat', data: { action: 'history', limit: 200 } }), { ok: true });
  return (await chatEvent(c, 'server_message', (x) => x.data.action === 'history')).data.messages;
}

/** [id, seq] of a room's rows in id order, from the database itself. */
async function stored(room) {
  const rows = await pg.psql(`SELECT id, seq FROM chat_messages WHERE room = ${Number(room)} ORDER BY id`);
  return rows.map(([id, seq]) => [Number(id), Number(seq)]);
}

/** Seq runs 1, 2, 3.. in id order: ids follow the room's commit order, and no number is lost. */
function assertSeqFollowsIds(rows, what) {
  assert.ok(rows.length > 0, `${what}: no rows`);
  assert.deepEqual(rows.map(([, seq]) => seq), rows.map((_, i) => i + 1), `${what}: seq in id order`);
}

const increasing = (ids) => ids.every((id, i) => i === 0 || id > ids[i - 1]);

test('a bad --chat-db exits with a clear error; a password in it never reaches the output', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'compeit-chatdb-'));
  const run = (url) => {
    const r = spawnSync(serverBinary, ['--bind', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--chat-db', url],
      { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.error, undefined, `${url}: ${r.error}`);
    assert.equal(r.signal, null, `${url}: ended by ${r.signal}`);
    assert.notEqual(r.status, 0, `${url}: exit status`);
    assert.doesNotMatch(r.stdout, /listening on/);
    return r.stderr;
  };
  try {
    let err = run('foo://x');
    assert.match(err, /--chat-db foo:\/\/x: unsupported URL scheme "foo"; use postgresql:\/\//);
    assert.match(err, /sqlite:PATH/);

    err = run('mysql://root:hunter2secret@db/chat');
    assert.match(err, /mysql:\/\/root:\*\*\*@db\/chat/);
    assert.ok(!err.includes('hunter2secret'), err);

    assert.match(run('no-scheme-here'), /no URL scheme/);
    assert.match(run('postgresql:/x'), /starts with postgresql:\/\//);
    assert.match(run('sqlite:'), /needs a file path/);

    // Nobody listens on port 1: the server refuses to start, and says where it tried.
    err = run('postgresql://chat:hunter2secret@127.0.0.1:1/chat?connect_timeout=3');
    assert.match(err, /cannot use the chat database postgresql:\/\/chat:\*\*\*@127\.0\.0\.1:1\/chat\?connect_timeout=3/);
    assert.ok(!err.includes('hunter2secret'), err);
    // libpq quotes a malformed escape it found: not when it is the password.
    err = run('postgresql://chat:hunter2%zz@127.0.0.1:1/chat');
    assert.ok(!err.includes('hunter2'), err);
    err = run('postgresql://127.0.0.1:1/chat?password=hunter2secret&connect_timeout=3');
    assert.match(err, /password=\*\*\*/);
    assert.ok(!err.includes('hunter2secret'), err);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('room chat is acked, delivered after COMMIT, stored with seq 1, 2, 3.. per room; user-to-user without', { skip }, async () => {
  const s = await server();
  const a = await joined(s, 'Ann', 21);
  const b = await joined(s, 'Ben', 21);
  const texts = ['one', 'two', 'three', 'four', 'five'];
  for (const t of texts) assert.deepEqual(await say(a, t), { ok: true });
  for (const c of [a, b]) {
    const got = [];
    for (const t of texts) got.push(await chatEvent(c, 'room_message', (x) => x.data.text === t));
    assert.ok(got.every((m) => m.from === a.user.id && m.data.room === 21 && m.data.user.id === a.user.id));
    assert.ok(increasing(got.map((m) => m.data.id)), 'ids increase in the order sent');
  }
  const rows = await stored(21);
  assertSeqFollowsIds(rows, 'room 21');  // Ann's and Ben's user_joined events count too
  const delivered = b.chat.all((e) => e.name === 'room_message').map((e) => e.args[0].data.id);
  const ids = new Set(rows.map(([id]) => id));
  assert.ok(delivered.every((id) => ids.has(id)), 'every delivered id is in PostgreSQL');

  await a.ack('server_message', { to: b.user.id, type: 'chat', data: { text: 'psst' } });
  const p = await chatEvent(b, 'user_message', (x) => x.data.text === 'psst');
  assert.deepEqual(await pg.psql(`SELECT room, seq, to_user FROM chat_messages WHERE id = ${Number(p.data.id)}`),
    [['NULL', 'NULL', String(b.user.id)]]);
  closeAll();
  await stopped(s);
});

test('history survives a server restart (a new data dir: it comes from PostgreSQL)', { skip }, async () => {
  const first = await server();
  const a = await joined(first, 'Cat', 31);
  const sent = [];
  for (const t of ['kept 1', 'kept 2', 'kept 3']) {
    assert.deepEqual(await say(a, t), { ok: true });
    sent.push((await chatEvent(a, 'room_message', (x) => x.data.text === t)).data);
  }
  closeAll();
  await stopped(first);

  const second = await server();
  const c = await Client.connect(second.url, { name: 'Dan' });
  c.emit('join_room', { room: 31 });
  const h = await chatEvent(c, 'server_message', (x) => x.data.action === 'history');
  const kept = h.data.messages.filter((m) => m.text?.startsWith('kept'));
  assert.deepEqual(kept.map((m) => [m.id, m.text, m.user.name]), sent.map((m) => [m.id, m.text, 'Cat']));
  closeAll();
  await stopped(second);
});

test('two servers on one database: each sees the other\'s history; ids and seq follow the commit order', {
  skip: skip || perProcess('two servers that share a database but no cluster: in a cluster the bus delivers and orders chat'),
}, async () => {
  const [s1, s2] = [await server(), await server()];
  const a = await joined(s1, 'Eve', 41);
  const b = await joined(s2, 'Fay', 41);
  const perClient = 40;
  // Both flat out at once: the two servers' transactions contend for the room.
  const acks = await Promise.all([a, b].flatMap((c) =>
    Array.from({ length: perClient }, (_, i) => say(c, `${c.user.name}-${i}`))));
  assert.ok(acks.every((x) => x?.ok === true), JSON.stringify(acks.find((x) => !x?.ok)));

  // Each server delivers to its own members only (no cluster bus here), in id order.
  for (const c of [a, b]) {
    const mine = c.chat.all((e) => e.name === 'room_message' && !e.args[0].data.event).map((e) => e.args[0].data.id);
    assert.equal(mine.length, perClient);
    assert.ok(increasing(mine), `${c.user.name} received ids out of order`);
  }
  // Either server's history holds both servers' messages, the same, in id order.
  const [ha, hb] = [await history(a), await history(b)];
  assert.deepEqual(ha, hb);
  const texts = new Set(ha.map((m) => m.text));
  for (const c of [a, b]) for (let i = 0; i < perClient; i++) assert.ok(texts.has(`${c.user.name}-${i}`));
  assert.ok(increasing(ha.map((m) => m.id)));

  const rows = await stored(41);
  assertSeqFollowsIds(rows, 'room 41');
  assert.deepEqual(rows.map(([id]) => id), ha.map((m) => m.id));
  closeAll();
  await stopped(s1);
  await stopped(s2);
});

test('PostgreSQL down: chat gets request_error unavailable and nothing is delivered; back up: chat works', { skip }, async () => {
  const s = await server();
  const a = await joined(s, 'Gus', 51);
  const b = await joined(s, 'Hal', 51);
  assert.deepEqual(await say(a, 'before'), { ok: true });
  await chatEvent(b, 'room_message', (x) => x.data.text === 'before');

  await pg.crash();
  try {
    // The first finds the connection lost; the next ones find no connection.
    for (const text of ['during 1', 'during 2', 'during 3']) {
      const ack = await say(a, text);
      assert.equal(ack.error?.code, 'unavailable', `${text}: ${JSON.stringify(ack)}`);
      const err = await a.next('request_error', { filter: (e) => e.code === 'unavailable' });
      assert.equal(err.event, 'room_message');
      assert.match(err.message, /chat database unavailable/);
    }
    const h = await a.ack('server_message', { type: 'chat', data: { action: 'history' } });
    assert.equal(h.error?.code, 'unavailable');
    await quietWindow(500);
    for (const c of [a, b]) {
      const leaked = c.chat.all((e) => e.name === 'room_message' && e.args[0].data.text?.startsWith('during'));
      assert.deepEqual(leaked, [], `delivered without a COMMIT to ${c.user.name}`);
    }
  } finally {
    await pg.start();
  }

  // Back: the store reconnects on a later batch (with backoff), and says so.
  let n = 0;
  const ok = await pollUntil(async () => {
    const text = `after ${n++}`;
    return (await say(a, text)).ok ? text : null;
  }, { timeoutMs: 20000, intervalMs: 250, what: 'chat to work again after PostgreSQL restarted' });
  await chatEvent(b, 'room_message', (x) => x.data.text === ok);
  assert.match(s.stderr(), /chat database postgresql:\/\/postgres:\*\*\*@[^ ]+: connected again/);

  const texts = (await history(b)).map((m) => m.text);
  assert.ok(texts.includes('before') && texts.includes(ok));
  assert.ok(!texts.some((t) => t?.startsWith('during')), 'a failed message is in the history');
  assertSeqFollowsIds(await stored(51), 'room 51');
  closeAll();
  await stopped(s);
});

test('the store itself on this PostgreSQL (core_tests [pg]): two stores in one room, user id blocks, retention, bad rows, reconnects',
  { skip: skip || (!existsSync(coreTests) && `core_tests not built at ${coreTests} (set COMPEIT_CORE_TESTS)`) }, async () => {
    const { code, out } = await new Promise((res) => {
      execFile(coreTests, ['[pg]'], { env: { ...process.env, COMPEIT_TEST_PG_URL: pg.url }, timeout: 180000, encoding: 'utf8' },
        (err, stdout, stderr) => res({ code: err ? (err.code ?? err.signal) : 0, out: stdout + stderr }));
    });
    assert.equal(code, 0, out.slice(-6000));
    assert.match(out, /All tests passed \(\d+ assertions in 5 test cases\)/, out.slice(-3000));
  });
