// The Kurento Agent in mesh mode (KU-1..KU-7 as they apply to mesh) with the
// real socket.io-client 0.9.6: the stream list and config on join, relaying
// offers, answers and candidates to the right peer only, cleanup on leave and
// on disconnect, and the errors. SDPs and candidates are opaque to the server,
// so plain strings and objects stand in for them here.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { quietWindow } from './lib/wait.mjs';

const STUN = 'stun:stun.example.org:3478';
let server;
before(async () => { server = await startServer(['--ice-server', STUN, '--ice-server', 'turn:turn.example.org,u1,p1']); });
afterEach(() => closeAll());
after(async () => { closeAll(); await server?.stop(); });

let nextRoom = 7100;
// A cluster keeps media state per node for now: users on two nodes cannot reach each other's streams.
const newRoom = () => nextRoom++;

const isKu = (x, action) => x?.type === 'kurento' && x.data?.action === action;

/** Next server_message {type:"kurento", data:{action}} to `c` whose data matches `pred`; resolves with data. */
const ku = (c, action, pred = () => true) =>
  c.next('server_message', { filter: (x) => isKu(x, action) && pred(x.data) }).then((x) => x.data);

/** Next room announcement (room_message from 0, type kurento) to `c`; resolves with data. */
const kuRoom = (c, action, pred = () => true) =>
  c.next('room_message', { filter: (x) => x.from === 0 && isKu(x, action) && pred(x.data) }).then((x) => x.data);

/** Fails if `c` got (or gets within the window) a kurento `action` on any channel. */
async function noKu(c, action, ms = 300) {
  for (const name of ['server_message', 'room_message', 'user_message']) {
    await c.none(name, name === 'server_message' ? ms : 0, (x) => isKu(x, action));
  }
}

/** A kurento request; resolves with its ack. */
const req = (c, data) => c.ack('server_message', { type: 'kurento', data });

async function joined(name, room) {
  const c = await Client.connect(server.url, { name });
  await c.ack('join_room', { room });
  return c;
}

async function publishing(name, room, { audio = true, video = true } = {}) {
  const c = await joined(name, room);
  assert.deepEqual(await req(c, { action: 'publish', sdp: null, audio, video }), { ok: true });
  assert.deepEqual(await ku(c, 'published'), { action: 'published', sdp: null });
  return c;
}

/** `sub` asks `pub` for its stream and `pub` answers: a connected pair. */
async function connect(sub, pub) {
  const offer = `offer ${sub.user.id}->${pub.user.id}`;
  assert.deepEqual(await req(sub, { action: 'subscribe', user: pub.user.id, sdp: offer }), { ok: true });
  assert.deepEqual(await ku(pub, 'subscribe_request', (d) => d.user === sub.user.id),
    { action: 'subscribe_request', user: sub.user.id, sdp: offer });
  const answer = `answer ${pub.user.id}->${sub.user.id}`;
  assert.deepEqual(await req(pub, { action: 'subscribe_answer', user: sub.user.id, sdp: answer }), { ok: true });
  assert.deepEqual(await ku(sub, 'subscribed', (d) => d.user === pub.user.id),
    { action: 'subscribed', user: pub.user.id, sdp: answer });
}

async function expectError(c, data, code) {
  const ack = await req(c, data);
  assert.equal(ack?.error?.code, code, `ack of ${JSON.stringify(data)}: ${JSON.stringify(ack)}`);
  const e = await c.next('request_error', { filter: (x) => x.code === code });
  assert.equal(e.event, 'server_message');
  // the web app matches a media_error (made from the ack) to its request_error by code and message
  assert.equal(e.message, ack.error.message);
}

