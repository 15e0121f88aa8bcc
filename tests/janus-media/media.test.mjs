// The video call through a REAL Janus (`--media janus`), with real media: Debian's
// Janus 1.1.2, the built compeit-server and headless Chromium (fake camera and
// microphone), all in one network namespace made by run.sh (a veth pair, since
// Janus gathers no ICE candidates on loopback alone). Three pages publish
// through Janus and each decodes the others' video (inbound-rtp framesDecoded
// of the connection behind each tile), and so does a page joining later;
// recording writes non-empty files into --record-dir; killing Janus stops the
// cameras with an error, a new camera gets the server's request_error while
// Janus is away, chat keeps working, and once Janus is back the call works
// again. Janus', the server's and the pages' output end up in test-output/.
//
// Run: tests/janus-media/run.sh   (root: it makes the network namespace; not
// directly with node --test, which would run outside the namespace)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer, launchBrowser, newPage, joinRoom, waitForMembers, sendMessage, waitForMessage, tid, TIMEOUT,
  MEDIA_ARGS, recordPeerConnections, screenshotPath,
} from '../browser/lib/harness.mjs';
import { waitFor, waitForDecodedVideo } from '../browser/lib/media.mjs';
import { startJanus } from '../janus/janus.mjs';

const ROOM = 41;
const MEDIA_TIMEOUT = 30_000;   // bound for ICE + DTLS through Janus and decoded video
const RECORD_TIMEOUT = 20_000;  // bound for a recording file to grow
// The veth pair run.sh made inside the namespace; Janus gathers on it only.
const IFACES = (process.env.JANUS_MEDIA_IFACES || 'cjm0,cjm1').split(',');

let janus, server, browser, recordDir;
const pages = {};  // name -> page
const consoleLog = [];  // every page's console, for test-output/janus-media-pages.log
const ids = {};    // name -> user id
const NAMES = ['Alice', 'Bob', 'Carol'];

const tile = (id) => `${tid('video-tile')}[data-user="${id}"]`;
const count = (text, re) => (text.match(re) || []).length;
const serverLog = () => server.stderr();

/** Resolves once the server has logged `n` lines matching /Janus connected/. */
const janusConnected = (n, timeout = 20_000) =>
  waitFor(() => count(serverLog(), /Janus connected/g) >= n, `the server's Janus connection #${n}`, timeout);

/** Distinct Janus handles whose WebRTC PeerConnection is up (Janus' own log), from `since` on. */
const janusMediaUp = (since = 0) =>
  new Set([...janus.log().slice(since).matchAll(/\[([^\]]+)\] WebRTC media is now available/g)].map((m) => m[1])).size;

/** Waits until `page` shows tiles for exactly `userIds`, all playing media. */
async function waitForTiles(page, userIds) {
  try {
    await page.waitForFunction((userIds) => {
      const tiles = [...document.querySelectorAll('[data-testid="video-tile"]')];
      const shown = tiles.map((t) => Number(t.dataset.user)).sort((a, b) => a - b);
      return JSON.stringify(shown) === JSON.stringify([...userIds].sort((a, b) => a - b)) &&
        tiles.every((t) => t.dataset.media === 'live');
    }, userIds, { timeout: MEDIA_TIMEOUT });
  } catch (e) {
    const tiles = await page.$$eval(tid('video-tile'), (ts) => ts.map((t) => `user ${t.dataset.user}: ${t.dataset.media}`));
    e.message += ` (wanted live tiles of users ${userIds.join(', ')}; shown: ${tiles.join('; ') || 'none'})`;
    throw e;
  }
}

/** Resolves once `page` has encoded and sent `more` video frames (outbound-rtp framesSent) than now. */
async function waitForSentFrames(page, more) {
  const sent = () => page.evaluate(async () => {
    let frames = 0;
    for (const pc of window.__testPeerConnections) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video') frames += s.framesSent ?? 0;
      });
    }
    return frames;
  });
  const start = await sent();
  await waitFor(async () => (await sent()) >= start + more, `${more} more video frames sent`, TIMEOUT, 250);
}

/** Every page shows every publisher's tile and decodes video from all the others. */
async function everyoneDecodesEveryone() {
  const all = NAMES.map((n) => ids[n]);
  for (const name of NAMES) {
    const page = pages[name];
    await waitForTiles(page, all);
    const others = all.filter((id) => id !== ids[name]);
    const first = await waitForDecodedVideo(page, others, { timeout: MEDIA_TIMEOUT });
    // and keeps decoding: the counts grow
    const later = await waitForDecodedVideo(page, others, { above: first, timeout: MEDIA_TIMEOUT });
    for (const id of others) assert.ok(later[id] > first[id], `${name} keeps decoding video from user ${id}`);
  }
}

