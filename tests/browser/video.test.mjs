// Issue 7: the video call in the web app, with real media in headless Chromium
// (fake camera and microphone). Three people in one room all publish, and every
// page decodes video from both others (inbound-rtp framesDecoded of the
// connection behind each tile); camera and microphone mutes show on everyone's
// tiles; tiles go when someone stops the camera or leaves; a refused camera is
// explained; after a server restart the call comes back by itself.
//
// Test-only hook: recordPeerConnections() (lib/harness.mjs) keeps the page's
// RTCPeerConnections in window.__testPeerConnections; the app has no hook. The
// connection behind a tile is the one whose receiver carries the tile's track.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  startServer, launchBrowser, newPage, joinRoom, waitForMembers, screenshotPath, tid, TIMEOUT, MEDIA_ARGS,
  recordPeerConnections, PHONE,
} from './lib/harness.mjs';
import { waitForDecodedVideo, waitForAudio } from './lib/media.mjs';

const ROOM = 17;
const MEDIA_TIMEOUT = 20_000;  // bound for peer connections to carry decoded video
let server, browser, alice, bob, carol, restartedDataDir;
const ids = {};  // name -> user id

const tile = (id) => `${tid('video-tile')}[data-user="${id}"]`;

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ args: MEDIA_ARGS });
  [alice, bob, carol] = await Promise.all([0, 1, 2].map(async () => {
    const page = await newPage(browser, { viewport: { width: 1100, height: 760 } });
    await recordPeerConnections(page);
    return page;
  }));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (restartedDataDir) rmSync(restartedDataDir, { recursive: true, force: true });
});

/** Waits until `page` shows tiles for exactly `names` (ids), all with media attached. */
async function waitForTiles(page, userIds, { live = true } = {}) {
  await page.waitForFunction(({ userIds, live }) => {
    const tiles = [...document.querySelectorAll('[data-testid="video-tile"]')];
    const shown = tiles.map((t) => Number(t.dataset.user)).sort((a, b) => a - b);
    return JSON.stringify(shown) === JSON.stringify([...userIds].sort((a, b) => a - b)) &&
      (!live || tiles.every((t) => t.dataset.media === 'live'));
  }, { userIds, live }, { timeout: MEDIA_TIMEOUT });
}

test('three people join the room and start their cameras', async () => {
  await joinRoom(alice, server.url, 'Alice', ROOM);
  await joinRoom(bob, server.url, 'Bob', ROOM);
  await joinRoom(carol, server.url, 'Carol', ROOM);
  for (const page of [alice, bob, carol]) await waitForMembers(page, ['Alice', 'Bob', 'Carol'], { exact: true });
  assert.equal(await alice.isHidden(tid('video-grid')), true, 'no grid while nobody shares');

  // Alice by mouse, Bob with the keyboard (by its accessible name), Carol by test id.
  await alice.getByRole('button', { name: 'Start video' }).click();
  await bob.getByRole('button', { name: 'Start video' }).focus();
  await bob.keyboard.press('Enter');
  await carol.click(tid('camera-button'));
  for (const [name, page] of [['Alice', alice], ['Bob', bob], ['Carol', carol]]) {
    const own = page.locator(`${tid('video-tile')}[data-self="true"]`);
    await own.waitFor({ state: 'visible' });
    ids[name] = Number(await own.getAttribute('data-user'));
    assert.equal(await own.locator('video').evaluate((v) => v.muted), true, 'the own preview is muted');
    assert.equal(await own.locator(tid('tile-name')).textContent(), `${name} (you)`);
    await page.getByRole('button', { name: 'Stop video' }).waitFor();
    await page.getByRole('button', { name: 'Turn camera off' }).waitFor();
    await page.getByRole('button', { name: 'Mute microphone' }).waitFor();
  }
  assert.equal(new Set(Object.values(ids)).size, 3);
});

