// Hostile input to the Connection Agent's requests (CA-2..CA-6, CA-10, CA-11):
// each field of join_room, leave_room, room_message and server_message, the
// whole argument, the args list and the event name, replaced by every hostile
// value (lib/values.mjs). A request that cannot be served gets one
// request_error naming the field and an ack with the same error; odd but legal
// values (room 0, room 2^53-1, any relayed data) succeed; the server stays up
// and another room keeps working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Target, Peer, hostileTests, finalCheck, at, field } from './lib/harness.mjs';
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

finalCheck(target);
