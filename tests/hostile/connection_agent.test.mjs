// Hostile input to the Connection Agent's requests (CA-2..CA-6, CA-10, CA-11):
// each field of join_room, leave_room, room_message and server_message, the
// whole argument, the args list and the event name, replaced by every hostile
// value (lib/values.mjs). A request that cannot be served gets one
// request_error naming the field and an ack with the same error; odd but legal
// values (room 0, room 2^53-1, any relayed data) succeed; the server stays up
// and another room keeps working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Target, Peer, hostileTests, finalCheck, runCases, at, field } from './lib/harness.mjs';
import { OK, bad, error, oneOf, REFUSED } from './lib/outcomes.mjs';
import { integerIn, string, anything, alwaysBad, MAX_ROOM } from './lib/rules.mjs';
import { NS } from '../node/lib/packet.mjs';

const ROOM = 1000;

const target = new Target({
  async setup(t) {
    const a = await Peer.open(t, 'Ann');
    const b = await Peer.open(t, 'Bob');
    await a.must('join_room', { room: ROOM });
    await b.must('join_room', { room: ROOM });
    return { a, b, connected: new Set([t.w1.id, t.w2.id, a.id, b.id].map(BigInt)) };
  },
});

const backToRoom = (ctx) => ctx.a.must('join_room', { room: ROOM });

// `to` (CA-6): a connected user gets the message; another integer is not a
// connected user (unknown_user, or bad_request if the server also checks the
// range); anything else is not a user id. Without `to` it is CA-4.
const to = (withoutTo) => (v, ctx) => {
  if (v.kind === 'missing') return withoutTo;
  if (v.kind === 'null') return oneOf(withoutTo, bad('to'));
  if (v.kind !== 'int') return bad('to');
  return ctx.connected.has(v.int) ? OK : oneOf(error('unknown_user'), bad('to'));
};

const requests = [
  {
    name: 'join_room {room}',
    actor: (ctx) => ctx.a,
    event: () => ({ name: 'join_room', args: [{ room: ROOM }] }),
    undo: backToRoom,
    fields: [
      field('room', at('room'), integerIn('room', 0n, MAX_ROOM)),
      field('the argument', at(), alwaysBad('room')),
      field('the args list', ['args'], alwaysBad('room')),
      // the event name: unknown, reserved or unreadable names are refused
      field('the event name', ['name'], () => ({ ...bad(['event', 'name']), anyEvent: true })),
    ],
  },
  {
    name: 'leave_room',
    actor: (ctx) => ctx.a,
    event: () => ({ name: 'leave_room', args: [null] }),
    undo: backToRoom,
    fields: [field('the argument (ignored)', at(), anything(OK))],
  },
  {
    name: 'room_message {type, data} of a type no agent handles (relayed as-is)',
    actor: (ctx) => ctx.a,
    event: () => ({ name: 'room_message', args: [{ type: 'hostile', data: { a: 1 } }] }),
    fields: [
      field('type', at('type'), string('type')),
      field('data', at('data'), anything(OK)),
      field('the argument', at(), alwaysBad('type')),
      field('the args list', ['args'], alwaysBad('type')),
    ],
  },
  {
    name: 'server_message {type, to, data} to a user (relayed as-is)',
    actor: (ctx) => ctx.a,
    event: (ctx) => ({ name: 'server_message', args: [{ type: 'hostile', to: ctx.b.id, data: { a: 1 } }] }),
    fields: [
      field('type', at('type'), string('type')),
      field('to', at('to'), to(error('unknown_type'))),
      field('data', at('data'), anything(OK)),
      field('the argument', at(), alwaysBad('type')),
    ],
  },
  {
    name: 'server_message {type, data} for a type no agent handles',
    actor: (ctx) => ctx.a,
    event: () => ({ name: 'server_message', args: [{ type: 'hostile', data: { a: 1 } }] }),
    fields: [
      field('type', at('type'), string('type', { ok: error('unknown_type') })),
      field('data', at('data'), anything(error('unknown_type'))),
    ],
  },
];

