// haproxy in front of three named nodes (--node n1..n3, no --cluster: the nodes
// are independent processes), configured by deploy/haproxy/make-config.sh from
// deploy/haproxy/compeit.cfg: handshakes go to the least busy node, every
// request of a session goes to the node its sid names, on every transport, and
// a sid whose node is dead is answered 7:::1+0 by a live node, so the client
// handshakes again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startServer } from '../node/lib/server.mjs';
import { startHaproxy, haproxyConfig, haproxyBinary, haproxyMissing, makeConfig } from '../node/lib/haproxy.mjs';
import { behindProxyArgs } from '../node/lib/cluster.mjs';
import { freePort } from '../node/lib/daemon.mjs';
import { httpRequest, PollSession, RawWs } from '../node/lib/raw.mjs';
import { NS } from '../node/lib/packet.mjs';

const example = new URL('../../deploy/haproxy/compeit.cfg', import.meta.url);
const NAMES = ['n1', 'n2', 'n3'];
const SID = /^([a-z0-9-]{1,16})\.[A-Za-z0-9_-]{22}$/;
const missing = haproxyMissing();
const skip = missing ? `haproxy is not installed: ${missing}` : false;

let proxy;
let nodes;  // [{name, port, server, args}]
const sids = new Set();  // every sid of the run: none may reach haproxy's log

before(async () => {
  if (skip) return;
  const proxyPort = await freePort();
  nodes = [];
  for (const name of NAMES) {
    const args = ['--node', name, ...behindProxyArgs(proxyPort)];
    const server = await startServer(args);
    nodes.push({ name, port: server.port, server, args });
  }
  proxy = await startHaproxy(nodes, { port: proxyPort });
});

after(async () => {
  await proxy?.stop();
  await Promise.all((nodes ?? []).map((n) => n.server.stop()));
});

const nodeOf = (sid) => SID.exec(sid)?.[1];

/** One handshake through haproxy: the sid. */
async function handshake(query = '') {
  const res = await httpRequest(proxy.port, { path: `/socket.io/1/${query ? `?${query}` : ''}` });
  assert.equal(res.status, 200, `handshake: ${JSON.stringify(res)}`);
  const sid = res.body.split(':')[0];
  assert.match(sid, SID);
  sids.add(sid);
  return sid;
}

/** Handshakes through haproxy until one lands on node `name` (bounded): its sid. */
async function sidOn(name, query = '') {
  for (let i = 0; i < 30; i++) {
    const sid = await handshake(query);
    if (nodeOf(sid) === name) return sid;
  }
  throw new Error(`30 handshakes through haproxy, none on ${name}`);
}

/** A handshake query naming the user. */
const named = (label) => `name=${label}`;

/** A polling member of /connection_agent through haproxy on session `sid`, in `room`. */
async function pollMember(sid, transport, room, query) {
  const s = new PollSession(proxy.port, sid, { transport, query, jsonpIndex: 3 });
  assert.equal((await s.get()).payload, '1::');
  await s.post(`1::${NS}`);
  s.user = (await s.waitEvent('connected')).user;
  await s.emit('join_room', [{ room }], { id: '1' });
  const ack = await s.waitFor((p) => p.type === 6 && p.ackId === '1', { what: 'the join_room ack' });
  assert.equal(ack.ackArgs[0].room, room);
  return s;
}

/** A websocket member of /connection_agent through haproxy on session `sid`, in `room`. */
async function wsMember(sid, room, query) {
  const ws = await RawWs.connect(proxy.port, `/socket.io/1/websocket/${sid}${query ? `?${query}` : ''}`);
  assert.equal(await ws.next(() => true, { what: '1::' }), '1::');
  ws.sendText(`1::${NS}`);
  ws.user = (await ws.nextEvent('connected')).user;
  ws.sid = sid;
  ws.emit('join_room', [{ room }], { id: '1' });
  assert.equal((await ws.nextAck('1')).room, room);
  return ws;
}

/** What the next request of an unknown session gets on each transport. */
async function unknownEverywhere(sid) {
  const xhr = await new PollSession(proxy.port, sid).get();
  assert.equal(xhr.payload, '7:::1+0', 'xhr-polling');
  const jsonp = await new PollSession(proxy.port, sid, { transport: 'jsonp-polling', jsonpIndex: 2 }).get();
  assert.equal(jsonp.res.body, 'io.j[2]("7:::1+0");', 'jsonp-polling');
  const ws = await RawWs.connect(proxy.port, `/socket.io/1/websocket/${sid}`);
  assert.equal(await ws.next(() => true, { what: 'the websocket answer' }), '7:::1+0', 'websocket');
  ws.destroy();
}

