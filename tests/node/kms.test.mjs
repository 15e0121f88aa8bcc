// The Kurento Agent in `kurento` media mode (--media kurento) against the
// FAKE Kurento Media Server in tests/fake-kms (a test double: no media moves).
// Publish, subscribe, ICE both ways, filters and recording become KMS
// objects; leaving, unpublishing and losing the media server release every
// one of them (the fake's live-object registry ends empty); media-server
// failures reach the requester as request_error (KU-7).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, perProcess, clusterSize } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { startFakeKms } from '../fake-kms/fake-kms.mjs';
import { OFFER, RECV_OFFER, CANDIDATE } from './lib/sdp.mjs';

let kms;
let server;
let recordDir;
let nextRoom = 100;
// Every node of a cluster has its own connection to the media server: waits for connections count them all.
const NODES = Math.max(1, clusterSize);

before(async () => {
  kms = await startFakeKms();
  recordDir = mkdtempSync(join(tmpdir(), 'compeit-rec-'));
  server = await startServer(['--media', 'kurento', '--kms-url', kms.url, '--record-dir', recordDir]);
  await kms.waitForConnections(NODES);
});
after(async () => {
  closeAll();
  await server?.stop();
  await kms?.close();
  rmSync(recordDir, { recursive: true, force: true });
});
afterEach(() => {
  closeAll();
  assert.deepEqual(kms.violations, [], 'every request to the media server is well-formed');
});


const send = (c, data) => c.ack('server_message', { type: 'kurento', data });
const ku = (c, action, pred = () => true, timeout = 5000) =>
  c.next('server_message', { filter: (m) => m?.type === 'kurento' && m.data?.action === action && pred(m.data), timeout })
    .then((m) => m.data);
const kuRoom = (c, action, pred = () => true) =>
  c.next('room_message', { filter: (m) => m?.type === 'kurento' && m.from === 0 && m.data?.action === action && pred(m.data) })
    .then((m) => m.data);

async function joined(name, room) {
  const c = await Client.connect(server.url, { name });
  assert.equal((await c.ack('join_room', { room })).room, room);
  return c;
}

// The server releases KMS objects with requests it does not wait for, and may
// answer the browser before KMS has read them: two connections, no order
// between them. So a check of what KMS holds after a release waits for the
// fake to have handled the server's requests (kms.until: no polling).
const eventually = (check, what, timeout = 5000) => kms.until(check, what, timeout);
const liveIds = () => kms.liveObjects().map((o) => o.id).sort();

const allReleased = (what = 'every KMS object released') =>
  eventually(() => kms.liveObjects().length === 0, () => `${what}; live: ${JSON.stringify(liveIds())}`);

async function publishing(c, room) {
  assert.deepEqual(await send(c, { action: 'publish', sdp: OFFER, audio: true, video: true }), { ok: true });
  const published = await ku(c, 'published');
  await kuRoom(c, 'stream_added', (d) => d.stream.user === c.user.id);
  return published;
}

test('KU-1: config says sfu; the subscriber offers (KU-3 as written), so no offerer and no answer action', async () => {
  const a = await joined('Ada', nextRoom++);
  const config = await ku(a, 'config');
  assert.deepEqual(config, { action: 'config', mode: 'sfu', iceServers: [] });
  const r = await send(a, { action: 'answer', user: a.user.id, sdp: 'v=0' });
  assert.equal(r.error?.code, 'not_supported');
});

