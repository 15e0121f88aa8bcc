// The web app's media-server controls (sfu mode) against the FAKE Kurento Media
// Server of tests/fake-kms (a test double: it answers like KMS but moves no
// media, so no video plays here; real media through a media server is
// tests/janus-media/). Publishing from the page makes a WebRtcEndpoint; the
// filter menu makes a GStreamerFilter (or a KMS filter) and every page's tile
// shows the filter; the Record button makes a RecorderEndpoint and every tile
// shows REC; stopping both releases them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, joinRoom, waitForMembers, tid, TIMEOUT, MEDIA_ARGS, screenshotPath,
} from './lib/harness.mjs';
import { waitFor } from './lib/media.mjs';
import { startFakeKms } from '../fake-kms/fake-kms.mjs';

const ROOM = 23;
let kms, server, browser, alice, bob, aliceId;

before(async () => {
  kms = await startFakeKms();
  server = await startServer({ args: ['--media', 'kurento', '--kms-url', kms.url] });
  await kms.waitForConnections(1);
  browser = await launchBrowser({ args: MEDIA_ARGS });
  alice = await newPage(browser);
  bob = await newPage(browser);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await kms?.close();
});

const aliceTile = (page) => page.locator(`${tid('video-tile')}[data-user="${aliceId}"]`);

test('publishing through the media server: the filter menu and the Record button appear', async () => {
  await joinRoom(alice, server.url, 'Alice', ROOM);
  await joinRoom(bob, server.url, 'Bob', ROOM);
  await waitForMembers(alice, ['Alice', 'Bob'], { exact: true });
  assert.equal(await alice.isVisible(tid('record-toggle')), false, 'nothing to record before publishing');
  await alice.click(tid('camera-button'));
  await alice.waitForSelector(`${tid('record-toggle')}:visible`, { timeout: TIMEOUT });
  await alice.waitForSelector(`${tid('filter-select')}:visible`);
  aliceId = Number(await alice.getAttribute(`${tid('video-tile')}[data-self="true"]`, 'data-user'));
  await aliceTile(bob).waitFor();
  assert.equal(kms.liveObjects('WebRtcEndpoint').length >= 2, true, 'Alice\'s endpoint and Bob\'s, fed from it');
  assert.deepEqual(alice.problems, []);
});

test('a filter chosen in the menu runs on the media server and shows on every tile', async () => {
  await alice.selectOption(tid('filter-select'), { label: 'Mirror' });
  for (const page of [alice, bob]) {
    await page.waitForSelector(`${tid('video-tile')}[data-user="${aliceId}"][data-filter="videoflip method=horizontal-flip"]`);
    assert.equal(await aliceTile(page).locator(tid('filter')).isVisible(), true);
  }
  await alice.screenshot({ path: screenshotPath('media-server-filter.png') });
  const filters = kms.liveObjects('GStreamerFilter');
  assert.equal(filters.length, 1);
  assert.equal(filters[0].command, 'videoflip method=horizontal-flip');
  await alice.selectOption(tid('filter-select'), { label: 'No filter' });
  await bob.waitForSelector(`${tid('video-tile')}[data-user="${aliceId}"][data-filter=""]`);
  await waitFor(() => kms.liveObjects('GStreamerFilter').length === 0, 'the filter to be released');
  assert.equal(await aliceTile(bob).locator(tid('filter')).isVisible(), false);
});

test('the Record button records on the media server and every tile shows REC', async () => {
  await alice.click(tid('record-toggle'));
  await alice.waitForSelector(`${tid('record-toggle')}[data-state="on"]`);
  for (const page of [alice, bob]) await page.waitForSelector(`${tid('video-tile')}[data-user="${aliceId}"][data-recording="on"]`);
  assert.equal(kms.liveObjects('RecorderEndpoint').length, 1);
  await alice.click(tid('record-toggle'));
  for (const page of [alice, bob]) await page.waitForSelector(`${tid('video-tile')}[data-user="${aliceId}"][data-recording="off"]`);
  await waitFor(() => kms.liveObjects('RecorderEndpoint').length === 0, 'the recorder to be released');
});

test('a media-server error on a filter is shown; stopping the camera releases everything', async () => {
  kms.failNext({ method: 'create', type: 'GStreamerFilter', message: 'no such element' });
  await alice.selectOption(tid('filter-select'), { label: 'Black and white' });
  await alice.waitForSelector(`${tid('error-text')}:has-text("Could not apply the filter")`);
  assert.match(await alice.textContent(tid('error-text')), /no such element/);
  assert.equal(await alice.inputValue(tid('filter-select')), '', 'the menu shows the filter in force');
  await alice.click(tid('camera-button'));
  await aliceTile(bob).waitFor({ state: 'detached' });
  await waitFor(() => kms.liveObjects('WebRtcEndpoint').length === 0, 'every endpoint to be released');
});