test('KU-1: config and the stream list on join; KU-2: publish is announced to the room', async () => {
  const room = newRoom();
  const a = await joined('Ann', room);
  const config = await ku(a, 'config');
  assert.deepEqual(config, {
    action: 'config', mode: 'mesh',
    iceServers: [{ urls: STUN }, { urls: 'turn:turn.example.org', username: 'u1', credential: 'p1' }],
  });
  assert.deepEqual(await ku(a, 'streams'), { action: 'streams', streams: [] });
  // room_joined comes before the agent's messages about the room
  const order = (name, pred) => a.events.indexOf((e) => e.name === name && pred(e.args[0]));
  assert.ok(order('room_joined', () => true) < order('server_message', (x) => isKu(x, 'config')));
  assert.ok(order('server_message', (x) => isKu(x, 'config')) < order('server_message', (x) => isKu(x, 'streams')));

  const b = await joined('Ben', room);
  await ku(b, 'streams', (d) => d.streams.length === 0);
  assert.deepEqual(await req(a, { action: 'publish', sdp: null, audio: true, video: false }), { ok: true });
  assert.deepEqual(await ku(a, 'published'), { action: 'published', sdp: null });
  const stream = { user: a.user.id, audio: true, video: false, filter: null };
  for (const c of [a, b]) assert.deepEqual(await kuRoom(c, 'stream_added'), { action: 'stream_added', stream });

  await req(b, { action: 'publish', sdp: null });  // flags default to true
  await kuRoom(a, 'stream_added', (d) => d.stream.user === b.user.id && d.stream.audio && d.stream.video);

  const c = await joined('Cid', room);
  const list = await ku(c, 'streams');
  assert.deepEqual(list.streams.sort((x, y) => x.user - y.user), [
    stream, { user: b.user.id, audio: true, video: true, filter: null },
  ]);
  // Another room sees none of it.
  const d = await joined('Dee', newRoom());
  assert.deepEqual(await ku(d, 'streams'), { action: 'streams', streams: [] });
  await noKu(d, 'stream_added', 100);
});

test('KU-3/KU-4: offers, answers and candidates reach the right peer only', async () => {
  const room = newRoom();
  const a = await publishing('Ada', room);
  const b = await publishing('Bea', room);
  const c = await publishing('Cal', room);

  await connect(c, a);
  // Candidates both ways; `peer` is rewritten to the sender.
  const cand1 = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  assert.deepEqual(await req(c, { action: 'ice_candidate', user: a.user.id, peer: a.user.id, candidate: cand1 }), { ok: true });
  assert.deepEqual(await ku(a, 'ice_candidate'), { action: 'ice_candidate', user: a.user.id, peer: c.user.id, candidate: cand1 });
  const cand2 = { candidate: 'candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host', sdpMid: '1', sdpMLineIndex: 1 };
  assert.deepEqual(await req(a, { action: 'ice_candidate', user: a.user.id, peer: c.user.id, candidate: cand2 }), { ok: true });
  assert.deepEqual(await ku(c, 'ice_candidate'), { action: 'ice_candidate', user: a.user.id, peer: a.user.id, candidate: cand2 });

  // Candidates may flow while the answer is still awaited (pending link).
  await req(a, { action: 'subscribe', user: b.user.id, sdp: 'offer a->b' });
  await ku(b, 'subscribe_request', (d) => d.user === a.user.id);
  await req(a, { action: 'ice_candidate', user: b.user.id, peer: b.user.id, candidate: cand1 });
  assert.deepEqual(await ku(b, 'ice_candidate'), { action: 'ice_candidate', user: b.user.id, peer: a.user.id, candidate: cand1 });

  // Bea is in the room and publishes, but none of the c<->a traffic reached her,
  // and none of the a->b traffic reached Cal.
  await quietWindow(200);  // anything misrouted would have arrived by now
  assert.equal(b.count('server_message', (x) => isKu(x, 'subscribe_request')), 1, 'only the request meant for Bea');
  assert.equal(b.count('server_message', (x) => isKu(x, 'ice_candidate')), 1, 'only the candidate meant for Bea');
  assert.equal(c.count('server_message', (x) => isKu(x, 'subscribe_request')), 0);
  assert.equal(c.count('server_message', (x) => isKu(x, 'ice_candidate')), 1);
  assert.equal(c.count('server_message', (x) => isKu(x, 'subscribed')), 1);
  assert.equal(a.count('server_message', (x) => isKu(x, 'ice_candidate')), 1);
  assert.equal(a.count('server_message', (x) => isKu(x, 'subscribed')), 0);
  for (const x of [a, b, c]) {
    assert.equal(x.count('room_message', (m) => m.type === 'kurento' && m.from !== 0), 0, 'no relayed room traffic');
  }
});

