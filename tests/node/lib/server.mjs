// Starts and stops the compeit-server binary for one test file.
// Every wait here is bounded; a server that does not come up fails the test
// with its stderr attached, so the cause is visible in the test report.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const serverBinary =
  process.env.COMPEIT_SERVER || join(repoRoot, 'build/native/bin/compeit-server');

const READY_RE = /listening on (https?):\/\/(?:127\.0\.0\.1|localhost):(\d+)/;  // https with --tls-cert; --bind localhost

/**
 * COMPEIT_TEST_CLUSTER=N (N from 2 to 9): every startServer() is a cluster of N nodes
 * behind haproxy instead of one process; unset, 0 or 1: one process. Any other value is
 * an error, not a silent single process.
 */
export const clusterSize = (() => {
  const v = process.env.COMPEIT_TEST_CLUSTER;
  if (v === undefined || v === '' || v === '0' || v === '1') return 0;
  if (!/^[2-9]$/.test(v)) throw new Error(`COMPEIT_TEST_CLUSTER=${v}: expected a node count from 2 to 9`);
  return Number(v);
})();

/**
 * Skip reason for a test that checks something one process owns (per-address limits,
 * its descriptors, its own log lines, killing it): `{ skip: perProcess('why') }` is
 * false in single-process mode and 'per-process: why' under COMPEIT_TEST_CLUSTER.
 */
export const perProcess = (why) => (clusterSize ? `per-process: ${why}` : false);

/**
 * For a test that fails against a cluster because the server does not do it yet across
 * nodes (a bug, or a part not built): `{ todo: clusterTodo('what') }` still runs it, and
 * under COMPEIT_TEST_CLUSTER reports a failure as TODO instead of failing the run. Drop
 * the mark once the server is fixed (node prints passing TODO tests too).
 */
export const clusterTodo = (why) => (clusterSize ? `cluster: ${why}` : false);

/**
 * A session id as the server hands it out, for a RegExp: 22 base64url characters, after
 * the node's name and a dot on a cluster node (startCluster names them n1, n2, ...).
 */
export const sidPattern = clusterSize ? 'n[1-9][.][A-Za-z0-9_-]{22}' : '[A-Za-z0-9_-]{22}';

/**
 * COMPEIT_TEST_SERVER_ARGS="--io-uring on": flags every started server gets first (before
 * the test's own), split at spaces: the same tests against another write path, say.
 */
export const serverArgsFromEnv = (process.env.COMPEIT_TEST_SERVER_ARGS ?? '').split(' ').filter(Boolean);

/**
 * Resolves to the {code, signal} `server` (a startProcess handle) exits with, or
 * rejects after `timeoutMs` (the process is left running for the caller's stop()).
 */