/** Starts the camera on every page; resolves once each own tile is there (ids filled in). */
async function startCameras() {
  for (const name of NAMES) {
    const page = pages[name];
    await page.click(tid('camera-button'));
    await page.waitForSelector(`${tid('camera-button')}[data-state="on"]`);
    const own = page.locator(`${tid('video-tile')}[data-self="true"]`);
    await own.waitFor({ state: 'visible' });
    ids[name] = Number(await own.getAttribute('data-user'));
  }
}

/** The recording files of `user` in --record-dir with their sizes. */
function recordings(user) {
  const prefix = `compeit-room${ROOM}-user${user}-`;
  return readdirSync(recordDir).filter((f) => f.startsWith(prefix))
    .map((f) => ({ name: f, size: statSync(join(recordDir, f)).size }));
}
const totalSize = (files) => files.reduce((sum, f) => sum + f.size, 0);

before(async () => {
  const addrs = IFACES.map((i) => networkInterfaces()[i]?.find((a) => a.family === 'IPv4')?.address);
  if (addrs.some((a) => !a)) {
    throw new Error(`interfaces ${IFACES.join(', ')} not found: run this test with tests/janus-media/run.sh, ` +
      'which makes the network namespace it needs');
  }
  // Janus gathers on the first veth end only; Chromium on both (host candidates, no mDNS).
  janus = await startJanus({ nat: { ice_enforce_list: IFACES[0] } });
  recordDir = mkdtempSync(join(tmpdir(), 'compeit-janus-rec-'));
  server = await startServer({
    args: ['--media', 'janus', '--janus-url', janus.url, '--record-dir', recordDir, '--log-level', 'info'],
  });
  await janusConnected(1);
  browser = await launchBrowser({ args: [...MEDIA_ARGS, '--disable-features=WebRtcHideLocalIpsWithMdns'] });
  for (const name of NAMES) {
    pages[name] = await newPage(browser, { viewport: { width: 1100, height: 760 } });
    await recordPeerConnections(pages[name]);
    pages[name].on('console', (m) => consoleLog.push(`${new Date().toISOString()} ${name} ${m.type()}: ${m.text()}`));
  }
});

after(async () => {
  // For a failure's post-mortem: Janus' and the server's output, in test-output/.
  if (janus) writeFileSync(screenshotPath('janus-media-janus.log'), janus.log());
  if (server) writeFileSync(screenshotPath('janus-media-server.log'), serverLog());
  writeFileSync(screenshotPath('janus-media-pages.log'), consoleLog.join('\n') + '\n');
  await browser?.close();
  await server?.stop();
  await janus?.stop();
  if (recordDir) rmSync(recordDir, { recursive: true, force: true });
});

test('three pages join and publish through Janus', async () => {
  for (const name of NAMES) await joinRoom(pages[name], server.url, name, ROOM);
  for (const name of NAMES) await waitForMembers(pages[name], NAMES, { exact: true });
  const before = janus.log().length;
  await startCameras();
  assert.equal(new Set(Object.values(ids)).size, 3);
  // Janus itself says the three publishers' PeerConnections are up.
  await waitFor(() => janusMediaUp(before) >= 3, 'Janus to report WebRTC media for the three publishers', MEDIA_TIMEOUT);
  for (const name of NAMES) {
    assert.equal(await pages[name].getAttribute(tid('camera-button'), 'data-state'), 'on', `${name}'s camera stays on`);
  }
});

test('every page decodes the others\' video through Janus', async () => {
  await everyoneDecodesEveryone();
});

test('a page joining later (without a camera) decodes all three through Janus', async () => {
  const dave = await newPage(browser, { viewport: { width: 1100, height: 760 } });
  await recordPeerConnections(dave);
  dave.on('console', (m) => consoleLog.push(`${new Date().toISOString()} Dave ${m.type()}: ${m.text()}`));
  await joinRoom(dave, server.url, 'Dave', ROOM);
  const all = NAMES.map((n) => ids[n]);
  await waitForTiles(dave, all);
  const first = await waitForDecodedVideo(dave, all, { timeout: MEDIA_TIMEOUT });
  const later = await waitForDecodedVideo(dave, all, { above: first, timeout: MEDIA_TIMEOUT });
  for (const id of all) assert.ok(later[id] > first[id], `Dave keeps decoding video from user ${id}`);
  assert.deepEqual(dave.problems, []);
  await dave.context().close();
  for (const name of NAMES) await waitForMembers(pages[name], NAMES, { exact: true });
});

