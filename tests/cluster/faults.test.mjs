// Faults under traffic (issue 14, "Tests"): three --cluster nodes behind
// haproxy, Redis and PostgreSQL; fourteen members of three rooms on every
// transport (socket.io-client 0.9.6 websocket through haproxy and pinned to a
// node, raw xhr-polling and jsonp-polling through haproxy on a chosen node)
// send numbered room messages, chat and user-to-user messages, every one with
// an ack, at a bounded rate. Meanwhile: kill -9 of node n2 (its members come
// back through haproxy as new users), kill -9 of Redis and its restart
// (empty), the restart of n2 (two more members on it). Then lib/checker.mjs
// judges the recorded logs, with PostgreSQL's chat rows: deliveries exactly
// once to every member joined and alive, one order per room, chat ids
// increasing and stored, one user_left per killed user at every survivor and
// in the history, unique user ids, an answer for every request.
// checker.test.mjs shows the checker failing on broken runs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../node/lib/cluster.mjs';
import { redisMissing } from '../node/lib/redis.mjs';
import { haproxyMissing } from '../node/lib/haproxy.mjs';
import { postgresMissing } from '../node/lib/postgres.mjs';
import { closeAll } from '../node/lib/client.mjs';
import { pollUntil } from '../node/lib/proc.mjs';
import { SioPeer, PollPeer } from './lib/peers.mjs';
import { check, report, REREGISTERING } from './lib/checker.mjs';

const missing = haproxyMissing() ?? redisMissing() ?? postgresMissing();
const skip = missing ? `not installed: ${missing}` : false;

const ROOMS = [31, 32, 33];
const KILLED = 1;                 // n2
const SEND_EVERY_MS = 120;        // per member: about 8 room messages a second...
const CHAT_EVERY = 5;             // ...and a chat message with every fifth...
const DM_EVERY = 7;               // ...and a user message with every seventh
const MAX_IN_FLIGHT = 20;         // per member: no more unanswered requests than this
const BOUNDS = {
  ackBoundMs: 5000,               // every request is answered within this
  killWindowMs: 500,              // a message acked this close before the kill may die with the node
  reapBoundMs: 8000,              // liveness TTL 3 s + a beat (1 s) + slack for a loaded machine
};
const now = () => performance.now();

let cluster = null;
let stopping = false;  // ends the traffic
const peers = [];
after(async () => {
  stopping = true;  // also when the test failed half-way: nothing may keep the process alive
  for (const peer of peers) peer.close();
  closeAll();
  await cluster?.stop();
});

/** Times of each node's log lines matching the cluster's Redis link (every process it ran). */
function watchLogs(node, into) {
  let rest = '';
  node.server.proc.stderr.on('data', (d) => {
    const lines = (rest + d).split('\n');
    rest = lines.pop();
    for (const line of lines) {
      if (/cluster: connected to Redis/.test(line)) into.push({ node: node.name, what: 'connected', t: now(), line });
      else if (/cluster: lost Redis/.test(line)) into.push({ node: node.name, what: 'lost', t: now(), line });
      else if (/cluster: /.test(line)) into.push({ node: node.name, what: 'note', t: now(), line });
    }
  });
}

