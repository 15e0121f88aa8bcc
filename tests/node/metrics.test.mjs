// GET /metrics: the Prometheus text exposition parses, every family has HELP
// and TYPE, and the values move by the right amounts as clients act.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, perProcess } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { httpRequest, PollSession } from './lib/raw.mjs';
import { parsePrometheus, sampleSum } from './lib/prometheus.mjs';
import { startFakeKms } from '../fake-kms/fake-kms.mjs';
import { OFFER } from './lib/sdp.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { closeAll(); await server?.stop(); });

const skip = perProcess('the counters are one process\'s');

/** One scrape of `of` (the file's server by default), parsed; the status and content type are checked. */
async function scrape(of = server) {
  const res = await httpRequest(of.port, { path: '/metrics' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheus(res.body);
}

/**
 * Scrapes until check(metrics) is true, for what the server does after the client's
 * side has returned (a close, a lost link); fails after `timeout` ms.
 */
async function scrapeUntil(check, what, { of = server, timeout = 5000 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const m = await scrape(of);
    if (check(m)) return m;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
  }
}

/** A client on /connection_agent that has joined `room`. */
async function joined(name, room) {
  const c = await Client.connect(server.url, { name });
  await c.ack('join_room', { room });
  return c;
}

test('the exposition parses; every family is compeit_*, with HELP and TYPE', { skip }, async () => {
  const m = await scrape();
  assert.ok(m.size >= 20, `only ${m.size} families`);
  for (const [name, f] of m) {
    assert.match(name, /^compeit_[a-z_]+$/);
    assert.ok(f.help.length > 0, `${name} has an empty HELP`);
    if (f.type === 'counter') assert.match(name, /_total$/);
  }
  const build = m.get('compeit_build_info').samples[0];
  assert.match(build.labels.version, /^\d+\.\d+/);
  assert.ok(build.labels.commit);
  assert.ok(sampleSum(m, 'compeit_process_resident_memory_bytes') > 1 << 20);
  assert.ok(sampleSum(m, 'compeit_process_cpu_seconds_total') >= 0);
  assert.equal(m.has('compeit_media_link_up'), false, 'no media server is configured');
});

test('a websocket client: sessions, users and bytes go up', { skip }, async () => {
  const m0 = await scrape();
  const c = await Client.connect(server.url, { name: 'Ws' });
  const m1 = await scrape();
  const delta = (name, labels) => sampleSum(m1, name, labels) - sampleSum(m0, name, labels);
  assert.equal(delta('compeit_sessions', { transport: 'websocket' }), 1);
  assert.equal(delta('compeit_sessions_opened_total', { transport: 'websocket' }), 1);
  assert.equal(delta('compeit_users_connected'), 1);
  assert.ok(delta('compeit_received_bytes_total', { transport: 'websocket' }) > 0);
  assert.ok(delta('compeit_sent_bytes_total', { transport: 'websocket' }) > 0);
  c.disconnect();
});

test('an xhr-polling client counts under its transport', { skip }, async () => {
  const m0 = await scrape();
  const s = await PollSession.open(server.port);
  await s.get();  // opens the session
  const m1 = await scrape();
  const delta = (name, labels) => sampleSum(m1, name, labels) - sampleSum(m0, name, labels);
  assert.equal(delta('compeit_sessions', { transport: 'xhr-polling' }), 1);
  assert.equal(delta('compeit_sessions_opened_total', { transport: 'xhr-polling' }), 1);
  await s.post('0::');
});

test('joins and room messages: rooms, members, messages in and out, deliveries', { skip }, async () => {
  const m0 = await scrape();
  const [a, b, c] = [await joined('A', 501), await joined('B', 501), await joined('C', 501)];
  // The chat agent announces each join in the room once it is stored: wait for the last one.
  for (const x of [a, b, c])
    await x.chat.take((e) => e.name === 'room_message' && e.args[0].data?.event === 'user_joined' &&
      e.args[0].data.user.id === c.user.id, { what: 'the chat\'s join announcement' });
  const m1 = await scrape();
  let delta = (name, labels) => sampleSum(m1, name, labels) - sampleSum(m0, name, labels);
  assert.equal(delta('compeit_rooms'), 1);
  assert.equal(delta('compeit_room_members'), 3);
  assert.equal(delta('compeit_messages_in_total', { event: 'join_room' }), 3);
  assert.equal(delta('compeit_messages_out_total', { event: 'room_joined' }), 3);

  const N = 5;
  for (let i = 0; i < N; i++) assert.deepEqual(await a.ack('room_message', { type: 'note', data: i }), { ok: true });
  for (const other of [b, c])
    await other.events.take((e) => e.name === 'room_message' && e.args[0].data === N - 1, { what: 'the last note' });
  const m2 = await scrape();
  delta = (name, labels) => sampleSum(m2, name, labels) - sampleSum(m1, name, labels);
  assert.equal(delta('compeit_messages_in_total', { event: 'room_message' }), N);
  assert.equal(delta('compeit_messages_out_total', { event: 'room_message' }), N);
  assert.equal(delta('compeit_agent_messages_in_total', { agent: 'none' }), N);  // "note" is no agent's type
  assert.equal(delta('compeit_deliveries_total'), N * 2 + N);  // to b and c, and a's acks
});

test('a bad request counts under its code', { skip }, async () => {
  const c = await Client.connect(server.url, { name: 'Bad' });
  const m0 = await scrape();
  const answer = await c.ack('room_message', { data: 'no type' });
  assert.equal(answer.error.code, 'bad_request');
  const m1 = await scrape();
  const delta = (name, labels) => sampleSum(m1, name, labels) - sampleSum(m0, name, labels);
  assert.equal(delta('compeit_request_errors_total', { code: 'bad_request' }), 1);
  assert.equal(delta('compeit_request_errors_total'), 1);
  assert.equal(delta('compeit_rate_limited_requests_total'), 0);
});

test('a refused handshake counts under its reason', { skip }, async () => {
  const m0 = await scrape();
  const res = await httpRequest(server.port, { path: `/socket.io/1/?q=${'x'.repeat(5000)}` });
  assert.notEqual(res.status, 200);
  const m1 = await scrape();
  const delta = (name, labels) => sampleSum(m1, name, labels) - sampleSum(m0, name, labels);
  assert.equal(delta('compeit_handshake_refusals_total', { reason: 'query_too_long' }), 1);
  assert.equal(delta('compeit_handshake_refusals_total'), 1);
});

test('a handshake from a page of another origin counts as bad_origin', { skip }, async () => {
  const m0 = await scrape();
  const res = await httpRequest(server.port, { path: '/socket.io/1/', headers: { origin: 'http://elsewhere.example' } });
  assert.equal(res.status, 403);
  const m1 = await scrape();
  const delta = (name, labels) => sampleSum(m1, name, labels) - sampleSum(m0, name, labels);
  assert.equal(delta('compeit_handshake_refusals_total', { reason: 'bad_origin' }), 1);
  assert.equal(delta('compeit_handshake_refusals_total'), 1);
});

test('chat: the commit latency histogram counts each message, the queue drains', { skip }, async () => {
  const a = await joined('Chat', 502);
  // Acks come after the commit, in order: once this one is back, nothing earlier is pending.
  await a.ack('room_message', { type: 'chat', data: { text: 'first' } });
  const m0 = await scrape();
  const N = 3;
  for (let i = 0; i < N; i++) await a.ack('room_message', { type: 'chat', data: { text: `m${i}` } });
  const m1 = await scrape();
  const delta = (name, labels) => sampleSum(m1, name, labels) - sampleSum(m0, name, labels);
  assert.equal(delta('compeit_chat_commit_seconds_count'), N);
  assert.equal(delta('compeit_chat_commit_seconds_bucket', { le: '+Inf' }), N);
  assert.ok(delta('compeit_chat_commit_seconds_sum') > 0);
  assert.equal(delta('compeit_agent_messages_in_total', { agent: 'chat' }), N);
  assert.equal(sampleSum(m1, 'compeit_chat_commit_queue_depth'), 0);
  // Buckets are cumulative: never smaller than the one before.
  const buckets = m1.get('compeit_chat_commit_seconds').samples.filter((s) => s.name.endsWith('_bucket'));
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
});

test('a client that leaves: its session closes under client_left', { skip }, async () => {
  const c = await Client.connect(server.url, { name: 'Bye' });
  const m0 = await scrape();
  const closed = (m) => sampleSum(m, 'compeit_sessions_closed_total', { transport: 'websocket', reason: 'client_left' });
  c.disconnect();  // the whole session: 0::
  const m1 = await scrapeUntil((m) => closed(m) > closed(m0), 'the close to be counted');
  assert.equal(closed(m1) - closed(m0), 1);
  assert.equal(sampleSum(m1, 'compeit_sessions_closed_total', { transport: 'none' }), 0);
});

test('the media-server link: up, connections, request latency, and its loss', { skip }, async () => {
  const kms = await startFakeKms();
  const media = await startServer(['--media', 'kurento', '--kms-url', kms.url]);
  try {
    await kms.waitForConnections(1);
    const c = await Client.connect(media.url, { name: 'Pub' });
    await c.ack('join_room', { room: 1 });
    const publish = { action: 'publish', sdp: OFFER, audio: true, video: true };
    assert.deepEqual(await c.ack('server_message', { type: 'kurento', data: publish }), { ok: true });
    await c.next('server_message', { filter: (m) => m?.type === 'kurento' && m.data?.action === 'published' });
    const m = await scrape(media);
    assert.equal(sampleSum(m, 'compeit_media_link_up'), 1);
    assert.equal(sampleSum(m, 'compeit_media_link_connects_total'), 1);
    assert.ok(sampleSum(m, 'compeit_media_request_seconds_count') >= 2, 'a pipeline and an endpoint at least');
    assert.equal(sampleSum(m, 'compeit_media_request_seconds_bucket', { le: '+Inf' }),
      sampleSum(m, 'compeit_media_request_seconds_count'));
    await kms.close();
    const lost = await scrapeUntil((x) => sampleSum(x, 'compeit_media_link_up') === 0, 'the link to go down',
      { of: media });
    assert.equal(sampleSum(lost, 'compeit_media_link_losses_total'), 1);
  } finally {
    closeAll();
    await media.stop();
    await kms.close();
  }
});
