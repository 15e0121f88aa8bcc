// Issue 17: the chat people expect from a meeting tool. Scroll-back over 300
// stored messages, links that are clickable and safe, the typing indicator, the
// unread count in the tab title with a "New messages" line, joins collapsed into
// one line, and form feedback next to the field.
//
// Other members are socket.io-client users (tests/node/lib/client.mjs); the
// history is seeded through the server by one of them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, joinRoom, waitForMessage, sendMessage, tid, TIMEOUT, DESKTOP,
} from './lib/harness.mjs';
import { Client, closeAll } from '../node/lib/client.mjs';

const ROOM = 31;
const SEEDED = 300;
let server, browser, alice, bob;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  [alice, bob] = await Promise.all([newPage(browser, DESKTOP), newPage(browser, DESKTOP)]);
});

after(async () => {
  closeAll();
  await browser?.close();
  await server?.stop();
});

/** A socket.io-client member of `room`. */
async function member(name, room = ROOM) {
  const c = await Client.connect(server.url, { name });
  const ack = await c.ack('join_room', { room });
  assert.equal(ack?.error, undefined, `${name} joins`);
  return c;
}

/** The texts of the log's text messages, in order. */
const texts = (page) => page.$$eval(`${tid('chat-message')}[data-kind="text"] .msg__text`, (els) => els.map((e) => e.textContent));

test('scroll-back: older history loads on scroll, in order, with the reading position kept', async () => {
  const seeder = await member('Seeder');
  for (let i = 1; i <= SEEDED; i++) {
    const ack = await seeder.ack('room_message', { type: 'chat', data: { text: `seed ${i}` } });
    assert.equal(ack?.ok, true);
  }
  seeder.disconnect();

  await joinRoom(alice, server.url, 'Alice', ROOM);
  await waitForMessage(alice, `seed ${SEEDED}`);
  const first = await texts(alice);
  assert.ok(first.length < SEEDED, `only the newest page at first (${first.length})`);
  assert.equal(first.at(-1), `seed ${SEEDED}`);

  // One step up: the message at the top stays where it was while the page above it loads.
  const top = first[0];
  const y = () => alice.$eval(tid('chat-log'), (log, top) => {
    const item = [...log.querySelectorAll('.msg__text')].find((e) => e.textContent === top);
    return item.getBoundingClientRect().top - log.getBoundingClientRect().top;
  }, top);
  await alice.$eval(tid('chat-log'), (log) => { log.scrollTop = 0; });
  const before = await y();
  await alice.waitForFunction((n) => document.querySelectorAll('[data-kind="text"]').length > n, first.length,
    { timeout: TIMEOUT });
  assert.ok(Math.abs((await y()) - before) < 2, 'the reading position is kept when older messages come in');

  // On to the very first message, scrolling up as a reader would.
  await alice.waitForFunction(() => {
    const log = document.querySelector('[data-testid="chat-log"]');
    log.scrollTop = 0;
    return !!document.querySelector('[data-testid="marker-start"]');
  }, null, { timeout: TIMEOUT * 2, polling: 100 });
  const all = await texts(alice);
  assert.deepEqual(all, Array.from({ length: SEEDED }, (_, i) => `seed ${i + 1}`), 'every message once, in order');
  assert.equal(await alice.isHidden(tid('chat-loading')), true);
  // The seeder's join and leave: one line each, not repeated by the pages.
  assert.equal(await alice.locator(`${tid('chat-message')}[data-kind="event"]`, { hasText: 'Seeder joined' }).count(), 1);
});

test('links are clickable and safe; a javascript: URL stays text', async () => {
  await joinRoom(bob, server.url, 'Bob', ROOM);
  const target = `${server.url}/?from=chat`;
  await sendMessage(bob, `notes at ${target}, and javascript:alert(document.domain) is not a link`);
  const item = await waitForMessage(alice, 'notes at');
  const links = item.locator('a');
  assert.equal(await links.count(), 1);
  assert.equal(await links.getAttribute('href'), target);
  assert.equal(await links.getAttribute('target'), '_blank');
  assert.deepEqual((await links.getAttribute('rel')).split(' ').sort(), ['noopener', 'noreferrer']);
  assert.equal(await links.textContent(), target, 'the trailing comma is not part of the link');
  assert.match(await item.locator('.msg__text').textContent(), /javascript:alert\(document\.domain\) is not a link/);
  assert.equal(await alice.locator(`${tid('chat-log')} a[href^="javascript"]`).count(), 0);

  const [opened] = await Promise.all([alice.context().waitForEvent('page'), links.click()]);
  await opened.waitForLoadState('domcontentloaded');
  assert.equal(opened.url(), target);
  assert.equal(await opened.evaluate(() => window.opener), null, 'the opened page cannot reach ours');
  await opened.close();
});

