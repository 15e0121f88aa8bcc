// The fault test's checker (lib/checker.mjs) on made-up runs: a clean run
// passes, and each kind of broken promise is caught. No servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check } from './lib/checker.mjs';

const ROOM = 7;
const FAULTS = {
  killedNode: 'n2', tKill: 1000, killWindowMs: 100, ackBoundMs: 500, reapBoundMs: 400,
  redis: { tKill: 2000, tRestart: 2100, tUp: 2150, allReconnected: 2200 }, nodeRestart: { tUp: 3000 },
};

function session(label, node, id, { joinedAt = 10, endedAt = null, endReason = null } = {}) {
  return {
    label, transport: 'websocket', node, sid: `${node}.x`, user: { id, name: label }, room: ROOM,
    openedAt: 0, joinedAt, endedAt, endReason, events: [],
    requests: [{ t0: joinedAt - 5, name: 'join_room', arg: { room: ROOM }, t1: joinedAt, ack: { room: ROOM } }],
  };
}
const seq = (sender, n) => ({ type: 'seq', data: { sender, n } });

/**
 * a and b on n1, c on the killed n2 (gone at the kill, its user_left reaching a
 * and b); a sends m1 (delivered to b and c) and, after the kill, m2 (to b); a chat
 * message from b to everyone; one Redis-down request answered unavailable.
 */
function cleanRun() {
  const a = session('a', 'n1', 1);
  const b = session('b', 'n1', 2);
  const c = session('c', 'n2', 1001, { endedAt: 1010, endReason: 'disconnect' });
  a.requests.push({ t0: 100, name: 'room_message', arg: seq('a', 1), t1: 110, ack: { ok: true } });
  a.requests.push({ t0: 1200, name: 'room_message', arg: seq('a', 2), t1: 1210, ack: { ok: true } });
  a.requests.push({ t0: 2050, name: 'room_message', arg: seq('a', 3), t1: 2052, ack: { error: { code: 'unavailable' } } });
  b.requests.push({ t0: 300, name: 'room_message', arg: { type: 'chat', data: { text: 'hi' } }, t1: 320, ack: { ok: true } });
  const chat = { from: 2, type: 'chat', data: { id: 11, room: ROOM, text: 'hi', ts: 1, user: { id: 2, name: 'b' } } };
  const left = { from: 0, type: 'chat', data: { id: 12, room: ROOM, ts: 2, event: 'user_left', user: { id: 1001, name: 'c' } } };
  for (const s of [b, c]) s.events.push({ t: 112, name: 'room_message', arg: { from: 1, ...seq('a', 1) } });
  for (const s of [a, b, c]) s.events.push({ t: 321, name: 'room_message', arg: chat });
  for (const s of [a, b]) {
    s.events.push({ t: 1300, name: 'user_left', arg: { room: ROOM, user: { id: 1001, name: 'c' } } });
    s.events.push({ t: 1301, name: 'room_message', arg: left });
  }
  b.events.push({ t: 1212, name: 'room_message', arg: { from: 1, ...seq('a', 2) } });
  return {
    ...FAULTS,
    sessions: [a, b, c],
    chatRows: [
      { id: 11, room: ROOM, event: '', user_id: 2, text: 'hi' },
      { id: 12, room: ROOM, event: 'user_left', user_id: 1001, text: '' },
    ],
  };
}

const rules = (run) => [...new Set(check(run).failures.map((f) => f.rule))].sort();
const messages = (run) => check(run).failures.map((f) => f.message).join('\n');

test('a clean run passes', () => {
  const result = check(cleanRun());
  assert.deepEqual(result.failures, []);
  assert.equal(result.stats.missing, 0);
  assert.equal(result.stats.requiredDeliveries, 3);  // m1 to b and c, m2 to b
});

