// Attack 1: a websocket client sends pings as fast as it can and never reads.
// Every pong the server owes must count against --max-write-queue; past it the
// server stops reading from the client and drops it if it stays over.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer } from '../node/lib/server.mjs';
import { openWs, pingFlood } from '../node/lib/raw.mjs';
import { rssSampler, waitRssBelow, mib } from '../node/lib/proc.mjs';
import {
  MiB, ATTACK_RSS_MARGIN, RETURN_RSS_MARGIN, RETURN_WAIT_MS, warmBaseline, assertPeak, chatWorks, stopChecked,
} from './common.mjs';

// Smaller than the default 8 MiB, so the limit is reached within a second.
const MAX_WRITE_QUEUE = 1 * MiB;
// The largest payload RFC 6455 allows a control frame: the most pong bytes per
// byte sent. (A 100 KB ping is a protocol error: see the second test.)
const PING_PAYLOAD = 125;
// The server drops a client that stays over its limit taking nothing for 5 s;
// this leaves room for the kernel buffers to fill first and for a busy machine.
const DROP_WITHIN_MS = 15000;
// A server that stops reading from the flooder once it is over its limit takes
// at most what fits in the kernel's buffers: pongs in its send buffer and the
// client's receive buffer, pings in its receive buffer and the client's send
// buffer (each at most this machine's tcp_rmem/tcp_wmem maximum), plus the
// write queue. Twice that, for safety; a server that keeps reading takes
// gigabytes.
const tcpMax = (name) => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
const MAX_TAKEN_BYTES = 2 * (2 * tcpMax('tcp_rmem') + 2 * tcpMax('tcp_wmem') + MAX_WRITE_QUEUE);

let srv;
after(() => stopChecked(srv));

test('ping flood without reading: pongs are bounded by the write queue, the flooder is dropped, memory returns', async () => {
  srv = await startServer(['--max-write-queue', String(MAX_WRITE_QUEUE)]);
  const pid = srv.proc.pid;
  const baseline = await warmBaseline(srv);
  const bound = baseline + ATTACK_RSS_MARGIN;

  const ws = await openWs(srv.port);
  let over = false;  // stop at once when the bound is broken: the machine is shared
  const sampler = rssSampler(pid, { onSample: (s) => { if (s.rss > bound) over = true; } });
  const flooding = pingFlood(ws, { payloadBytes: PING_PAYLOAD, durationMs: DROP_WITHIN_MS, stop: () => over });
  // Meanwhile, once the flood is under way, everyone else is served.
  await new Promise((r) => setTimeout(r, 500));
  const others = chatWorks(srv.port, { tag: 'during the ping flood' }).then(() => null, (e) => e);
  const flood = await flooding;
  const { peakRss } = sampler.stop();
  const othersFailed = await others;
  const sent = `${flood.pings} pings (${mib(flood.bytes)}) in ${(flood.ms / 1000).toFixed(1)} s`;

  assertPeak(peakRss, baseline, `ping flood, ${sent}`);
  assert.ok(flood.bytes <= MAX_TAKEN_BYTES, `the server kept reading from a client over its limit: ${sent}, bound ${mib(MAX_TAKEN_BYTES)}`);
  assert.ok(flood.closedByServer, `the flooder was not dropped within ${DROP_WITHIN_MS} ms (${sent}, server RSS ${mib(peakRss)})`);
  assert.equal(othersFailed, null, `another client was not served during the flood: ${othersFailed?.message}`);
  ws.destroy();

  const rss = await waitRssBelow(pid, baseline + RETURN_RSS_MARGIN,
    { timeoutMs: RETURN_WAIT_MS, what: `RSS after the ping flood (baseline ${mib(baseline)})` });
  await chatWorks(srv.port, { tag: 'after the ping flood' });
  console.log(`# ping flood: ${sent}; RSS baseline ${mib(baseline)}, peak ${mib(peakRss)}, after ${mib(rss)}`);
});

test('a ping with a 100 KB payload is a protocol error: the connection is closed with 1002', async () => {
  const ws = await openWs(srv.port);
  ws.sendFrame({ opcode: 9, payload: Buffer.alloc(100 * 1024, 0x70) });
  const { closeFrame } = await ws.waitClosed(5000);
  assert.equal(closeFrame?.code, 1002);
  await chatWorks(srv.port, { tag: 'after the big ping' });
});
