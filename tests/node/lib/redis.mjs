// A scratch Redis for one test file: Debian's redis-server on 127.0.0.1 at a
// free port, in a temporary folder, with no persistence (no RDB snapshots, no
// AOF), so a kill -9 and restart() give an empty Redis on the same port, as a
// crashed cache would. Ready means PING answers +PONG over a raw TCP socket
// (from this Redis: INFO names its process); every wait is bounded.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, tcpProbe, spawnDaemon, waitReady } from './daemon.mjs';

export const redisBinary = process.env.COMPEIT_REDIS_SERVER || 'redis-server';

/** Why Redis cannot run here, or null when it can. */
export function redisMissing() {
  try {
    execFileSync(redisBinary, ['--version'], { stdio: 'ignore', timeout: 5000 });
    return null;
  } catch {
    return `${redisBinary} not found (Debian: apt-get install redis-server)`;
  }
}

/**
 * PING, then INFO server, over a raw TCP socket (RESP): the process id of the Redis
 * that answered +PONG on port, or null. (The id tells our Redis from another one
 * that holds the port.)
 */
export async function redisPing(port, timeoutMs = 500) {
  const reply = await tcpProbe(port, {
    send: '*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n',
    done: (t) => /\r\nprocess_id:\d+\r\n/.test(t) || t.startsWith('-'),
    timeoutMs,
  });
  if (reply === null || !reply.startsWith('+PONG\r\n')) return null;
  return Number(/\r\nprocess_id:(\d+)\r\n/.exec(reply)[1]);
}

/**
 * Starts redis-server. Resolves to {port, url: 'redis://127.0.0.1:PORT', stop(),
 * kill9(), restart(), alive(), log()}: kill9() ends it with SIGKILL, restart()
 * starts a fresh (empty) one on the same port, killing the running one first if
 * need be; stop() ends it and removes its folder. Without `port` a free one is
 * picked (and another if that one is taken by the time Redis binds it).
 */
export async function startRedis({ port, readyTimeout = 10000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'compeit-redis-'));
  let daemon = null;

  function launch(p) {
    return spawnDaemon(redisBinary, [
      '--bind', '127.0.0.1', '--port', String(p), '--protected-mode', 'yes',
      '--save', '', '--appendonly', 'no',  // no persistence: a restart starts empty
      '--dir', dir, '--daemonize', 'no', '--logfile', '', '--loglevel', 'notice',
    ]);
  }
  async function startOn(p) {
    daemon = launch(p);
    const pid = daemon.proc.pid;
    await waitReady(daemon, async () => (await redisPing(p)) === pid, { timeoutMs: readyTimeout, what: `redis-server on port ${p}` });
  }

  try {
    if (port !== undefined) {
      await startOn(port);
    } else {
      for (let attempt = 1; ; attempt++) {
        port = await freePort();
        try {
          await startOn(port);
          break;
        } catch (e) {
          // taken between freePort() and the bind: try another port, a few times
          if (attempt >= 3 || !/Address already in use/.test(e.message)) throw e;
        }
      }
    }
  } catch (e) {
    await daemon?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    /** The running redis-server's ChildProcess (a new one after restart()). */
    proc: () => daemon.proc,
    alive: () => daemon.alive(),
    /** Redis's own log (stdout). */
    log: () => daemon.output(),
    async kill9() {
      await daemon.kill('SIGKILL');
    },
    async restart() {
      await daemon.kill('SIGKILL');
      await startOn(port);
    },
    async stop() {
      await daemon.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
