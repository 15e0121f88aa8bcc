// Screen sharing through a REAL Janus (`--media janus`), in the network
// namespace run.sh makes (see README.md): three pages drive the WASM package's
// media API (tests/browser/lib/media.mjs: joinWithAgent), publish their fake
// cameras through Janus, and Alice shares a drawn screen next to hers
// (media.shareScreen). Bob and Carol receive it as a separate stream, its own
// Janus subscription, and decode it (framesDecoded grows) while Alice's camera
// keeps going; stopping the share removes that stream only.
//
// Run: tests/janus-media/run.sh
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { startServer, launchBrowser, newPage, MEDIA_ARGS, recordPeerConnections, screenshotPath, TIMEOUT } from '../browser/lib/harness.mjs';
import {
  waitFor, waitForStreamFrames, readStreamFrames, joinWithAgent, shareCanvasScreen, stopCanvasScreen, listsStream,
} from '../browser/lib/media.mjs';
import { startJanus } from '../janus/janus.mjs';

const ROOM = 43;
const MEDIA_TIMEOUT = 30_000;  // bound for ICE + DTLS through Janus and decoded video
const IFACES = (process.env.JANUS_MEDIA_IFACES || 'cjm0,cjm1').split(',');
const NAMES = ['Alice', 'Bob', 'Carol'];
let janus, server, browser;
const pages = {};
const ids = {};

before(async () => {
  if (IFACES.some((i) => !networkInterfaces()[i])) {
    throw new Error(`interfaces ${IFACES.join(', ')} not found: run this test with tests/janus-media/run.sh`);
  }
  janus = await startJanus({ nat: { ice_enforce_list: IFACES[0] } });
  server = await startServer({ args: ['--media', 'janus', '--janus-url', janus.url, '--log-level', 'info'] });
  await waitFor(() => /Janus connected/.test(server.stderr()), 'the server to connect to Janus', 20_000);
  browser = await launchBrowser({ args: [...MEDIA_ARGS, '--disable-features=WebRtcHideLocalIpsWithMdns'] });
  for (const name of NAMES) {
    pages[name] = await newPage(browser);
    await recordPeerConnections(pages[name]);
    await pages[name].goto(`${server.url}/`);  // the server's origin: the package is at /wasm/
  }
});

after(async () => {
  if (janus) writeFileSync(screenshotPath('janus-screen-janus.log'), janus.log());
  if (server) writeFileSync(screenshotPath('janus-screen-server.log'), server.stderr());
  await browser?.close();
  await server?.stop();
  await janus?.stop();
});

test('three pages publish their cameras through Janus and decode each other', async () => {
  for (const name of NAMES) ids[name] = await joinWithAgent(pages[name], name, ROOM);
  for (const name of NAMES) {
    const others = NAMES.filter((n) => n !== name).map((n) => `${ids[n]}/camera`);
    await waitForStreamFrames(pages[name], '__remote', others, { timeout: MEDIA_TIMEOUT });
  }
});

test('Alice shares a screen through Janus: decoded as a separate stream while her camera keeps going', async () => {
  assert.deepEqual(await shareCanvasScreen(pages.Alice), { tracks: 1, mine: 2 });
  const camera = `${ids.Alice}/camera`, screen = `${ids.Alice}/screen`;
  for (const name of ['Bob', 'Carol']) {
    await waitFor(() => listsStream(pages[name], ids.Alice, 'screen'), `${name} to list Alice's screen`, TIMEOUT);
    const first = await waitForStreamFrames(pages[name], '__remote', [camera, screen], { timeout: MEDIA_TIMEOUT });
    await waitForStreamFrames(pages[name], '__remote', [camera, screen], { above: first, timeout: MEDIA_TIMEOUT });
  }
});

test('stopping the share through Janus removes the screen only', async () => {
  await stopCanvasScreen(pages.Alice);
  const camera = `${ids.Alice}/camera`, screen = `${ids.Alice}/screen`;
  for (const name of ['Bob', 'Carol']) {
    const page = pages[name];
    await waitFor(() => page.evaluate((key) => !(key in window.__remote), screen), `${name} to drop Alice's screen`, TIMEOUT);
    const now = await readStreamFrames(page, '__remote', [camera]);
    await waitForStreamFrames(page, '__remote', [camera], { above: now, timeout: MEDIA_TIMEOUT });
  }
  for (const page of Object.values(pages)) assert.deepEqual(page.problems, []);
});
