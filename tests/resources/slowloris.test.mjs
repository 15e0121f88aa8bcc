// Attack 3: slowloris. One address opens 2,000 connections and sends request
// headers a byte at a time. The server holds at most
// --max-connections-per-address of them (the rest are refused at once: a close
// or a 503) and closes the held ones after --request-timeout; a client from
// another address connects and chats meanwhile.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from '../node/lib/server.mjs';
import { rssSampler, waitRssBelow, pollUntil, fdCount, mib } from '../node/lib/proc.mjs';
import { RETURN_RSS_MARGIN, RETURN_WAIT_MS, ATTACK_RSS_MARGIN, warmBaseline, assertPeak, chatWorks, stopChecked } from './common.mjs';

const SLOW_CONNECTIONS = 2000;
const PER_ADDRESS = 256;       // the default of --max-connections-per-address
const REQUEST_TIMEOUT_S = 2;
const DRIP_MS = 200;           // each connection sends its next header byte this often
const OPEN_BATCH = 100;        // connections opened at once
// Descriptors beyond the baseline and the per-address cap: the chatting
// clients, connections being refused at the instant of a sample, the store.
const FD_SLACK = 64;
// A connection over the cap is refused at once; this is "at once" on a busy
// machine, well under the request timeout.
const REFUSED_WITHIN_MS = 1000;
// Every slow connection is closed by the request timeout, plus a margin for
// the server's timer granularity and a busy machine.
const CLOSED_WITHIN_MS = REQUEST_TIMEOUT_S * 1000 + 2000;

let srv;
after(() => stopChecked(srv));

const HEAD = 'GET /socket.io/1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\nX-Padding: ' + 'a'.repeat(200);

/** One slow connection: resolves {openedAt, closedAt, answer} once the server closes it. */
function slowConnection(port, conns) {
  return new Promise((resolveOpen) => {
    const c = { openedAt: 0, closedAt: 0, answer: '', sent: 0 };
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
    c.sock = sock;
    conns.push(c);
    sock.on('connect', () => { c.openedAt = performance.now(); resolveOpen(c); });
    sock.on('data', (d) => { c.answer += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => {
      c.closedAt = performance.now();
      if (!c.openedAt) { c.openedAt = c.closedAt; resolveOpen(c); }
    });
  });
}

test('2,000 slowloris connections from one address: capped per address, closed after the request timeout, others served', async () => {
  srv = await startServer(['--request-timeout', String(REQUEST_TIMEOUT_S),
    '--max-connections-per-address', String(PER_ADDRESS)]);
  const pid = srv.proc.pid;
  const baseline = await warmBaseline(srv);
  const baseFds = fdCount(pid);
  const bound = baseline + ATTACK_RSS_MARGIN;
  let over = false;
  const sampler = rssSampler(pid, { onSample: (s) => { if (s.rss > bound) over = true; } });

  const conns = [];
  const drip = setInterval(() => {
    for (const c of conns) {
      if (c.closedAt || !c.openedAt || c.sent >= HEAD.length) continue;
      c.sock.write(HEAD[c.sent++]);
    }
  }, DRIP_MS);
  const openStart = performance.now();
  let openMs = 0;
  try {
    for (let i = 0; i < SLOW_CONNECTIONS && !over; i += OPEN_BATCH) {
      const batch = [];
      for (let j = 0; j < OPEN_BATCH; j++) batch.push(slowConnection(srv.port, conns));
      await Promise.all(batch);
    }
    openMs = performance.now() - openStart;
    // Meanwhile (the held connections are still open): another address connects and chats.
    await chatWorks(srv.port, { localAddress: '127.0.0.2', tag: 'during slowloris' });
    // Every slow connection ends, bounded.
    await pollUntil(() => conns.every((c) => c.closedAt) || over, {
      timeoutMs: CLOSED_WITHIN_MS + 5000, intervalMs: 100, what: 'the server to close every slow connection',
      describe: () => `${conns.filter((c) => !c.closedAt).length} of ${conns.length} still open`,
    });
  } finally {
    clearInterval(drip);
    for (const c of conns) c.sock.destroy();
  }
  const { peakRss, peakFds } = sampler.stop();

  const lifetimes = conns.map((c) => c.closedAt - c.openedAt);
  const refused = lifetimes.filter((ms) => ms <= REFUSED_WITHIN_MS).length;
  const answered503 = conns.filter((c) => /^HTTP\/1\.[01] 503/.test(c.answer)).length;
  const otherAnswers = conns.filter((c) => c.answer && !/^HTTP\/1\.[01] (503|408)/.test(c.answer)).map((c) => c.answer.slice(0, 40));
  // Held connections free their slots after the request timeout: if opening took
  // longer than that, the address may have held the cap's worth more than once.
  const generations = 1 + Math.floor(openMs / (REQUEST_TIMEOUT_S * 1000));
  const summary = `${conns.length} opened in ${Math.round(openMs)} ms, ${refused} closed within ${REFUSED_WITHIN_MS} ms (${answered503} with 503), ` +
    `longest ${Math.round(Math.max(...lifetimes))} ms; server fds baseline ${baseFds}, peak ${peakFds}`;

  assertPeak(peakRss, baseline, `slowloris (${summary})`);
  assert.ok(peakFds <= baseFds + PER_ADDRESS + FD_SLACK,
    `the server held more than --max-connections-per-address ${PER_ADDRESS} (+${FD_SLACK}) connections: ${summary}`);
  assert.ok(refused >= SLOW_CONNECTIONS - generations * PER_ADDRESS - FD_SLACK,
    `connections over the cap were not refused at once: ${summary}`);
  assert.ok(Math.max(...lifetimes) <= CLOSED_WITHIN_MS,
    `a slow connection outlived --request-timeout ${REQUEST_TIMEOUT_S} s by more than 2 s: ${summary}`);
  assert.deepEqual(otherAnswers, [], 'a slow connection got an answer other than 503 or 408');

  const rss = await waitRssBelow(pid, baseline + RETURN_RSS_MARGIN,
    { timeoutMs: RETURN_WAIT_MS, what: `RSS after slowloris (baseline ${mib(baseline)})` });
  await chatWorks(srv.port, { tag: 'after slowloris' });
  console.log(`# slowloris: ${summary}; RSS baseline ${mib(baseline)}, peak ${mib(peakRss)}, after ${mib(rss)}`);
});
