// The agent link (docs/agents.md): external agents over a websocket, the
// reference poll agent (examples/agents/poll/agent.mjs) with socket.io-client
// 0.9.6 users, and hostile or slow link peers.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, perProcess } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { openLink, startPollAgent } from './lib/agent-link.mjs';
import { httpRequest } from './lib/raw.mjs';
import { freePort } from './lib/daemon.mjs';
import { pollUntil } from './lib/proc.mjs';
import { withTimeout } from './lib/wait.mjs';
import { SECRET as AUTH_SECRET, hs256, claims } from './lib/tokens.mjs';

const SECRET = 'agent-secret-for-tests';
// A raw link serves its own node's users, and clients through haproxy land on
// any node: those tests are one process's (tests/cluster/agent-link.test.mjs
// covers links in a cluster). The poll agent links to every node.
const oneNode = perProcess("a raw link serves its node's users only (tests/cluster/agent-link.test.mjs)");
let srv;
let nextRoom = 500;
const freshRoom = () => nextRoom++;
const links = [];
const agents = [];

before(async () => {
  srv = await startServer(['--agent-secret', SECRET, '--agent-timeout', '1']);
});
/** Where an agent links: the server, or every node of a cluster. */
const everyNode = () => srv.cluster?.nodes.map((n) => n.server.url) ?? srv.url;
afterEach(async () => {
  closeAll();
  for (const l of links.splice(0)) l.ws.terminate();
  for (const a of agents.splice(0)) await a.stop();
});
after(async () => {
  const alive = srv?.alive();
  await srv?.stop();
  assert.ok(alive !== false, 'the server died during the test file');
});

const connect = (name) => Client.connect(srv.url, { name });
async function link(url = srv.url) {
  const l = await openLink(url, SECRET);
  links.push(l);
  return l;
}
async function joined(name, room) {
  const c = await connect(name);
  await c.ack('join_room', { room });
  return c;
}
const poll = (c, data) => c.ack('server_message', { type: 'poll', data });
/** data of the next poll message the server posted to c's room. */
const pollMessage = async (c, filter = () => true) =>
  (await c.next('room_message', { filter: (m) => m.type === 'poll' && m.from === 0 && filter(m.data) })).data;

test('the poll agent: open, vote, move a vote, close; the room sees the counts', async () => {
  agents.push(await startPollAgent(everyNode(), SECRET));
  const room = freshRoom();
  const alice = await joined('Alice', room);
  const bob = await joined('Bob', room);
  const other = await joined('Carol', freshRoom());

  assert.deepEqual(await poll(alice, { action: 'open', question: 'Lunch?', options: ['pizza', 'soup'] }), { ok: true });
  const opened = await pollMessage(bob);
  assert.deepEqual(opened, { action: 'poll', id: opened.id, question: 'Lunch?', options: ['pizza', 'soup'], votes: [0, 0] });
  await pollMessage(alice);

  assert.deepEqual(await poll(bob, { action: 'vote', id: opened.id, option: 1 }), { ok: true });
  assert.deepEqual((await pollMessage(alice)).votes, [0, 1]);
  await poll(bob, { action: 'vote', id: opened.id, option: 0 });  // moves it
  assert.deepEqual((await pollMessage(alice)).votes, [1, 0]);
  await poll(alice, { action: 'vote', id: opened.id, option: 0 });
  assert.deepEqual((await pollMessage(bob, (d) => d.votes[0] === 2)).votes, [2, 0]);

  const refused = await poll(bob, { action: 'close', id: opened.id });
  assert.equal(refused.error.code, 'forbidden');
  const wrongRoom = await poll(other, { action: 'vote', id: opened.id, option: 0 });
  assert.equal(wrongRoom.error.code, 'bad_request');
  assert.equal((await poll(alice, { action: 'vote', id: opened.id, option: 7 })).error.code, 'bad_request');

  assert.deepEqual(await poll(alice, { action: 'close', id: opened.id }), { ok: true });
  const closed = await pollMessage(bob, (d) => d.closed);
  assert.deepEqual(closed.votes, [2, 0]);
  await other.none('room_message', 100);
});

