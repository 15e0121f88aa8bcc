// Helpers for the third-party daemons the cluster tests run (redis-server,
// haproxy): a free loopback port, a bounded wait for a TCP port to answer, and a
// child process whose output is kept and that is killed if the test process
// exits first. Every wait here is bounded.
import { spawn } from 'node:child_process';
import net from 'node:net';

/** A port that was free on 127.0.0.1 a moment ago (the kernel's pick). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Connects to 127.0.0.1:port, writes `send` (if any) and resolves with what came back
 * within timeoutMs once `done(text)` says it is enough; resolves null on refusal,
 * error or timeout.
 */
export function tcpProbe(port, { send, done = () => true, timeoutMs = 1000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    const finish = (v) => { clearTimeout(timer); sock.destroy(); resolve(v); };
    const timer = setTimeout(() => finish(null), timeoutMs);
    sock.on('connect', () => {
      if (send === undefined) finish('');
      else sock.write(send);
    });
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (done(text)) finish(text);
    });
    sock.on('error', () => finish(null));
    sock.on('close', () => finish(null));
  });
}

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * Spawns `file args` with its stdout and stderr kept (output() returns both,
 * interleaved). Returns {proc, exited (a promise of {code, signal}), alive(),
 * output(), kill(signal, timeoutMs)}; kill resolves once the process is gone,
 * after SIGKILL if `signal` did not end it within timeoutMs.
 */
export function spawnDaemon(file, args, { cwd, env } = {}) {
  const proc = spawn(file, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  for (const stream of [proc.stdout, proc.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (d) => { out = (out + d).slice(-200000); });
  }
  let spawnError = null;
  proc.once('error', (e) => { spawnError = e; });
  const exited = new Promise((resolve) => {
    proc.once('close', (code, signal) => { children.delete(proc); resolve({ code, signal, error: spawnError }); });
  });
  const alive = () => proc.exitCode === null && proc.signalCode === null && spawnError === null;
  async function kill(signal = 'SIGTERM', timeoutMs = 5000) {
    if (alive()) {
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  }
  return { proc, exited, alive, output: () => out, kill };
}

/**
 * Polls probe() every intervalMs until it returns a truthy value (resolved);
 * rejects when `daemon` exits first or after timeoutMs, naming `what` and showing
 * the daemon's output.
 */
export async function waitReady(daemon, probe, { timeoutMs = 10000, intervalMs = 50, what = 'the daemon' } = {}) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!daemon.alive()) {
      const { code, signal, error } = await daemon.exited;
      throw new Error(`${what} exited before it was ready (code ${code}, signal ${signal}${error ? `, ${error.message}` : ''})\n${daemon.output()}`);
    }
    const v = await probe();
    if (v) return v;
    if (performance.now() >= deadline) throw new Error(`${what} not ready within ${timeoutMs} ms\n${daemon.output()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
