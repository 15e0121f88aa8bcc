// Hostile input to the Kurento Agent in mesh mode (the default): every field of
// every action (KU-2..KU-6), and the action and the whole data, replaced by
// every hostile value. Browsers connect peer to peer here, so the server only
// relays signalling: it must refuse what it cannot relay, naming the field, and
// never fail in its own code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Target, hostileTests, finalCheck } from './lib/harness.mjs';
import { kurentoRequests, kurentoSetup } from './lib/kurento_requests.mjs';

const target = new Target({ setup: (t) => kurentoSetup(t, 'mesh') });

hostileTests(target, kurentoRequests('mesh'));

// A stream's user, filter and recording are the server's (KU-2, KU-6); a
// relayed candidate's peer is rewritten to the sender (KU-4).
test('stream and candidate fields a client may not set are the server\'s', async () => {
  const { a, b } = target.ctx;
  const ku = (peer, data) => peer.must('server_message', { type: 'kurento', data });
  const kuRoom = (peer, action, pred) => peer.event('room_message', (m) => m?.type === 'kurento' && m.from === 0 && m.data?.action === action && pred(m.data)).then((m) => m.data);
  await ku(b, { action: 'publish', sdp: null, audio: true, video: false, user: a.id, filter: 'x', recording: true });
  const added = await kuRoom(a, 'stream_added', (d) => d.stream?.user === b.id);
  assert.deepEqual(added.stream, { user: b.id, audio: true, video: false, filter: null });
  await ku(b, { action: 'update_stream', audio: false, user: a.id, filter: 'x', recording: true });
  const updated = await kuRoom(a, 'stream_updated', (d) => d.stream?.user === b.id);
  assert.deepEqual(updated.stream, { user: b.id, audio: false, video: false, filter: null });
  // Bob (subscribed to Ann) trickles a candidate naming himself as peer: Ann hears it from Bob
  await ku(b, { action: 'ice_candidate', user: a.id, peer: a.id, candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 }, from: 0 });
  const cand = await a.event('server_message', (m) => m?.type === 'kurento' && m.data?.action === 'ice_candidate' && m.data.candidate?.candidate?.startsWith('candidate:1 '));
  assert.equal(cand.data.peer, b.id);
  assert.equal(cand.data.user, a.id);
  await ku(b, { action: 'unpublish' });
  assert.deepEqual(await target.health(), []);
});

finalCheck(target);