export function waitForExit(server, timeoutMs) {
  let timer;
  return Promise.race([
    server.exited.finally(() => clearTimeout(timer)),
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`the server did not exit within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]);
}

/**
 * The server for one test: one process (startProcess), or under COMPEIT_TEST_CLUSTER=N
 * a cluster of N nodes behind haproxy (startClusterServer), extraArgs given to every
 * node. Both resolve to {port, url, proc, exited, dataDir, stop(), alive(), stderr(),
 * stdout()}; the cluster's also has `cluster` (tests/node/lib/cluster.mjs's handle).
 */
export function startServer(extraArgs = [], opts = {}) {
  return clusterSize ? startClusterServer(extraArgs, opts) : startProcess(extraArgs, opts);
}

/**
 * Spawns the server on 127.0.0.1 with a free port and a fresh data dir.
 * Resolves to {port, url, proc, stop(), alive(), stderr()} once the ready line is printed;
 * `url` is https://... when the server speaks TLS (--tls-cert/--tls-key).
 * `nofile: N` starts it with RLIMIT_NOFILE N (soft and hard), through prlimit, which
 * execs the server: proc.pid is the server's own pid.
 */
export async function startProcess(extraArgs = [], { readyTimeout = 10000, env, nofile } = {}) {
  if (!existsSync(serverBinary)) {
    throw new Error(`server binary not found: ${serverBinary} (set COMPEIT_SERVER)`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'compeit-test-'));
  const args = ['--bind', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...serverArgsFromEnv, ...extraArgs];
  const [file, argv] = nofile === undefined
    ? [serverBinary, args]
    : ['prlimit', [`--nofile=${nofile}:${nofile}`, '--', serverBinary, ...args]];
  const proc = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { stderr += d; });
  // COMPEIT_SERVER_LOG=<dir>: keep each server's stderr as <dir>/server-<pid>.log for debugging
  if (process.env.COMPEIT_SERVER_LOG) {
    mkdirSync(process.env.COMPEIT_SERVER_LOG, { recursive: true });
    const log = join(process.env.COMPEIT_SERVER_LOG, `server-${proc.pid}.log`);
    appendFileSync(log, `args: ${args.join(' ')}\n`);
    proc.stderr.on('data', (d) => appendFileSync(log, d));
  }
  proc.stdout.setEncoding('utf8');

  let port;
  let scheme = 'http';
  try {
    port = await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`server not ready within ${readyTimeout} ms`)), readyTimeout);
      proc.stdout.on('data', (d) => {
        stdout += d;
        const m = READY_RE.exec(stdout);
        if (m) { clearTimeout(timer); scheme = m[1]; res(Number(m[2])); }
      });
      proc.once('error', (e) => { clearTimeout(timer); rej(e); });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        rej(new Error(`server exited before ready (code ${code}, signal ${signal})`));
      });
    });
  } catch (e) {
    proc.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    e.message += `\nargs: ${args.join(' ')}\nstdout:\n${stdout}\nstderr:\n${stderr}`;
    throw e;
  }

  let exitInfo = null;
  exited.then((info) => { exitInfo = info; });

  // SIGINT stops at once; SIGTERM would drain (up to --drain-timeout) while clients are connected.
  async function stop({ timeout = 5000, signal = 'SIGINT' } = {}) {
    if (exitInfo === null && proc.exitCode === null && proc.signalCode === null) {
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeout);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
    return exitInfo ?? (await exited);
  }

  return {
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    proc,
    dataDir,
    stop,
    exited,
    /** True while the process has not exited. */
    alive: () => proc.exitCode === null && proc.signalCode === null,
    stderr: () => stderr,
    stdout: () => stdout,
  };
}

// One scratch PostgreSQL shared by the clusters that run at the same time (initdb takes
// seconds; a test file's extra servers start while its main one runs), stopped when the
// last of them stops. Each cluster gets a fresh database in it, so no chat history
// leaks from one startServer() to the next.
let sharedPostgres = null;  // a promise of startPostgres()'s handle
let postgresUsers = 0;
let databases = 0;
let clusterStarts = Promise.resolve();  // the last startCluster() of this process

/** Resolves to {url, release()}: a fresh database for one cluster. */
async function acquireChatDb() {
  const { postgresMissing, startPostgres } = await import('./postgres.mjs');
  const missing = postgresMissing();
  if (missing) throw new Error(`COMPEIT_TEST_CLUSTER needs PostgreSQL: ${missing}`);
  postgresUsers++;
  let released = false;
  async function release() {
    if (released) return;
    released = true;
    if (--postgresUsers > 0) return;
    const pg = sharedPostgres;
    sharedPostgres = null;
    await (await pg.catch(() => null))?.stop();
  }
  try {
    sharedPostgres ??= startPostgres();
    const pg = await sharedPostgres;
    const name = `compeit_${++databases}`;
    await pg.psql(`CREATE DATABASE ${name}`);
    return { url: pg.url.replace(/\/postgres$/, `/${name}`), release };
  } catch (e) {
    await release();
    throw e;
  }
}

/**
 * COMPEIT_TEST_CLUSTER=N: Redis, N nodes (--cluster, --node, --chat-db on a fresh
 * database, extraArgs after them) and haproxy in front. `port`/`url` are haproxy's, so
 * consecutive clients land on different nodes (leastconn); `proc`, `exited` and
 * `dataDir` are the first node's (the current process after cluster.restartNode(0)),
 * alive() is true while every node runs, stderr() and stdout() are the nodes' one after
 * the other, stop() ends the lot.
 */
async function startClusterServer(extraArgs, { readyTimeout = 10000, env, nofile } = {}) {
  const { startCluster } = await import('./cluster.mjs');
  const chatDb = await acquireChatDb();
  let cluster;
  // One at a time: startCluster picks haproxy's port before the nodes start (their allowed
  // origin), and the nodes of a cluster started alongside could be given that port.
  const turn = clusterStarts.then(() => startCluster({
    nodes: clusterSize, args: extraArgs, chatDb: chatDb.url, readyTimeout, serverOptions: { env, nofile },
  }));
  clusterStarts = turn.catch(() => {});
  try {
    cluster = await turn;
  } catch (e) {
    await chatDb.release();
    throw e;
  }
  const servers = () => cluster.nodes.map((n) => n.server);
  const first = () => servers()[0];
  return {
    port: cluster.port,
    url: cluster.url,
    get proc() { return first().proc; },
    get exited() { return first().exited; },
    get dataDir() { return first().dataDir; },
    cluster,
    /** Stops it all; resolves the first node's {code, signal}, or the first node's that did not exit 0. */
    async stop() {
      const exits = servers().map((s) => s.exited);
      await cluster.stop();
      await chatDb.release();
      const infos = await Promise.all(exits);
      return infos.find((i) => i.code !== 0) ?? infos[0];
    },
    alive: () => servers().every((s) => s.alive()),
    stderr: () => servers().map((s) => s.stderr()).join(''),
    stdout: () => servers().map((s) => s.stdout()).join(''),
  };
}