test('every page receives and decodes video (and receives audio) from both others', async () => {
  const all = Object.values(ids);
  for (const [name, page] of [['Alice', alice], ['Bob', bob], ['Carol', carol]]) {
    await waitForTiles(page, all);
    const others = all.filter((id) => id !== ids[name]);
    const decoded = await waitForDecodedVideo(page, others);
    for (const id of others) assert.ok(decoded[id] > 0, `${name} decodes video from user ${id}`);
    for (const [other, id] of Object.entries(ids)) {
      const label = await page.locator(tile(id)).getAttribute('aria-label');
      assert.match(label, new RegExp(`^${other}${id === ids[name] ? ' \\(you\\)' : ''}, camera on, microphone on$`));
    }
    // Remote tiles play sound; the placeholder is hidden while video flows.
    assert.equal(await page.locator(`${tile(others[0])} video`).evaluate((v) => v.muted), false);
    assert.equal(await page.locator(`${tile(others[0])} ${tid('video-placeholder')}`).isHidden(), true);
    const heard = await waitForAudio(page, others);
    for (const id of others) assert.ok(heard[id] > 0, `${name} receives audio from user ${id}`);
  }
});

test('muting the camera and the microphone shows on everyone\'s tiles', async () => {
  // Bob turns his camera off with the keyboard, Carol mutes her microphone.
  await bob.getByRole('button', { name: 'Turn camera off' }).press('Enter');
  await bob.getByRole('button', { name: 'Turn camera on' }).waitFor();
  await carol.getByRole('button', { name: 'Mute microphone' }).click();
  await carol.getByRole('button', { name: 'Unmute microphone' }).waitFor();

  for (const page of [alice, bob, carol]) {
    await page.waitForSelector(`${tile(ids.Bob)}[data-video="off"] ${tid('video-placeholder')}`, { state: 'visible' });
    assert.equal(await page.textContent(`${tile(ids.Bob)} ${tid('tile-status')}`), 'Camera off');
    await page.waitForSelector(`${tile(ids.Carol)}[data-audio="off"] ${tid('mic-off')}`, { state: 'visible' });
    assert.equal(await page.isHidden(`${tile(ids.Alice)} ${tid('mic-off')}`), true);
    assert.equal(await page.isHidden(`${tile(ids.Alice)} ${tid('video-placeholder')}`), true);
  }
  assert.match(await alice.getAttribute(tile(ids.Bob), 'aria-label'), /^Bob, camera off, microphone on$/);
  assert.match(await alice.getAttribute(tile(ids.Carol), 'aria-label'), /^Carol, camera on, microphone off$/);
  assert.equal(await bob.evaluate(() => document.querySelector('[data-self="true"] video').srcObject
    .getVideoTracks()[0].enabled), false, 'the camera track is really off');

  // The grid as Alice sees it: her camera, Bob's placeholder, Carol with her mic off.
  await alice.locator(tid('video-grid')).screenshot({ path: screenshotPath('video-grid.png') });
  await alice.screenshot({ path: screenshotPath('video-room.png') });

  // And back on.
  await bob.getByRole('button', { name: 'Turn camera on' }).click();
  for (const page of [alice, carol]) {
    await page.waitForSelector(`${tile(ids.Bob)}[data-video="on"] ${tid('video-placeholder')}`, { state: 'hidden' });
  }
});

test('stopping the video removes the tile; the member stays', async () => {
  await bob.getByRole('button', { name: 'Stop video' }).click();
  for (const page of [alice, bob, carol]) await waitForTiles(page, [ids.Alice, ids.Carol], { live: page !== bob });
  await waitForMembers(alice, ['Alice', 'Bob', 'Carol'], { exact: true });
  assert.equal(await bob.isHidden(tid('video-toggle')), true);
  // Bob still receives the others.
  await waitForDecodedVideo(bob, [ids.Alice, ids.Carol]);
  // And comes back.
  await bob.getByRole('button', { name: 'Start video' }).click();
  for (const page of [alice, bob, carol]) await waitForTiles(page, Object.values(ids));
  await waitForDecodedVideo(alice, [ids.Bob, ids.Carol]);
});

