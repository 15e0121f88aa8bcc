// The web app (WASM connection agent) and a page with the unmodified
// socket.io-client 0.9.6 browser bundle, served by this test from another
// origin, talk in one room: membership, room chat both ways, private messages.
// That origin must be listed (--allowed-origin): a server that does not list
// it refuses the same page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  repoRoot, startServer, launchBrowser, newPage, joinRoom, waitForMembers, waitForMessage, sendMessage, tid, TIMEOUT,
} from './lib/harness.mjs';

const ROOM = 42;
const bundle = readFileSync(join(repoRoot, 'node_modules/socket.io-client/dist/socket.io.js'));
const legacyHtml = '<!doctype html><meta charset="utf-8"><title>socket.io 0.9.6</title><link rel="icon" href="data:,"><script src="/socket.io.js"></script>';

let server, unlisted, statics, staticUrl, browser, app, legacy;

/** A static server for the 0.9.6 page, on 127.0.0.1 and its own port (so another origin). */
function startStatic() {
  const srv = createServer((req, res) => {
    if (req.url === '/socket.io.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(legacyHtml);
    else res.writeHead(404).end();
  });
  return new Promise((res) => srv.listen(0, '127.0.0.1', () => res(srv)));
}

/** Waits until the 0.9.6 page has recorded an event matching `predicate` (a function source over e = {name, data}). */
async function waitForLegacy(predicate) {
  const handle = await legacy.waitForFunction(
    (src) => window.legacyEvents.find((e) => new Function('e', `return ${src}`)(e)),
    predicate, { timeout: TIMEOUT });
  return handle.jsonValue();
}

before(async () => {
  statics = await startStatic();
  staticUrl = `http://127.0.0.1:${statics.address().port}`;
  server = await startServer({ args: ['--allowed-origin', staticUrl] });
  unlisted = await startServer();
  browser = await launchBrowser();
  [app, legacy] = await Promise.all([newPage(browser), newPage(browser)]);
});

after(async () => {
  await browser?.close();
  await new Promise((res) => (statics ? statics.close(res) : res()));
  await server?.stop();
  await unlisted?.stop();
});

test('a WASM page and a socket.io-client 0.9.6 page share a room', async () => {
  await joinRoom(app, server.url, 'Wasm', ROOM);

  await legacy.goto(`${staticUrl}/`);
  assert.equal(await legacy.evaluate(() => io.version), '0.9.6');
  const joined = await legacy.evaluate(({ url, room }) => new Promise((resolve, reject) => {
    window.legacyEvents = [];
    const socket = io.connect(`${url}/connection_agent?name=Legacy`);
    window.legacySocket = socket;
    for (const name of ['room_message', 'user_message', 'user_joined', 'user_left', 'request_error']) {
      socket.on(name, (data) => window.legacyEvents.push({ name, data }));
    }
    socket.on('error', (e) => reject(new Error(`socket.io error: ${e}`)));
    socket.on('connected', ({ user }) => {
      window.legacyUser = user;
      socket.emit('join_room', { room }, (ack) => resolve(ack));
    });
  }), { url: server.url, room: ROOM });
  assert.equal(joined.room, ROOM);
  assert.deepEqual(joined.users.map((u) => u.name), ['Wasm', 'Legacy']);
  const wasmUser = joined.users[0];
  await waitForMembers(app, ['Wasm', 'Legacy'], { exact: true });
  await waitForMessage(app, 'Legacy joined', { kind: 'event' });

  // 0.9.6 -> WASM, room chat
  await legacy.evaluate(() => window.legacySocket.emit('room_message', { type: 'chat', data: { text: 'hello from 0.9.6' } }));
  const fromLegacy = await waitForMessage(app, 'hello from 0.9.6', { kind: 'text' });
  assert.equal(await fromLegacy.locator('.msg__author').textContent(), 'Legacy');

  // WASM -> 0.9.6, room chat
  await sendMessage(app, 'hello from wasm');
  const roomMsg = await waitForLegacy(`e.name === 'room_message' && e.data.data?.text === 'hello from wasm'`);
  assert.equal(roomMsg.data.type, 'chat');
  assert.equal(roomMsg.data.from, wasmUser.id);
  assert.equal(roomMsg.data.data.room, ROOM);
  assert.deepEqual(roomMsg.data.data.user, wasmUser);

  // WASM -> 0.9.6, private
  await app.click(`${tid('member')}:has-text("Legacy")`);
  await sendMessage(app, 'a secret for Legacy', { kind: 'private' });
  const priv = await waitForLegacy(`e.name === 'user_message' && e.data.data?.text === 'a secret for Legacy'`);
  assert.equal(priv.data.data.room, null);
  assert.equal(priv.data.data.to, await legacy.evaluate(() => window.legacyUser.id));

  // 0.9.6 -> WASM, private
  await legacy.evaluate((to) => window.legacySocket.emit('server_message', { to, type: 'chat', data: { text: 'a secret back' } }),
    wasmUser.id);
  const back = await waitForMessage(app, 'a secret back', { kind: 'private' });
  assert.match(await back.textContent(), /Private to you/);

  // The 0.9.6 page leaves; the app sees it go.
  await legacy.evaluate(() => window.legacySocket.emit('leave_room'));
  await waitForMembers(app, ['Wasm'], { exact: true });
  await waitForMessage(app, 'Legacy left', { kind: 'event' });
  assert.deepEqual(legacy.problems, []);
  assert.deepEqual(app.problems, []);
});

test('the same page is refused by a server that does not list its origin', async () => {
  const page = await newPage(browser);
  await page.goto(`${staticUrl}/`);
  const outcome = await page.evaluate((url) => new Promise((resolve) => {
    const socket = io.connect(`${url}/connection_agent?name=Stranger`, { reconnect: false, 'force new connection': true });
    socket.on('connected', () => resolve('connected'));
    socket.on('error', (e) => resolve(`error ${e}`));
    socket.on('connect_failed', () => resolve('connect_failed'));
  }), unlisted.url);
  assert.notEqual(outcome, 'connected');
  assert.match(unlisted.stderr(), new RegExp(`refused origin ${staticUrl.replace(/[.]/g, '\\.')}`));
  await page.context().close();
});
