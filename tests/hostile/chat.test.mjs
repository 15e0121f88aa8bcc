// Hostile input to the Chat Agent (CH-1, CH-2, CH-4, CH-6): room chat, private
// chat and history with each field, and the whole data, replaced by every
// hostile value. Text missing, not a string or empty is bad_request naming
// `text`; longer than --max-text characters too_large; history's action,
// before and limit are checked the same way; nothing reaches the agent's code
// that makes it fail (`internal`) or ends the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Target, Peer, hostileTests, finalCheck, at, field } from './lib/harness.mjs';
import { OK, bad, error, oneOf } from './lib/outcomes.mjs';
import { integerIn, string, optional, MAX_USER } from './lib/rules.mjs';

const ROOM = 2000;

const target = new Target({
  async setup(t) {
    const a = await Peer.open(t, 'Ann');
    const b = await Peer.open(t, 'Bob');
    await a.must('join_room', { room: ROOM });
    await b.must('join_room', { room: ROOM });
    return { a, b, connected: new Set([t.w1.id, t.w2.id, a.id, b.id].map(BigInt)) };
  },
});

// CH-6: a non-empty string of at most --max-text (4000) characters.
// A NUL inside is refused as bad_request (not every store can keep one).
const text = string('text', {
  ok: (v) => (v.overText ? error('too_large', 'text') : v.str?.includes('\u0000') ? bad('text') : OK),
});
// A chat request whose data is not an object with text: the message names data or text.
const notChat = () => bad(['data', 'text']);

// CH-2 `to`: a connected user gets the message; another integer is nobody
// (unknown_user, or bad_request naming to). Without `to` the request is a
// server_message to the agent itself, which wants an action.
const to = (v, ctx) => {
  if (v.kind === 'missing') return bad('action');
  if (v.kind === 'null') return oneOf(bad('action'), bad('to'));
  if (v.kind !== 'int') return bad('to');
  return ctx.connected.has(v.int) ? OK : oneOf(error('unknown_user'), bad('to'));
};

// CH-4 `before`: a message id (an integer >= 1). Past 2^53-1 no id exists, and
// past 2^63-1 no int64 holds it: the server may answer (an empty page is
// right) or refuse the value.
const before = optional('before', (v) => {
  if (v.kind === 'int' && v.int > MAX_USER) return oneOf(OK, bad('before'));
  return integerIn('before', 1n, MAX_USER)(v);
});

const requests = [
  {
    name: 'chat room_message {type:"chat", data:{text}}',
    actor: (ctx) => ctx.a,
    event: () => ({ name: 'room_message', args: [{ type: 'chat', data: { text: 'hello' } }] }),
    fields: [
      field('text', at('data', 'text'), text),
      field('data', at('data'), notChat),
    ],
  },
  {
    name: 'chat server_message {type:"chat", to, data:{text}} (private)',
    actor: (ctx) => ctx.a,
    event: (ctx) => ({ name: 'server_message', args: [{ type: 'chat', to: ctx.b.id, data: { text: 'psst' } }] }),
    fields: [
      field('text', at('data', 'text'), text),
      field('to', at('to'), to),
      field('data', at('data'), notChat),
    ],
  },
  {
    name: 'chat history server_message {type:"chat", data:{action:"history", before, limit}}',
    actor: (ctx) => ctx.a,
    event: () => ({ name: 'server_message', args: [{ type: 'chat', data: { action: 'history', before: 1000000, limit: 10 } }] }),
    fields: [
      field('action', at('data', 'action'), () => bad('action')),
      field('before', at('data', 'before'), before),
      field('limit', at('data', 'limit'), optional('limit', integerIn('limit', 1n, 200n))),
      field('data', at('data'), () => bad(['data', 'action'])),
    ],
  },
];

hostileTests(target, requests);

// A chat message's id, ts, user, room, event and to are the server's (CH-1, CH-3):
// a client that sends them cannot pose as the server, another user or another room.
test('chat fields a client may not set are ignored: no posing as the server, another user or another room', async () => {
  const { a, b } = target.ctx;
  const spoof = { text: 'spoof', id: 1, ts: 0, user: { id: 0, name: 'server' }, room: 99, event: 'announcement', to: b.id, from: 0 };
  await a.must('room_message', { type: 'chat', data: spoof });
  const m = await b.event('room_message', (x) => x?.type === 'chat' && x.data?.text === 'spoof');
  assert.equal(m.from, a.id);
  assert.deepEqual(m.data.user, a.user);
  assert.equal(m.data.room, ROOM);
  assert.equal(m.data.event, undefined);
  assert.equal(m.data.to, undefined);
  assert.ok(m.data.id > 1 && m.data.ts > 0, JSON.stringify(m.data));
  // private: the recipient is `to` of the envelope, not of the data
  await a.must('server_message', { type: 'chat', to: b.id, data: { ...spoof, text: 'spoof2', to: target.w1.id } });
  const p = await b.event('user_message', (x) => x?.type === 'chat' && x.data?.text === 'spoof2');
  assert.equal(p.from, a.id);
  assert.deepEqual(p.data.user, a.user);
  assert.equal(p.data.to, b.id);
  assert.equal(p.data.room, null);
  assert.deepEqual(await target.health(), []);
});

finalCheck(target);
