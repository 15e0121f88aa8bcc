// Graceful drain: SIGTERM flips /readyz to 503 at once, refuses new sessions,
// lets the open ones finish their chat for --drain-timeout, then closes the
// rest with a socket.io disconnect and exits 0; a second SIGTERM stops at once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProcess, waitForExit } from './lib/server.mjs';
import { Client, closeAll, once } from './lib/client.mjs';
import { httpRequest, joinedPollSession, openWs } from './lib/raw.mjs';
import { pollUntil } from './lib/proc.mjs';
import { parsePrometheus, sampleSum } from './lib/prometheus.mjs';
import { startHaproxy, haproxyMissing } from './lib/haproxy.mjs';
import { startCluster } from './lib/cluster.mjs';
import { redisMissing } from './lib/redis.mjs';
import { postgresMissing } from './lib/postgres.mjs';

after(() => closeAll());

const DRAIN_S = 3;

async function readyz(port) {
  const res = await httpRequest(port, { path: '/readyz' });
  return { ...res, json: JSON.parse(res.body) };
}

async function awaitDraining(server) {
  return pollUntil(async () => {
    const r = await readyz(server.port);
    return r.status === 503 ? r : null;
  }, { what: '/readyz 503', describe: () => server.stderr().slice(-1500) });
}

async function joined(server, name, room) {
  const c = await Client.connect(server.url, { name });
  await c.ack('join_room', { room });
  return c;
}

test('SIGTERM: /readyz 503 at once, no new sessions, chat goes on, the rest closed at the timeout, exit 0',
  { timeout: 30000 }, async () => {
    const server = await startProcess(['--drain-timeout', String(DRAIN_S)]);
    try {
      const ws = await joined(server, 'Stays', 31);
      const leaver = await joined(server, 'Leaves', 31);
      const { s: poll } = await joinedPollSession(server.port, 31, { name: 'Poller' });
      const disconnected = once(ws.socket, 'disconnect', (DRAIN_S + 5) * 1000);

      const t0 = performance.now();
      server.proc.kill('SIGTERM');
      const r = await awaitDraining(server);
      assert.equal(r.json.ready, false);
      assert.equal(r.json.checks.draining.ok, false);
      assert.match(r.json.checks.draining.reason, /shutting down/);

      const hs = await httpRequest(server.port, { path: '/socket.io/1/' });
      assert.equal(hs.status, 503);
      assert.equal(hs.body, 'server shutting down');
      const metrics = parsePrometheus((await httpRequest(server.port, { path: '/metrics' })).body);
      assert.equal(sampleSum(metrics, 'compeit_handshake_refusals_total', { reason: 'draining' }), 1);

      // An open session's chat is acked, delivered (to a polling member too) and in history.
      assert.deepEqual(await ws.ack('room_message', { type: 'chat', data: { text: 'during the drain' } }), { ok: true });
      await poll.waitFor((p) => p.name === 'room_message' && p.args[0]?.data?.text === 'during the drain',
        { what: 'the chat on the polling client' });
      await ws.ack('server_message', { type: 'chat', data: { action: 'history' } });
      // (the history sent on join came first: this is the one asked for, the last one)
      const h = await ws.chat.take((e) => e.name === 'server_message' && e.args[0].data.action === 'history' &&
        e.args[0].data.messages.some((m) => m.event === undefined), { what: 'history with a chat message' });
      assert.equal(h.args[0].data.messages.at(-1).text, 'during the drain');

      leaver.socket.socket.disconnect();  // the whole session, not just the namespace
      // The server's socket.io disconnect (0::) at the timeout, not a dropped connection.
      assert.equal(await disconnected, 'booted');
      const exit = await waitForExit(server, (DRAIN_S + 5) * 1000);
      const elapsed = performance.now() - t0;
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(elapsed >= DRAIN_S * 1000 - 200, `the open sessions had their ${DRAIN_S} s (${elapsed} ms)`);
      assert.ok(elapsed < (DRAIN_S + 4) * 1000, `exited ${elapsed} ms after SIGTERM`);
      assert.match(server.stderr(), /draining: 3 sessions open/);
      assert.match(server.stderr(), /drained: of 3 sessions open at the signal, 1 left by themselves, 2 closed at the timeout/);
    } finally {
      await server.stop();
    }
  });

test('a second SIGTERM stops at once', { timeout: 20000 }, async () => {
  const server = await startProcess(['--drain-timeout', '60']);
  try {
    const ws = await openWs(server.port);
    server.proc.kill('SIGTERM');
    await awaitDraining(server);
    server.proc.kill('SIGTERM');
    assert.deepEqual(await waitForExit(server, 3000), { code: 0, signal: null });
    assert.match(server.stderr(), /SIGTERM: shutting down now/);
    ws.sock.destroy();
  } finally {
    await server.stop();
  }
});

test('behind haproxy (deploy/haproxy/compeit.cfg): a draining node is marked down, its websocket goes on',
  { skip: haproxyMissing() ?? false, timeout: 30000 }, async () => {
    const server = await startProcess(['--drain-timeout', '20', '--node', 'n1']);
    let proxy;
    try {
      proxy = await startHaproxy([{ name: 'n1', port: server.port }]);
      await proxy.waitServer('n1', 'UP');
      const ws = await joined(server, 'Stays', 41);
      server.proc.kill('SIGTERM');
      await proxy.waitServer('n1', 'DOWN');
      assert.deepEqual(await ws.ack('room_message', { type: 'chat', data: { text: 'still here' } }), { ok: true });
    } finally {
      await proxy?.stop();
      await server.stop();
    }
  });

test('cluster: the users of a drained node leave their rooms at once, not when the node is reaped',
  { skip: haproxyMissing() ?? redisMissing() ?? postgresMissing() ?? false, timeout: 90000 }, async (t) => {
    const cluster = await startCluster({ nodes: 2, args: ['--drain-timeout', '1'] });
    try {
      const [n1, n2] = cluster.nodes;
      const leaving = await joined(n1.server, 'OnN1', 51);
      const staying = await joined(n2.server, 'OnN2', 51);
      n1.server.proc.kill('SIGTERM');
      assert.deepEqual(await waitForExit(n1.server, 6000), { code: 0, signal: null });
      const tExit = performance.now();
      await staying.chat.take((e) => e.name === 'room_message' && e.args[0].data.event === 'user_left' &&
        e.args[0].data.user.id === leaving.user.id, { what: 'user_left of the drained node\'s user', timeout: 10000 });
      const ms = performance.now() - tExit;
      t.diagnostic(`user_left ${Math.round(ms)} ms after the exit`);
      // A reaped node's users leave ~4 s after it is gone (the liveness TTL); these left as it closed.
      assert.ok(ms < 1500, `user_left ${ms} ms after the exit`);
    } finally {
      await cluster.stop();
    }
  });
