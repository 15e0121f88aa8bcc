// Issue 6: the web app in headless Chromium. Two people (plus a bystander) in
// one room: members, chat both ways, a private message, history after a
// reload, server events, request_error feedback, and leaving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, joinRoom, waitForMembers, waitForMessage, sendMessage, memberNames,
  screenshotPath, tid, TIMEOUT, DESKTOP, PHONE,
} from './lib/harness.mjs';

const ROOM = 7;
const TOKEN = 'browser-test-token';
let server, browser, alice, bob, carol;

before(async () => {
  server = await startServer({ args: ['--admin-token', TOKEN] });
  browser = await launchBrowser();
  [alice, bob, carol] = await Promise.all([
    newPage(browser, DESKTOP),
    newPage(browser, DESKTOP),
    newPage(browser, PHONE),
  ]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('two people join the same room and see each other', async () => {
  const types = {};
  const record = (res) => { types[new URL(res.url()).pathname] = res.headers()['content-type']; };
  alice.on('response', record);
  await joinRoom(alice, server.url, 'Alice', ROOM);
  alice.off('response', record);
  assert.match(types['/'] ?? '', /^text\/html/);
  assert.match(types['/app.mjs'] ?? '', /^(text|application)\/javascript/);
  assert.match(types['/style.css'] ?? '', /^text\/css/);
  assert.equal(types['/wasm/compeit_core.wasm'], 'application/wasm');

  await joinRoom(bob, server.url, 'Bob', ROOM);
  await waitForMembers(alice, ['Alice', 'Bob'], { exact: true });
  await waitForMembers(bob, ['Alice', 'Bob'], { exact: true });
  assert.deepEqual(await memberNames(bob), ['Alice', 'Bob'], 'join order');
  await waitForMessage(alice, 'Bob joined', { kind: 'event' });
  assert.equal(await alice.textContent(tid('room-title')), `Room ${ROOM}`);
  assert.equal(await alice.textContent(tid('me-name')), 'Alice');
});

test('they chat both ways, with Enter sending', async () => {
  await sendMessage(alice, 'Hello Bob <b>not bold</b>');
  const got = await waitForMessage(bob, 'Hello Bob');
  assert.equal(await got.locator('.msg__text').textContent(), 'Hello Bob <b>not bold</b>', 'user text is escaped');
  assert.equal(await got.locator('.msg__author').textContent(), 'Alice');
  assert.equal(await bob.locator(`${tid('chat-log')} b`).count(), 0, 'no markup from user text');
  assert.equal(await alice.inputValue(tid('message-input')), '', 'the composer is cleared');

  await sendMessage(bob, 'Hi Alice');
  const reply = await waitForMessage(alice, 'Hi Alice');
  assert.equal(await reply.locator('.msg__author').textContent(), 'Bob');
});

test('a private message reaches only its recipient and is marked', async () => {
  await joinRoom(carol, server.url, 'Carol', ROOM);
  await waitForMembers(alice, ['Alice', 'Bob', 'Carol'], { exact: true });

  await alice.click(`${tid('member')}:has-text("Bob")`);
  await alice.waitForSelector(tid('private-chip'), { state: 'visible' });
  assert.equal(await alice.textContent(tid('private-name')), 'Bob');
  assert.equal(await alice.getAttribute(`${tid('member')}:has-text("Bob")`, 'aria-pressed'), 'true');

  assert.equal(await alice.getByLabel('Private message to Bob').count(), 1, 'the composer says where text goes');
  const sent = await sendMessage(alice, 'psst, only for Bob', { kind: 'private' });
  assert.match(await sent.textContent(), /Private to Bob/);
  const got = await waitForMessage(bob, 'psst, only for Bob', { kind: 'private' });
  assert.match(await got.textContent(), /Private to you/);

  // Back to the room with Escape; the next message is public and reaches Carol after the private one would have.
  await alice.press(tid('message-input'), 'Escape');
  await alice.waitForSelector(tid('private-chip'), { state: 'hidden' });
  await sendMessage(alice, 'back to everyone');
  await waitForMessage(carol, 'back to everyone');
  assert.equal(await carol.locator(tid('chat-message')).filter({ hasText: 'psst' }).count(), 0);
});

test('an announcement shows distinctly in the room', async () => {
  const res = await fetch(`${server.url}/admin/rooms/${ROOM}/announce`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'Maintenance at noon' }),
  });
  assert.equal(res.status, 200);
  for (const page of [alice, bob, carol]) await waitForMessage(page, 'Maintenance at noon', { kind: 'announcement' });
});

test('after a reload the room and its history come back', async () => {
  await bob.reload();
  await bob.waitForSelector(tid('room-view'), { state: 'visible' });
  await waitForMembers(bob, ['Alice', 'Bob', 'Carol'], { exact: true });
  for (const text of ['Hello Bob', 'Hi Alice', 'back to everyone']) await waitForMessage(bob, text, { kind: 'text' });
  await waitForMessage(bob, 'Maintenance at noon', { kind: 'announcement' });
  const kinds = await bob.$$eval(tid('chat-message'), (els) => els.map((e) => e.dataset.kind));
  assert.ok(kinds.includes('event'), 'joins and leaves are part of the history');
  // Left and back again: one line, not two.
  await waitForMessage(alice, 'Bob rejoined', { kind: 'event' });
  await waitForMembers(alice, ['Alice', 'Bob', 'Carol'], { exact: true });
});

test('screenshots of the room page', async () => {
  await sendMessage(bob, 'Looks good on my side — shall we start?');
  await waitForMessage(alice, 'shall we start?');
  await alice.click(`${tid('member')}:has-text("Carol")`);
  await alice.screenshot({ path: screenshotPath('room.png') });
  await alice.press(tid('message-input'), 'Escape');
  await waitForMessage(carol, 'shall we start?');
  await carol.screenshot({ path: screenshotPath('room-phone.png') });
  const overflow = await carol.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px too wide)`);
});

test('a request_error is shown clearly and the text is kept', async () => {
  const long = 'x'.repeat(4001);
  await alice.fill(tid('message-input'), long);
  await alice.press(tid('message-input'), 'Enter');
  await alice.waitForSelector(`${tid('error-banner')}[data-code="too_large"]`, { state: 'visible' });
  assert.match(await alice.textContent(tid('error-text')), /Message not sent: it is too long/);
  await alice.waitForFunction((n) => document.querySelector('[data-testid="message-input"]').value.length === n, 4001,
    { timeout: TIMEOUT });
  await alice.click(tid('error-close'));
  await alice.waitForSelector(tid('error-banner'), { state: 'hidden' });
  await alice.fill(tid('message-input'), '');
});

test('one leaves and the others see it', async () => {
  await bob.click(tid('leave-button'));
  await bob.waitForSelector(tid('lobby'), { state: 'visible' });
  await waitForMembers(alice, ['Alice', 'Carol'], { exact: true });
  await waitForMembers(carol, ['Alice', 'Carol'], { exact: true });
  await waitForMessage(alice, 'Bob left', { kind: 'event' });
  const lines = await alice.$$eval(`${tid('chat-message')}[data-kind="event"]`, (els) => els.map((e) => e.textContent));
  assert.ok(lines.some((l) => l.startsWith('Bob rejoined')), 'the reload was one "rejoined" line');
  assert.ok(lines.at(-1).startsWith('Bob left'), 'and the leave a line of its own');
  assert.equal(await bob.inputValue(tid('name-input')), 'Bob', 'the lobby keeps the name');
});

test('no errors in the pages', () => {
  for (const page of [alice, bob, carol]) assert.deepEqual(page.problems, []);
});
