// Issue 17, the web app's side of screen sharing, one page: the app shows a
// stream named "screen" (the `stream` field of stream objects) as its own tile,
// large, and "Share screen" shares one through the package's
// media.shareScreen(). The package is served wrapped by this test (page.route,
// test-only): the wrapper records the app's listeners and the agent, so the
// test can hand the app the events someone else's share brings. Headless
// Chromium has no desktop to pick, so getDisplayMedia hands out a canvas. Real
// sharing between three pages: meeting.test.mjs (the app) and
// screen-share.test.mjs (the package, mesh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, joinRoom, tid, DESKTOP } from './lib/harness.mjs';

let server, browser, page;
const OTHER = 99;  // a user id nobody has: the tile says "User 99"

// Appended to /wasm/compeit.mjs: runs inside the module, where ConnectionAgent is in scope.
const WRAPPER = `
;{
  const canvasStream = () => {
    const c = document.createElement('canvas');
    c.width = 640; c.height = 360;
    const g = c.getContext('2d');
    setInterval(() => { g.fillStyle = '#246'; g.fillRect(0, 0, 640, 360); g.fillStyle = '#fff'; g.fillText(String(Date.now()), 20, 40); }, 50);
    return c.captureStream(10);
  };
  globalThis.__testListeners = {};
  globalThis.__testStream = canvasStream;
  navigator.mediaDevices.getDisplayMedia = async () => canvasStream();
  const on = ConnectionAgent.prototype.on;
  ConnectionAgent.prototype.on = function (event, fn) {
    globalThis.__testAgent = this;
    (globalThis.__testListeners[event] ??= []).push(fn);
    return on.call(this, event, fn);
  };
}`;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  page = await newPage(browser, DESKTOP);
  await page.route('**/wasm/compeit.mjs', async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, body: (await res.text()) + WRAPPER });
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Hands the app a package event, as the package would emit it. */
const emit = (event, payload) => page.evaluate(({ event, payload }) => {
  if (payload.stream === 'canvas') payload.stream = globalThis.__testStream();
  for (const fn of globalThis.__testListeners[event] ?? []) fn(payload);
}, { event, payload });

const tileOf = (key) => `${tid('video-tile')}[data-key="${key}"]`;

test('"Share screen" shares a screen of our own, shown as a tile of its own', async () => {
  await joinRoom(page, server.url, 'Alice', 51);
  await page.getByRole('button', { name: 'Share screen' }).click();
  const own = page.locator(`${tid('video-tile')}[data-self="true"][data-stream="screen"]`);
  await own.waitFor();
  assert.equal(await own.locator(tid('tile-name')).textContent(), "Alice's screen");
  assert.equal(await own.getAttribute('data-main'), 'false', 'our own screen stays small: we know what we share');
  await page.getByRole('button', { name: 'Stop sharing' }).click();
  await own.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => globalThis.__testAgent.media.localStreams.has('screen')), false,
    'the package stopped it');
});

test('someone else\'s screen is shown large next to their camera, and goes when they stop', async () => {
  await emit('streams', { streams: [
    { user: OTHER, audio: true, video: true, filter: null },
    { user: OTHER, audio: false, video: true, filter: null, stream: 'screen' },
  ] });
  await emit('remote_stream', { user: OTHER, stream: 'canvas' });
  await emit('remote_stream', { user: OTHER, stream: 'canvas', name: 'screen' });
  const screen = page.locator(tileOf(`${OTHER}:screen`));
  await screen.waitFor();
  await page.waitForSelector(`${tid('video-grid')}[data-layout="speaker"] ${tileOf(`${OTHER}:screen`)}[data-main="true"]`);
  assert.equal(await screen.locator(tid('tile-name')).textContent(), `User ${OTHER}'s screen`);
  const width = (key) => page.$eval(tileOf(key), (t) => t.getBoundingClientRect().width);
  assert.ok(await width(`${OTHER}:screen`) > 2 * await width(`${OTHER}:camera`), 'the screen is the large tile');

  // A click on it: back to the equal grid; the user's choice holds.
  await screen.click();
  await page.waitForSelector(`${tid('video-grid')}[data-layout="grid"]`);

  await emit('remote_stream_removed', { user: OTHER, name: 'screen' });
  await emit('streams', { streams: [{ user: OTHER, audio: true, video: true, filter: null }] });
  await screen.waitFor({ state: 'detached' });
  assert.equal(await page.locator(tileOf(`${OTHER}:camera`)).count(), 1, 'the camera stays');
  assert.deepEqual(page.problems, []);
});
