// haproxy in front of compeit-server nodes for one test file, configured from
// deploy/haproxy/compeit.cfg by deploy/haproxy/make-config.sh (the same
// configuration scripts/run-cluster.sh and a deployment use): 127.0.0.1 at a
// free port, its runtime API on a unix socket in a temporary folder, run in the
// foreground (-db) with its log (one line per request, health changes) kept.
// Every wait is bounded.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, tcpProbe, spawnDaemon, waitReady } from './daemon.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const makeConfig = join(repoRoot, 'deploy/haproxy/make-config.sh');
export const haproxyBinary = process.env.COMPEIT_HAPROXY
  || (existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy');
export const BACKEND = 'compeit_nodes';

/** Why haproxy cannot run here, or null when it can. */
export function haproxyMissing() {
  try {
    execFileSync(haproxyBinary, ['-v'], { stdio: 'ignore', timeout: 5000 });
    return null;
  } catch {
    return `${haproxyBinary} not found (Debian: apt-get install haproxy)`;
  }
}

/** The configuration for nodes [{name, port, host?}] listening on bind, runtime API at socket. */
export function haproxyConfig(nodes, { bind, socket } = {}) {
  const args = [];
  if (bind) args.push('--bind', bind);
  if (socket) args.push('--socket', socket);
  for (const n of nodes) args.push(`${n.name}=${n.host ?? '127.0.0.1'}:${n.port}`);
  return execFileSync(makeConfig, args, { encoding: 'utf8', timeout: 10000 });
}

/** One runtime API command over the unix socket; resolves with the answer. */
export function runtimeCommand(socketPath, command, timeoutMs = 2000) {
  return new Promise((res, rej) => {
    const sock = net.connect(socketPath);
    let out = '';
    const timer = setTimeout(() => { sock.destroy(); rej(new Error(`haproxy "${command}": no answer within ${timeoutMs} ms`)); }, timeoutMs);
    sock.on('connect', () => sock.write(`${command}\n`));
    sock.setEncoding('utf8');
    sock.on('data', (d) => { out += d; });
    sock.on('error', (e) => { clearTimeout(timer); rej(e); });
    sock.on('close', () => { clearTimeout(timer); res(out); });
  });
}

/**
 * Starts haproxy for nodes [{name, port, host?}] (name = the node's --node).
 * Resolves, once it accepts connections, to {port, url, socket, config(),
 * stop(), alive(), log(), command(cmd), serverStates(), waitServer(name, state),
 * setServerPort(name, port), reload(nodes)}.
 */
export async function startHaproxy(nodes, { port, readyTimeout = 10000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'compeit-haproxy-'));
  const socket = join(dir, 'admin.sock');
  const cfgPath = join(dir, 'haproxy.cfg');
  let current = nodes.map((n) => ({ ...n }));
  let daemon = null;
  let log = '';  // the output of every haproxy this handle started (reload() starts another)
  const retired = new Set();  // haproxies replaced by reload() and still finishing

  async function launch(oldPid) {
    port ??= await freePort();
    writeFileSync(cfgPath, haproxyConfig(current, { bind: `127.0.0.1:${port}`, socket }));
    const d = spawnDaemon(haproxyBinary, ['-f', cfgPath, '-db', ...(oldPid ? ['-sf', String(oldPid)] : [])]);
    const pid = d.proc.pid;
    // ready: the new process answers its runtime API (an old one keeps its socket until
    // it has handed over) and the port accepts connections
    try {
      await waitReady(d, async () => {
        const info = await runtimeCommand(socket, 'show info').catch(() => '');
        return new RegExp(`^Pid: ${pid}$`, 'm').test(info) && (await tcpProbe(port)) !== null;
      }, { timeoutMs: readyTimeout, what: 'haproxy' });
    } catch (e) {
      await d.kill('SIGKILL');
      throw e;
    }
    return d;
  }

  try {
    daemon = await launch();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const command = (cmd) => runtimeCommand(socket, cmd);
  /** {name: 'UP' | 'DOWN' | 'MAINT' | ...} of the nodes, as haproxy's checks see them. */
  async function serverStates() {
    const csv = await command('show stat');
    const header = csv.split('\n')[0].replace(/^# /, '').split(',');
    const [px, sv, status] = ['pxname', 'svname', 'status'].map((f) => header.indexOf(f));
    const states = {};
    for (const line of csv.split('\n').slice(1)) {
      const f = line.split(',');
      if (f[px] === BACKEND && f[sv] !== 'BACKEND') states[f[sv]] = f[status].split(' ')[0];
    }
    return states;
  }

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    socket,
    dir,
    /** The configuration haproxy runs with. */
    config: () => haproxyConfig(current, { bind: `127.0.0.1:${port}`, socket }),
    proc: () => daemon.proc,
    alive: () => daemon.alive(),
    /** haproxy's log: one line per request (sids cut after the node name), health changes. */
    log: () => log + daemon.output(),
    command,
    serverStates,
    /** Resolves with the elapsed ms once haproxy's checks see `name` in `state` ('UP', 'DOWN'). */
    async waitServer(name, state, { timeoutMs = 5000 } = {}) {
      const t0 = performance.now();
      let last = null;
      while (performance.now() - t0 < timeoutMs) {
        last = (await serverStates())[name];
        if (last === state) return performance.now() - t0;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`haproxy still sees ${name} ${last} after ${timeoutMs} ms, not ${state}`);
    },
    /** Points node `name` at another port from now on (a node restarted elsewhere). */
    async setServerPort(name, newPort, host = '127.0.0.1') {
      const answer = await command(`set server ${BACKEND}/${name} addr ${host} port ${newPort}`);
      if (!/changed|no need to change/i.test(answer)) throw new Error(`haproxy set server: ${answer}`);
      current = current.map((n) => (n.name === name ? { ...n, host, port: newPort } : n));
    },
    /**
     * A new configuration for `nodes`, taken over seamlessly by a new haproxy (-sf): the
     * old one stops listening and ends once its open connections have.
     */
    async reload(newNodes = current) {
      current = newNodes.map((n) => ({ ...n }));
      const old = daemon;
      daemon = await launch(old.proc.pid);
      retired.add(old);
      old.exited.then(() => { log += old.output(); retired.delete(old); });
    },
    async stop() {
      await Promise.all([daemon, ...retired].map((d) => d.kill('SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