test('KU-2..KU-4: publish and subscribe through KMS, ICE trickled both ways', async () => {
  const room = nextRoom++;
  const a = await joined('Ann', room);
  const b = await joined('Bob', room);

  const published = await publishing(a, room);
  assert.match(published.sdp, /^v=0\r\n/);
  assert.match(published.sdp, /a=recvonly/, 'the answer mirrors a sendonly offer');
  const [pipeline] = kms.liveObjects('MediaPipeline');
  assert.match(pipeline.id, /^[0-9a-f-]{36}_kurento\.MediaPipeline$/);
  const [pubEp] = kms.liveObjects('WebRtcEndpoint');
  assert.equal(pubEp.pipeline, pipeline.id);
  assert.equal(pubEp.offer, OFFER);
  // KMS's candidates reach the publisher after its answer (a browser cannot add them before)
  const c1 = await ku(a, 'ice_candidate', (d) => d.user === a.user.id);
  const kuIndex = (c, action) => c.events.indexOf((e) => e.name === 'server_message' && e.args[0]?.data?.action === action);
  assert.ok(kuIndex(a, 'published') < kuIndex(a, 'ice_candidate'), 'the SDP answer comes before the first candidate');
  assert.equal(c1.peer, undefined);
  assert.match(c1.candidate.candidate, /^candidate:/);
  assert.equal(c1.candidate.sdpMid, '0');
  assert.equal(c1.candidate.sdpMLineIndex, 0);
  // the browser's candidates reach the publisher's endpoint
  assert.deepEqual(await send(a, { action: 'ice_candidate', user: a.user.id, candidate: CANDIDATE }), { ok: true });
  await eventually(() => pubEp.remoteCandidates.length === 1, 'addIceCandidate on the publisher endpoint');
  assert.equal(pubEp.remoteCandidates[0].candidate, CANDIDATE.candidate);
  assert.equal(pubEp.remoteCandidates[0].__type__, 'IceCandidate');

  assert.deepEqual(await send(b, { action: 'subscribe', user: a.user.id, sdp: RECV_OFFER }), { ok: true });
  const subscribed = await ku(b, 'subscribed');
  assert.equal(subscribed.user, a.user.id);
  assert.match(subscribed.sdp, /a=sendonly/);
  const subEp = kms.liveObjects('WebRtcEndpoint').find((o) => o.id !== pubEp.id);
  assert.equal(subEp.source, pubEp.id, "the subscriber's endpoint is fed from the publisher's");
  const c2 = await ku(b, 'ice_candidate', (d) => d.user === a.user.id);
  assert.match(c2.candidate.candidate, /^candidate:/);
  assert.deepEqual(await send(b, { action: 'ice_candidate', user: a.user.id, candidate: CANDIDATE }), { ok: true });
  await eventually(() => subEp.remoteCandidates.length === 1, 'addIceCandidate on the subscriber endpoint');
  assert.equal(pubEp.remoteCandidates.length, 1, "the subscriber's candidate did not go to the publisher's endpoint");
  assert.equal(a.count('server_message', (m) => m?.data?.action === 'ice_candidate' && m.data.user !== a.user.id), 0);

  // unsubscribe releases the subscriber's endpoint only
  assert.deepEqual(await send(b, { action: 'unsubscribe', user: a.user.id }), { ok: true });
  await eventually(() => !kms.objects.has(subEp.id), 'subscriber endpoint released');
  assert.ok(kms.objects.has(pubEp.id));
  // unpublish releases the rest (the pipeline goes with the last stream)
  assert.deepEqual(await send(a, { action: 'unpublish' }), { ok: true });
  await kuRoom(b, 'stream_removed', (d) => d.user === a.user.id);
  await allReleased();
});