test('a reader scrolled up is not pulled down: new messages wait behind a button', async () => {
  await alice.$eval(tid('chat-log'), (log) => { log.scrollTop = log.scrollHeight / 2; });
  await sendMessage(bob, 'while Alice reads older things');
  await alice.waitForSelector(tid('jump-button'), { state: 'visible' });
  const item = await waitForMessage(alice, 'while Alice reads older things');
  const inView = () => alice.$eval(tid('chat-log'), (log, text) => {
    const el = [...log.querySelectorAll('.msg__text')].find((e) => e.textContent === text);
    const a = el.getBoundingClientRect(), b = log.getBoundingClientRect();
    return a.top >= b.top && a.bottom <= b.bottom;
  }, 'while Alice reads older things');
  assert.equal(await inView(), false, 'the reading position stays');
  assert.ok(item);
  await alice.click(tid('jump-button'));
  await alice.waitForSelector(tid('jump-button'), { state: 'hidden' });
  assert.equal(await inView(), true);
});

test('the typing indicator appears, clears on send, on an emptied field and by itself', async () => {
  const line = tid('typing');
  const shows = (page, text) => page.waitForFunction(({ line, text }) =>
    document.querySelector(line).textContent === text, { line, text }, { timeout: TIMEOUT });

  await bob.fill(tid('message-input'), 'I think');
  await shows(alice, 'Bob is typing…');
  assert.equal(await bob.textContent(line), '', 'not shown to the typist');
  await bob.press(tid('message-input'), 'Enter');
  await waitForMessage(alice, 'I think');
  await shows(alice, '');

  await bob.fill(tid('message-input'), 'hm');
  await shows(alice, 'Bob is typing…');
  await bob.fill(tid('message-input'), '');
  await shows(alice, '');

  await bob.fill(tid('message-input'), 'and then I stopped');
  await shows(alice, 'Bob is typing…');
  await shows(alice, '');  // after a few seconds without news
  await bob.fill(tid('message-input'), '');
});

test('while the page is away: unread count in the title and a "New messages" line', async () => {
  await alice.evaluate(() => window.dispatchEvent(new Event('blur')));
  await sendMessage(bob, 'first while away');
  await sendMessage(bob, 'second while away');
  await alice.waitForFunction(() => document.title === `(2) Room ${31} · COMPEIT`, null, { timeout: TIMEOUT });
  // The line sits right before the first unread message.
  const next = await alice.$eval(tid('marker-new'), (m) => m.nextElementSibling.querySelector('.msg__text').textContent);
  assert.equal(next, 'first while away');
  await alice.evaluate(() => window.dispatchEvent(new Event('focus')));
  await alice.waitForFunction(() => document.title === 'Room 31 · COMPEIT', null, { timeout: TIMEOUT });
  // Own messages never count, and writing clears the line.
  await sendMessage(alice, 'back now');
  await alice.waitForSelector(tid('marker-new'), { state: 'detached' });
});

test('joins in a row are one line: "Carol, Dave and 2 others joined"', async () => {
  await sendMessage(bob, 'who else is coming?');
  for (const name of ['Carol', 'Dave', 'Eve', 'Fred']) await member(name);
  const line = await waitForMessage(alice, 'Carol, Dave and 2 others joined', { kind: 'event' });
  assert.equal(await line.getAttribute('title'), 'Carol, Dave, Eve, Fred');
  assert.equal(await alice.locator(`${tid('chat-message')}[data-kind="event"]`, { hasText: 'Carol' }).count(), 1);
});

test('form feedback next to the field, tied to it for screen readers', async () => {
  const page = await newPage(browser, DESKTOP);
  await page.goto(`${server.url}/`);
  await page.getByLabel('Your name').fill('');
  await page.getByRole('button', { name: 'Join room' }).click();
  const name = page.getByLabel('Your name');
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  assert.equal(await name.getAttribute('aria-describedby'), 'name-input-error');
  assert.equal(await page.textContent('#name-input-error'), 'Please enter your name.');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'name-input');
  assert.equal(await page.isHidden(tid('error-banner')), true, 'the field says it, not a banner');

  await name.fill('Gus');
  assert.equal(await name.getAttribute('aria-invalid'), null, 'typing clears it');
  assert.equal(await page.isHidden('#name-input-error'), true);
  await page.getByLabel('Room number').fill('seven');
  await page.getByLabel('Room number').press('Enter');
  assert.equal(await page.getByLabel('Room number').getAttribute('aria-invalid'), 'true');
  assert.match(await page.textContent('#room-input-error'), /whole number/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('no errors in the pages', () => {
  for (const page of [alice, bob]) assert.deepEqual(page.problems, []);
});