test('one leaves and their tiles disappear elsewhere', async () => {
  await carol.click(tid('leave-button'));
  await carol.waitForSelector(tid('lobby'), { state: 'visible' });
  for (const page of [alice, bob]) {
    await waitForTiles(page, [ids.Alice, ids.Bob]);
    await waitForMembers(page, ['Alice', 'Bob'], { exact: true });
  }
  // Carol's camera is off; the others closed their connections with her.
  assert.equal(await carol.locator(tid('video-tile')).count(), 0);
  await alice.waitForFunction(() => window.__testPeerConnections.filter((pc) => pc.connectionState !== 'closed').length === 2,
    null, { timeout: TIMEOUT });
  await waitForDecodedVideo(alice, [ids.Bob]);
});

// Guards a fixed core bug: KurentoClient::close_all() once passed close() a
// reference to the key it erased, so one connection of the leaver stayed open.
test('the leaver closed every one of its peer connections', async () => {
  const open = await carol.evaluate(() => window.__testPeerConnections.filter((pc) => pc.connectionState !== 'closed').length);
  assert.equal(open, 0, `${open} connection(s) of the leaver still open`);
});

test('a camera that cannot be opened is explained, and nothing is shared (on a phone)', async () => {
  const dave = await newPage(browser, PHONE);
  await recordPeerConnections(dave);
  await dave.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
  });
  await joinRoom(dave, server.url, 'Dave', ROOM);
  await dave.getByRole('button', { name: 'Start video' }).click();
  await dave.waitForSelector(`${tid('error-banner')}[data-code="media_unavailable"]`, { state: 'visible' });
  assert.match(await dave.textContent(tid('error-text')), /Could not start your camera: access to the camera and microphone was blocked/);
  await dave.getByRole('button', { name: 'Start video' }).waitFor();  // can try again
  assert.equal(await dave.locator(`${tid('video-tile')}[data-self="true"]`).count(), 0);
  // Dave still sees the others.
  await waitForTiles(dave, [ids.Alice, ids.Bob]);
  await waitForDecodedVideo(dave, [ids.Alice, ids.Bob]);
  await dave.click(tid('error-close'));
  await dave.screenshot({ path: screenshotPath('video-phone.png') });
  const overflow = await dave.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px too wide)`);
  assert.deepEqual(dave.problems, []);
  await dave.context().close();
});

test('after a server restart the call comes back by itself', async () => {
  const { port, dataDir } = server;
  restartedDataDir = dataDir;
  await server.stop({ keepData: true });
  await Promise.all([alice, bob].map(async (page) => {
    await page.waitForSelector(`${tid('connection-banner')}[data-state="warn"]`);
    // The others' tiles go with the connection; our own camera stays on.
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="video-tile"]')]
      .every((t) => t.dataset.self === 'true'), null, { timeout: TIMEOUT });
  }));
  server = await startServer({ port, dataDir });
  // Fresh server, fresh ids: find the other one's tile by name.
  for (const [page, other] of [[alice, 'Bob'], [bob, 'Alice']]) {
    await page.waitForSelector(`${tid('connection-banner')}[data-state="ok"]`);
    const theirs = page.locator(`${tid('video-tile')}[data-self="false"][data-media="live"]`)
      .filter({ has: page.locator(tid('tile-name'), { hasText: other }) });
    await theirs.waitFor({ timeout: MEDIA_TIMEOUT });
    await waitForDecodedVideo(page, [Number(await theirs.getAttribute('data-user'))]);
    assert.equal(await page.locator(tid('video-tile')).count(), 2);
  }
});

test('no errors in the pages', () => {
  const expected = /ERR_CONNECTION_REFUSED|WebSocket/;  // while the server was away
  for (const page of [alice, bob, carol]) assert.deepEqual(page.problems.filter((p) => !expected.test(p)), []);
});
