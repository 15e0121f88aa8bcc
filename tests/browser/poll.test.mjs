// Issue 18: the web app's poll panel on the reference poll agent
// (examples/agents/poll/agent.mjs over the agent link). Two people in one room:
// one opens a poll, both vote and see the counts move, the opener closes it;
// without the agent, the Poll button says polls are not available.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, startPollAgent, waitForAgentType, launchBrowser, newPage, joinRoom, waitForMembers,
  screenshotPath, tid, TIMEOUT, DESKTOP, PHONE,
} from './lib/harness.mjs';

const ROOM = 11;
const SECRET = 'browser-poll-secret';
let server, agent, browser, alice, bob, carol;

before(async () => {
  server = await startServer({ args: ['--agent-secret', SECRET] });
  agent = await startPollAgent(server.url, SECRET);
  await waitForAgentType(server.url, 'poll', { served: true });
  browser = await launchBrowser();
  [alice, bob, carol] = await Promise.all([
    newPage(browser, DESKTOP),
    newPage(browser, DESKTOP),
    newPage(browser, PHONE),
  ]);
});

after(async () => {
  await browser?.close();
  await agent?.stop();
  await server?.stop();
});

const poll = (page) => page.locator(tid('poll')).last();
const option = (page, name) => poll(page).locator(tid('poll-option')).filter({ hasText: name });
/** Waits until the last poll on `page` shows `counts` (one per option, in order). */
async function waitForCounts(page, counts) {
  await page.waitForFunction((want) => {
    const polls = document.querySelectorAll('[data-testid="poll"]');
    const shown = [...(polls[polls.length - 1]?.querySelectorAll('[data-testid="poll-count"]') ?? [])];
    return shown.map((c) => Number(c.textContent)).join() === want.join();
  }, counts, { timeout: TIMEOUT });
}

test('a poll opened in the room shows on both pages, Close only for the opener', async () => {
  await joinRoom(alice, server.url, 'Alice', ROOM);
  await joinRoom(bob, server.url, 'Bob', ROOM);
  await waitForMembers(alice, ['Alice', 'Bob'], { exact: true });

  await alice.getByRole('button', { name: 'Poll', exact: true }).click();
  assert.equal(await alice.getAttribute(tid('poll-button'), 'aria-expanded'), 'true');
  // What is missing is said next to the field.
  await alice.getByRole('button', { name: 'Open poll' }).click();
  assert.equal(await alice.getByLabel('Question').getAttribute('aria-invalid'), 'true');
  assert.equal(await alice.textContent('#poll-question-error'), 'Write a question.');
  await alice.getByLabel('Question').fill('Which colour <b>for</b> the logo?');
  assert.equal(await alice.getByLabel('Question').getAttribute('aria-invalid'), null);
  await alice.getByRole('button', { name: 'Open poll' }).click();
  assert.equal(await alice.getByLabel('Option 1').getAttribute('aria-describedby'), 'poll-option-1-error');
  await alice.getByLabel('Option 1').fill('Red');
  await alice.getByLabel('Option 2').fill('Blue');
  await alice.getByRole('button', { name: 'Add option' }).click();
  await alice.getByLabel('Option 3').fill('Green');
  await alice.screenshot({ path: screenshotPath('poll-form.png') });
  await alice.getByRole('button', { name: 'Open poll' }).click();
  await alice.waitForSelector(tid('poll-form'), { state: 'hidden' });

  for (const page of [alice, bob]) {
    await poll(page).waitFor({ state: 'visible' });
    assert.equal(await poll(page).locator(tid('poll-question')).textContent(), 'Which colour <b>for</b> the logo?');
    assert.equal(await page.locator(`${tid('poll-list')} b`).count(), 0, 'no markup from the network');
    assert.deepEqual(await poll(page).locator('.poll__label').allTextContents(), ['Red', 'Blue', 'Green']);
    await waitForCounts(page, [0, 0, 0]);
  }
  assert.equal(await poll(alice).locator(tid('poll-close')).isVisible(), true, 'the opener can close it');
  assert.equal(await poll(bob).locator(tid('poll-close')).isVisible(), false, 'others cannot');
});

test('votes move the counts on both pages; the own vote is marked and can move', async () => {
  await option(bob, 'Blue').click();
  for (const page of [alice, bob]) await waitForCounts(page, [0, 1, 0]);
  assert.equal(await option(bob, 'Blue').getAttribute('aria-pressed'), 'true');
  assert.equal(await option(alice, 'Blue').getAttribute('aria-pressed'), 'false', "Bob's vote is not Alice's");
  assert.match(await poll(bob).locator(tid('poll-status')).textContent(), /1 vote · you voted for Blue/);

  await option(alice, 'Red').click();
  for (const page of [alice, bob]) await waitForCounts(page, [1, 1, 0]);
  await option(bob, 'Red').click();  // a second vote moves the first
  for (const page of [alice, bob]) await waitForCounts(page, [2, 0, 0]);
  assert.equal(await option(bob, 'Blue').getAttribute('aria-pressed'), 'false');
  assert.equal(await option(bob, 'Red').getAttribute('aria-pressed'), 'true');
  assert.equal(await option(bob, 'Red').getAttribute('aria-label'), null, 'the button names itself');
  assert.match(await option(bob, 'Red').innerText(), /Red/);
  await alice.screenshot({ path: screenshotPath('poll.png') });
});

test('the opener closes the poll and both pages show the final counts', async () => {
  await poll(alice).locator(tid('poll-close')).click();
  for (const page of [alice, bob]) {
    await page.waitForSelector(`${tid('poll')}[data-state="closed"]`);
    assert.match(await poll(page).locator(tid('poll-status')).textContent(), /Closed · final result: Red 2, Blue 0, Green 0/);
    assert.equal(await option(page, 'Blue').isDisabled(), true, 'no votes on a closed poll');
  }
  assert.equal(await poll(alice).locator(tid('poll-close')).isVisible(), false);
});

test('without the poll agent the Poll button says polls are not available', async () => {
  await agent.stop();
  await waitForAgentType(server.url, 'poll', { served: false });
  await joinRoom(carol, server.url, 'Carol', ROOM);
  await carol.getByRole('button', { name: 'Poll', exact: true }).click();
  await carol.getByLabel('Question').fill('Anyone there?');
  await carol.getByLabel('Option 1').fill('Yes');
  await carol.getByLabel('Option 2').fill('No');
  await carol.getByRole('button', { name: 'Open poll' }).click();
  await carol.getByText('Polls are not available on this server.').waitFor({ state: 'visible' });
  await carol.waitForSelector(tid('poll-button'), { state: 'hidden' });
  await carol.screenshot({ path: screenshotPath('poll-unavailable-phone.png') });
  const overflow = await carol.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px too wide)`);
});

test('no errors in the pages', () => {
  for (const page of [alice, bob, carol]) assert.deepEqual(page.problems, []);
});
