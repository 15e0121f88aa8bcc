// Issue 17: screen sharing through the WASM connection agent's media API, in
// mesh mode, with real media in headless Chromium. Three pages join one room
// and publish their (fake) cameras; Alice shares a screen next to her camera
// with media.shareScreen(). Bob and Carol receive it as a separate stream
// (remote_stream {name: 'screen'}) and decode it (inbound-rtp framesDecoded of
// its own receiver grows) while Alice's camera keeps going; stopping the
// share removes that stream only.
//
// The screen is a canvas.captureStream() handed to shareScreen({mediaStream}):
// headless Chromium has no desktop to capture (getDisplayMedia is refused
// without a user gesture and a picker), so the page draws one. The test drives
// the package's API directly (the web app's screen-share UI is its own work).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, MEDIA_ARGS, recordPeerConnections, TIMEOUT } from './lib/harness.mjs';
import {
  waitFor, waitForStreamFrames, readStreamFrames, joinWithAgent, shareCanvasScreen, stopCanvasScreen, listsStream,
} from './lib/media.mjs';

const ROOM = 23;
let server, browser;
const pages = {};  // name -> page
const ids = {};    // name -> user id

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ args: MEDIA_ARGS });
  for (const name of ['Alice', 'Bob', 'Carol']) {
    const page = await newPage(browser);
    await recordPeerConnections(page);
    await page.goto(`${server.url}/`);  // any page of the server's origin: the package is at /wasm/
    pages[name] = page;
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const remoteKeys = (page) => page.evaluate(() => Object.keys(window.__remote).sort());

test('three people publish their cameras and receive each other', async () => {
  for (const name of Object.keys(pages)) ids[name] = await joinWithAgent(pages[name], name, ROOM);
  for (const [name, page] of Object.entries(pages)) {
    const others = Object.entries(ids).filter(([n]) => n !== name).map(([, id]) => `${id}/camera`);
    await waitForStreamFrames(page, '__remote', others);
  }
});

test('Alice shares a screen: the others decode it as a separate stream while her camera keeps going', async () => {
  const published = await shareCanvasScreen(pages.Alice);
  assert.deepEqual(published, { tracks: 1, mine: 2 });
  const camera = `${ids.Alice}/camera`, screen = `${ids.Alice}/screen`;
  for (const name of ['Bob', 'Carol']) {
    const page = pages[name];
    // The stream list names the screen; the camera's object is as it always was.
    await waitFor(() => listsStream(page, ids.Alice, 'screen'), `${name} to list Alice's screen`, TIMEOUT);
    const listed = await page.evaluate((id) => window.__streams.filter((s) => s.user === id), ids.Alice);
    assert.deepEqual(listed.map((s) => s.stream ?? '(none)').sort(), ['(none)', 'screen']);
    const first = await waitForStreamFrames(page, '__remote', [camera, screen]);
    // Two streams, two receivers: the screen's track is not the camera's.
    assert.equal(await page.evaluate(([a, b]) => window.__remote[a].getVideoTracks()[0] !== window.__remote[b].getVideoTracks()[0],
      [camera, screen]), true);
    // Both keep decoding.
    await waitForStreamFrames(page, '__remote', [camera, screen], { above: first });
  }
});

test('stopping the share removes the screen stream only; the camera keeps going', async () => {
  await stopCanvasScreen(pages.Alice);
  const camera = `${ids.Alice}/camera`, screen = `${ids.Alice}/screen`;
  for (const name of ['Bob', 'Carol']) {
    const page = pages[name];
    await waitFor(async () => !(await remoteKeys(page)).includes(screen), `${name} to drop Alice's screen`, TIMEOUT);
    await waitFor(async () => !(await listsStream(page, ids.Alice, 'screen')), `${name} to unlist Alice's screen`, TIMEOUT);
    const now = await readStreamFrames(page, '__remote', [camera]);
    await waitForStreamFrames(page, '__remote', [camera], { above: now });
  }
  assert.equal(await pages.Alice.evaluate(() => window.__ca.media.localStreams.has('screen')), false);
  for (const page of Object.values(pages)) assert.deepEqual(page.problems, []);
});
