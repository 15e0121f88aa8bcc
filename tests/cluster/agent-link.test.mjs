// The agent link in a cluster (docs/agents.md, "Cluster mode"): an external
// agent links to every node and serves the users of all of them from one
// state. Two --cluster nodes with --agent-secret; users connect to each node
// directly, so they are on different nodes for sure.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../node/lib/cluster.mjs';
import { redisMissing } from '../node/lib/redis.mjs';
import { haproxyMissing } from '../node/lib/haproxy.mjs';
import { postgresMissing } from '../node/lib/postgres.mjs';
import { Client, closeAll } from '../node/lib/client.mjs';
import { openLink, startPollAgent } from '../node/lib/agent-link.mjs';

const missing = haproxyMissing() ?? redisMissing() ?? postgresMissing();
const skip = missing ? `not installed: ${missing}` : false;
const SECRET = 'agent-secret-for-cluster-tests';

let cluster;
const nodeUrl = (i) => cluster.nodes[i].server.url;
const agents = [];
const links = [];

before(async () => {
  if (!skip) cluster = await startCluster({ nodes: 2, args: ['--agent-secret', SECRET] });
});
afterEach(async () => {
  closeAll();
  for (const l of links.splice(0)) l.ws.terminate();
  for (const a of agents.splice(0)) await a.stop();
});
after(async () => {
  await cluster?.stop();
});

async function joined(node, name, room) {
  const c = await Client.connect(nodeUrl(node), { name });
  await c.ack('join_room', { room });
  return c;
}
const poll = (c, data) => c.ack('server_message', { type: 'poll', data });
const pollMessage = async (c, filter = () => true) =>
  (await c.next('room_message', { filter: (m) => m.type === 'poll' && m.from === 0 && filter(m.data) })).data;

test('one poll agent linked to both nodes serves a room that spans them', { skip, timeout: 30000 }, async () => {
  agents.push(await startPollAgent([nodeUrl(0), nodeUrl(1)], SECRET));
  const alice = await joined(0, 'Alice', 71);
  const bob = await joined(1, 'Bob', 71);

  // Opened on n1, voted on n2: one set of polls, and every post reaches both nodes.
  assert.deepEqual(await poll(alice, { action: 'open', question: 'Where?', options: ['here', 'there'] }), { ok: true });
  const opened = await pollMessage(bob);
  assert.deepEqual(opened.votes, [0, 0]);
  assert.deepEqual(await poll(bob, { action: 'vote', id: opened.id, option: 1 }), { ok: true });
  assert.deepEqual((await pollMessage(alice, (d) => d.votes[1] === 1)).votes, [0, 1]);
  assert.deepEqual(await poll(alice, { action: 'vote', id: opened.id, option: 1 }), { ok: true });
  assert.deepEqual((await pollMessage(bob, (d) => d.votes[1] === 2)).votes, [0, 2]);
  // Only the opener, whichever node the closer is on.
  assert.equal((await poll(bob, { action: 'close', id: opened.id })).error.code, 'forbidden');
  assert.deepEqual(await poll(alice, { action: 'close', id: opened.id }), { ok: true });
  assert.ok((await pollMessage(bob, (d) => d.closed)).closed);
});

test("a link's member list is the room's on every node, in join order", { skip }, async () => {
  const l = await openLink(nodeUrl(0), SECRET);
  links.push(l);
  assert.equal((await l.register(['roster'])).op, 'registered');
  l.send({ op: 'watch', rooms: [72] });
  await l.next('watching');
  const ada = await joined(0, 'Ada', 72);
  const bo = await joined(1, 'Bo', 72);
  const cy = await joined(0, 'Cy', 72);
  l.send({ op: 'members', room: 72, ref: 'm1' });
  const members = await l.next('members', { filter: (f) => f.ref === 'm1' });
  assert.deepEqual(members.users, [ada.user, bo.user, cy.user]);
  // The link hears the joins of its own node's users: Ada and Cy, not Bo (n2's link would).
  const heard = [(await l.next('join')).user.id, (await l.next('join')).user.id];
  assert.deepEqual(heard, [ada.user.id, cy.user.id]);
});
