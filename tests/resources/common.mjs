// Shared bounds and steps of the resource-attack tests (issue 12: no single
// client can take the server down). Each attack runs against its own server,
// measured from /proc (tests/node/lib/proc.mjs).
import assert from 'node:assert/strict';
import { openAgentWs } from '../node/lib/raw.mjs';
import { rssBytes, mib } from '../node/lib/proc.mjs';

export const MiB = 1 << 20;

// During an attack the server may grow by its per-client limits (a 1 MiB write
// queue here, 8 MiB for one reader that is far behind, a few hundred idle
// connections) plus allocator slack: 64 MiB is generous for that and far below
// what an unbounded queue reaches (gigabytes within seconds).
export const ATTACK_RSS_MARGIN = 64 * MiB;

// After the attacker is gone the memory must go back to the system: what stays
// is the allocator's working set and tables grown for the peak (a few MiB).
export const RETURN_RSS_MARGIN = 16 * MiB;

// How long the server may take to give the memory back once the attacker is
// gone (dropped connections, expired handshakes).
export const RETURN_WAIT_MS = 10000;

let nextRoom = 5000;
export const freshRoom = () => nextRoom++;

/**
 * Two raw websocket users from localAddress join a fresh room and one chats to
 * the other (CH-1); every step bounded by the raw peers' 5 s waits.
 */
export async function chatWorks(port, { localAddress, timeout = 5000, tag = 'hello' } = {}) {
  const a = await openAgentWs(port, { name: 'Alice', localAddress });
  const b = await openAgentWs(port, { name: 'Bob', localAddress });
  try {
    const room = freshRoom();
    for (const { ws } of [a, b]) {
      ws.emit('join_room', [{ room }]);
      await ws.nextEvent('room_joined', { timeout });
    }
    const text = `${tag} ${room}`;
    a.ws.emit('room_message', [{ type: 'chat', data: { text } }], { id: '1' });
    const got = await b.ws.nextPacket(
      (p) => p.type === 5 && p.name === 'room_message' && p.args[0]?.type === 'chat' && p.args[0]?.data?.text === text,
      { timeout, what: `chat "${text}" on Bob` });
    assert.equal(got.args[0].from, a.user.id);
  } finally {
    a.ws.destroy();
    b.ws.destroy();
  }
}

/** The server's RSS after one full client round trip (lazy allocations done). */
export async function warmBaseline(srv) {
  await chatWorks(srv.port, { tag: 'warm-up' });
  return rssBytes(srv.proc.pid);
}

/** Fails with the numbers when the peak broke the bound. */
export function assertPeak(peak, baseline, what) {
  assert.ok(peak <= baseline + ATTACK_RSS_MARGIN,
    `${what}: server RSS peaked at ${mib(peak)}, baseline ${mib(baseline)}, bound baseline + ${mib(ATTACK_RSS_MARGIN)}`);
}

/** Ends a test file: the server must still be running. */
export async function stopChecked(srv) {
  if (!srv) return;
  const alive = srv.alive();
  const info = await srv.stop();
  assert.ok(alive, `the server died during the attack (${JSON.stringify(info)}); stderr tail:\n${srv.stderr().slice(-2000)}`);
}
