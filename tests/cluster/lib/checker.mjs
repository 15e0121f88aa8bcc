// The fault test's checker: from the sessions' recorded logs (peers.mjs), the
// times of the faults and the chat rows in PostgreSQL, what the cluster
// promised and did not keep. Pure: no I/O, so tests/cluster/checker.test.mjs
// feeds it made-up runs to see it fail (and the fault test calls it again and
// again while the last deliveries arrive).
//
// A room message is known by "<sender>#<n>" (data {sender, n}), a chat message
// by its text; a member is a session (one connection, one user id). Times are
// the test process's performance.now(): a session is joined from its join ack
// on, a message is sent at its request and taken at its ack. A member must get
// a message when it was joined before the message was sent and was still there
// when the ack came (the join was then before the message in the room's order,
// and the leave after it). Every exclusion below says why, and is counted in
// the report.

export const REREGISTERING = 'Redis restarted, the nodes reconnecting and registering again';

/** Phases of the run, by time, for reporting where something went missing. */
function phaseOf(t, f) {
  if (t < f.tKill - f.killWindowMs) return 'before the node kill';
  if (t < f.tKill) return `within ${f.killWindowMs} ms before the node kill`;
  if (t < f.redis.tKill) return 'node dead, Redis up';
  if (t < f.redis.tRestart) return 'Redis down';
  // (the nodes' "connected to Redis" lines reach the test a little late: half a second of slack)
  if (t < f.redis.allReconnected + 500) return REREGISTERING;
  if (t < f.nodeRestart.tUp) return 'Redis back, nodes reconnected';
  return 'after the node restart';
}

const isSeq = (arg) => arg?.type === 'seq' && arg.data && typeof arg.data.sender === 'string';
const isDm = (arg) => arg?.type === 'dm' && arg.data && typeof arg.data.sender === 'string';
const seqKey = (data) => `${data.sender}#${data.n}`;
const isChat = (arg) => arg?.type === 'chat' && arg.data && typeof arg.data.id === 'number';

/**
 * run: {t0 (for the times in messages), sessions, killedNode, tKill, killWindowMs,
 *       ackBoundMs, reapBoundMs, redis: {tKill, tRestart, tUp, allReconnected},
 *       nodeRestart: {tUp}, chatRows: [{id, room, event, user_id, text}]}
 * Returns {failures: [{rule, message}], excluded: {reason: count}, stats}.
 */