test('KU-6: update_stream announces the flags; set_filter and recording are not supported in mesh', async () => {
  const room = newRoom();
  const a = await publishing('Eli', room);
  const b = await joined('Fox', room);
  assert.deepEqual(await req(a, { action: 'update_stream', video: false }), { ok: true });
  const want = { action: 'stream_updated', stream: { user: a.user.id, audio: true, video: false, filter: null } };
  for (const c of [a, b]) assert.deepEqual(await kuRoom(c, 'stream_updated'), want);
  await req(a, { action: 'update_stream', audio: false, video: true });
  await kuRoom(b, 'stream_updated', (d) => d.stream.audio === false && d.stream.video === true);

  await expectError(a, { action: 'set_filter', filter: 'grayscale' }, 'not_supported');
  await expectError(a, { action: 'record_start' }, 'not_supported');
  await expectError(a, { action: 'record_stop' }, 'not_supported');
  await noKu(b, 'stream_updated', 200);  // only the two updates above
  assert.equal(b.count('room_message', (x) => isKu(x, 'stream_updated')), 2);
  // the stream is unchanged for a newcomer
  const c = await joined('Gus', room);
  assert.deepEqual((await ku(c, 'streams')).streams, [{ user: a.user.id, audio: false, video: true, filter: null }]);
});

test('KU-5: unpublish and unsubscribe release what they made', async () => {
  const room = newRoom();
  const a = await publishing('Hal', room);
  const b = await publishing('Ida', room);
  await connect(b, a);
  await connect(a, b);

  assert.deepEqual(await req(b, { action: 'unsubscribe', user: a.user.id }), { ok: true });
  assert.deepEqual(await ku(a, 'unsubscribed'), { action: 'unsubscribed', user: b.user.id });
  // the link is gone: candidates over it are refused
  await expectError(b, { action: 'ice_candidate', user: a.user.id, peer: a.user.id, candidate: {} }, 'bad_request');

  assert.deepEqual(await req(b, { action: 'unpublish' }), { ok: true });
  for (const c of [a, b]) assert.deepEqual(await kuRoom(c, 'stream_removed'), { action: 'stream_removed', user: b.user.id });
  await expectError(a, { action: 'ice_candidate', user: b.user.id, peer: b.user.id, candidate: {} }, 'bad_request');
  await expectError(a, { action: 'subscribe', user: b.user.id, sdp: 'x' }, 'bad_request');
  // publishing again works and is announced again
  await req(b, { action: 'publish', sdp: null });
  await kuRoom(a, 'stream_added', (d) => d.stream.user === b.user.id);
});

for (const how of ['leave_room', 'disconnect', 'a dropped transport']) {
  test(`KU-5: ${how} releases the user's stream and subscriptions`, async () => {
    const room = newRoom();
    const a = await publishing('Joe', room);
    const b = await publishing('Kim', room);
    const c = await publishing('Lou', room);
    await connect(c, a);   // Lou receives Joe
    await connect(c, b);   // and Kim
    await connect(a, c);   // Joe receives Lou
    await connect(b, c);   // Kim too

    if (how === 'leave_room') await c.ack('leave_room');
    else if (how === 'disconnect') c.disconnect();
    else c.dropTransport();

    // Lou's publishers close their side; the room learns Lou's stream is gone.
    for (const p of [a, b]) {
      assert.deepEqual(await ku(p, 'unsubscribed', (d) => d.user === c.user.id), { action: 'unsubscribed', user: c.user.id });
      assert.deepEqual(await kuRoom(p, 'stream_removed'), { action: 'stream_removed', user: c.user.id });
    }
    if (how === 'leave_room') {
      // The leaver (no longer in the room; its client cleans up on room_left) joins elsewhere with a clean slate.
      c.events.drain();
      await c.ack('join_room', { room: newRoom() });
      assert.deepEqual(await ku(c, 'streams'), { action: 'streams', streams: [] });
    }
    // A newcomer sees only the remaining streams; the others' link state is gone too.
    const d = await joined('Max', room);
    const { streams } = await ku(d, 'streams');
    assert.deepEqual(streams.map((s) => s.user).sort((x, y) => x - y), [a.user.id, b.user.id].sort((x, y) => x - y));  // ids: per node in a cluster
    await expectError(a, { action: 'ice_candidate', user: a.user.id, peer: c.user.id, candidate: {} }, 'bad_request');
    await expectError(b, { action: 'ice_candidate', user: c.user.id, peer: c.user.id, candidate: {} }, 'bad_request');
    // exactly one stream_removed for Lou, and nothing about Lou's links reached the newcomer
    await quietWindow(100);
    assert.equal(a.count('room_message', (x) => isKu(x, 'stream_removed')), 1);
    assert.equal(a.count('server_message', (x) => isKu(x, 'unsubscribed')), 1);
    assert.equal(d.count('server_message', (x) => isKu(x, 'unsubscribed')), 0);
  });
}