test('agent gone: unknown_type; the agent again: it works', async () => {
  const agent = await startPollAgent(everyNode(), SECRET);
  agents.push(agent);
  const alice = await joined('Alice', freshRoom());
  assert.deepEqual(await poll(alice, { action: 'open', question: 'Q', options: ['a', 'b'] }), { ok: true });
  await agent.stop();
  await pollUntil(async () => (await poll(alice, { action: 'open', question: 'Q', options: ['a', 'b'] }))
    .error?.code === 'unknown_type', { what: 'unknown_type once the agent is gone', timeoutMs: 8000 });

  agents.push(await startPollAgent(everyNode(), SECRET));
  assert.deepEqual(await poll(alice, { action: 'open', question: 'Q2', options: ['a', 'b'] }), { ok: true });
  assert.equal((await pollMessage(alice, (d) => d.question === 'Q2')).question, 'Q2');
});

test('the poll agent reconnects when the server comes back', { skip: perProcess('restarts one process on its port'), timeout: 30000 }, async () => {
  const port = await freePort();
  const first = await startServer(['--agent-secret', SECRET, '--port', String(port)]);
  let second;
  try {
    const agent = await startPollAgent(first.url, SECRET);
    agents.push(agent);
    await first.stop();
    second = await startServer(['--agent-secret', SECRET, '--port', String(port)]);
    await agent.serving(15000);
    const alice = await Client.connect(second.url, { name: 'Alice' });
    await alice.ack('join_room', { room: 1 });
    assert.deepEqual(await poll(alice, { action: 'open', question: 'Back?', options: ['y', 'n'] }), { ok: true });
  } finally {
    await first.stop();
    await second?.stop();
  }
});

test('a slow agent: the user gets unavailable after --agent-timeout', { skip: oneNode }, async () => {
  const l = await link();
  assert.equal((await l.register(['slow'])).op, 'registered');
  const alice = await joined('Alice', freshRoom());
  const started = performance.now();
  const answer = alice.ack('server_message', { type: 'slow', data: { q: 1 } });
  const req = await l.next('request');
  assert.equal(req.user.id, alice.user.id);
  const got = await answer;
  assert.equal(got.error.code, 'unavailable');
  assert.ok(performance.now() - started >= 900, 'not before the timeout');
  assert.equal((await l.next('expired')).id, req.id);
  l.send({ op: 'ok', id: req.id, ref: 'late' });
  assert.equal((await l.next('error', { filter: (e) => e.ref === 'late' })).code, 'unknown_request');
});

test('a link without the credential is refused before the upgrade', async () => {
  await assert.rejects(openLink(srv.url, undefined), (e) => e.status === 401);
  await assert.rejects(openLink(srv.url, 'wrong'), (e) => e.status === 403);
  const plain = await httpRequest(srv.port, { path: '/agent_link', headers: { authorization: `Bearer ${SECRET}` } });
  assert.equal(plain.status, 426);
});

test('malformed frames are answered with errors while users go on', { skip: oneNode }, async () => {
  const l = await link();
  await l.register(['garbage']);
  const room = freshRoom();
  const alice = await joined('Alice', room);
  const bob = await joined('Bob', room);
  const bad = ['{', '[]', '{"op":1}', '{"op":"fly","ref":"a"}', '{"op":"ok","id":"x"}', '{"op":"to_room","room":-4,"data":1}',
    JSON.stringify({ op: 'to_room', room, data: 'x'.repeat(70000) })];
  for (const frame of bad) l.send(frame);
  const codes = [];
  for (let i = 0; i < bad.length; i++) codes.push((await l.next('error')).code);
  assert.deepEqual(codes, ['bad_json', 'bad_request', 'bad_request', 'unknown_op', 'bad_request', 'bad_request', 'too_large']);
  assert.equal((await l.register(['chat'])).code, 'type_taken');  // a C++ agent's type

  alice.emit('room_message', { type: 'note', data: 'still here' });
  assert.equal((await bob.next('room_message', { filter: (m) => m.type === 'note' })).data, 'still here');
});

