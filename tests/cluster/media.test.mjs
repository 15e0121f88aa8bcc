// The Kurento Agent across nodes (docs/protocol.md §6): one owner node per
// room keeps its streams; requests of users on other nodes are forwarded to
// it, and a survivor takes the room over when the owner dies. Three --cluster
// nodes in mesh mode; users connect to each node directly, so they are on
// different nodes for sure.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../node/lib/cluster.mjs';
import { redisMissing } from '../node/lib/redis.mjs';
import { haproxyMissing } from '../node/lib/haproxy.mjs';
import { postgresMissing } from '../node/lib/postgres.mjs';
import { Client, closeAll } from '../node/lib/client.mjs';
import { pollUntil } from '../node/lib/proc.mjs';

const missing = haproxyMissing() ?? redisMissing() ?? postgresMissing();
const skip = missing ? `not installed: ${missing}` : false;
const REAP_MS = 10000;  // liveness TTL 3 s + a beat + slack for a loaded machine

let cluster;
const nodeUrl = (i) => cluster.nodes[i].server.url;

before(async () => {
  if (!skip) cluster = await startCluster({ nodes: 3 });
});
afterEach(() => closeAll());
after(async () => {
  await cluster?.stop();
});

const isMedia = (action, filter = () => true) => (m) => m.type === 'kurento' && m.data?.action === action && filter(m.data);
// The agent's messages to one user are server_messages, to the room room_messages (from 0).
const ROOM_ACTIONS = new Set(['stream_added', 'stream_removed', 'stream_updated']);
const media = (c, data) => c.ack('server_message', { type: 'kurento', data });
const next = async (c, action, filter, timeout = 5000) =>
  (await c.next(ROOM_ACTIONS.has(action) ? 'room_message' : 'server_message', { filter: isMedia(action, filter), timeout })).data;

async function joined(node, name, room) {
  const c = await Client.connect(nodeUrl(node), { name });
  const ack = await c.ack('join_room', { room });
  assert.equal(ack.room, room);
  // The join's ack comes after the media state, wherever the room's owner is.
  assert.equal(c.count('server_message', isMedia('config')), 1, `${name}: config before the join ack`);
  assert.equal(c.count('server_message', isMedia('streams')), 1, `${name}: streams before the join ack`);
  return c;
}

