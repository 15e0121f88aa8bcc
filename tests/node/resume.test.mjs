// Session resume (docs/protocol.md §8) over the network: a raw client that
// asked for a token loses its TCP connection abruptly (some frames written to
// it never read), comes back with the token and the count of events it read,
// and gets the rest exactly once, in order, while the others see nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, clusterTodo } from './lib/server.mjs';
import { openAgentWs, httpRequest } from './lib/raw.mjs';
import { quietWindow } from './lib/wait.mjs';
import { parsePrometheus, sampleSum } from './lib/prometheus.mjs';

const servers = [];
after(async () => { for (const s of servers) await s.stop(); });
const server = async (args = []) => { const s = await startServer(args); servers.push(s); return s; };

const skip = clusterTodo('resume is off with --cluster');

let ids = 0;
const nextId = () => String(++ids);

/** Joins `room` and waits for the ack. */
async function join(ws, room) {
  const id = nextId();
  ws.emit('join_room', [{ room }], { id });
  const ack = await ws.nextAck(id);
  assert.equal(ack.room, room);
}

/** A room message (B) or user message (to `to`) of type game, acked. */
async function send(ws, data, to) {
  const id = nextId();
  ws.emit(to === undefined ? 'room_message' : 'server_message', [{ type: 'game', data, ...(to === undefined ? {} : { to }) }], { id });
  assert.deepEqual(await ws.nextAck(id), { ok: true });
}

const resumable = (port, name, resume, seen) =>
  openAgentWs(port, { name, connectData: `?resume=${encodeURIComponent(resume)}${seen === undefined ? '' : `&seen=${seen}`}` });

/** The game messages (room and user) among a raw client's events, as [event, data]. */
const games = (ws) => ws.namespaceEvents().filter((p) => p.args[0]?.type === 'game').map((p) => [p.name, p.args[0].data]);