test('kill -9 of a node, kill -9 and restart of Redis, restart of the node, under traffic on every transport: nothing acked is lost, one order per room',
  { skip, timeout: 120000 }, async (t) => {
    const t0 = now();
    cluster = await startCluster({ nodes: 3, chatDb: true });
    const tStarted = now();
    const logs = [];
    for (const node of cluster.nodes) watchLogs(node, logs);
    const nodeUrl = (i) => `http://127.0.0.1:${cluster.nodes[i].port}`;
    const name = (i) => cluster.nodes[i].name;

    // ---- twelve members: in every room one on each node (n2 on a different transport
    // in each room), plus one through haproxy wherever it sends it
    const layout = [
      // [room, pinned websocket node, xhr-polling node, jsonp-polling node]
      [ROOMS[0], KILLED, 0, 2],
      [ROOMS[1], 0, KILLED, 2],
      [ROOMS[2], 2, 0, KILLED],
    ];
    for (const [ri, [room, wsNode, xhrNode, jsonpNode]] of layout.entries()) {
      const members = [
        [new SioPeer(`W${ri}pin`, { url: nodeUrl(wsNode) }), {}],
        [new PollPeer(`X${ri}`, { proxyPort: cluster.port, transport: 'xhr-polling' }), { node: name(xhrNode) }],
        [new PollPeer(`J${ri}`, { proxyPort: cluster.port, transport: 'jsonp-polling' }), { node: name(jsonpNode) }],
        [new SioPeer(`W${ri}ha`, { url: cluster.url }), {}],
      ];
      for (const [peer, opts] of members) {
        await peer.open(opts);
        peer.room = room;
        peers.push(peer);
      }
    }
    for (const peer of peers) await peer.join(peer.room);
    const onNode = (peer) => peer.session.node;
    assert.deepEqual(layout.map(([room]) => peers.filter((p) => p.room === room && onNode(p) === name(KILLED)).length > 0),
      [true, true, true], 'every room has a member on the node to be killed');

    // ---- traffic: every live member sends, acks awaited by nobody but the record
    const inFlight = new Set();
    const sentSince = (peer, t) => peer.sessions.reduce((n, s) => n + s.requests.filter((r) => r.t0 >= t && r.t1 !== null).length, 0);
    async function drive(peer) {
      let n = 0;
      let k = 0;
      let dm = 0;
      while (!stopping) {
        const s = peer.session;
        const waiting = s.requests.filter((r) => r.t1 === null).length;
        if (s.endedAt === null && s.joinedAt !== null && waiting < MAX_IN_FLIGHT) {
          n++;
          const p = peer.send('room_message', { type: 'seq', data: { sender: peer.label, n } });
          inFlight.add(p);
          p.finally(() => inFlight.delete(p));
          if (n % CHAT_EVERY === 0) {
            k++;
            const c = peer.send('room_message', { type: 'chat', data: { text: `${peer.label} says ${k}` } });
            inFlight.add(c);
            c.finally(() => inFlight.delete(c));
          }
          if (n % DM_EVERY === 0) {  // to someone else, on any node, in any room
            const others = live().filter((p) => p !== peer);
            const to = others[Math.floor(Math.random() * others.length)]?.session.user.id;
            if (to !== undefined) {
              dm++;
              const d = peer.send('server_message', { to, type: 'dm', data: { sender: peer.label, n: dm } });
              inFlight.add(d);
              d.finally(() => inFlight.delete(d));
            }
          }
        }
        // the pace of the traffic, not a wait for an event
        await new Promise((r) => setTimeout(r, SEND_EVERY_MS * (0.5 + Math.random())));
      }
    }
    const drivers = [];
    const startDriving = (peer) => drivers.push(drive(peer));
    for (const peer of peers) startDriving(peer);
    const live = () => peers.filter((p) => p.session.endedAt === null && p.session.joinedAt !== null);
    /** Until every live member has had `count` requests answered since t. */
    const trafficSince = (t, count, what) => pollUntil(() => live().every((p) => sentSince(p, t) >= count),
      { timeoutMs: 10000, what, describe: () => live().map((p) => `${p.label}:${sentSince(p, t)}`).join(' ') });

    await trafficSince(0, 25, 'traffic before the faults');

    // ---- kill -9 of n2
    const victims = peers.filter((p) => onNode(p) === name(KILLED));
    const tKill = now();
    await cluster.kill9Node(KILLED);
    await pollUntil(() => victims.every((p) => p.session.endedAt !== null),
      { timeoutMs: 10000, what: `the members on ${name(KILLED)} to see their connection end`,
        describe: () => victims.filter((p) => p.session.endedAt === null).map((p) => p.label).join(' ') });
    // they come back through haproxy, as new users on the live nodes
    for (const peer of victims) {
      if (peer instanceof SioPeer) await peer.open({ url: cluster.url });
      else await peer.open();
      await peer.join(peer.room);
    }
    const tBack = now();
    // every survivor hears each victim leave, once, in the room and in its chat
    const victimSessions = victims.map((p) => p.sessions[0]);
    const survivorsOf = (room) => peers.flatMap((p) => p.sessions).filter((s) => s.room === room && s.joinedAt < tKill && s.node !== name(KILLED));
    const reaped = () => victimSessions.every((v) => survivorsOf(v.room).every((s) =>
      s.events.some((e) => e.name === 'user_left' && e.arg?.user?.id === v.user.id) &&
      s.events.some((e) => e.name === 'room_message' && e.arg?.type === 'chat' && e.arg.data?.event === 'user_left' && e.arg.data.user?.id === v.user.id)));
    await pollUntil(reaped, { timeoutMs: BOUNDS.reapBoundMs, what: `the users of ${name(KILLED)} to leave at every survivor` });
    const tReaped = now();
    await trafficSince(tReaped, 20, 'traffic after the node kill');

    // ---- kill -9 of Redis, and its restart (empty)
    const redis = { tKill: now() };
    await cluster.redis.kill9();
    const liveNodes = cluster.nodes.filter((_, i) => i !== KILLED).map((n) => n.name);
    await pollUntil(() => liveNodes.every((n) => logs.some((l) => l.node === n && l.what === 'lost' && l.t >= redis.tKill)),
      { timeoutMs: 5000, what: 'every live node to log the loss of Redis' });
    await trafficSince(redis.tKill, 6, 'requests answered while Redis is down');
    redis.tRestart = now();
    await cluster.redis.restart();
    redis.tUp = now();
    const reconnected = () => liveNodes.map((n) => logs.find((l) => l.node === n && l.what === 'connected' && l.t >= redis.tRestart));
    await pollUntil(() => reconnected().every(Boolean), { timeoutMs: 10000, what: 'every live node to reconnect to Redis' });
    redis.allReconnected = Math.max(...reconnected().map((l) => l.t));
    redis.reconnected = Object.fromEntries(reconnected().map((l) => [l.node, l.t]));
    await trafficSince(redis.allReconnected, 20, 'traffic after Redis is back');

    // ---- n2 again, with two new members on it
    await cluster.restartNode(KILLED);
    watchLogs(cluster.nodes[KILLED], logs);
    // (a new process: its whole log is since the restart, and the line may precede watchLogs)
    await pollUntil(() => /cluster: connected to Redis/.test(cluster.nodes[KILLED].server.stderr()),
      { timeoutMs: 10000, what: `${name(KILLED)} to connect to Redis after its restart` });
    const nodeRestart = { tUp: now() };
    const late = [
      [new SioPeer('W0late', { url: nodeUrl(KILLED) }), {}, ROOMS[0]],
      [new PollPeer('X1late', { proxyPort: cluster.port, transport: 'xhr-polling' }), { node: name(KILLED) }, ROOMS[1]],
    ];
    for (const [peer, opts, room] of late) {
      await peer.open(opts);
      peer.room = room;
      await peer.join(room);
      peers.push(peer);
      startDriving(peer);
    }
    await trafficSince(nodeRestart.tUp, 20, 'traffic after the node restart');

    // ---- stop, let every answer and delivery arrive (bounded), judge
    stopping = true;
    await Promise.all(drivers);
    await pollUntil(() => inFlight.size === 0, { timeoutMs: BOUNDS.ackBoundMs + 1000, what: 'the last answers',
      describe: () => `${inFlight.size} requests unanswered` }).catch(() => {});  // the checker names them
    const sessions = peers.flatMap((p) => p.sessions);
    const run = {
      t0, sessions, killedNode: name(KILLED), tKill, redis, nodeRestart, chatRows: [], ...BOUNDS,
    };
    await pollUntil(() => { const { stats } = check(run); return stats.missing + stats.lostAtRedisKill.length === 0; },
      { timeoutMs: 5000, what: 'the last deliveries' })
      .catch(() => {});  // what is still missing, the checker reports
    run.chatRows = (await cluster.postgres.psql('SELECT id, room, event, user_id, text FROM chat_messages WHERE room IS NOT NULL'))
      .map(([id, room, event, userId, text]) => ({ id: Number(id), room: Number(room), event, user_id: Number(userId), text }));
    const result = check(run);
    const tEnd = now();

    const rel = (t) => `${((t - t0) / 1000).toFixed(1)} s`;
    const timeline = [
      `cluster up ${rel(tStarted)}, ${name(KILLED)} killed ${rel(tKill)}, its users back ${rel(tBack)}, reaped ${rel(tReaped)}`,
      `Redis killed ${rel(redis.tKill)}, restarted ${rel(redis.tRestart)}-${rel(redis.tUp)}, nodes reconnected ${Object.entries(redis.reconnected).map(([n, t]) => `${n} ${rel(t)}`).join(', ')}`,
      `${name(KILLED)} back ${rel(nodeRestart.tUp)}, checked ${rel(tEnd)}`,
      `node notes: ${logs.filter((l) => l.what === 'note').map((l) => `${l.node}@${rel(l.t)} ${l.line.replace(/^\S+ \S+ /, '')}`).join(' | ').slice(0, 1500)}`,
    ].join('\n');
    const lost = result.stats.lostAtRedisKill;
    const summary = `${timeline}\n${lost.length ? `LOST AT THE REDIS KILL (acked, never delivered; listed, not failed): ${lost.length}: ${lost.join('; ')}\n` : ''}${report(result)}`;
    console.log(summary);
    // one verdict per promise, so a report says which ones broke
    const RULES = {
      sessions: 'no connection ends but those on the killed node',
      ids: 'user ids are unique over the run, reconnections and the restarted node included',
      acks: 'every request that asked for an ack got one within the bound; unavailable while Redis is down',
      delivery: 'every acked room message reached every member joined and alive, exactly once; nothing else arrived',
      membership: 'user_joined and user_left: once each, only for real joins and leaves (re-registration is silent)',
      reaping: "each of the killed node's users left once at every survivor, promptly, and once in the chat history",
      order: 'one order per room: every two members saw their common messages in the same order',
      chat: 'chat ids increase per room at every member, are all in PostgreSQL, acked chat reached every member once',
    };
    // Known server bugs, named where they show (see the reports of the test's author):
    const KNOWN = [
      [(m) => m.includes(`(acked ${REREGISTERING})`),
        'KNOWN BUG: after a Redis restart a node answers ok to room messages (and chat) as soon as it has reconnected, '
        + 'before it has subscribed its rooms again, and a new Redis is not read back from the room log '
        + '(cluster::Node::registered fills only on the same Redis): a message published then reaches nobody'],
    ];
    for (const [rule, promise] of Object.entries(RULES)) {
      await t.test(`${rule}: ${promise}`, () => {
        const broken = result.failures.filter((f) => f.rule === rule).map((f) => f.message);
        const known = KNOWN.filter(([match]) => broken.some(match)).map(([, note]) => note);
        assert.deepEqual(broken, [], `${rule}: ${broken.length} failure(s)\n${known.join('\n')}\n${timeline}`);
      });
    }
    assert.deepEqual([...new Set(result.failures.map((f) => f.rule))].filter((r) => !RULES[r]), []);
  });