test('mesh signalling in a room that spans three nodes; the owner dies and a survivor takes the room over',
  { skip, timeout: 60000 }, async () => {
    const ROOM = 81;
    const a = await joined(0, 'Ada', ROOM);  // n1 acts first: it owns the room
    const b = await joined(1, 'Bo', ROOM);
    const c = await joined(2, 'Cy', ROOM);

    // Cy (n3) publishes: through the owner (n1), to everyone.
    assert.deepEqual(await media(c, { action: 'publish', audio: true, video: true }), { ok: true });
    for (const x of [a, b, c]) assert.equal((await next(x, 'stream_added')).stream.user, c.user.id);
    await next(c, 'published');

    // Bo (n2) subscribes to Cy (n3): Cy is asked and answers; Bo is subscribed.
    assert.deepEqual(await media(b, { action: 'subscribe', user: c.user.id, sdp: 'v=0 offer from Bo' }), { ok: true });
    const asked = await next(c, 'subscribe_request');
    assert.equal(asked.user, b.user.id);
    assert.equal(asked.sdp, 'v=0 offer from Bo');
    assert.deepEqual(await media(c, { action: 'subscribe_answer', user: b.user.id, sdp: 'v=0 answer from Cy' }), { ok: true });
    assert.equal((await next(b, 'subscribed')).sdp, 'v=0 answer from Cy');

    // Candidates both ways, `peer` rewritten to the sender.
    const candidate = { candidate: 'candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
    assert.deepEqual(await media(b, { action: 'ice_candidate', user: c.user.id, peer: c.user.id, candidate }), { ok: true });
    assert.equal((await next(c, 'ice_candidate')).peer, b.user.id);
    assert.deepEqual(await media(c, { action: 'ice_candidate', user: c.user.id, peer: b.user.id, candidate }), { ok: true });
    assert.equal((await next(b, 'ice_candidate')).peer, c.user.id);

    // A refusal by the owner reaches the requester on its node, request_error and ack.
    const refused = await media(b, { action: 'unpublish' });
    assert.equal(refused.error.code, 'bad_request');
    assert.equal((await b.next('request_error')).type, 'kurento');

    // Unpublish: the room hears stream_removed; publish again for the takeover below.
    assert.deepEqual(await media(c, { action: 'unpublish' }), { ok: true });
    for (const x of [a, b]) assert.equal((await next(x, 'stream_removed')).user, c.user.id);
    assert.deepEqual(await media(c, { action: 'publish', audio: true, video: false }), { ok: true });
    for (const x of [a, b]) await next(x, 'stream_added');
    assert.deepEqual(await media(b, { action: 'publish' }), { ok: true });  // Bo publishes too
    for (const x of [a, c]) await next(x, 'stream_added', (d) => d.stream.user === b.user.id);

    // kill -9 of the owner (n1). Ada is reaped on a survivor; her leave finds
    // the owner dead: that node takes the room over and removes the streams
    // the dead owner recorded (the clients publish again).
    await cluster.kill9Node(0);
    const removed = async (x) => {
      const users = new Set();
      while (users.size < 2) users.add((await next(x, 'stream_removed', () => true, REAP_MS)).user);
      return [...users].sort();
    };
    const both = [b.user.id, c.user.id].sort();
    assert.deepEqual(await removed(b), both);
    assert.deepEqual(await removed(c), both);
    await b.next('user_left', { filter: (m) => m.user.id === a.user.id, timeout: REAP_MS });

    // Publishing works again, through the new owner.
    assert.deepEqual(await media(c, { action: 'publish' }), { ok: true });
    assert.equal((await next(b, 'stream_added', (d) => d.stream.user === c.user.id)).stream.user, c.user.id);
    assert.deepEqual(await media(b, { action: 'subscribe', user: c.user.id, sdp: 'v=0 again' }), { ok: true });
    assert.equal((await next(c, 'subscribe_request', (d) => d.sdp === 'v=0 again')).user, b.user.id);
    // And a newcomer on yet another node sees the stream in its initial state.
    const d = await Client.connect(nodeUrl(1), { name: 'Di' });
    await d.ack('join_room', { room: ROOM });
    const streams = (await next(d, 'streams')).streams;
    assert.deepEqual(streams.map((s) => s.user), [c.user.id]);
  });

test('with Redis down, a media request of a room owned elsewhere fails with unavailable; nothing is queued',
  { skip, timeout: 60000 }, async () => {
    const ROOM = 82;
    const x = await joined(1, 'Ex', ROOM);
    const y = await joined(2, 'Wy', ROOM);
    await cluster.redis.kill9();
    try {
      const answer = await media(y, { action: 'publish' });
      assert.equal(answer.error.code, 'unavailable');
    } finally {
      await cluster.redis.restart();
    }
    await x.none('room_message', 500, isMedia('stream_added'));
  });

test('the owner restarts under its name: its new run takes the room over on the next call and removes the old streams',
  { skip, timeout: 60000 }, async () => {
    const ROOM = 83;
    // n2 acts first in this room (n1 was killed by the first test): it owns the room.
    const a = await joined(1, 'Al', ROOM);
    const b = await joined(2, 'Be', ROOM);
    assert.deepEqual(await media(b, { action: 'publish' }), { ok: true });
    await next(a, 'stream_added');
    // Al leaves: the owner keeps the claim with no user of its own in the room,
    // so its restart reaps nobody here; kill -9 and restart quickly.
    await a.ack('leave_room');
    await cluster.kill9Node(1);
    await cluster.restartNode(1);
    await pollUntil(() => /cluster: connected to Redis/.test(cluster.nodes[1].server.stderr()),
      { timeoutMs: 10000, what: 'n2 to connect to Redis after its restart' });
    // Be's next call reaches n2's new run (or, had n2 looked dead meanwhile,
    // claims the room itself): either way the old run's streams are removed.
    const answer = await media(b, { action: 'update_stream', video: false });
    assert.equal(answer.error?.code, 'bad_request', 'the stream went with the old run');
    assert.equal((await next(b, 'stream_removed')).user, b.user.id);
    assert.deepEqual(await media(b, { action: 'publish' }), { ok: true });
    const c = await Client.connect(nodeUrl(1), { name: 'Ce' });  // on the restarted node
    await c.ack('join_room', { room: ROOM });
    assert.deepEqual((await next(c, 'streams')).streams.map((s) => s.user), [b.user.id]);
  });