test('KU-6: filters sit between the publisher and its subscribers; recording', async () => {
  const room = nextRoom++;
  const a = await joined('Cal', room);
  const b = await joined('Dee', room);
  await publishing(a, room);
  assert.deepEqual(await send(b, { action: 'subscribe', user: a.user.id, sdp: RECV_OFFER }), { ok: true });
  await ku(b, 'subscribed');
  const [pubEp, subEp] = [kms.liveObjects('WebRtcEndpoint')[0], kms.liveObjects('WebRtcEndpoint')[1]];

  assert.deepEqual(await send(a, { action: 'set_filter', filter: 'videoflip method=horizontal-flip' }), { ok: true });
  const updated = await kuRoom(b, 'stream_updated', (d) => d.stream.user === a.user.id);
  assert.equal(updated.stream.filter, 'videoflip method=horizontal-flip');
  const [gst] = kms.liveObjects('GStreamerFilter');
  assert.equal(gst.command, 'videoflip method=horizontal-flip');
  assert.equal(gst.source, pubEp.id);
  assert.equal(subEp.source, gst.id, 'the subscriber is fed from the filter');

  // a subscriber arriving later is fed from the filter too
  const c = await joined('Eli', room);
  assert.deepEqual(await send(c, { action: 'subscribe', user: a.user.id, sdp: RECV_OFFER }), { ok: true });
  await ku(c, 'subscribed');
  const late = kms.liveObjects('WebRtcEndpoint').find((o) => o.id !== pubEp.id && o.id !== subEp.id);
  assert.equal(late.source, gst.id);

  // a filter KMS ships, by name, replaces the first one
  assert.deepEqual(await send(a, { action: 'set_filter', filter: 'FaceOverlayFilter' }), { ok: true });
  await kuRoom(b, 'stream_updated', (d) => d.stream.filter === 'FaceOverlayFilter');
  await eventually(() => kms.liveObjects('GStreamerFilter').length === 0, 'the old filter released');
  const [face] = kms.liveObjects('FaceOverlayFilter');
  assert.equal(face.source, pubEp.id);
  assert.equal(subEp.source, face.id);
  assert.equal(late.source, face.id);

  // recording: from the filtered stream, into --record-dir, named <room>-<user>-<time>.webm
  assert.deepEqual(await send(a, { action: 'record_start' }), { ok: true });
  const [rec] = kms.liveObjects('RecorderEndpoint');
  assert.match(rec.uri, new RegExp(`^file://${recordDir}/${room}-${a.user.id}-\\d+\\.webm$`));
  assert.equal(rec.mediaProfile, 'WEBM');
  assert.equal(rec.state, 'recording');
  assert.equal(rec.source, face.id);
  const again = await send(a, { action: 'record_start' });
  assert.equal(again.error?.code, 'bad_request');
  assert.deepEqual(await send(a, { action: 'record_stop' }), { ok: true });
  await eventually(() => kms.liveObjects('RecorderEndpoint').length === 0, 'recorder released after stop');
  assert.equal(kms.seen('invoke', 'stop').at(-1).params.object, rec.id);

  // removing the filter puts the subscribers back on the endpoint
  assert.deepEqual(await send(a, { action: 'set_filter', filter: '' }), { ok: true });
  await kuRoom(b, 'stream_updated', (d) => d.stream.filter === null);
  await eventually(() => kms.liveObjects('FaceOverlayFilter').length === 0, 'the removed filter released');
  assert.equal(subEp.source, pubEp.id);

  // recording while the publisher leaves: everything goes
  assert.deepEqual(await send(a, { action: 'record_start' }), { ok: true });
  assert.deepEqual(await send(a, { action: 'set_filter', filter: 'ZBarFilter' }), { ok: true });
  const [recording] = kms.liveObjects('RecorderEndpoint');
  a.disconnect();
  await kuRoom(b, 'stream_removed', (d) => d.user === a.user.id);
  await allReleased('publisher, subscribers, filter and recorder released when the publisher leaves');
  assert.ok(kms.seen('invoke', 'stop').some((c) => c.params.object === recording.id),
    'the recording was stopped (its file finalized) before the recorder was released');
});

test('leaving and disconnecting release every subscription and stream', async () => {
  const room = nextRoom++;
  const a = await joined('Fox', room);
  const b = await joined('Gus', room);
  await publishing(a, room);
  await publishing(b, room);
  assert.equal(kms.liveObjects('MediaPipeline').length, 1, 'one pipeline per room');
  assert.deepEqual(await send(a, { action: 'subscribe', user: b.user.id, sdp: RECV_OFFER }), { ok: true });
  assert.deepEqual(await send(b, { action: 'subscribe', user: a.user.id, sdp: RECV_OFFER }), { ok: true });
  assert.equal(kms.liveObjects('WebRtcEndpoint').length, 4);
  assert.equal((await b.ack('leave_room')).room, room);
  await kuRoom(a, 'stream_removed', (d) => d.user === b.user.id);
  await eventually(() => kms.liveObjects('WebRtcEndpoint').length === 1, "only a's own endpoint left");
  a.dropTransport();
  await allReleased();
});