test('a pending subscribe is dropped when its subscriber leaves: the late answer is refused', async () => {
  const room = newRoom();
  const a = await publishing('Ned', room);
  const b = await joined('Oz', room);
  await req(b, { action: 'subscribe', user: a.user.id, sdp: 'offer' });
  await ku(a, 'subscribe_request');
  await b.ack('leave_room');
  await expectError(a, { action: 'subscribe_answer', user: b.user.id, sdp: 'answer' }, 'bad_request');
  // Nobody received anything for it.
  await noKu(b, 'subscribed', 100);
});

test('bad input gets request_error bad_request and disturbs nothing', async () => {
  const room = newRoom();
  const a = await publishing('Pia', room);
  const b = await joined('Quin', room);
  const c = await joined('Rex', room);   // does not publish
  const o = await Client.connect(server.url, { name: 'Out' });  // in no room

  // subscribe to a user who does not publish (in the room, elsewhere, or nobody)
  await expectError(b, { action: 'subscribe', user: c.user.id, sdp: 'offer' }, 'bad_request');
  await expectError(b, { action: 'subscribe', user: 999999, sdp: 'offer' }, 'bad_request');
  const elsewhere = await publishing('Sam', newRoom());
  await expectError(b, { action: 'subscribe', user: elsewhere.user.id, sdp: 'offer' }, 'bad_request');
  // an answer for a request that does not exist
  await expectError(a, { action: 'subscribe_answer', user: b.user.id, sdp: 'answer' }, 'bad_request');
  await expectError(c, { action: 'subscribe_answer', user: b.user.id, sdp: 'answer' }, 'bad_request');
  // `answer` is for media servers that offer (Janus); here the subscriber offers
  await expectError(b, { action: 'answer', user: a.user.id, sdp: 'answer' }, 'not_supported');
  // a candidate for an unknown peer, or without a connection to it
  await expectError(b, { action: 'ice_candidate', user: a.user.id, peer: a.user.id, candidate: {} }, 'bad_request');
  await expectError(a, { action: 'ice_candidate', user: a.user.id, peer: 424242, candidate: {} }, 'bad_request');
  await expectError(a, { action: 'ice_candidate', user: a.user.id, candidate: {} }, 'bad_request');  // no peer in mesh
  // malformed requests
  await expectError(b, { action: 'subscribe', user: String(a.user.id), sdp: 'offer' }, 'bad_request');
  await expectError(b, { action: 'subscribe', user: a.user.id }, 'bad_request');
  await expectError(b, { action: 'publish', sdp: null, video: 'yes' }, 'bad_request');
  await expectError(b, { action: 'nonsense' }, 'bad_request');
  await expectError(b, { action: 'unpublish' }, 'bad_request');          // not publishing
  await expectError(b, { action: 'unsubscribe', user: a.user.id }, 'bad_request');  // not subscribed
  await expectError(b, { action: 'update_stream', audio: false }, 'bad_request');   // not publishing
  await expectError(a, { action: 'publish', sdp: null }, 'bad_request');  // already publishing
  await expectError(o, { action: 'publish', sdp: null }, 'not_in_room');
  await expectError(o, { action: 'subscribe', user: a.user.id, sdp: 'offer' }, 'not_in_room');

  // Nothing reached anyone else, and everything still works.
  for (const x of [a, b, c]) {
    for (const action of ['subscribe_request', 'subscribed', 'ice_candidate', 'stream_removed', 'stream_updated']) {
      assert.equal(x.count('server_message', (m) => isKu(m, action)) + x.count('room_message', (m) => isKu(m, action)), 0,
        `${x.user.name} got ${action}`);
    }
  }
  assert.equal(c.count('request_error'), 1, 'Rex only got the error of its own request');
  await connect(b, a);
  await req(b, { action: 'ice_candidate', user: a.user.id, peer: a.user.id, candidate: { candidate: 'c' } });
  assert.equal((await ku(a, 'ice_candidate')).peer, b.user.id);
});

