// A lost connection: the server goes away and comes back on the same port
// with the same data. The app says "Reconnecting…", then "Reconnected", is
// back in its room with its members and history, and chat works again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  startServer, launchBrowser, newPage, joinRoom, waitForMembers, waitForMessage, sendMessage, tid,
} from './lib/harness.mjs';

const ROOM = 5;
let server, browser, alice, bob, dataDir;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  [alice, bob] = await Promise.all([newPage(browser), newPage(browser)]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the app rides out a server restart', async () => {
  await joinRoom(alice, server.url, 'Alice', ROOM);
  await joinRoom(bob, server.url, 'Bob', ROOM);
  await sendMessage(alice, 'before the restart');
  await waitForMessage(bob, 'before the restart');

  const lines = (page) => page.$$eval('[data-testid="chat-message"]', (els) => els.map((e) => e.textContent));
  const before = { alice: await lines(alice), bob: await lines(bob) };
  const { port } = server;
  dataDir = server.dataDir;
  await server.stop({ keepData: true });
  await Promise.all([alice, bob].map(async (page) => {
    await page.waitForSelector(`${tid('connection-banner')}[data-state="warn"]:has-text("Reconnecting…")`);
    assert.equal(await page.isDisabled(tid('send-button')), true, 'sending waits for the connection');
  }));

  server = await startServer({ port, dataDir });
  await Promise.all([alice, bob].map(async (page) => {
    await page.waitForSelector(`${tid('connection-banner')}[data-state="ok"]:has-text("Reconnected")`);
    await waitForMembers(page, ['Alice', 'Bob'], { exact: true });
    await waitForMessage(page, 'before the restart', { kind: 'text' });
  }));
  // The history that comes with the rejoin replays nothing: the same lines, then a marker
  // (the others' joins after the restart are reconnects too: not news).
  for (const [name, page] of [['alice', alice], ['bob', bob]]) {
    await page.waitForSelector(tid('marker-reconnected'));
    assert.deepEqual(await lines(page), before[name], `${name}: no line shown twice, no join or leave replayed`);
  }
  // Ids start again after a restart: authorship still goes by who we were.
  assert.equal(await (await waitForMessage(bob, 'before the restart')).locator('.msg__author').textContent(), 'Alice');
  assert.equal(await (await waitForMessage(alice, 'before the restart')).locator('.msg__author').textContent(), 'You');

  await sendMessage(bob, 'after the restart');
  await waitForMessage(alice, 'after the restart');
  for (const page of [alice, bob]) assert.deepEqual(page.problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(p)), []);
});