test('KU-7: a KMS error answer reaches the requester and leaves nothing behind', async () => {
  const room = nextRoom++;
  const a = await joined('Hal', room);
  const b = await joined('Ivy', room);

  // processOffer fails: the endpoint and the new pipeline are released
  kms.failNext({ method: 'invoke', operation: 'processOffer', message: 'Fake KMS: SDP offer rejected' });
  const failed = await send(a, { action: 'publish', sdp: OFFER, audio: true, video: true });
  assert.equal(failed.error?.code, 'unavailable');
  assert.match(failed.error.message, /Fake KMS: SDP offer rejected/);
  const err = await a.next('request_error', { filter: (e) => e.event === 'server_message' });
  assert.match(err.message, /Fake KMS: SDP offer rejected/);
  await allReleased('no half-made publication');

  // each step of a publish can fail
  for (const rule of [{ method: 'create', type: 'MediaPipeline' }, { method: 'create', type: 'WebRtcEndpoint' },
    { method: 'subscribe' }, { method: 'invoke', operation: 'gatherCandidates' }]) {
    kms.failNext({ ...rule, message: `Fake KMS: ${JSON.stringify(rule)}` });
    const r = await send(a, { action: 'publish', sdp: OFFER, audio: true, video: true });
    assert.equal(r.error?.code, 'unavailable', JSON.stringify(rule));
    assert.ok(r.error.message.includes('Fake KMS'), r.error.message);
    await allReleased(`nothing left after ${JSON.stringify(rule)} failed`);
  }

  await publishing(a, room);
  const before = liveIds();
  const asBefore = () => JSON.stringify(liveIds()) === JSON.stringify(before);
  // the subscriber's connect fails: its endpoint goes, the publisher's stays
  kms.failNext({ method: 'invoke', operation: 'connect', message: 'Fake KMS: connect refused' });
  const sub = await send(b, { action: 'subscribe', user: a.user.id, sdp: RECV_OFFER });
  assert.equal(sub.error?.code, 'unavailable');
  assert.match(sub.error.message, /connect refused/);
  await eventually(asBefore, 'the subscriber endpoint released');

  // a filter KMS refuses: no filter element left, the stream unchanged
  kms.failNext({ method: 'create', type: 'GStreamerFilter', message: 'Fake KMS: no such GStreamer element' });
  const f = await send(a, { action: 'set_filter', filter: 'nosuchelement' });
  assert.match(f.error?.message ?? '', /no such GStreamer element/);
  kms.failNext({ method: 'invoke', operation: 'record', message: 'Fake KMS: disk full' });
  const r = await send(a, { action: 'record_start' });
  assert.match(r.error?.message ?? '', /disk full/);
  // the refused recorder's release was sent before the answer, but may reach KMS after it
  await eventually(asBefore, () => `no filter or recorder left behind; live: ${JSON.stringify(liveIds())}`);

  // and the room still works
  assert.deepEqual(await send(b, { action: 'subscribe', user: a.user.id, sdp: RECV_OFFER }), { ok: true });
  await ku(b, 'subscribed');
  a.disconnect();
  b.disconnect();
  await allReleased();
});

test('KU-7: media-server connection loss: pending requests fail, objects are released on reconnect', async () => {
  const room = nextRoom++;
  const a = await joined('Jay', room);
  const b = await joined('Kim', room);
  await publishing(a, room);
  assert.deepEqual(await send(b, { action: 'subscribe', user: a.user.id, sdp: RECV_OFFER }), { ok: true });
  assert.equal(kms.liveObjects().length, 3);

  // the connection drops; KMS keeps the objects, so the server releases them once back
  const connections = kms.connectionCount;
  kms.dropConnections();
  await kms.waitForConnections(connections + NODES);
  await allReleased('objects of the lost connection released after reconnecting');

  // the stream is gone with the media server: the room is told, and publishing again works
  const removed = await kuRoom(b, 'stream_removed', (d) => d.user === a.user.id);
  assert.equal(removed.user, a.user.id);
  const lost = await send(b, { action: 'subscribe', user: a.user.id, sdp: RECV_OFFER });
  assert.equal(lost.error?.code, 'bad_request', 'no such stream any more');
  await publishing(a, room);
  assert.deepEqual(await send(b, { action: 'subscribe', user: a.user.id, sdp: RECV_OFFER }), { ok: true });
  await ku(b, 'subscribed');
  assert.equal(kms.liveObjects().length, 3);
  a.disconnect();
  b.disconnect();
  await allReleased();
});