test('a delivery dropped from a log is missing', () => {
  const run = cleanRun();
  const b = run.sessions[1];
  b.events = b.events.filter((e) => e.arg?.data?.n !== 2);
  assert.deepEqual(rules(run), ['delivery']);
  assert.match(messages(run), /1 acked messages missing .*a#2 .* -> b/);
});

test('a message to a member on the killed node acked just before the kill is excluded, not required', () => {
  const run = cleanRun();
  const [a, , c] = run.sessions;
  a.requests.push({ t0: 940, name: 'room_message', arg: seq('a', 9), t1: 950, ack: { ok: true } });
  run.sessions[1].events.push({ t: 951, name: 'room_message', arg: { from: 1, ...seq('a', 9) } });
  const result = check(run);
  assert.deepEqual(result.failures, []);
  assert.equal(Object.values(result.excluded).reduce((x, y) => x + y, 0), 1);
  c.endedAt = 1200;  // no matter when c noticed: it was on the killed node
  assert.deepEqual(check(run).failures, []);
});

test('a duplicate, a message to its own sender, a message nobody sent and an error-acked one delivered fail', () => {
  for (const mutate of [
    (run) => run.sessions[1].events.push({ t: 113, name: 'room_message', arg: { from: 1, ...seq('a', 1) } }),
    (run) => run.sessions[0].events.push({ t: 113, name: 'room_message', arg: { from: 1, ...seq('a', 1) } }),
    (run) => run.sessions[1].events.push({ t: 113, name: 'room_message', arg: { from: 1, ...seq('zz', 1) } }),
    (run) => run.sessions[1].events.push({ t: 2300, name: 'room_message', arg: { from: 1, ...seq('a', 3) } }),
  ]) {
    const run = cleanRun();
    mutate(run);
    assert.deepEqual(rules(run), ['delivery']);
  }
});

test('two members seeing the same messages in different orders fail', () => {
  const run = cleanRun();
  const [a, b] = run.sessions;
  a.requests.push({ t0: 500, name: 'room_message', arg: seq('a', 4), t1: 510, ack: { ok: true } });
  b.requests.push({ t0: 500, name: 'room_message', arg: seq('b', 1), t1: 510, ack: { ok: true } });
  const c = run.sessions[2];
  b.events.push({ t: 515, name: 'room_message', arg: { from: 1, ...seq('a', 4) } });
  c.events.push({ t: 515, name: 'room_message', arg: { from: 2, ...seq('b', 1) } });
  c.events.push({ t: 516, name: 'room_message', arg: { from: 1, ...seq('a', 4) } });
  a.events.push({ t: 515, name: 'room_message', arg: { from: 2, ...seq('b', 1) } });
  assert.deepEqual(check(run).failures, []);
  // b saw a#4 then its own, c saw b#1 then a#4: fine (b does not get its own);
  // now d sees them the other way round from c
  const d = { ...structuredClone(c), label: 'd', node: 'n3', user: { id: 2001, name: 'd' }, endedAt: null, endReason: null };
  d.events = d.events.filter((e) => e.t < 515);
  d.events.push({ t: 515, name: 'room_message', arg: { from: 1, ...seq('a', 4) } });
  d.events.push({ t: 516, name: 'room_message', arg: { from: 2, ...seq('b', 1) } });
  d.events.push({ t: 1300, name: 'user_left', arg: { room: ROOM, user: { id: 1001, name: 'c' } } });
  d.events.push({ t: 1301, name: 'room_message', arg: { from: 0, type: 'chat', data: { id: 12, room: ROOM, ts: 2, event: 'user_left', user: { id: 1001 } } } });
  d.events.push({ t: 1212, name: 'room_message', arg: { from: 1, ...seq('a', 2) } });
  run.sessions.push(d);
  assert.deepEqual(rules(run), ['order']);
});

test('a request never answered, or answered late, fails; one on a connection that died is excluded', () => {
  let run = cleanRun();
  run.sessions[0].requests[2].t1 = null;  // a#2
  run.sessions[0].requests[2].ack = undefined;
  run.sessions[1].events = run.sessions[1].events.filter((e) => e.arg?.data?.n !== 2);
  assert.deepEqual(rules(run), ['acks']);
  run = cleanRun();
  run.sessions[0].requests[2].t1 = 1900;
  assert.deepEqual(rules(run), ['acks']);
  run = cleanRun();
  run.sessions[2].requests.push({ t0: 1005, name: 'room_message', arg: seq('c', 1), t1: null, ack: undefined });
  assert.deepEqual(check(run).failures, []);
});

test('a message acked just before the Redis kill and missing somewhere is listed, not failed; one acked earlier is', () => {
  const run = cleanRun();
  const [a, b] = run.sessions;
  a.requests.push({ t0: 1950, name: 'room_message', arg: seq('a', 5), t1: 1960, ack: { ok: true } });
  let result = check(run);
  assert.deepEqual(result.failures, []);
  assert.deepEqual(result.stats.lostAtRedisKill, ['a#5 (acked 1.960 s) -> b(websocket, n1, user 2)']);
  a.requests.at(-1).t0 = 1800;
  a.requests.at(-1).t1 = 1810;
  result = check(run);
  assert.deepEqual(rules(run), ['delivery']);
  b.events.push({ t: 1811, name: 'room_message', arg: { from: 1, ...seq('a', 5) } });
  assert.deepEqual(check(run).failures, []);
});

test('a room message answered ok while Redis was down fails', () => {
  const run = cleanRun();
  run.sessions[0].requests[3].ack = { ok: true };
  run.sessions[1].events.push({ t: 2060, name: 'room_message', arg: { from: 1, ...seq('a', 3) } });
  assert.deepEqual(rules(run), ['acks']);
});

test('a user id given twice fails', () => {
  const run = cleanRun();
  run.sessions[1].user.id = 1;
  assert.ok(rules(run).includes('ids'));
});

test('chat: ids going down, an id not in PostgreSQL, an acked message missing, fail', () => {
  let run = cleanRun();
  run.sessions[0].events.find((e) => e.arg?.data?.event === 'user_left').t = 300;  // id 12 before 11
  assert.deepEqual(rules(run), ['chat']);
  run = cleanRun();
  run.chatRows = run.chatRows.filter((r) => r.id !== 11);
  assert.deepEqual(rules(run), ['chat']);
  run = cleanRun();
  run.sessions[2].events = run.sessions[2].events.filter((e) => e.arg?.type !== 'chat');
  assert.deepEqual(rules(run), ['chat']);
  run = cleanRun();  // answered unavailable ("stored, but the room could not be told"), yet told
  run.sessions[1].requests[1].ack = { error: { code: 'unavailable' } };
  assert.deepEqual(rules(run), ['chat']);
  run = cleanRun();  // a chat message nobody sent
  run.sessions[1].requests[1].arg.data.text = 'hello';
  assert.ok(messages(run).includes('which nobody sent'));
});

test('reaping: a killed user without user_left at a survivor, with two, or not once in the history, fails', () => {
  let run = cleanRun();
  run.sessions[0].events = run.sessions[0].events.filter((e) => e.name !== 'user_left');
  assert.deepEqual(rules(run), ['reaping']);
  run = cleanRun();
  run.sessions[0].events.push({ t: 1302, name: 'user_left', arg: { room: ROOM, user: { id: 1001, name: 'c' } } });
  assert.ok(rules(run).includes('reaping') || rules(run).includes('membership'));
  run = cleanRun();
  run.chatRows.push({ id: 13, room: ROOM, event: 'user_left', user_id: 1001, text: '' });
  assert.deepEqual(rules(run), ['reaping']);
  run = cleanRun();
  for (const s of run.sessions) for (const e of s.events) if (e.name === 'user_left') e.t = 1000 + 401;
  assert.deepEqual(rules(run), ['reaping']);
});

test('a user_left of someone still there, a user_joined of someone there before, and a session ending on a live node fail', () => {
  let run = cleanRun();
  run.sessions[1].events.push({ t: 1500, name: 'user_left', arg: { room: ROOM, user: { id: 1, name: 'a' } } });
  assert.deepEqual(rules(run), ['membership']);
  run = cleanRun();
  Object.assign(run.sessions[1].requests[0], { t0: 45, t1: 50 });  // b joins after a
  run.sessions[1].joinedAt = 50;
  assert.deepEqual(rules(run), ['membership']);  // a and c must see b join
  for (const s of [run.sessions[0], run.sessions[2]]) s.events.unshift({ t: 51, name: 'user_joined', arg: { room: ROOM, user: { id: 2, name: 'b' } } });
  assert.deepEqual(check(run).failures, []);
  run.sessions[1].events.push({ t: 2300, name: 'user_joined', arg: { room: ROOM, user: { id: 1, name: 'a' } } });
  assert.deepEqual(rules(run), ['membership']);
  run = cleanRun();
  run.sessions[1].endedAt = 2500;
  run.sessions[1].endReason = 'disconnect (booted)';
  assert.deepEqual(rules(run), ['sessions']);
});

test('user messages: an acked one not delivered, one delivered twice, or to the wrong user, fail', () => {
  const withDm = () => {
    const run = cleanRun();
    const [a, b] = run.sessions;
    b.requests.push({ t0: 400, name: 'server_message', arg: { to: 1, type: 'dm', data: { sender: 'b', n: 1 } }, t1: 410, ack: { ok: true } });
    a.events.push({ t: 405, name: 'user_message', arg: { from: 2, type: 'dm', data: { sender: 'b', n: 1 } } });
    return run;
  };
  assert.deepEqual(check(withDm()).failures, []);
  let run = withDm();
  run.sessions[0].events.pop();
  assert.deepEqual(rules(run), ['delivery']);
  run = withDm();
  run.sessions[0].events.push({ ...run.sessions[0].events.at(-1), t: 406 });
  assert.deepEqual(rules(run), ['delivery']);
  run = withDm();
  run.sessions[1].events.push(run.sessions[0].events.pop());
  assert.deepEqual(rules(run), ['delivery']);
});
