// The Kurento Agent in `janus` media mode against a REAL Janus 1.1.2 on
// loopback (started here, see janus.mjs). No browser, so no media: the
// server connects to Janus, the config says the media server offers, Janus'
// own errors reach the requester (KU-7), and killing Janus gives
// request_error unavailable until it is back, then the room works again.
// Real media through Janus (three Chromium pages): tests/janus-media/.
// Run: node --test --test-concurrency=1 tests/janus/
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../node/lib/server.mjs';
import { Client, closeAll } from '../node/lib/client.mjs';
import { startJanus } from './janus.mjs';

let janus;
let server;
let nextRoom = 300;

const waitFor = async (check, what, timeout = 10000) => {
  const end = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const count = (re) => (server.stderr().match(re) || []).length;

before(async () => {
  janus = await startJanus();
  server = await startServer(['--media', 'janus', '--janus-url', janus.url]);
  await waitFor(() => count(/Janus connected/g) >= 1, 'the server to connect to Janus');
});
after(async () => {
  closeAll();
  await server?.stop();
  await janus?.stop();
});
afterEach(() => closeAll());

const send = (c, data) => c.ack('server_message', { type: 'kurento', data });
const ku = (c, action, timeout = 5000) =>
  c.next('server_message', { filter: (m) => m?.type === 'kurento' && m.data?.action === action, timeout }).then((m) => m.data);

async function joined(name, room) {
  const c = await Client.connect(server.url, { name });
  assert.equal((await c.ack('join_room', { room })).room, room);
  return c;
}

test('KU-1: config says sfu', async () => {
  const a = await joined('Ada', nextRoom++);
  const config = await ku(a, 'config');
  assert.equal(config.mode, 'sfu');
  assert.equal(config.offerer, 'server', 'Janus offers to subscribers');
});

test('KU-3 with Janus: a subscriber offer is refused (Janus offers); an answer without an offer too', async () => {
  const a = await joined('Eve', nextRoom++);
  const sub = await send(a, { action: 'subscribe', user: 999, sdp: 'v=0' });
  assert.equal(sub.error?.code, 'bad_request');
  assert.match(sub.error.message, /media server makes the offer/);
  const ans = await send(a, { action: 'answer', user: 999, sdp: 'v=0' });
  assert.equal(ans.error?.code, 'bad_request');
});

test('KU-7: an invalid SDP offer gets request_error with Janus\' reason', async () => {
  const a = await joined('Bob', nextRoom++);
  const r = await send(a, { action: 'publish', sdp: 'this is not SDP', audio: true, video: true });
  assert.equal(r.error?.code, 'bad_request', JSON.stringify(r));
  assert.match(r.error.message, /^Janus error \d+: /);
  const err = await a.next('request_error', { filter: (e) => e.event === 'server_message' });
  assert.match(err.message, /Janus error/);
  // nothing half-made stays: publishing again gives the same answer, not "already publishing"
  const again = await send(a, { action: 'publish', sdp: 'still not SDP' });
  assert.equal(again.error?.code, 'bad_request');
});

test('set_filter without a published stream is refused before it reaches Janus', async () => {
  const a = await joined('Cat', nextRoom++);
  const f = await send(a, { action: 'set_filter', filter: 'x' });
  assert.equal(f.error?.code, 'bad_request');  // not publishing: the agent refuses before the backend
});

test('KU-7: Janus killed: request_error unavailable; works again once Janus is back', async () => {
  const room = nextRoom++;
  const a = await joined('Dan', room);
  const connects = count(/Janus connected/g);
  await janus.kill();
  await waitFor(() => /Janus connection lost/.test(server.stderr()), 'the server to notice');
  const down = await send(a, { action: 'publish', sdp: 'not SDP' });
  assert.equal(down.error?.code, 'unavailable', JSON.stringify(down));
  await janus.restart();
  await waitFor(() => count(/Janus connected/g) > connects, 'the server to reconnect', 15000);
  const up = await send(a, { action: 'publish', sdp: 'not SDP' });
  assert.equal(up.error?.code, 'bad_request', 'Janus answers again (with its SDP error)');
  assert.match(up.error.message, /Janus error/);
  assert.ok(server.alive());
});
