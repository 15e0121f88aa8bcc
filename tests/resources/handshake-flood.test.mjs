// Attack 2: one address asks for handshakes as fast as it can and never uses
// them. Unused handshakes are capped per peer address
// (--max-handshakes-per-address) and in all (--max-pending-handshakes); beyond
// a cap the answer is 503 "too many pending handshakes". Another address is
// still served, and the memory goes back once the handshakes expire.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../node/lib/server.mjs';
import { handshakeFlood, httpRequest, handshake } from '../node/lib/raw.mjs';
import { rssSampler, waitRssBelow, pollUntil, mib } from '../node/lib/proc.mjs';
import { RETURN_RSS_MARGIN, RETURN_WAIT_MS, ATTACK_RSS_MARGIN, warmBaseline, assertPeak, chatWorks, stopChecked } from './common.mjs';

const PER_ADDRESS = 64;       // the default of --max-handshakes-per-address
const MAX_PENDING = 10000;    // the default of --max-pending-handshakes
// Longer than the flood, so no slot is freed by expiry while it runs and the
// count of 200s is exactly bounded by the cap; short enough to wait for.
const HANDSHAKE_TIMEOUT_S = 5;
const FLOOD_MS = 3000;
const FLOOD_CONNECTIONS = 8;  // keep-alive connections of the flooder
const FLOOD_DEPTH = 16;       // pipelined requests on each
const TOO_MANY = /too many pending handshakes/i;

const servers = [];
after(async () => { for (const s of servers) await stopChecked(s); });

async function start(args) {
  const srv = await startServer(['--handshake-timeout', String(HANDSHAKE_TIMEOUT_S), ...args]);
  servers.push(srv);
  return srv;
}

test('handshake flood from one address: capped per address with 503, another address still served, memory returns', async () => {
  const srv = await start(['--max-handshakes-per-address', String(PER_ADDRESS), '--max-pending-handshakes', String(MAX_PENDING)]);
  const pid = srv.proc.pid;
  const baseline = await warmBaseline(srv);
  const bound = baseline + ATTACK_RSS_MARGIN;
  let over = false;
  const sampler = rssSampler(pid, { onSample: (s) => { if (s.rss > bound) over = true; } });

  const flooding = handshakeFlood(srv.port, {
    connections: FLOOD_CONNECTIONS, depth: FLOOD_DEPTH, durationMs: FLOOD_MS, localAddress: '127.0.0.1', stop: () => over,
  });
  // Meanwhile, once the flooder is over its cap: another address handshakes and chats.
  const other = (async () => {
    await pollUntil(() => httpRequest(srv.port, { path: '/socket.io/1/', localAddress: '127.0.0.1' })
      .then((r) => r.status === 503), { timeoutMs: FLOOD_MS, intervalMs: 100, what: 'a 503 for the flooding address' })
      .catch(() => {});  // the flood's own counts below say what went wrong
    await chatWorks(srv.port, { localAddress: '127.0.0.2', tag: 'during the handshake flood' });
  })();
  const flood = await flooding;
  await other;
  const { peakRss } = sampler.stop();
  const counts = `statuses ${JSON.stringify(flood.statuses)}, ${flood.requests} requests, ${flood.reconnects} reconnects`;

  assertPeak(peakRss, baseline, `handshake flood (${counts})`);
  assert.ok((flood.statuses[200] ?? 0) <= PER_ADDRESS, `more than ${PER_ADDRESS} unused handshakes for one address: ${counts}`);
  assert.ok((flood.statuses[503] ?? 0) > 0, `no 503 beyond the cap: ${counts}`);
  assert.match(flood.bodies[503], TOO_MANY);
  assert.deepEqual(Object.keys(flood.statuses).sort(), ['200', '503'], `only 200 and 503 are expected: ${counts}`);

  // Unused handshakes expire: the flooding address is served again and the memory goes back.
  await pollUntil(() => httpRequest(srv.port, { path: '/socket.io/1/', localAddress: '127.0.0.1' }).then((r) => r.status === 200),
    { timeoutMs: HANDSHAKE_TIMEOUT_S * 1000 + 3000, intervalMs: 250, what: 'a handshake for the flooding address after expiry' });
  const rss = await waitRssBelow(pid, baseline + RETURN_RSS_MARGIN,
    { timeoutMs: RETURN_WAIT_MS, what: `RSS after the handshake flood (baseline ${mib(baseline)})` });
  console.log(`# handshake flood: ${counts}; RSS baseline ${mib(baseline)}, peak ${mib(peakRss)}, after ${mib(rss)}`);
});

test('unused handshakes are capped in all: --max-pending-handshakes over several addresses', async () => {
  const GLOBAL = 100;  // less than the addresses below may hold together (3 x 64)
  const srv = await start(['--max-handshakes-per-address', String(PER_ADDRESS), '--max-pending-handshakes', String(GLOBAL)]);
  const perAddress = {};
  let ok = 0;
  let refusedBody = null;
  for (const addr of ['127.0.0.3', '127.0.0.4', '127.0.0.5']) {
    perAddress[addr] = {};
    for (let i = 0; i < PER_ADDRESS; i++) {
      const r = await httpRequest(srv.port, { path: '/socket.io/1/', localAddress: addr });
      perAddress[addr][r.status] = (perAddress[addr][r.status] ?? 0) + 1;
      if (r.status === 200) ok++;
      if (r.status === 503) refusedBody ??= r.body;
    }
  }
  const counts = JSON.stringify(perAddress);
  assert.equal(ok, GLOBAL, `exactly --max-pending-handshakes ${GLOBAL} handshakes expected: ${counts}`);
  assert.match(refusedBody ?? '', TOO_MANY, counts);
  // Full: nobody new gets a handshake, from any address...
  assert.equal((await httpRequest(srv.port, { path: '/socket.io/1/', localAddress: '127.0.0.6' })).status, 503);
  // ...until the unused ones expire.
  const sid = await pollUntil(() => handshake(srv.port, '', { localAddress: '127.0.0.6' }).catch(() => null),
    { timeoutMs: HANDSHAKE_TIMEOUT_S * 1000 + 3000, intervalMs: 250, what: 'a handshake once the pending ones expired' });
  assert.match(sid, /^[A-Za-z0-9_-]{22}$/);
});