test('a link flooding bad frames is closed', { skip: oneNode }, async () => {
  const l = await link();
  for (let i = 0; i < 300; i++) l.send('nope');
  await l.closed;
  const alice = await joined('Alice', freshRoom());
  assert.equal((await alice.ack('server_message', { type: 'garbage', data: 1 })).error.code, 'unknown_type');
});

test('an agent posts only to rooms it watches; join and leave come from them', { skip: oneNode }, async () => {
  const l = await link();
  await l.register(['scoped']);
  const room = freshRoom();
  const alice = await joined('Alice', room);
  l.send({ op: 'to_room', room, data: 'not yet', ref: 1 });
  assert.equal((await l.next('error', { filter: (e) => e.ref === 1 })).code, 'forbidden');
  l.send({ op: 'to_user', to: alice.user.id, data: 'not yet', ref: 2 });
  assert.equal((await l.next('error', { filter: (e) => e.ref === 2 })).code, 'forbidden');

  l.send({ op: 'watch', rooms: [room] });
  await l.next('watching');
  const bob = await joined('Bob', room);
  assert.deepEqual(await l.next('join'), { op: 'join', room, user: bob.user });
  l.send({ op: 'to_room', room, data: 'now' });
  assert.equal((await alice.next('room_message', { filter: (m) => m.type === 'scoped' })).data, 'now');
  bob.disconnect();
  assert.deepEqual(await l.next('leave'), { op: 'leave', room, user: bob.user });
  await alice.none('room_message', 100, (m) => m.data === 'not yet');
});

test('a link disconnect frees its type at once', { skip: oneNode }, async () => {
  const l = await link();
  await l.register(['brief']);
  await l.close();
  const alice = await joined('Alice', freshRoom());
  assert.equal((await alice.ack('server_message', { type: 'brief', data: 1 })).error.code, 'unknown_type');
  const again = await link();
  assert.equal((await again.register(['brief'])).op, 'registered');
});

test('an access token with an agent claim registers the types it lists, no others', { skip: oneNode }, async () => {
  const tokened = await startServer(['--auth-secret', AUTH_SECRET]);
  try {
    const l = await openLink(tokened.url, hs256(claims({ sub: 'poll-service', rooms: [], agent: ['vote'] })));
    links.push(l);
    assert.equal((await l.register(['other'])).code, 'forbidden');
    assert.deepEqual((await l.register(['vote'])).types, ['vote']);
    await assert.rejects(openLink(tokened.url, hs256(claims({ sub: 'a-user' }))), (e) => e.status === 403);
    await assert.rejects(openLink(tokened.url, SECRET), (e) => e.status === 403);  // no --agent-secret there
  } finally {
    await tokened.stop();
  }
});

test('a link that answers no pings is closed and its type freed', { skip: oneNode }, async () => {
  const deaf = await openLink(srv.url, SECRET, { autoPong: false });
  links.push(deaf);
  await deaf.register(['deaf']);
  const pings = [];
  deaf.ws.on('ping', () => pings.push(performance.now()));
  const alive = await link();  // answers pings (ws does by default): stays
  await alive.register(['alive']);
  await withTimeout(deaf.closed, 8000, 'the server to close the deaf link');
  assert.ok(pings.length >= 2, `pinged ${pings.length} times first`);
  const alice = await joined('Alice', freshRoom());
  assert.equal((await alice.ack('server_message', { type: 'deaf', data: 1 })).error.code, 'unknown_type');
  alive.send({ op: 'members', room: 1, ref: 'still' });
  assert.equal((await alive.next('error', { filter: (e) => e.ref === 'still' })).code, 'forbidden');
});