hostileTests(target, requests);

test('a refused request without an ack id still gets its request_error', async () => {
  const a = await Peer.open(target, 'Nak');
  a.ws.sendText(`5::${NS}:{"name":"join_room","args":[{"room":"x"}]}`);
  const e = await a.event('request_error');
  assert.equal(e.event, 'join_room');
  assert.equal(e.code, 'bad_request');
  assert.match(e.message, /\broom\b/);
  // an id without "+": acknowledged at once without data (§1.3), then the error
  a.ws.sendText(`5:77:${NS}:{"name":"join_room","args":[{"room":[]}]}`);
  await a.ws.nextPacket((p) => p.type === 6 && p.data === '77');
  const e2 = await a.event('request_error');
  assert.equal(e2.code, 'bad_request');
  assert.match(e2.message, /\broom\b/);
  a.ws.destroy();
  assert.deepEqual(await target.health(), []);
});

test('an event nested 10,000 deep in the packet itself is refused, and the connection goes on', async () => {
  const a = await Peer.open(target, 'Deep');
  const deep = `${'['.repeat(10000)}${']'.repeat(10000)}`;
  const outcome = await a.send(`{"name":"join_room","args":${deep}}`);
  assert.equal(outcome.errors.length, 1, JSON.stringify(outcome.errors));
  assert.equal(outcome.errors[0].code, REFUSED.code);
  assert.equal(outcome.ack?.error?.code, 'bad_request');
  assert.equal((await a.must('join_room', { room: ROOM })).room, ROOM);
  a.ws.destroy();
});

// Keys a template cannot write: escaped (JSON says "\u0072oom" is "room") and
// repeated (RFC 8259 §4: the result is unpredictable). The server may read
// them either way, but the router and the agent must not disagree into a
// crash, a second answer or an `internal`.
const KEYS = (b) => [
  ['an escaped key', `{"name":"join_room","args":[{"\\u0072oom":${ROOM}}]}`, oneOf(OK, bad('room'))],
  ['an escaped "name" key', `{"\\u006eame":"join_room","args":[{"room":${ROOM}}]}`, oneOf(OK, { ...bad(['event', 'name']), anyEvent: true })],
  ['an escaped event name', `{"name":"join\\u005froom","args":[{"room":${ROOM}}]}`, oneOf(OK, { ...bad(['event', 'name']), anyEvent: true })],
  ['room twice, the bad one first', `{"name":"join_room","args":[{"room":"x","room":${ROOM}}]}`, oneOf(OK, bad('room'))],
  ['room twice, the bad one last', `{"name":"join_room","args":[{"room":${ROOM},"room":"x"}]}`, oneOf(OK, bad('room'))],
  ['a NUL in a key', `{"name":"join_room","args":[{"room\\u0000":${ROOM}}]}`, bad('room')],
  ['type twice: chat, then a relayed type', '{"name":"room_message","args":[{"type":"chat","type":"hostile","data":{"text":5}}]}', oneOf(OK, bad(['data', 'text']))],
  ['type twice: a relayed type, then chat', '{"name":"room_message","args":[{"type":"hostile","type":"chat","data":{"text":5}}]}', oneOf(OK, bad(['data', 'text']))],
  ['chat text twice', '{"name":"room_message","args":[{"type":"chat","data":{"text":5,"text":"hi"}}]}', oneOf(OK, bad('text'))],
  ['chat data twice, the second too large', `{"name":"room_message","args":[{"type":"chat","data":{"text":"hi"},"data":"${'x'.repeat(70 * 1024)}"}]}`, oneOf(OK, error('too_large'))],
  ['chat data twice, the first too large', `{"name":"room_message","args":[{"type":"chat","data":"${'x'.repeat(70 * 1024)}","data":{"text":"hi"}}]}`, oneOf(OK, error('too_large'))],
  ['to twice', `{"name":"server_message","args":[{"type":"hostile","to":"x","to":${b.id},"data":1}]}`, oneOf(OK, bad('to'))],
  ['kurento action twice', '{"name":"server_message","args":[{"type":"kurento","data":{"action":5,"action":"unpublish"}}]}', oneOf(bad('action'), bad('publishing'))],
  // last: if leave_room wins, Ann is out of the room
  ['name twice', `{"name":"join_room","name":"leave_room","args":[{"room":${ROOM}}]}`, OK],
];

