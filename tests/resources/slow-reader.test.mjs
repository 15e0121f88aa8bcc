// Attack 5: a slow reader in a flooded room. One member stops reading while
// two others flood the room; the server drops the slow reader once it is over
// its write-queue limit, the others keep receiving everything in order, and
// memory stays bounded and goes back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../node/lib/server.mjs';
import { openAgentWs, buildFrame } from '../node/lib/raw.mjs';
import { eventPacket } from '../node/lib/packet.mjs';
import { rssSampler, waitRssBelow, pollUntil, mib } from '../node/lib/proc.mjs';
import {
  MiB, RETURN_RSS_MARGIN, RETURN_WAIT_MS, ATTACK_RSS_MARGIN, freshRoom, warmBaseline, assertPeak, chatWorks, stopChecked,
} from './common.mjs';

const MAX_WRITE_QUEUE = 1 * MiB;
const MESSAGE_BYTES = 32 * 1024;  // under --max-data (64 KiB)
const FLOODERS = 2;
// Messages per second per flooder: 2 x 3.3 MB/s to every member. The readers
// share this process (and two cores) with the server: a reader that falls 8x
// the limit behind is dropped too, by design, so the rate leaves them seconds
// of slack on a busy machine, and the slow one still goes over in a second.
const RATE = 100;
const FLOOD_MS = 6000;
const TICK_MS = 20;
// Over the limit and taking nothing, a reader is dropped after 5 s (or at once
// at 8x the limit); plus the time to fill the kernel's buffers.
const DROP_WITHIN_MS = 15000;
const DELIVERED_WITHIN_MS = 15000; // the readers get every message after the flood ends

let srv;
after(() => stopChecked(srv));

/** A raw member that counts the flood's messages (seq in order per flooder) without keeping them. */
async function member(name, room) {
  const { ws, user } = await openAgentWs(srv.port, { name });
  ws.emit('join_room', [{ room }]);
  await ws.nextEvent('room_joined');
  const m = { ws, user, got: 0, lastSeq: {}, outOfOrder: 0 };
  ws.tap = (text) => {
    if (!text.includes('"type":"flood"')) return false;
    const from = /"from":(\d+)/.exec(text)?.[1];
    const seq = Number(/"seq":(\d+)/.exec(text)?.[1]);
    if (seq !== (m.lastSeq[from] ?? -1) + 1) m.outOfOrder++;
    m.lastSeq[from] = seq;
    m.got++;
    return true;
  };
  return m;
}

test('a slow reader in a flooded room is dropped; the other members receive everything; memory bounded and returned', async () => {
  srv = await startServer(['--max-write-queue', String(MAX_WRITE_QUEUE), '--rate', String(RATE * 4), '--burst', String(RATE * 8)]);
  const pid = srv.proc.pid;
  const baseline = await warmBaseline(srv);
  const bound = baseline + ATTACK_RSS_MARGIN;
  const room = freshRoom();

  const readers = [await member('Reader1', room), await member('Reader2', room)];
  const flooders = [];
  for (let i = 0; i < FLOODERS; i++) flooders.push(await member(`Flooder${i}`, room));
  const slow = await member('Slow', room);
  const all = [...readers, ...flooders, slow];
  try {
    // Everyone has seen everyone join; then the slow one stops reading.
    for (const m of [...readers, ...flooders]) {
      await pollUntil(() => m.ws.inbox.all((t) => t.includes('"user_joined"') && t.includes(`"id":${slow.user.id}`)).length,
        { timeoutMs: 5000, what: `${m.user.name} to see Slow join` });
    }
    slow.ws.sock.pause();

    let over = false;
    const sampler = rssSampler(pid, { onSample: (s) => { if (s.rss > bound) over = true; } });
    const pad = 'x'.repeat(MESSAGE_BYTES);
    const sent = flooders.map(() => 0);
    const t0 = performance.now();
    let dropAt = 0;
    const dropped = readers[0].ws.nextPacket(
      (p) => p.type === 5 && p.name === 'user_left' && p.args[0]?.user?.id === slow.user.id,
      { timeout: DROP_WITHIN_MS, what: 'user_left of the slow reader' }).then(() => { dropAt = performance.now() - t0; });
    dropped.catch(() => {});
    // The flood: RATE messages a second from each flooder, in ticks.
    while (performance.now() - t0 < FLOOD_MS && !over) {
      const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
      flooders.forEach((f, i) => {
        for (; sent[i] < due; sent[i]++) {
          f.ws.sendRaw(buildFrame({ opcode: 1, payload: eventPacket('room_message', [{ type: 'flood', data: { seq: sent[i], pad } }]) }));
        }
      });
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    const total = sent.reduce((a, b) => a + b, 0);
    // Every message reaches each reader (and each flooder gets the other's).
    const delivered = () => readers.every((r) => r.got === total) && flooders.every((f, i) => f.got === total - sent[i]);
    await pollUntil(() => delivered() || over, {
      timeoutMs: DELIVERED_WITHIN_MS, intervalMs: 100, what: 'every flood message at every reading member',
      describe: () => `sent ${total}; got ${all.map((m) => `${m.user.name} ${m.got}`).join(', ')}`,
    }).catch((e) => { if (!over) throw e; });
    const { peakRss } = sampler.stop();
    const counts = `${total} messages of ${MESSAGE_BYTES / 1024} KiB sent; got ${all.map((m) => `${m.user.name} ${m.got}`).join(', ')}`;

    assertPeak(peakRss, baseline, `slow reader (${counts})`);
    await dropped.catch((e) => assert.fail(`the slow reader was not dropped: ${e.message} (${counts})`));
    for (const m of [...readers, ...flooders]) assert.equal(m.outOfOrder, 0, `${m.user.name} got messages out of order`);
    assert.ok(readers.every((r) => r.got === total), counts);
    for (const m of [...readers, ...flooders]) assert.ok(!m.ws.isClosed, `${m.user.name} was dropped too`);

    for (const m of all) m.ws.destroy();
    const rss = await waitRssBelow(pid, baseline + RETURN_RSS_MARGIN,
      { timeoutMs: RETURN_WAIT_MS, what: `RSS after the room flood (baseline ${mib(baseline)})` });
    await chatWorks(srv.port, { tag: 'after the room flood' });
    console.log(`# slow reader: ${counts}; dropped after ${Math.round(dropAt)} ms; RSS baseline ${mib(baseline)}, peak ${mib(peakRss)}, after ${mib(rss)}`);
  } finally {
    for (const m of all) m.ws.destroy();
  }
});