test('KU-7: media server down: request_error unavailable; the room works again once it is back', async () => {
  const room = nextRoom++;
  const a = await joined('Lea', room);
  const b = await joined('Max', room);
  await publishing(a, room);
  const connections = kms.connectionCount;
  await kms.down();
  kms.reset(); // it comes back as a fresh KMS (restarted): old ids are unknown

  const r = await send(b, { action: 'publish', sdp: OFFER, audio: true, video: true });
  assert.equal(r.error?.code, 'unavailable');
  assert.match(r.error.message, /media server/);
  await kuRoom(b, 'stream_removed', (d) => d.user === a.user.id);  // gone with the media server
  const f = await send(a, { action: 'set_filter', filter: 'FaceOverlayFilter' });
  assert.equal(f.error?.code, 'bad_request', 'the stream is gone with the media server');

  await kms.up();
  await kms.waitForConnections(connections + NODES);
  await publishing(b, room);
  assert.deepEqual(await send(a, { action: 'subscribe', user: b.user.id, sdp: RECV_OFFER }), { ok: true });
  await ku(a, 'subscribed');
  assert.equal(kms.liveObjects().length, 3);
  a.disconnect();
  b.disconnect();
  await allReleased();
});

test('requests carry the session id; a reconnect resumes the same session', {
  skip: perProcess('each node has its own media-server connection and session'),
}, async () => {
  const creates = kms.seen('create');
  assert.ok(creates.length > 0);
  const ids = new Set(kms.calls.filter((c) => c.method !== 'ping').map((c) => c.params.sessionId).filter(Boolean));
  assert.equal(ids.size, 1, `one session across reconnects: ${[...ids]}`);
  const withoutId = kms.calls.filter((c) => c.method !== 'ping' && !c.params.sessionId);
  assert.equal(withoutId.length, 1, 'only the very first request has no sessionId');
});

test('KU stream names through KMS: a camera and a screen are two endpoints, each with its own subscriber endpoint; unpublishing the screen releases only its own', async () => {
  const room = nextRoom++;
  const a = await joined('Ada', room);
  const b = await joined('Bo', room);
  await publishing(a, room);
  assert.deepEqual(await send(a, { action: 'publish', stream: 'screen', sdp: OFFER, audio: false, video: true }), { ok: true });
  const published = await ku(a, 'published', (d) => d.stream === 'screen');
  assert.equal(typeof published.sdp, 'string');
  await kuRoom(b, 'stream_added', (d) => d.stream.stream === 'screen');
  assert.equal(kms.liveObjects('MediaPipeline').length, 1, 'one pipeline for the room');
  assert.equal(kms.liveObjects('WebRtcEndpoint').length, 2, 'one endpoint per published stream');

  for (const stream of [undefined, 'screen']) {
    assert.deepEqual(await send(b, { action: 'subscribe', user: a.user.id, stream, sdp: RECV_OFFER }), { ok: true });
    const subscribed = await ku(b, 'subscribed', (d) => d.stream === stream);
    assert.equal(subscribed.user, a.user.id);
    // Candidates name the stream their connection carries.
    assert.deepEqual(await send(b, { action: 'ice_candidate', user: a.user.id, stream, candidate: CANDIDATE }), { ok: true });
  }
  assert.equal(kms.liveObjects('WebRtcEndpoint').length, 4);

  const before = liveIds();
  assert.deepEqual(await send(a, { action: 'unpublish', stream: 'screen' }), { ok: true });
  assert.deepEqual(await kuRoom(b, 'stream_removed'), { action: 'stream_removed', user: a.user.id, stream: 'screen' });
  await eventually(() => kms.liveObjects('WebRtcEndpoint').length === 2, () => `the screen's two endpoints released; live: ${JSON.stringify(liveIds())}`);
  assert.ok(liveIds().every((id) => before.includes(id)));
  // The camera still carries on: a candidate about it is taken.
  assert.deepEqual(await send(b, { action: 'ice_candidate', user: a.user.id, candidate: CANDIDATE }), { ok: true });
  a.disconnect();
  await kuRoom(b, 'stream_removed', (d) => d.user === a.user.id && d.stream === undefined);
  await allReleased();
});
