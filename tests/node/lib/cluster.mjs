// A whole cluster for one test file: Redis, PostgreSQL (when it can run here),
// N compeit-server nodes (n1, n2, ...) with --cluster/--node/--chat-db, and
// haproxy in front with deploy/haproxy/compeit.cfg, all on free loopback ports.
// scripts/run-cluster.sh starts the same thing by hand. Every wait is bounded.
import { existsSync } from 'node:fs';
import { startProcess } from './server.mjs';
import { startRedis } from './redis.mjs';
import { startHaproxy } from './haproxy.mjs';
import { freePort } from './daemon.mjs';

/**
 * The flags every node behind haproxy needs besides --node/--cluster/--chat-db
 * (deploy/haproxy/compeit.cfg explains them; scripts/run-cluster.sh passes the
 * same): the origin of the pages haproxy serves, haproxy trusted for the client's
 * address (X-Forwarded-For), and no per-address limits, as every test client shares
 * 127.0.0.1 with haproxy (haproxy limits each client).
 */
export function behindProxyArgs(proxyPort) {
  return [
    '--allowed-origin', `http://127.0.0.1:${proxyPort}`, '--allowed-origin', `http://localhost:${proxyPort}`,
    '--trusted-proxy', '127.0.0.1',
    '--max-connections-per-address', '0', '--max-handshakes-per-address', '10000',
  ];
}

/**
 * The chat database: `chatDb` a URL is used as is; false: none (each node keeps
 * SQLite in its data dir); true: a scratch PostgreSQL (tests/node/lib/postgres.mjs),
 * or an error when it cannot run here; undefined: a scratch PostgreSQL when it can
 * run here, else none. Resolves {url, postgres (the handle to stop), note}.
 */
async function chatDatabase(chatDb) {
  if (typeof chatDb === 'string') return { url: chatDb, postgres: null, note: 'given' };
  if (chatDb === false) return { url: null, postgres: null, note: 'none: SQLite per node' };
  const lib = new URL('./postgres.mjs', import.meta.url);
  const reason = existsSync(lib)
    ? (await import(lib.href)).postgresMissing()
    : 'tests/node/lib/postgres.mjs is not there yet';
  if (reason) {
    if (chatDb === true) throw new Error(`startCluster: no PostgreSQL: ${reason}`);
    return { url: null, postgres: null, note: `none (${reason}): SQLite per node` };
  }
  const postgres = await (await import(lib.href)).startPostgres();
  return { url: postgres.url, postgres, note: 'scratch PostgreSQL' };
}

/**
 * Starts the cluster. Resolves to {url (haproxy's), haproxy, redis, postgres
 * (null without), chatDbUrl, nodes: [{name, port, server}], kill9Node(i),
 * restartNode(i), stop()}. `server` is startProcess's handle of the node's current
 * process (a new one after restartNode). `args` go to every node, after the
 * cluster flags, `serverOptions` ({env, nofile}) to every node's startProcess.
 * `cluster: false` leaves out --cluster (nodes named but independent, as before the
 * cluster engine).
 */
export async function startCluster({
  nodes: count = 3, args = [], chatDb, cluster = true, readyTimeout = 15000, serverOptions = {},
} = {}) {
  const started = { redis: null, postgres: null, haproxy: null, nodes: [] };
  async function stopAll() {
    const servers = started.nodes.map((n) => n.server).filter(Boolean);
    await Promise.allSettled([started.haproxy?.stop(), ...servers.map((s) => s.stop())]);
    await Promise.allSettled([started.redis?.stop(), started.postgres?.stop()]);
  }

  try {
    const db = await chatDatabase(chatDb);
    started.postgres = db.postgres;
    started.redis = await startRedis();
    const proxyPort = await freePort();  // known before the nodes: their allowed origin
    const nodeArgs = (name) => [
      '--node', name,
      ...(cluster ? ['--cluster', started.redis.url] : []),
      ...(db.url ? ['--chat-db', db.url] : []),
      ...behindProxyArgs(proxyPort),
      ...args,
    ];
    for (let i = 0; i < count; i++) {
      const name = `n${i + 1}`;
      const node = { name, args: nodeArgs(name), port: null, server: null };
      started.nodes.push(node);
      node.server = await startProcess(node.args, { ...serverOptions, readyTimeout });
      node.port = node.server.port;
    }
    started.haproxy = await startHaproxy(started.nodes, { port: proxyPort });

    return {
      url: started.haproxy.url,
      port: started.haproxy.port,
      haproxy: started.haproxy,
      redis: started.redis,
      postgres: started.postgres,
      chatDbUrl: db.url,
      chatDbNote: db.note,
      nodes: started.nodes,

      /**
       * kill -9 of node i (0-based); resolves once the process is gone, not when haproxy
       * has noticed (haproxy.waitServer(name, 'DOWN') for that; meanwhile haproxy retries
       * the node's requests on another node).
       */
      async kill9Node(i) {
        const node = started.nodes[i];
        node.server.proc.kill('SIGKILL');
        await node.server.stop();  // waits for the exit, removes the data dir
      },

      /**
       * Starts node i again (after kill9Node, or stops it first), under the same name and
       * on the same port if that is still free (else on another one, which haproxy is told
       * through its runtime API); resolves once haproxy's checks see it up.
       */
      async restartNode(i, { upTimeoutMs = 10000 } = {}) {
        const node = started.nodes[i];
        if (node.server.alive()) await node.server.stop();
        try {
          node.server = await startProcess([...node.args, '--port', String(node.port)], { ...serverOptions, readyTimeout });
        } catch {
          node.server = await startProcess(node.args, { ...serverOptions, readyTimeout });
          await started.haproxy.setServerPort(node.name, node.server.port);
          node.port = node.server.port;
        }
        await started.haproxy.waitServer(node.name, 'UP', { timeoutMs: upTimeoutMs });
      },

      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