test('recording writes non-empty files into --record-dir', async () => {
  const alice = pages.Alice;
  const toggle = alice.locator(tid('record-toggle'));
  await toggle.waitFor({ state: 'visible' });
  assert.equal(await toggle.getAttribute('data-state'), 'off');
  assert.deepEqual(recordings(ids.Alice), [], 'no recording before the start');
  await toggle.click();
  await alice.waitForSelector(`${tid('record-toggle')}[data-state="on"]`);
  for (const name of NAMES) {
    await pages[name].waitForSelector(`${tile(ids.Alice)}[data-recording="on"]`);
    await pages[name].waitForSelector(`${tile(ids.Bob)}[data-recording="off"]`, { state: 'attached' });
  }
  await alice.screenshot({ path: screenshotPath('janus-recording.png') });  // for a look at the REC marks
  // The audio and the video file appear, and both grow while media flows.
  const kinds = (files) => ({
    audio: files.find((f) => /audio/.test(f.name))?.size ?? 0,
    video: files.find((f) => /video/.test(f.name))?.size ?? 0,
  });
  const opened = await waitFor(() => { const k = kinds(recordings(ids.Alice)); return k.audio > 0 && k.video > 0 && k; },
    'Janus to open the audio and video recordings', RECORD_TIMEOUT);
  await waitFor(() => { const k = kinds(recordings(ids.Alice)); return k.audio > opened.audio && k.video > opened.video + 20_000; },
    'the recordings to grow (video by 20 kB)', RECORD_TIMEOUT);
  await toggle.click();
  await alice.waitForSelector(`${tid('record-toggle')}[data-state="off"]`);
  for (const name of NAMES) await pages[name].waitForSelector(`${tile(ids.Alice)}[data-recording="off"]`);
  const files = recordings(ids.Alice);
  assert.ok(files.some((f) => /video/.test(f.name) && f.size > 0), `a non-empty video recording: ${JSON.stringify(files)}`);
  assert.ok(files.some((f) => /audio/.test(f.name) && f.size > 0), `a non-empty audio recording: ${JSON.stringify(files)}`);
  for (const f of files) assert.ok(f.size > 0, `${f.name} is not empty`);
  // Stopped: the files no longer grow (Janus closed them) while Alice sends another 60 video frames.
  const stopped = totalSize(recordings(ids.Alice));
  await waitForSentFrames(alice, 60);
  assert.equal(totalSize(recordings(ids.Alice)), stopped, 'the recording stopped growing');
  assert.deepEqual(recordings(ids.Bob), [], 'only Alice was recorded');
});

test('filters: Janus has none, and the filter menu turns itself off without an error', async () => {
  const bob = pages.Bob;
  await bob.selectOption(tid('filter-select'), { label: 'Mirror' });
  await bob.waitForSelector(`${tid('filter-select')}:disabled`);
  assert.match(await bob.getAttribute(tid('filter-select'), 'title'), /No filters here/);
  assert.equal(await bob.inputValue(tid('filter-select')), '', 'the menu shows no filter in force');
  assert.equal(await bob.isVisible(tid('error-banner')), false, 'not an error the user has to deal with');
  await bob.waitForSelector(`${tile(ids.Bob)}[data-filter=""]`);
});

test('Janus killed: cameras stop with an error, a new camera is refused, chat keeps working', async () => {
  const lost = count(serverLog(), /Janus connection lost/g);
  await janus.kill();
  await waitFor(() => count(serverLog(), /Janus connection lost/g) > lost, 'the server to notice Janus is gone');
  for (const name of NAMES) {
    const page = pages[name];
    await page.waitForSelector(`${tid('camera-button')}[data-state="off"]`);
    await page.waitForSelector(tid('error-text'), { state: 'visible' });
    assert.match(await page.textContent(tid('error-text')), /media server/i, `${name} is told about the media server`);
    // every stream in the room is gone
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="video-tile"]').length === 0, null,
      { timeout: TIMEOUT });
  }
  // Starting the camera while Janus is down: the server's request_error (unavailable).
  const bob = pages.Bob;
  await bob.click(tid('error-close'));
  await bob.waitForSelector(tid('error-text'), { state: 'hidden' });
  await bob.click(tid('camera-button'));
  await bob.waitForSelector(`${tid('error-banner')}[data-code="unavailable"]`, { state: 'visible' });
  assert.match(await bob.textContent(tid('error-text')), /^Could not share your camera/);
  await bob.waitForSelector(`${tid('camera-button')}[data-state="off"]`);
  // Chat goes on without the media server.
  await sendMessage(pages.Carol, 'still here without Janus');
  await waitForMessage(pages.Alice, 'still here without Janus');
  await waitForMessage(bob, 'still here without Janus');
  assert.equal(count(serverLog(), /Janus connected/g), 1, 'Janus is still away');
});

test('Janus back: the cameras start again and every page decodes the others', async () => {
  const connects = count(serverLog(), /Janus connected/g);
  await janus.restart();
  await janusConnected(connects + 1);
  const before = janus.log().length;
  await startCameras();
  await waitFor(() => janusMediaUp(before) >= 3, 'Janus to report WebRTC media again', MEDIA_TIMEOUT);
  await everyoneDecodesEveryone();
});

test('no errors in the pages', () => {
  for (const name of NAMES) assert.deepEqual(pages[name].problems, [], `${name}'s page`);
});