test('escaped and repeated keys are read one way or the other, never into a crash or two answers', async () => {
  const failures = await runCases(target, target.ctx.a, KEYS(target.ctx.b));
  await target.ctx.a.must('join_room', { room: ROOM });
  failures.push(...await target.health());
  assert.deepEqual(failures, []);
});

// CA-1: the name comes from the connect packet's query, percent-decoded, cut to
// 100 characters, user<id> when missing or empty. Whatever the bytes, every
// member gets a well-formed name, and the chat history that stores it reads back.
const NAMES = {
  'a NUL': '%00',
  'invalid UTF-8': '%FF%FE',
  'a UTF-8-encoded surrogate': '%ED%A0%80',
  'a lone %': '%',
  'a bad escape': '%ZZ',
  'an ANSI escape': '%1B%5B31mred',
  'quotes, a backslash and </script>': encodeURIComponent('"\\</script>'),
  '10,000 characters': 'x'.repeat(10000),
  '101 emoji (past 100 characters)': '%F0%9F%98%80'.repeat(101),
  'a name that is a JSON object': encodeURIComponent('{"id":0}'),
  'empty': '',
  'name twice': 'a&name=b',
};

test('hostile names (CA-1): each user gets a well-formed name of at most 100 characters, and the room and its history carry it', async () => {
  const room = ROOM + 1;
  const host = await Peer.open(target, 'Host');
  await host.must('join_room', { room });
  const problems = [];
  const seen = [];
  for (const [label, raw] of Object.entries(NAMES)) {
    const p = await Peer.open(target, undefined, { connectData: `?name=${raw}` });
    const { name } = p.user;
    if (typeof name !== 'string' || !name || !name.isWellFormed() || [...name].length > 100) {
      problems.push(`${label}: name ${JSON.stringify(name)?.slice(0, 120)}`);
    }
    await p.must('join_room', { room });
    const joined = await host.event('user_joined', (e) => e?.user?.id === p.id);
    if (joined.user.name !== name) problems.push(`${label}: the room heard ${JSON.stringify(joined.user.name)?.slice(0, 120)}`);
    // CH-3: the chat agent's join event (stored before anyone gets it) names the user the same way
    const chat = await host.event('room_message', (m) => m?.type === 'chat' && m.data?.event === 'user_joined' && m.data.user?.id === p.id);
    if (chat.data.user.name !== name) problems.push(`${label}: the chat event says ${JSON.stringify(chat.data.user.name)?.slice(0, 120)}`);
    seen.push(p.user);
  }
  // a newcomer's join history holds every one of those joins, names as they were
  const late = await Peer.open(target, 'Late');
  // the history comes before join_room's ack (2.2): wait for it from before the request
  const joinHistory = late.event('server_message', (m) => m?.type === 'chat' && m.data?.action === 'history');
  await late.must('join_room', { room });
  const history = await joinHistory;
  for (const u of seen) {
    const e = history.data.messages.find((m) => m.event === 'user_joined' && m.user.id === u.id);
    if (!e || e.user.name !== u.name) problems.push(`history: the join of user ${u.id} reads ${JSON.stringify(e)?.slice(0, 160)}`);
  }
  problems.push(...await target.health());
  assert.deepEqual(problems, []);
});

finalCheck(target);
