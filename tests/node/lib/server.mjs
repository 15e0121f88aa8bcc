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

const READY_RE = /listening on (https?):\/\/127\.0\.0\.1:(\d+)/;  // https with --tls-cert

/**
 * Spawns the server on 127.0.0.1 with a free port and a fresh data dir.
 * Resolves to {port, url, proc, stop(), alive(), stderr()} once the ready line is printed;
 * `url` is https://... when the server speaks TLS (--tls-cert/--tls-key).
 * `nofile: N` starts it with RLIMIT_NOFILE N (soft and hard), through prlimit, which
 * execs the server: proc.pid is the server's own pid.
 */
export async function startServer(extraArgs = [], { readyTimeout = 10000, env, nofile } = {}) {
  if (!existsSync(serverBinary)) {
    throw new Error(`server binary not found: ${serverBinary} (set COMPEIT_SERVER)`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'compeit-test-'));
  const args = ['--bind', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...extraArgs];
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

  async function stop({ timeout = 5000 } = {}) {
    if (exitInfo === null && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
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
