// Attack 4: descriptor exhaustion. With a low RLIMIT_NOFILE and no
// per-address cap, one client opens connections until the server's accept()
// fails (EMFILE) and holds them. The server must not spin on accept: its CPU
// stays low and its log grows by a line a second at most (EMFILE is logged at
// most once a second, with a count). Once some connections close, a new
// client gets in within a bounded time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from '../node/lib/server.mjs';
import { openAgentWs } from '../node/lib/raw.mjs';
import { withTimeout, quietWindow } from '../node/lib/wait.mjs';
import { cpuMeter, fdCount, pollUntil } from '../node/lib/proc.mjs';
import { freshRoom, stopChecked } from './common.mjs';

const NOFILE = 128;
const EXTRA = 64;            // connections beyond the limit: they wait in the listen backlog
const HOLD_MS = 4000;        // the timed hold phase, measured
// An idle server uses next to no CPU; a spinning accept() uses a whole core.
// 20 % of one core leaves room for a busy shared machine and still catches it.
const MAX_CPU_SHARE = 0.2;
// "EMFILE at most once a second with a count", plus one line of slack a second.
const MAX_LOG_LINES_PER_S = 2;
const KEEP = 32;             // connections still held after the others are closed
const GET_IN_WITHIN_MS = 5000;

let srv;
after(() => stopChecked(srv));

const lines = (s) => s.split('\n').length - 1;

test('descriptor exhaustion (RLIMIT_NOFILE 128): no accept spin, a quiet log, a new client gets in once descriptors free up', async () => {
  // The idle connections must stay (the request timeout would free them);
  // no per-address cap, so this one address can take every descriptor.
  srv = await startServer(['--max-connections-per-address', '0', '--request-timeout', '120'], { nofile: NOFILE });
  const pid = srv.proc.pid;
  const socks = [];
  try {
    for (let i = 0; i < NOFILE + EXTRA; i++) {
      const sock = net.connect({ port: srv.port, host: '127.0.0.1' });
      sock.on('error', () => {});
      socks.push(sock);
      // one at a time, so the first ones opened are the ones the server accepted
      await withTimeout(new Promise((res) => { sock.once('connect', res); sock.once('close', res); }), 5000, `connection ${i}`);
    }
    // The server is at its limit: every descriptor taken (it may keep one in reserve).
    await pollUntil(() => fdCount(pid) >= NOFILE - 2, {
      timeoutMs: 5000, what: `the server to use its ${NOFILE} descriptors`, describe: () => `${fdCount(pid)} open`,
    });

    const log0 = lines(srv.stderr());
    const meter = cpuMeter(pid);
    await quietWindow(HOLD_MS);  // the hold phase of the attack
    const { share, cpu, wall } = meter.stop();
    const logLines = lines(srv.stderr()) - log0;
    const tail = srv.stderr().slice(-600);
    const what = `CPU ${(share * 100).toFixed(0)} % (${cpu.toFixed(2)} s in ${wall.toFixed(1)} s), ${logLines} log lines`;
    console.log(`# descriptor exhaustion: ${what}`);
    assert.ok(share <= MAX_CPU_SHARE, `the server spins while out of descriptors: ${what}; log tail:\n${tail}`);
    assert.ok(logLines <= MAX_LOG_LINES_PER_S * (wall + 1), `the log floods while out of descriptors: ${what}; log tail:\n${tail}`);

    // Free descriptors: close all but the first KEEP (the backlog ones too).
    for (const s of socks.splice(KEEP)) s.destroy();
    const t0 = performance.now();
    const { ws } = await withTimeout(openAgentWs(srv.port, { name: 'Late' }), GET_IN_WITHIN_MS, 'a new client to get in');
    ws.emit('join_room', [{ room: freshRoom() }]);
    const joined = await ws.nextEvent('room_joined');
    assert.deepEqual(joined.users, [ws.user]);
    ws.destroy();
    console.log(`# descriptor exhaustion: a new client got in ${Math.round(performance.now() - t0)} ms after the close`);
  } finally {
    for (const s of socks) s.destroy();
  }
});
