// Issue 14: a video call in a room that spans three cluster nodes, in the web
// app, with real media in headless Chromium (fake camera and microphone). Each
// page opens a different node directly, so the three people are on three
// processes for sure; the room's Kurento Agent state lives on one of them (its
// owner, docs/protocol.md §6) and the others' signalling is forwarded to it.
// Every page must decode video from both others, and a camera stopped on one
// node must take its tile away on the other two.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from '../node/lib/cluster.mjs';
import { redisMissing } from '../node/lib/redis.mjs';
import { haproxyMissing } from '../node/lib/haproxy.mjs';
import { postgresMissing } from '../node/lib/postgres.mjs';
import {
  launchBrowser, newPage, joinRoom, waitForMembers, tid, MEDIA_ARGS, recordPeerConnections, screenshotPath,
} from './lib/harness.mjs';
import { waitForDecodedVideo } from './lib/media.mjs';

const missing = haproxyMissing() ?? redisMissing() ?? postgresMissing();
const skip = missing ? `not installed: ${missing}` : false;
const ROOM = 214;
const NAMES = ['Alice', 'Bob', 'Carol'];
let cluster, browser, pages;
const ids = {};  // name -> user id

before(async () => {
  if (skip) return;
  cluster = await startCluster({ nodes: 3 });
  browser = await launchBrowser({ args: MEDIA_ARGS });
  pages = await Promise.all(NAMES.map(async () => {
    const page = await newPage(browser, { viewport: { width: 1100, height: 760 } });
    await recordPeerConnections(page);
    return page;
  }));
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

const tiles = (page) => page.$$eval(tid('video-tile'), (els) => els.map((t) => Number(t.dataset.user)).sort((a, b) => a - b));

test('three people on three nodes start their cameras and each decodes both others', { skip, timeout: 120_000 }, async () => {
  // Person i on node i: one room, three processes.
  for (const [i, name] of NAMES.entries()) await joinRoom(pages[i], cluster.nodes[i].server.url, name, ROOM);
  for (const page of pages) await waitForMembers(page, NAMES, { exact: true });

  for (const [i, name] of NAMES.entries()) {
    await pages[i].click(tid('camera-button'));
    const own = pages[i].locator(`${tid('video-tile')}[data-self="true"]`);
    await own.waitFor({ state: 'visible' });
    ids[name] = Number(await own.getAttribute('data-user'));
  }
  assert.equal(new Set(Object.values(ids)).size, 3, 'user ids are unique across the nodes');

  for (const [i, name] of NAMES.entries()) {
    const others = NAMES.filter((n) => n !== name).map((n) => ids[n]);
    await waitForDecodedVideo(pages[i], others, { timeout: 30_000 });
  }
  await pages[0].screenshot({ path: screenshotPath('cluster-video.png') });
});

test('a camera stopped on one node takes its tile away on the other two, and the others keep decoding', { skip, timeout: 60_000 }, async () => {
  await pages[2].getByRole('button', { name: 'Stop video' }).click();
  for (const page of pages.slice(0, 2)) {
    await page.waitForFunction((id) => !document.querySelector(`[data-testid="video-tile"][data-user="${id}"]`),
      ids.Carol, { timeout: 10_000 });
    assert.deepEqual(await tiles(page), [ids.Alice, ids.Bob].sort((a, b) => a - b));
  }
  const before = await waitForDecodedVideo(pages[0], [ids.Bob]);
  await waitForDecodedVideo(pages[0], [ids.Bob], { above: before });
});