/** The sum of a metric's samples matching `labels`, now. */
async function metric(port, name, labels = {}) {
  const res = await httpRequest(port, { path: '/metrics' });
  assert.equal(res.status, 200);
  const family = parsePrometheus(res.body).get(name);
  return (family?.samples ?? []).filter((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    .reduce((sum, x) => sum + x.value, 0);
}

/** Waits (bounded) until the server has parked `n` users: it noticed the lost connections. */
async function parked(port, n) {
  const deadline = Date.now() + 5000;
  while (await metric(port, 'compeit_sessions_parked') !== n) {
    if (Date.now() > deadline) throw new Error(`the server never parked ${n} users`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Events about user `id` joining or leaving, seen by `ws`. */
const membership = (ws, id) => ws.namespaceEvents().filter((p) => (p.name === 'user_left' || p.name === 'user_joined') && p.args[0].user.id === id);

test('a lost connection resumes: same user and room, missed room and user messages once and in order, nobody told', { skip }, async () => {
  const { port } = await server();
  const { ws: a, connected } = await resumable(port, 'A', '1');
  assert.match(connected.resume, /^\d+\.[A-Za-z0-9_-]{22}$/);
  const { ws: b } = await openAgentWs(port, { name: 'B' });
  const { ws: c } = await openAgentWs(port, { name: 'C' });
  await join(a, 5); await join(b, 5); await join(c, 5);
  const me = connected.user.id;

  await send(b, { n: 1 });
  await send(c, { u: 1 }, me);
  await a.nextPacket((p) => p.name === 'user_message' && p.args[0].data.u === 1);
  const bad = nextId();  // a request_error belongs to its connection: neither counted nor replayed
  a.emit('join_room', [{ room: -1 }], { id: bad });
  assert.equal((await a.nextAck(bad)).error.code, 'bad_request');
  await a.nextEvent('request_error');
  // A stops reading: what follows is written to its socket and never read.
  a.sock.pause();
  const seen = a.namespaceEvents().length;
  await send(b, { n: 2 });
  await send(c, { u: 2 }, me);
  a.sock.destroy();  // the connection is gone, abruptly
  await parked(port, 1);
  await send(b, { n: 3 });
  await send(c, { u: 3 }, me);

  const { ws: a2, connected: back } = await resumable(port, 'A', connected.resume, seen);
  assert.equal(back.resumed, true);
  assert.equal(back.missed, undefined);
  assert.equal(back.user.id, me);
  assert.ok(back.resume && back.resume !== connected.resume, 'a new token');
  await a2.nextPacket((p) => p.name === 'user_message' && p.args[0].data.u === 3);
  await send(b, { n: 4 });  // the room is still A's: live messages go on
  await a2.nextPacket((p) => p.name === 'room_message' && p.args[0].data.n === 4);
  await quietWindow(200);

  const all = [...games(a), ...games(a2)];
  assert.deepEqual(all, [
    ['room_message', { n: 1 }], ['user_message', { u: 1 }],
    ['room_message', { n: 2 }], ['user_message', { u: 2 }],
    ['room_message', { n: 3 }], ['user_message', { u: 3 }],
    ['room_message', { n: 4 }],
  ]);
  assert.deepEqual(games(a2).slice(0, 4).map(([, d]) => d), [{ n: 2 }, { u: 2 }, { n: 3 }, { u: 3 }],
    'exactly the events after `seen`, the unread ones included');
  assert.equal(a2.namespaceEvents().filter((p) => p.name === 'room_joined').length, 0, 'no rejoin: the room was kept');
  for (const other of [b, c]) assert.deepEqual(membership(other, me), [], 'the others saw no user_left or user_joined of A');

  // The room still lists A once, under the same id.
  const d = await openAgentWs(port, { name: 'D' });
  const id = nextId();
  d.ws.emit('join_room', [{ room: 5 }], { id });
  const joined = await d.ws.nextAck(id);
  assert.deepEqual(joined.users.map((u) => u.id).filter((x) => x === me), [me]);
  assert.equal(await metric(port, 'compeit_session_resumes_total', { result: 'ok' }), 1);
  assert.equal(await metric(port, 'compeit_sessions_parked'), 0);
  for (const ws of [a2, b, c, d.ws]) ws.destroy();
});

test('a bad or already used token is refused with `missed` and a fresh user, and touches nobody', { skip }, async () => {
  const { port } = await server();
  const { ws: a, connected } = await resumable(port, 'A', '1');
  const { ws: b } = await openAgentWs(port, { name: 'B' });
  await join(a, 6); await join(b, 6);
  const me = connected.user.id;

  for (const bad of [`${me}.${'A'.repeat(22)}`, 'garbage', `${me}.`, '', `${me}.${'A'.repeat(5000)}`]) {
    const { ws, connected: c } = await resumable(port, 'X', bad, 0);
    assert.equal(c.missed, true, `token ${JSON.stringify(bad.slice(0, 40))}`);
    assert.notEqual(c.user.id, me);
    ws.destroy();
  }
  const seen = a.namespaceEvents().length;
  a.destroy();
  const { ws: a2, connected: back } = await resumable(port, 'A', connected.resume, seen);
  assert.equal(back.resumed, true);
  const { ws: thief, connected: used } = await resumable(port, 'A', connected.resume, seen);  // single use
  assert.equal(used.missed, true);
  assert.notEqual(used.user.id, me);
  await quietWindow(300);
  assert.deepEqual(membership(b, me), [], 'A was left alone');
  await send(b, { still: 'here' });
  await a2.nextPacket((p) => p.name === 'room_message' && p.args[0].data.still === 'here');
  for (const ws of [a2, b, thief]) ws.destroy();
});

test('beyond the buffer the parked user leaves and the client is told `missed`, then joins fresh', { skip }, async () => {
  const { port } = await server(['--resume-buffer', '3']);
  const { ws: a, connected } = await resumable(port, 'A', '1');
  const { ws: b, user: bUser } = await openAgentWs(port, { name: 'B' });
  await join(a, 7); await join(b, 7);
  const me = connected.user.id;
  // The chat agent announces B's join to the room once its store has it: A
  // waits for that, so that only B's messages below reach A while parked.
  await a.nextPacket((p) => p.name === 'room_message' && p.args[0].type === 'chat' &&
    p.args[0].data?.event === 'user_joined' && p.args[0].data.user?.id === bUser.id);
  const seen = a.namespaceEvents().length;
  a.destroy();
  await parked(port, 1);
  for (let i = 1; i <= 3; i++) await send(b, { n: i });  // what A's buffer holds
  await quietWindow(300);
  assert.deepEqual(membership(b, me), [], 'still parked');
  await send(b, { n: 4 });  // one more
  const left = await b.nextEvent('user_left');
  assert.equal(left.user.id, me);
  await quietWindow(200);
  assert.equal(membership(b, me).filter((p) => p.name === 'user_left').length, 1, 'one user_left');

  const { ws: a2, connected: back } = await resumable(port, 'A', connected.resume, seen);
  assert.equal(back.missed, true);
  assert.equal(back.resumed, undefined);
  assert.notEqual(back.user.id, me);
  assert.ok(back.resume, 'a token for the fresh session');
  await join(a2, 7);
  const joined = await b.nextEvent('user_joined');
  assert.equal(joined.user.id, back.user.id);
  for (const ws of [a2, b]) ws.destroy();
});

test('a parked user whose client does not come back leaves after --resume-timeout', { skip }, async () => {
  const { port } = await server(['--resume-timeout', '0.5']);
  const { ws: a, connected } = await resumable(port, 'A', '1');
  const { ws: b } = await openAgentWs(port, { name: 'B' });
  await join(a, 8); await join(b, 8);
  const t0 = Date.now();
  a.destroy();
  const left = await b.nextEvent('user_left', { timeout: 3000 });
  assert.equal(left.user.id, connected.user.id);
  assert.ok(Date.now() - t0 >= 400, 'not before the timeout');
  b.destroy();
});

test('a client that does not ask (socket.io 0.9.6) gets `connected` as ever and leaves with its connection', async () => {
  const { port } = await server();
  const { ws: p } = await openAgentWs(port, { name: 'P' });
  const raw = p.inbox.all().find((m) => m.includes('"connected"'));
  assert.equal(raw, `5::/connection_agent:{"name":"connected","args":[{"user":{"id":${p.user.id},"name":"P"}}]}`);
  const { ws: b } = await openAgentWs(port, { name: 'B' });
  await join(p, 9); await join(b, 9);
  p.destroy();
  const left = await b.nextEvent('user_left');
  assert.equal(left.user.id, p.user.id);
  b.destroy();
});
