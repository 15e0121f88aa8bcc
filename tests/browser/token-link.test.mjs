// Issue 13: the web app against a server that requires access tokens. A join
// link (#token=...&room=N) brings the user in under the token's name; an
// expired link, a link for another room and no link at all are explained;
// the Content-Security-Policy the server sends lets the app run untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  startServer, launchBrowser, newPage, waitForMembers, waitForMessage, sendMessage, screenshotPath, tid,
  serverBinary, DESKTOP, PHONE,
} from './lib/harness.mjs';

const SECRET = 'browser-test-secret-of-32-bytes-or-more';
let server, browser;

before(async () => {
  server = await startServer({ args: ['--auth-secret', SECRET] });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const mint = (...args) => execFileSync(serverBinary, ['token', '--secret', SECRET, ...args]).toString().trim();
// An HS256 token signed here, for claims the command will not make (an exp in the past).
function signed(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

async function errorText(page) {
  await page.waitForSelector(tid('error-banner'), { state: 'visible' });
  return page.textContent(tid('error-text'));
}

test('a join link brings each user in under the token\'s name, and they chat', async () => {
  const ada = await newPage(browser, DESKTOP);
  const bo = await newPage(browser, PHONE);
  await ada.goto(`${server.url}/#token=${mint('--sub', 'u-ada', '--name', 'Ada Lovelace', '--rooms', '7,8')}&room=7`);
  await bo.goto(`${server.url}/#token=${mint('--sub', 'u-bo', '--name', 'Bo', '--rooms', '7')}&room=7`);
  for (const page of [ada, bo]) await page.waitForSelector(tid('room-view'), { state: 'visible' });
  assert.equal(await ada.textContent(tid('me-name')), 'Ada Lovelace');
  await waitForMembers(ada, ['Ada Lovelace', 'Bo'], { exact: true });
  await sendMessage(bo, 'hello from a link');
  await waitForMessage(ada, 'hello from a link');
  assert.match(ada.url(), /#token=.+&room=7$/, 'the link survives in the URL for a reload');
  await ada.screenshot({ path: screenshotPath('token-link-joined.png') });
  await bo.screenshot({ path: screenshotPath('token-link-joined-phone.png') });
  assert.deepEqual(ada.problems, [], 'no console errors (a CSP violation would be one)');
  assert.deepEqual(bo.problems, []);
  await ada.context().close();
  await bo.context().close();
});

test('the name field shows the link\'s name and cannot be changed', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/#token=${mint('--sub', 'u-cy', '--name', 'Cy', '--rooms', '9')}`);
  assert.equal(await page.inputValue(tid('name-input')), 'Cy');
  assert.equal(await page.getAttribute(tid('name-input'), 'readonly'), '');
  assert.ok(await page.isVisible(tid('link-note')));
  await page.context().close();
});

test('an expired link is explained, and nothing is tried', async () => {
  const page = await newPage(browser);
  const token = signed({ sub: 'u-old', name: 'Old', rooms: '*', exp: Math.floor(Date.now() / 1000) - 3600 });
  await page.goto(`${server.url}/#token=${token}&room=7`);
  assert.match(await errorText(page), /expired/);
  assert.equal(await page.getAttribute(tid('error-banner'), 'data-code'), 'expired_link');
  await page.screenshot({ path: screenshotPath('token-link-expired.png') });
  assert.ok(await page.isVisible(tid('lobby')));
  await page.context().close();
});

test('a link for other rooms is explained; the server refuses a forged one', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/#token=${mint('--sub', 'u-dee', '--name', 'Dee', '--rooms', '3')}&room=4`);
  assert.match(await errorText(page), /does not allow/);
  await page.context().close();

  const forged = await newPage(browser);
  const token = signed({ sub: 'u-eve', name: 'Eve', rooms: '*', exp: Math.floor(Date.now() / 1000) + 600 });
  await forged.goto(`${server.url}/#token=${token.slice(0, -4)}AAAA&room=5`);
  assert.match(await errorText(forged), /refused your link/);
  assert.equal(await forged.getAttribute(tid('error-banner'), 'data-code'), 'unauthorized');
  await forged.context().close();
});

test('without a link, a server that requires tokens is explained', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/`);
  await page.getByLabel('Your name').fill('Nobody');
  await page.getByLabel('Room number').fill('1');
  await page.getByLabel('Room number').press('Enter');
  assert.match(await errorText(page), /needs an invitation link/);
  await page.screenshot({ path: screenshotPath('token-link-missing.png') });
  await page.context().close();
});
