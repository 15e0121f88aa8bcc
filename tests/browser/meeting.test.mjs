// Issue 17: the call people expect from a meeting tool, with real media in
// headless Chromium (three fake cameras, a fake microphone). Three people, two
// on desktop-sized pages and one on a phone: the grid uses the space, a tile
// clicked is shown large (speaker view), the one who makes sound is
// highlighted, a camera is switched mid-call and the others keep seeing it, and
// on the phone the newest message stays in view when the video starts, and a
// shared screen reaches the others as a tile of its own, large, next to the
// sharer's camera.
// Screenshots: test-output/meeting-desktop.png, meeting-speaker.png,
// meeting-devices.png, meeting-phone.png, meeting-phone-landscape.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, joinRoom, waitForMembers, waitForMessage, sendMessage, screenshotPath, tid,
  TIMEOUT, mediaArgs, recordPeerConnections, DESKTOP, PHONE,
} from './lib/harness.mjs';
import { waitForDecodedVideo, waitForAudio, readReceived, waitFor } from './lib/media.mjs';

const ROOM = 41;
const MEDIA_TIMEOUT = 20_000;
let server, browser, alice, bob, carol;
const ids = {};

const tile = (id) => `${tid('video-tile')}[data-user="${id}"]`;

before(async () => {
  server = await startServer();
  // Chromium's second fake camera delivers Y16 (a depth format) that no encoder takes;
  // the third (MJPEG) is a camera like any other, so there are three and we switch 0 -> 2.
  browser = await launchBrowser({ args: mediaArgs({ cameras: 3 }) });
  [alice, bob, carol] = await Promise.all([DESKTOP, DESKTOP, PHONE].map(async (size) => {
    const page = await newPage(browser, size);
    await recordPeerConnections(page);
    return page;
  }));
  // Headless Chromium has no desktop to pick: Alice's "screen" is a page-drawn canvas,
  // handed out where the browser's picker would hand out a display (test-only stand-in
  // for the operating system; the app and the package run as they are).
  await alice.addInitScript(() => {
    navigator.mediaDevices.getDisplayMedia = async () => {
      const canvas = Object.assign(document.createElement('canvas'), { width: 960, height: 540 });
      const g = canvas.getContext('2d');
      let x = 0;
      setInterval(() => {
        g.fillStyle = '#1d2b3a'; g.fillRect(0, 0, 960, 540);
        g.fillStyle = '#f5c400'; g.fillRect((x += 12) % 960, 180, 120, 180);
      }, 40);
      return canvas.captureStream(25);
    };
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Whether the last chat entry is inside the chat log's visible box (by geometry). */
function newestVisible(page) {
  return page.evaluate(() => {
    const log = document.querySelector('[data-testid="chat-log"]');
    const items = log.querySelectorAll('[data-testid="chat-message"]');
    const last = items[items.length - 1].getBoundingClientRect();
    const box = log.getBoundingClientRect();
    return { inside: last.top >= box.top - 1 && last.bottom <= box.bottom + 1 && box.height > 0, last: last.bottom, box: box.bottom };
  });
}

/**
 * After a resize the app pins the chat to its newest message in its own resize
 * callback, which may run after the new size is visible to the page: wait for
 * it (bounded), and fail with the geometry when it does not come.
 */
async function assertNewestComesIntoView(page, what) {
  try {
    await page.waitForFunction(() => {
      const log = document.querySelector('[data-testid="chat-log"]');
      const items = log.querySelectorAll('[data-testid="chat-message"]');
      const last = items[items.length - 1].getBoundingClientRect();
      const box = log.getBoundingClientRect();
      return last.top >= box.top - 1 && last.bottom <= box.bottom + 1 && box.height > 0;
    }, null, { timeout: TIMEOUT });
  } catch {
    assert.fail(`${what} (${JSON.stringify(await newestVisible(page))})`);
  }
}

async function waitForTiles(page, count) {
  await page.waitForFunction((count) => {
    const tiles = [...document.querySelectorAll('[data-testid="video-tile"]')];
    return tiles.length === count && tiles.every((t) => t.dataset.media === 'live');
  }, count, { timeout: MEDIA_TIMEOUT });
}

async function startVideo(page, name) {
  await page.getByRole('button', { name: 'Start video' }).click();
  const own = page.locator(`${tid('video-tile')}[data-self="true"]`);
  await own.waitFor({ state: 'visible' });
  ids[name] = Number(await own.getAttribute('data-user'));
}

test('three people meet; on the phone the newest message stays in view when video starts', async () => {
  await joinRoom(alice, server.url, 'Alice', ROOM);
  await joinRoom(bob, server.url, 'Bob', ROOM);
  await joinRoom(carol, server.url, 'Carol', ROOM);
  for (const page of [alice, bob, carol]) await waitForMembers(page, ['Alice', 'Bob', 'Carol'], { exact: true });
  const lines = [
    [alice, 'Morning! Agenda is in https://example.com/agenda — three points today.'],
    [bob, 'Morning. I can share the numbers after the first point.'],
    [carol, 'On my phone today, camera on in a sec'],
    [alice, 'Great, let us start with the release date.'],
    [bob, 'Friday still works for me.'],
    [alice, 'Same. Carol?'],
  ];
  for (const [page, text] of lines) {
    await sendMessage(page, text);
    await waitForMessage(carol, text);
  }
  assert.ok((await newestVisible(carol)).inside, 'newest message visible before the call');

  // Before the call: the device panel previews the camera, and lets it go when closed.
  await carol.getByRole('button', { name: 'Devices' }).click();
  await carol.waitForFunction(() => document.querySelector('[data-testid="devices-preview"]').videoWidth > 0, null,
    { timeout: TIMEOUT });
  assert.ok(await carol.getByLabel('Camera', { exact: true }).locator('option').count() >= 1);
  await carol.getByRole('button', { name: 'Done' }).click();
  await carol.waitForSelector(tid('devices'), { state: 'hidden' });
  assert.equal(await carol.$eval(tid('devices-preview'), (v) => v.srcObject), null, 'the preview camera is released');
  assert.equal(await carol.evaluate(() => document.activeElement.dataset.testid), 'devices-button', 'focus goes back');

  await startVideo(carol, 'Carol');
  await carol.waitForFunction(() => document.querySelector('[data-testid="room-view"]').dataset.call === 'on');
  const afterOwn = await newestVisible(carol);
  assert.ok(afterOwn.inside, `newest message visible after starting video (${JSON.stringify(afterOwn)})`);

  await startVideo(alice, 'Alice');
  await startVideo(bob, 'Bob');
  for (const page of [alice, bob, carol]) await waitForTiles(page, 3);
  await waitForDecodedVideo(carol, [ids.Alice, ids.Bob]);
  const afterAll = await newestVisible(carol);
  assert.ok(afterAll.inside, `newest message visible with three tiles (${JSON.stringify(afterAll)})`);
  await sendMessage(bob, 'Friday it is, then.');
  await waitForMessage(carol, 'Friday it is');
  assert.ok((await newestVisible(carol)).inside, 'a new message during the call is in view');

  const overflow = await carol.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px too wide)`);
  await carol.screenshot({ path: screenshotPath('meeting-phone.png') });

  // Turned sideways and back (the keyboard opening is the same kind of change: less height).
  const { width, height } = PHONE.viewport;
  await carol.setViewportSize({ width: height, height: width });
  await carol.waitForFunction((w) => window.innerWidth === w, height);
  await assertNewestComesIntoView(carol, 'newest message visible on a phone turned sideways');
  await carol.screenshot({ path: screenshotPath('meeting-phone-landscape.png') });
  await carol.setViewportSize({ width, height: Math.round(height * 0.55) });  // a keyboard takes the lower part
  await carol.waitForFunction((w) => window.innerWidth === w, width);
  await assertNewestComesIntoView(carol, 'newest message visible with the keyboard open');
  await carol.setViewportSize(PHONE.viewport);
  await carol.waitForFunction((h) => window.innerHeight === h, height);
  assert.ok((await newestVisible(carol)).inside, 'and when it closes');
});

test('the grid uses the space: tiles grow with the window', async () => {
  const widths = await alice.$$eval(tid('video-tile'), (ts) => ts.map((t) => t.getBoundingClientRect().width));
  assert.equal(widths.length, 3);
  for (const w of widths) assert.ok(w > 380, `tiles are large on a 1280 px page (${widths.map(Math.round)})`);
  await alice.setViewportSize({ width: 1600, height: 1000 });
  await alice.waitForFunction((w) => document.querySelector('[data-testid="video-tile"]').getBoundingClientRect().width > w + 50,
    widths[0], { timeout: TIMEOUT });
  await alice.setViewportSize(DESKTOP.viewport);
  await alice.waitForFunction((w) => Math.abs(document.querySelector('[data-testid="video-tile"]').getBoundingClientRect().width - w) < 2,
    widths[0], { timeout: TIMEOUT });
  await alice.screenshot({ path: screenshotPath('meeting-desktop.png') });
});

test('speaker view: a clicked tile is shown large, and back', async () => {
  const size = (id) => alice.$eval(tile(id), (t) => t.getBoundingClientRect().width);
  await alice.click(tile(ids.Bob));
  await alice.waitForSelector(`${tid('video-grid')}[data-layout="speaker"] ${tile(ids.Bob)}[data-main="true"]`);
  assert.ok(await size(ids.Bob) > 2 * await size(ids.Carol), 'the focused tile is much larger');
  await alice.screenshot({ path: screenshotPath('meeting-speaker.png') });
  // By keyboard: the tile's own button.
  await alice.getByRole('button', { name: 'Show Carol large' }).press('Enter');
  await alice.waitForSelector(`${tile(ids.Carol)}[data-main="true"]`);
  await alice.getByRole('button', { name: /^Back to grid/ }).press('Enter');
  await alice.waitForSelector(`${tid('video-grid')}[data-layout="grid"]`);
  const sizes = await Promise.all(Object.values(ids).map(size));
  assert.ok(Math.max(...sizes) - Math.min(...sizes) < 2, `equal tiles again (${sizes})`);
});

test('the active speaker is highlighted from the audio levels', async () => {
  const speaking = (page, id) => page.waitForSelector(`${tile(id)}[data-speaking="true"]`, { timeout: MEDIA_TIMEOUT });
  // Only Bob's (fake) microphone makes sound.
  await alice.getByRole('button', { name: 'Mute microphone' }).click();
  await carol.getByRole('button', { name: 'Mute microphone' }).click();
  await speaking(alice, ids.Bob);
  await speaking(carol, ids.Bob);
  // Now only Carol's.
  await carol.getByRole('button', { name: 'Unmute microphone' }).click();
  await bob.getByRole('button', { name: 'Mute microphone' }).click();
  await speaking(alice, ids.Carol);
  assert.equal(await alice.getAttribute(tile(ids.Bob), 'data-speaking'), 'false');
  await bob.getByRole('button', { name: 'Unmute microphone' }).click();
  await alice.getByRole('button', { name: 'Unmute microphone' }).click();
});

test('devices: camera and microphone are switched mid-call and the others keep seeing and hearing; the speaker is chosen', async () => {
  await alice.getByRole('button', { name: 'Devices' }).click();
  const camera = alice.getByLabel('Camera', { exact: true });
  await alice.waitForFunction(() => document.querySelector('[data-testid="camera-select"]').options.length === 3,
    null, { timeout: TIMEOUT });
  const options = await camera.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, label: o.textContent })));
  const current = await alice.$eval(`${tid('video-tile')}[data-self="true"] video`, (v) => v.srcObject.getVideoTracks()[0].getSettings().deviceId);
  assert.equal(await camera.inputValue(), current, 'the camera in use is the one selected');
  assert.deepEqual(options.map((o) => o.label), ['fake_device_0', 'fake_device_1', 'fake_device_2'], 'listed by name');
  const other = options.find((o) => o.label === 'fake_device_2');
  assert.notEqual(other.value, current);
  assert.ok(await alice.getByLabel('Microphone', { exact: true }).locator('option').count() >= 1);
  assert.equal(await alice.isVisible(tid('speaker-select')), true, 'Chromium can choose the speaker (setSinkId)');
  await alice.screenshot({ path: screenshotPath('meeting-devices.png') });

  // A switch goes out on the connections there are (RTCRtpSender.replaceTrack): no new ones.
  const connections = () => Promise.all([alice, bob, carol].map((p) => p.evaluate(() => window.__testPeerConnections.length)));
  const before = await connections();
  await camera.selectOption(other.value);
  await alice.waitForFunction((id) => document.querySelector('[data-self="true"] video')?.srcObject?.getVideoTracks()[0]
    ?.getSettings().deviceId === id, other.value, { timeout: MEDIA_TIMEOUT });
  await alice.waitForSelector(`${tid('devices-status')}:has-text("Camera switched")`, { timeout: MEDIA_TIMEOUT });
  assert.equal(await alice.getByRole('button', { name: 'Unmute microphone' }).count(), 0, 'the microphone stays as it was');

  // The microphone, the same way.
  const mic = alice.getByLabel('Microphone', { exact: true });
  const mics = await mic.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, label: o.textContent })));
  const otherMic = mics.find((o) => o.label === 'Fake Audio Input 1');
  assert.ok(otherMic, `a second fake microphone (${mics.map((o) => o.label)})`);
  await mic.selectOption(otherMic.value);
  await alice.waitForFunction((id) => document.querySelector('[data-self="true"] video')?.srcObject?.getAudioTracks()[0]
    ?.getSettings().deviceId === id, otherMic.value, { timeout: MEDIA_TIMEOUT });
  await alice.waitForSelector(`${tid('devices-status')}:has-text("Microphone switched")`, { timeout: MEDIA_TIMEOUT });

  // The speaker: every remote tile plays on it.
  const speaker = alice.getByLabel('Speaker', { exact: true });
  const outputs = await speaker.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, label: o.textContent })));
  const otherOut = outputs.find((o) => o.label === 'Fake Audio Output 1');
  await speaker.selectOption(otherOut.value);
  await alice.waitForFunction((id) => [...document.querySelectorAll('[data-testid="video-tile"][data-self="false"] video')]
    .every((v) => v.sinkId === id), otherOut.value, { timeout: TIMEOUT });
  await alice.getByRole('button', { name: 'Done' }).click();
  await alice.waitForSelector(tid('devices'), { state: 'hidden' });

  assert.deepEqual(await connections(), before, 'no connection was made anew for the switches');
  // Bob and Carol still decode Alice's video and hear her after the switches.
  for (const page of [bob, carol]) {
    await waitForTiles(page, 3);
    const now = await readReceived(page, [ids.Alice], 'video', 'framesDecoded');
    await waitForDecodedVideo(page, [ids.Alice], { above: now });
    const heard = await readReceived(page, [ids.Alice], 'audio', 'totalSamplesReceived');
    await waitForAudio(page, [ids.Alice], { above: heard });
  }
  // The choice is kept for next time.
  assert.equal(await alice.evaluate(() => localStorage.getItem('compeit.camera')), other.value);
});

test('on the phone the video area folds away and the chat keeps its newest message', async () => {
  await carol.getByRole('button', { name: 'Hide video' }).click();
  await carol.waitForSelector(tid('video-grid'), { state: 'hidden' });
  assert.ok((await newestVisible(carol)).inside);
  await carol.getByRole('button', { name: /^Show video/ }).click();
  await carol.waitForSelector(tid('video-grid'), { state: 'visible' });
  assert.ok((await newestVisible(carol)).inside);
});

/** Frames the <video> of the tile `key` (user:stream) has shown so far on `page`; -1 without one. */
const framesShown = (page, key) => page.evaluate((key) => {
  const v = document.querySelector(`[data-testid="video-tile"][data-key="${key}"] video`);
  return v && v.videoWidth > 0 ? v.getVideoPlaybackQuality().totalVideoFrames : -1;
}, key);
async function framesGrow(page, key) {
  await waitFor(async () => (await framesShown(page, key)) >= 0, `a picture in tile ${key}`, MEDIA_TIMEOUT);
  const before = await framesShown(page, key);
  await waitFor(async () => (await framesShown(page, key)) > before + 10, `tile ${key} playing on`, MEDIA_TIMEOUT);
}

test('screen sharing: the others get the screen as a large tile of its own while the camera goes on; stopping removes it', async () => {
  const screenKey = `${ids.Alice}:screen`;
  const cameraKey = `${ids.Alice}:camera`;
  await alice.getByRole('button', { name: 'Share screen' }).click();
  await alice.locator(`${tid('video-tile')}[data-self="true"][data-stream="screen"]`).waitFor();
  for (const page of [bob, carol]) {
    await page.locator(`${tid('video-tile')}[data-key="${screenKey}"]`).waitFor({ timeout: MEDIA_TIMEOUT });
    await framesGrow(page, screenKey);
    await framesGrow(page, cameraKey);
  }
  await bob.waitForSelector(`${tid('video-grid')}[data-layout="speaker"] [data-testid="video-tile"][data-key="${screenKey}"][data-main="true"]`);
  await bob.screenshot({ path: screenshotPath('meeting-screen-share.png') });
  await carol.screenshot({ path: screenshotPath('meeting-screen-share-phone.png') });

  await alice.getByRole('button', { name: 'Stop sharing' }).click();
  for (const page of [bob, carol]) {
    await page.locator(`${tid('video-tile')}[data-key="${screenKey}"]`).waitFor({ state: 'detached', timeout: MEDIA_TIMEOUT });
    await framesGrow(page, cameraKey);  // the camera goes on
  }
  assert.equal(await alice.locator(`${tid('video-tile')}[data-self="true"][data-stream="screen"]`).count(), 0);
});

test('no errors in the pages', () => {
  for (const page of [alice, bob, carol]) assert.deepEqual(page.problems, []);
});
