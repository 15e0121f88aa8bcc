// The cluster harness itself (tests/node/lib/cluster.mjs, redis.mjs): the
// nodes come up behind haproxy, kill9Node and restartNode put a node down and
// back under its name (on another port when its own was taken meanwhile), and
// Redis restarts empty on its port. Without --cluster and --chat-db, so it
// checks the harness, not the cluster engine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startCluster } from '../node/lib/cluster.mjs';
import { redisMissing, redisPing } from '../node/lib/redis.mjs';
import { haproxyMissing } from '../node/lib/haproxy.mjs';
import { httpRequest } from '../node/lib/raw.mjs';

const missing = haproxyMissing() ?? redisMissing();
const skip = missing ? `not installed: ${missing}` : false;

let cluster;
before(async () => { if (!skip) cluster = await startCluster({ nodes: 2, cluster: false, chatDb: false }); });
after(async () => { await cluster?.stop(); });

/** The node names of `count` handshakes through haproxy. */
async function handshakeNodes(count) {
  const names = [];
  for (let i = 0; i < count; i++) {
    const res = await httpRequest(cluster.port, { path: '/socket.io/1/' });
    assert.equal(res.status, 200);
    names.push(res.body.split('.')[0]);
  }
  return names.sort();
}

test('two named nodes behind haproxy, Redis answering', { skip }, async () => {
  assert.deepEqual(cluster.nodes.map((n) => n.name), ['n1', 'n2']);
  assert.deepEqual(await cluster.haproxy.serverStates(), { n1: 'UP', n2: 'UP' });
  assert.deepEqual(await handshakeNodes(4), ['n1', 'n1', 'n2', 'n2']);
  assert.equal(await redisPing(cluster.redis.port), cluster.redis.proc().pid);
  assert.equal(cluster.redis.url, `redis://127.0.0.1:${cluster.redis.port}`);
});

test('kill9Node and restartNode: down, then back on its port', { skip, timeout: 30000 }, async () => {
  const { port } = cluster.nodes[1];
  await cluster.kill9Node(1);
  assert.equal(cluster.nodes[1].server.alive(), false);
  await cluster.haproxy.waitServer('n2', 'DOWN');
  assert.deepEqual(await handshakeNodes(3), ['n1', 'n1', 'n1']);
  await cluster.restartNode(1);
  assert.equal(cluster.nodes[1].port, port);
  assert.ok((await handshakeNodes(4)).includes('n2'));
});

test('restartNode on another port when its own was taken meanwhile: haproxy is told', { skip, timeout: 30000 }, async () => {
  const { port } = cluster.nodes[0];
  await cluster.kill9Node(0);
  const squatter = net.createServer();
  await new Promise((res) => squatter.listen(port, '127.0.0.1', res));
  try {
    await cluster.restartNode(0);
  } finally {
    squatter.close();
  }
  assert.notEqual(cluster.nodes[0].port, port);
  assert.match(await cluster.haproxy.command('show servers state compeit_nodes'),
    new RegExp(` n1 127\\.0\\.0\\.1 2 .* ${cluster.nodes[0].port} `));
  assert.ok((await handshakeNodes(4)).includes('n1'));
});

test('Redis: kill9 and restart give an empty Redis on the same port', { skip, timeout: 30000 }, async () => {
  const { port } = cluster.redis;
  const oldPid = cluster.redis.proc().pid;
  await cluster.redis.kill9();
  assert.equal(await redisPing(port), null);
  await cluster.redis.restart();
  assert.equal(cluster.redis.port, port);
  const pid = await redisPing(port);
  assert.ok(pid && pid !== oldPid);
});