export function check(run) {
  const failures = [];
  const excluded = {};
  const stats = {};
  const fail = (rule, message) => failures.push({ rule, message });
  const exclude = (reason, n = 1) => { excluded[reason] = (excluded[reason] ?? 0) + n; };
  const { sessions } = run;
  const name = (s) => `${s.label}(${s.transport}, ${s.node}, user ${s.user?.id})`;
  const ms = (t) => `${((t - (run.t0 ?? 0)) / 1000).toFixed(3)} s`;

  // On the killed node: opened there before the kill. Such a member counts as
  // gone from killWindowMs before the kill: a message acked just before may have
  // reached its node and died with it, undelivered.
  const onKilled = (s) => s.node === run.killedNode && s.openedAt < run.tKill;
  const until = (s) => {
    let end = s.endedAt ?? Infinity;
    if (onKilled(s)) end = Math.min(end, run.tKill - run.killWindowMs);
    return end;
  };
  const joined = sessions.filter((s) => s.joinedAt !== null && s.room !== null);
  // Redis fans a message out to the subscribed nodes after it has run the publish;
  // killed with kill -9 in between, some nodes never get it, and the restarted
  // (empty) Redis has no log to fill the hole from. So a message sent before the
  // Redis kill and answered less than killWindowMs before it (or after it: in
  // flight) may be missing at some members: counted and listed, not failed.
  const nearRedisKill = (r) => r.t0 < run.redis.tKill && r.t1 >= run.redis.tKill - run.killWindowMs;
  const lostAtRedisKill = [];
  const missingOr = (r, list, what) => {
    if (nearRedisKill(r)) {
      exclude(`missing: acked within ${run.killWindowMs} ms before the Redis kill or in flight at it (Redis may have died before fanning it out)`);
      lostAtRedisKill.push(what);
    } else {
      list.push(what);
    }
  };

  // ---- sessions: none ends but those on the killed node (and the test's own closes)
  for (const s of sessions) {
    if (s.endedAt === null || s.endReason === 'closed by the test') continue;
    if (onKilled(s) && s.endedAt >= run.tKill) continue;
    fail('sessions', `${name(s)} ended at ${ms(s.endedAt)} (${phaseOf(s.endedAt, run)}) though its node lived: ${s.endReason}`);
  }

  // ---- user ids: unique over the run
  const byId = new Map();
  for (const s of sessions) {
    if (!s.user) { fail('ids', `${s.label} (${s.transport}) never got a user`); continue; }
    if (byId.has(s.user.id)) fail('ids', `user id ${s.user.id} given twice: ${name(byId.get(s.user.id))} and ${name(s)}`);
    byId.set(s.user.id, s);
  }
  stats.users = byId.size;

  // ---- acks: every request that asked for one got one, within the bound
  let requests = 0;
  for (const s of sessions) {
    for (const r of s.requests) {
      requests++;
      if (r.t1 === null) {
        if (s.endedAt !== null && s.endedAt < r.t0 + run.ackBoundMs) {
          exclude('request unanswered: its connection ended before the ack was due (no ack can come on a dead connection)');
        } else {
          fail('acks', `${name(s)}: ${r.name} ${JSON.stringify(r.arg)} sent at ${ms(r.t0)} (${phaseOf(r.t0, run)}) never answered`);
        }
      } else if (r.t1 - r.t0 > run.ackBoundMs) {
        fail('acks', `${name(s)}: ${r.name} answered after ${Math.round(r.t1 - r.t0)} ms (bound ${run.ackBoundMs})`);
      }
      // While Redis is down a room message cannot be taken: the answer is `unavailable`, never ok,
      // and it comes at once (nothing waits for Redis in secret). A chat message is committed to
      // PostgreSQL first and published after: if that ends once Redis is back, ok is right.
      if (r.name === 'room_message' && r.t0 >= run.redis.tKill && r.t0 < run.redis.tRestart && r.t1 !== null &&
          r.ack?.error?.code !== 'unavailable') {
        if (r.arg.type === 'chat' && r.t1 >= run.redis.tRestart) {
          exclude('chat sent while Redis was down, answered after its restart began: published on the new Redis');
        } else {
          fail('acks', `${name(s)}: ${r.arg.type} message sent while Redis was down (at ${ms(r.t0)}) answered ${JSON.stringify(r.ack)} at ${ms(r.t1)}, not unavailable`);
        }
      }
    }
  }
  stats.requests = requests;

  // ---- what each member got: per room, in arrival order
  const gotOf = new Map();  // session -> what it got
  for (const s of joined) {
    gotOf.set(s, { seq: new Map(), chat: new Map(), joined: new Map(), left: new Map(), chatLeft: new Map(), order: [], chatIds: [] });
    const got = gotOf.get(s);
    const seen = new Set();  // the order counts each message's first arrival (a second is a failure of its own)
    const inOrder = (k) => { if (!seen.has(k)) { seen.add(k); got.order.push(k); } };
    for (const e of [...s.events].sort((x, y) => x.t - y.t)) {
      if (e.name !== 'room_message' && e.name !== 'user_joined' && e.name !== 'user_left') continue;
      const a = e.arg;
      if (e.name === 'room_message' && isSeq(a)) {
        const k = seqKey(a.data);
        push(got.seq, k, e.t);
        inOrder(`m:${k}`);
      } else if (e.name === 'room_message' && isChat(a)) {
        if (a.data.room !== s.room) fail('chat', `${name(s)} in room ${s.room} got chat ${a.data.id} of room ${a.data.room}`);
        got.chatIds.push(a.data.id);
        if (a.data.event === 'user_left') push(got.chatLeft, a.data.user?.id, e.t);
        if (a.data.event === undefined) push(got.chat, a.data.text, e.t);
      } else if (e.name === 'user_joined' && a?.room === s.room) {
        push(got.joined, a.user?.id, e.t);
        inOrder(`j:${a.user?.id}`);
      } else if (e.name === 'user_left' && a?.room === s.room) {
        push(got.left, a.user?.id, e.t);
        inOrder(`l:${a.user?.id}`);
      }
    }
  }

  // ---- room messages: every acked one reached every member exactly once; nothing else arrived
  const sent = new Map();  // key -> {s, r}
  for (const s of sessions) {
    for (const r of s.requests) if (r.name === 'room_message' && r.arg.type === 'seq') sent.set(seqKey(r.arg.data), { s, r });
  }
  const missing = {};
  let required = 0;
  stats.okByPhase = {};  // where the traffic was: room messages answered ok, by the phase of the answer
  for (const [k, { s: from, r }] of sent) {
    const ok = r.ack?.ok === true;
    if (ok) stats.okByPhase[phaseOf(r.t1, run)] = (stats.okByPhase[phaseOf(r.t1, run)] ?? 0) + 1;
    for (const p of joined) {
      if (p.room !== from.room) continue;
      const times = gotOf.get(p).seq.get(k) ?? [];
      if (p === from) {
        if (times.length) fail('delivery', `${name(p)} got its own room message ${k}`);
        continue;
      }
      if (times.length > 1) fail('delivery', `${name(p)} got ${k} ${times.length} times`);
      if (!ok) {
        // An error answer means it was not taken (CA-10)... unless Redis died with
        // the request in flight: it may have run it and gone before answering.
        const inFlightAtRedisKill = r.t0 < run.redis.tKill && r.t1 !== null && r.t1 >= run.redis.tKill;
        if (times.length && r.t1 !== null && inFlightAtRedisKill) exclude('message answered with an error but delivered: in flight when Redis was killed (it may have run it and died before answering)');
        else if (times.length && r.t1 !== null) fail('delivery', `${k} answered ${JSON.stringify(r.ack)} yet delivered to ${name(p)}`);
        continue;
      }
      if (!(p.joinedAt < r.t0)) continue;  // joined after it was sent: it may or may not see it
      if (!(until(p) > r.t1)) {
        if (onKilled(p) && r.t1 < run.tKill && r.t1 >= run.tKill - run.killWindowMs) {
          exclude(`recipient on the killed node, message acked within ${run.killWindowMs} ms before the kill (may have died undelivered)${times.length ? ': delivered all the same' : ': not delivered'}`);
        }
        continue;  // gone before it was acked
      }
      required++;
      if (times.length === 0) missingOr(r, missing[phaseOf(r.t1, run)] ??= [], `${k} (acked ${ms(r.t1)}) -> ${name(p)}`);
    }
  }
  for (const p of joined) {
    for (const k of gotOf.get(p).seq.keys()) {
      if (!sent.has(k)) fail('delivery', `${name(p)} got ${k}, which nobody sent`);
      else if (sent.get(k).s.room !== p.room) fail('delivery', `${name(p)} in room ${p.room} got ${k} of room ${sent.get(k).s.room}`);
    }
  }
  // ---- user to user (server_message {to}): every acked one reached its user once, if still there
  const dms = new Map();  // key -> {s, r}
  for (const s of sessions) {
    for (const r of s.requests) if (r.name === 'server_message' && r.arg.type === 'dm') dms.set(seqKey(r.arg.data), { s, r });
  }
  const dmsOf = new Map();  // session -> {key: arrival times}
  for (const p of sessions) {
    const got = new Map();
    for (const e of p.events) if (e.name === 'user_message' && isDm(e.arg)) push(got, seqKey(e.arg.data), e.t);
    dmsOf.set(p, got);
    for (const [k, times] of got) {
      const sentDm = dms.get(k);
      if (times.length > 1) fail('delivery', `${name(p)} got user message ${k} ${times.length} times`);
      if (!sentDm) fail('delivery', `${name(p)} got user message ${k}, which nobody sent`);
      else if (sentDm.r.arg.to !== p.user?.id) fail('delivery', `${name(p)} got user message ${k} sent to user ${sentDm.r.arg.to}`);
      else if (sentDm.r.ack?.ok !== true && sentDm.r.t1 !== null && !(sentDm.r.t0 < run.redis.tKill && sentDm.r.t1 >= run.redis.tKill)) {
        fail('delivery', `user message ${k} answered ${JSON.stringify(sentDm.r.ack)} yet delivered to ${name(p)}`);
      }
    }
  }
  for (const [k, { r }] of dms) {
    if (r.ack?.ok !== true) continue;
    const p = byId.get(r.arg.to);
    if (!p) { fail('delivery', `user message ${k} to user ${r.arg.to}, nobody's id, answered ok`); continue; }
    if (!(until(p) > r.t1)) continue;  // its user was gone (or on the killed node) by the ack
    required++;
    if (!(dmsOf.get(p).get(k)?.length)) missingOr(r, missing[phaseOf(r.t1, run)] ??= [], `user message ${k} (acked ${ms(r.t1)}) -> ${name(p)}`);
  }
  stats.userMessages = dms.size;

  for (const [ph, list] of Object.entries(missing)) {
    if (!list.length) continue;
    fail('delivery', `${list.length} acked messages missing at members that were joined and alive (acked ${ph}); e.g. ${list.slice(0, 6).join('; ')}`);
  }
  stats.roomMessages = sent.size;
  stats.missing = Object.values(missing).reduce((n, l) => n + l.length, 0);
  stats.requiredDeliveries = required;

  // ---- joins: a member joined after another saw its user_joined once; one joined before, none
  for (const u of joined) {
    const joinReq = u.requests.find((r) => r.name === 'join_room');
    for (const p of joined) {
      if (p === u || p.room !== u.room) continue;
      const times = gotOf.get(p).joined.get(u.user.id) ?? [];
      if (times.length > 1) fail('membership', `${name(p)} got user_joined of ${name(u)} ${times.length} times`);
      if (u.joinedAt < p.requests.find((r) => r.name === 'join_room').t0) {
        if (times.length) fail('membership', `${name(p)} got user_joined of ${name(u)}, who was in the room before it joined (a re-registration that was not silent?)`);
      } else if (p.joinedAt < joinReq.t0 && until(p) > u.joinedAt && times.length === 0) {
        fail('membership', `${name(p)} never got user_joined of ${name(u)} (joined ${ms(u.joinedAt)}, ${phaseOf(u.joinedAt, run)})`);
      }
    }
  }

  // ---- leaves: only of users that left, at most once each; every killed-node user
  // left once at every survivor of its room, promptly, and once in the chat history
  for (const p of joined) {
    for (const [id, times] of gotOf.get(p).left) {
      const u = byId.get(id);
      if (times.length > 1) fail('membership', `${name(p)} got user_left of user ${id} ${times.length} times`);
      if (!u || u.room !== p.room) fail('membership', `${name(p)} got user_left of user ${id}, never a member of room ${p.room}`);
      else if (u.endedAt === null && !onKilled(u)) fail('membership', `${name(p)} got user_left of ${name(u)}, who is still there (at ${ms(times[0])}, ${phaseOf(times[0], run)})`);
    }
    for (const [id, times] of gotOf.get(p).chatLeft) {
      if (times.length > 1) fail('reaping', `${name(p)} got the chat user_left event of user ${id} ${times.length} times`);
    }
  }
  const reapTimes = [];
  for (const d of joined.filter((s) => onKilled(s) && s.joinedAt < run.tKill && !(s.endedAt < run.tKill))) {
    const rows = run.chatRows.filter((row) => row.event === 'user_left' && row.user_id === d.user.id && row.room === d.room);
    if (rows.length !== 1) fail('reaping', `${name(d)} of the killed node: ${rows.length} user_left events in room ${d.room}'s chat history, not 1`);
    for (const p of joined) {
      if (p.room !== d.room || onKilled(p) || !(p.joinedAt < run.tKill)) continue;
      if (!(until(p) > run.tKill + run.reapBoundMs)) { exclude('survivor gone before the reaping bound'); continue; }
      const times = gotOf.get(p).left.get(d.user.id) ?? [];
      if (times.length !== 1) { fail('reaping', `${name(p)} got ${times.length} user_left of ${name(d)} (killed node), not 1`); continue; }
      reapTimes.push(times[0] - run.tKill);
      if (times[0] - run.tKill > run.reapBoundMs) fail('reaping', `${name(p)} got user_left of ${name(d)} ${Math.round(times[0] - run.tKill)} ms after the kill (bound ${run.reapBoundMs})`);
      const chat = gotOf.get(p).chatLeft.get(d.user.id) ?? [];
      if (chat.length !== 1) fail('reaping', `${name(p)} got ${chat.length} chat user_left events of ${name(d)} (killed node), not 1`);
    }
  }
  stats.reapMs = reapTimes.length ? { min: Math.round(Math.min(...reapTimes)), max: Math.round(Math.max(...reapTimes)), n: reapTimes.length } : null;

  // ---- one order per room: every two members saw their common messages in the same order
  const rooms = [...new Set(joined.map((s) => s.room))];
  for (const room of rooms) {
    const members = joined.filter((s) => s.room === room);
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        const a = members[i], b = members[j];
        const posB = new Map(gotOf.get(b).order.map((k, idx) => [k, idx]));
        let last = -1, lastKey = null;
        for (const k of gotOf.get(a).order) {
          const pb = posB.get(k);
          if (pb === undefined) continue;
          if (pb < last) {
            fail('order', `room ${room}: ${name(a)} got ${lastKey} before ${k}, ${name(b)} the other way round`);
            break;
          }
          last = pb;
          lastKey = k;
        }
      }
    }
  }

  // ---- chat: ids increase per room as each member sees them, every one is in PostgreSQL,
  // every acked chat message reached every member (the sender too) exactly once
  const rows = new Map(run.chatRows.map((row) => [row.id, row]));
  for (const p of joined) {
    for (let i = 1; i < gotOf.get(p).chatIds.length; i++) {
      if (!(gotOf.get(p).chatIds[i] > gotOf.get(p).chatIds[i - 1])) {
        fail('chat', `${name(p)}: chat id ${gotOf.get(p).chatIds[i]} after ${gotOf.get(p).chatIds[i - 1]} in room ${p.room}`);
        break;
      }
    }
    for (const id of gotOf.get(p).chatIds) {
      const row = rows.get(id);
      if (!row) fail('chat', `${name(p)} got chat id ${id}, which is not in PostgreSQL`);
      else if (row.room !== p.room) fail('chat', `chat id ${id} is in room ${row.room} in PostgreSQL, ${name(p)} got it in room ${p.room}`);
    }
  }
  const chatMissing = {};
  let chats = 0;
  for (const from of joined) {
    for (const r of from.requests) {
      if (r.name !== 'room_message' || r.arg.type !== 'chat') continue;
      chats++;
      const text = r.arg.data.text;
      const stored = run.chatRows.filter((row) => row.text === text && row.event === '');
      if (r.ack?.ok === true && stored.length !== 1) fail('chat', `chat "${text}" acked ok but ${stored.length} rows in PostgreSQL`);
      for (const p of joined) {
        if (p.room !== from.room) continue;
        const times = gotOf.get(p).chat.get(text) ?? [];
        if (times.length > 1) fail('chat', `${name(p)} got chat "${text}" ${times.length} times`);
        if (r.ack?.ok !== true) {
          // stored perhaps, but not told to the room (its answer says so), unless Redis died with it in flight
          const inFlightAtRedisKill = r.t0 < run.redis.tKill && r.t1 !== null && r.t1 >= run.redis.tKill;
          if (times.length && r.t1 !== null && !inFlightAtRedisKill) fail('chat', `chat "${text}" answered ${JSON.stringify(r.ack)} yet delivered to ${name(p)}`);
          continue;
        }
        if (!(p.joinedAt < r.t0)) continue;
        if (!(until(p) > r.t1)) {
          if (onKilled(p) && r.t1 < run.tKill && r.t1 >= run.tKill - run.killWindowMs) {
            exclude(`chat to a member on the killed node, acked within ${run.killWindowMs} ms before the kill${times.length ? ': delivered all the same' : ': not delivered'}`);
          }
          continue;
        }
        if (times.length === 0) missingOr(r, chatMissing[phaseOf(r.t1, run)] ??= [], `"${text}" (acked ${ms(r.t1)}) -> ${name(p)}`);
      }
    }
  }
  const texts = new Set(joined.flatMap((s) => s.requests.filter((r) => r.name === 'room_message' && r.arg.type === 'chat').map((r) => r.arg.data.text)));
  for (const p of joined) {
    for (const text of gotOf.get(p).chat.keys()) if (!texts.has(text)) fail('chat', `${name(p)} got chat "${text}", which nobody sent`);
  }
  for (const [ph, list] of Object.entries(chatMissing)) {
    if (!list.length) continue;
    fail('chat', `${list.length} acked chat messages missing at members that were joined and alive (acked ${ph}); e.g. ${list.slice(0, 6).join('; ')}`);
  }
  stats.chatMessages = chats;
  stats.missing += Object.values(chatMissing).reduce((n, l) => n + l.length, 0);
  stats.lostAtRedisKill = lostAtRedisKill;
  return { failures, excluded, stats };
}

function push(map, k, t) {
  if (!map.has(k)) map.set(k, []);
  map.get(k).push(t);
}

/** The failures grouped by rule, a few lines each, for an assertion message. */
export function report({ failures, excluded, stats }, { perRule = 8 } = {}) {
  const lines = [`stats: ${JSON.stringify(stats)}`, `excluded: ${JSON.stringify(excluded)}`];
  const byRule = new Map();
  for (const f of failures) push(byRule, f.rule, f.message);
  for (const [rule, list] of byRule) {
    lines.push(`${rule}: ${list.length} failure(s)`);
    for (const m of list.slice(0, perRule)) lines.push(`  - ${m}`);
  }
  return lines.join('\n');
}
