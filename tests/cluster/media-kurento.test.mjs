// The Kurento Agent across nodes with a media server (the FAKE KMS of
// tests/fake-kms, shared by both nodes): the room's owner node makes the
// pipeline; when it dies, the node that takes the room over tells the room
// its streams are gone and releases the dead owner's pipeline on KMS.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../node/lib/cluster.mjs';
import { redisMissing } from '../node/lib/redis.mjs';
import { haproxyMissing } from '../node/lib/haproxy.mjs';
import { postgresMissing } from '../node/lib/postgres.mjs';
import { Client, closeAll } from '../node/lib/client.mjs';
import { startFakeKms } from '../fake-kms/fake-kms.mjs';
import { OFFER, RECV_OFFER } from '../node/lib/sdp.mjs';

const missing = haproxyMissing() ?? redisMissing() ?? postgresMissing();
const skip = missing ? `not installed: ${missing}` : false;
const REAP_MS = 10000;

let kms;
let cluster;

before(async () => {
  if (skip) return;
  kms = await startFakeKms();
  cluster = await startCluster({ nodes: 2, args: ['--media', 'kurento', '--kms-url', kms.url] });
});
afterEach(() => closeAll());
after(async () => {
  await cluster?.stop();
  await kms?.close();
});

const isMedia = (action, filter = () => true) => (m) => m.type === 'kurento' && m.data?.action === action && filter(m.data);
// The agent's messages to one user are server_messages, to the room room_messages (from 0).
const ROOM_ACTIONS = new Set(['stream_added', 'stream_removed', 'stream_updated']);
const media = (c, data) => c.ack('server_message', { type: 'kurento', data });
const next = async (c, action, filter, timeout = 5000) =>
  (await c.next(ROOM_ACTIONS.has(action) ? 'room_message' : 'server_message', { filter: isMedia(action, filter), timeout })).data;

test('sfu: a publisher and a subscriber on two nodes; the owner dies, its pipeline is released by the successor',
  { skip, timeout: 60000 }, async () => {
    const ROOM = 91;
    const a = await Client.connect(cluster.nodes[0].server.url, { name: 'Ada' });
    await a.ack('join_room', { room: ROOM });  // n1 owns the room
    const b = await Client.connect(cluster.nodes[1].server.url, { name: 'Bo' });
    await b.ack('join_room', { room: ROOM });
    assert.equal(b.count('server_message', isMedia('config', (d) => d.mode === 'sfu')), 1);

    // Bo (n2) publishes: the owner (n1) makes the pipeline and the endpoint.
    assert.deepEqual(await media(b, { action: 'publish', sdp: OFFER }), { ok: true });
    assert.match((await next(b, 'published')).sdp, /^v=0/);
    await next(a, 'stream_added');
    const [pipeline] = kms.liveObjects('MediaPipeline');
    assert.ok(pipeline, 'a pipeline on KMS');
    assert.equal(kms.liveObjects('MediaPipeline').length, 1);

    // Ada (n1) subscribes: an answer from KMS through the owner, on the same pipeline.
    assert.deepEqual(await media(a, { action: 'subscribe', user: b.user.id, sdp: RECV_OFFER }), { ok: true });
    assert.match((await next(a, 'subscribed')).sdp, /^v=0/);
    assert.equal(kms.liveObjects('WebRtcEndpoint').length, 2);

    // kill -9 of the owner: n2 takes the room over when Ada is reaped, Bo
    // hears his stream is gone, and the dead owner's pipeline is released.
    await cluster.kill9Node(0);
    assert.equal((await next(b, 'stream_removed', () => true, REAP_MS)).user, b.user.id);
    await kms.until(() => !kms.liveObjects().some((o) => o.id === pipeline.id), "the dead owner's pipeline released");
    assert.equal(kms.liveObjects('WebRtcEndpoint').length, 0, 'its endpoints with it');

    // Publishing again works, on a new pipeline of the new owner.
    assert.deepEqual(await media(b, { action: 'publish', sdp: OFFER }), { ok: true });
    await next(b, 'published');
    const pipelines = kms.liveObjects('MediaPipeline');
    assert.equal(pipelines.length, 1);
    assert.notEqual(pipelines[0].id, pipeline.id);
  });