test('the example configuration is valid, and make-config.sh gives it back for its own nodes', { skip }, () => {
  execFileSync(haproxyBinary, ['-c', '-q', '-f', example.pathname], { stdio: 'pipe' });
  const text = readFileSync(example, 'utf8');
  const servers = [...text.matchAll(/^ {4}server (\S+) (\S+)$/gm)].map((m) => `${m[1]}=${m[2]}`);
  assert.ok(servers.length >= 2, 'the example lists its nodes');
  const bind = /^ {4}bind (\S+) {2}# @bind$/m.exec(text)[1];
  const socket = /stats socket (\S+) .*# @socket$/m.exec(text)[1];
  const again = execFileSync(makeConfig, ['--bind', bind, '--socket', socket, ...servers], { encoding: 'utf8' });
  assert.equal(again, text);
  // the test's own configuration is the example with its bind, socket and servers only
  const ours = proxy.config().split('\n');
  const differs = text.split('\n').filter((line) => !ours.includes(line));
  for (const line of differs) assert.match(line, /# @bind$|# @socket$|^ {4}server /);
  assert.equal(haproxyConfig([{ name: 'n9', port: 1 }]).match(/^ {4}server .*$/gm).join(), '    server n9 127.0.0.1:1');
});

test('every node is up for haproxy, and handshakes are spread over all of them', { skip, timeout: 30000 }, async () => {
  assert.deepEqual(await proxy.serverStates(), { n1: 'UP', n2: 'UP', n3: 'UP' });
  const count = { n1: 0, n2: 0, n3: 0 };
  for (let i = 0; i < 15; i++) count[nodeOf(await handshake())]++;
  for (const name of NAMES) assert.ok(count[name] >= 3, `handshakes per node: ${JSON.stringify(count)}`);
});

test('a node busy with held long-polls gets no handshakes while the others are idle (leastconn)', { skip, timeout: 30000 }, async () => {
  // two sessions on n1 first: once a GET is held there, n1 is the busiest and gets no handshake
  const sessions = [new PollSession(proxy.port, await sidOn('n1')), new PollSession(proxy.port, await sidOn('n1'))];
  const busy = [];
  for (const s of sessions) {
    assert.equal((await s.get()).payload, '1::');
    busy.push({ s, held: s.get({ timeout: 25000 }) });  // nothing to say: the node holds it
  }
  await new Promise((r) => setTimeout(r, 200));  // the held GETs have reached n1
  const landed = [];
  for (let i = 0; i < 8; i++) landed.push(nodeOf(await handshake()));
  assert.ok(!landed.includes('n1'), `handshakes went to the busy n1: ${landed}`);
  assert.ok(landed.includes('n2') && landed.includes('n3'), `${landed}`);
  for (const { s, held } of busy) {
    await httpRequest(proxy.port, { path: s.path('disconnect') });  // answers the held GET with 0::
    assert.equal((await held).payload, '0::');
  }
});

test('websocket, xhr-polling and jsonp-polling sessions of every node reach their node: a room on each', { skip, timeout: 60000 }, async () => {
  for (const [i, name] of NAMES.entries()) {
    const room = 100 + i;
    // the sids first: with a websocket open on a node, leastconn sends handshakes elsewhere
    const [qw, qx, qj] = [named(`W${name}`), named(`X${name}`), named(`J${name}`)];
    const [sw, sx, sj] = [await sidOn(name, qw), await sidOn(name, qx), await sidOn(name, qj)];
    const w = await wsMember(sw, room, qw);
    try {
      const x = await pollMember(sx, 'xhr-polling', room, qx);
      const j = await pollMember(sj, 'jsonp-polling', room, qj);
      for (const s of [w, x, j]) assert.equal(nodeOf(s.sid), name);
      const said = (from, data) => ({ from: from.user.id, type: 'game', data });
      w.emit('room_message', [{ type: 'game', data: `ws on ${name}` }]);
      assert.deepEqual(await x.waitEvent('room_message'), said(w, `ws on ${name}`));
      assert.deepEqual(await j.waitEvent('room_message'), said(w, `ws on ${name}`));
      await x.emit('room_message', [{ type: 'game', data: `xhr on ${name}` }]);
      assert.deepEqual(await w.nextEvent('room_message'), said(x, `xhr on ${name}`));
      assert.deepEqual(await j.waitEvent('room_message'), said(x, `xhr on ${name}`));
      await j.emit('room_message', [{ type: 'game', data: `jsonp on ${name}` }]);
      assert.deepEqual(await w.nextEvent('room_message'), said(j, `jsonp on ${name}`));
      assert.deepEqual(await x.waitEvent('room_message'), said(j, `jsonp on ${name}`));
      // client 0.9.16's disconnect on unload has an empty transport: /socket.io/1//<sid>/?disconnect=1
      const bye = await httpRequest(proxy.port, { path: `/socket.io/1//${x.sid}/?disconnect=1` });
      assert.equal(bye.status, 200);
      assert.equal((await x.get()).payload, '7:::1+0', 'the disconnect reached the node of the session');
      assert.deepEqual(await w.nextEvent('user_left'), { room, user: x.user });
    } finally {
      w.destroy();
    }
  }
});

test('kill -9 of a node: its sids get 7:::1+0 from a live node at once, it is marked down within 2 s, handshakes avoid it; back after a restart', { skip, timeout: 60000 }, async (t) => {
  const victim = nodes[1];
  const [sx, sw] = [await sidOn('n2'), await sidOn('n2')];
  const x = await pollMember(sx, 'xhr-polling', 200, '');
  const w = await wsMember(sw, 200, '');

  // Health checks of n2 paused: haproxy keeps it up, as in the second before its checks notice.
  await proxy.command('disable health compeit_nodes/n2');
  victim.server.proc.kill('SIGKILL');
  await victim.server.exited;
  await w.waitClosed(5000);  // the websocket's tunnel ends with the node
  const logBefore = proxy.log().length;
  const t0 = performance.now();
  await unknownEverywhere(x.sid);  // the refused connection is retried at once on another node
  await unknownEverywhere(w.sid);
  t.diagnostic(`the dead node's sids answered 7:::1+0 on 3 transports x 2 sessions in ${Math.round(performance.now() - t0)} ms`);
  assert.notEqual((await proxy.serverStates()).n2, 'DOWN', 'haproxy must not know yet');
  const redispatched = proxy.log().slice(logBefore).split('\n').filter((l) => /compeit_nodes\/n[13] .*\/\+1 GET "\/socket\.io\/1\/[a-z-]+\/n2\.\*"/.test(l));
  assert.equal(redispatched.length, 6, `redispatched requests in the log:\n${proxy.log().slice(logBefore)}`);

  // With its checks on again, haproxy marks it down quickly; use-server n2 is then skipped.
  await proxy.command('enable health compeit_nodes/n2');
  const downMs = await proxy.waitServer('n2', 'DOWN', { timeoutMs: 3000 });
  t.diagnostic(`haproxy marked the dead n2 down ${Math.round(downMs)} ms after its checks resumed`);
  assert.ok(downMs < 2000, `haproxy marked n2 down ${Math.round(downMs)} ms after its checks resumed`);
  await unknownEverywhere(x.sid);
  const landed = [];
  for (let i = 0; i < 10; i++) landed.push(nodeOf(await handshake()));
  assert.ok(!landed.includes('n2'), `handshakes went to the dead n2: ${landed}`);
  assert.ok(landed.includes('n1') && landed.includes('n3'), `${landed}`);
  // a client told 7:::1+0 handshakes again, on a live node, and carries on there
  const again = await pollMember(await sidOn(landed[0]), 'xhr-polling', 200, '');
  await again.emit('room_message', [{ type: 'game', data: 'still here' }], { id: '2' });
  assert.deepEqual((await again.waitFor((p) => p.type === 6 && p.ackId === '2', { what: 'the ack' })).ackArgs[0], { ok: true });

  // the node comes back under its name on its port: routed to again (old sids stay unknown)
  await victim.server.stop();
  victim.server = await startServer([...victim.args, '--port', String(victim.port)]);
  await proxy.waitServer('n2', 'UP', { timeoutMs: 5000 });
  await unknownEverywhere(x.sid);
  await pollMember(await sidOn('n2'), 'xhr-polling', 201, '');
});

test("haproxy's log names the node of each session request, never a whole sid", { skip }, () => {
  const log = proxy.log();
  assert.match(log, /compeit_nodes\/n1 .* GET "\/socket\.io\/1\/xhr-polling\/n1\.\*"/);
  assert.match(log, /GET "\/socket\.io\/1\/websocket\/n2\.\*"/);
  assert.match(log, /Server compeit_nodes\/n2 is DOWN/);
  assert.ok(sids.size > 50, `${sids.size} sids`);
  const leaked = [...sids].filter((sid) => log.includes(sid.split('.')[1]));
  assert.deepEqual(leaked, [], 'sids in the log');
});