test('KU stream names: a screen next to the camera, exact frames both ways; stopping it leaves the camera', async () => {
  const room = newRoom();
  const a = await publishing('Ann', room);
  const b = await joined('Bob', room);
  await ku(b, 'streams');
  assert.deepEqual(await req(a, { action: 'publish', stream: 'screen', sdp: null, audio: false, video: true }), { ok: true });
  assert.deepEqual(await ku(a, 'published', (d) => d.stream === 'screen'), { action: 'published', stream: 'screen', sdp: null });
  const screen = { user: a.user.id, stream: 'screen', audio: false, video: true, filter: null };
  assert.deepEqual(await kuRoom(b, 'stream_added', (d) => d.stream.stream === 'screen'), { action: 'stream_added', stream: screen });
  // A newcomer gets both: the camera as it always was, the screen with its name.
  const c = await joined('Cy', room);
  const { streams } = await ku(c, 'streams');
  assert.deepEqual(streams, [{ user: a.user.id, audio: true, video: true, filter: null }, screen]);

  // Bob receives the screen on its own connection: every frame about it names it.
  assert.deepEqual(await req(b, { action: 'subscribe', user: a.user.id, stream: 'screen', sdp: 'offer-screen' }), { ok: true });
  assert.deepEqual(await ku(a, 'subscribe_request', (d) => d.user === b.user.id),
    { action: 'subscribe_request', user: b.user.id, stream: 'screen', sdp: 'offer-screen' });
  assert.deepEqual(await req(a, { action: 'subscribe_answer', user: b.user.id, stream: 'screen', sdp: 'answer-screen' }), { ok: true });
  assert.deepEqual(await ku(b, 'subscribed', (d) => d.user === a.user.id),
    { action: 'subscribed', user: a.user.id, stream: 'screen', sdp: 'answer-screen' });
  const candidate = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  assert.deepEqual(await req(a, { action: 'ice_candidate', user: a.user.id, stream: 'screen', peer: b.user.id, candidate }), { ok: true });
  assert.deepEqual(await ku(b, 'ice_candidate'), { action: 'ice_candidate', user: a.user.id, stream: 'screen', peer: a.user.id, candidate });
  // The camera was never asked for: a candidate about it has no connection.
  await expectError(a, { action: 'ice_candidate', user: a.user.id, peer: b.user.id, candidate }, 'bad_request');

  // Stopping the screen: only it goes.
  assert.deepEqual(await req(a, { action: 'unpublish', stream: 'screen' }), { ok: true });
  assert.deepEqual(await kuRoom(b, 'stream_removed'), { action: 'stream_removed', user: a.user.id, stream: 'screen' });
  const d = await joined('Di', room);
  assert.deepEqual((await ku(d, 'streams')).streams, [{ user: a.user.id, audio: true, video: true, filter: null }]);
  // Leaving removes the rest, the camera without a name.
  a.disconnect();
  assert.deepEqual(await kuRoom(b, 'stream_removed'), { action: 'stream_removed', user: a.user.id });
});

test('KU stream names: bad names and a fifth stream are refused, naming the field', async () => {
  const a = await joined('Ann', newRoom());
  for (const stream of ['Screen', '', 'x'.repeat(33), 'a/b', 5, {}]) {
    const ack = await req(a, { action: 'publish', stream, sdp: null });
    assert.equal(ack?.error?.code, 'bad_request');
    assert.match(ack.error.message, /^stream/);
    await a.next('request_error', { filter: (e) => e.message === ack.error.message });
  }
  for (const stream of ['camera', 'screen', 'deck-2', 'x_9']) assert.deepEqual(await req(a, { action: 'publish', stream, sdp: null }), { ok: true });
  await expectError(a, { action: 'publish', stream: 'five', sdp: null }, 'bad_request');
  await expectError(a, { action: 'publish', stream: 'screen', sdp: null }, 'bad_request');  // already publishing
});
