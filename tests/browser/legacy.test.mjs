// Issue 19: an unmodified legacy COMPEIT page (tests/browser/fixtures/legacy:
// socket.io-client 0.9.6 loaded from the server's /socket.io/socket.io.js, the
// Connection Agent's events by hand) works against compeit-server, on
// websocket, xhr-polling and jsonp-polling. In each run one copy of the page
// comes from compeit-server itself (--web-root) and one from another origin
// (a static server on another port, listed with --allowed-origin), and the two
// talk: join with acks that come after the room's state, room chat, a room
// message of the page's own type, user messages, an error ack. Last, what a
// closed page leaves behind: nothing on websocket, a member for the close
// timeout on polling.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, startServer, launchBrowser, newPage, TIMEOUT } from './lib/harness.mjs';

const fixtures = join(repoRoot, 'tests/browser/fixtures/legacy');
const CLOSE_TIMEOUT_S = 3;

let server, statics, staticUrl, browser;

/**
 * The legacy page from another origin: as deployed there, it names the server
 * it talks to (known once that server runs: its --allowed-origin needs this
 * server's port first).
 */
function startStatic(serverUrl) {
  const page = () => readFileSync(join(fixtures, 'index.html'), 'utf8')
    .replace('<script src="/socket.io/socket.io.js">',
      `<meta name="compeit-server" content="${serverUrl()}">\n<script src="${serverUrl()}/socket.io/socket.io.js">`);
  const app = readFileSync(join(fixtures, 'legacy-app.js'));
  const srv = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page());
    else if (req.url === '/legacy-app.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(app);
    else res.writeHead(404).end();
  });
  return new Promise((res) => srv.listen(0, '127.0.0.1', () => res(srv)));
}

before(async () => {
  statics = await startStatic(() => server.url);
  staticUrl = `http://127.0.0.1:${statics.address().port}`;
  server = await startServer({
    // A short close timeout for the last test; socket.io-client 0.9.6 gives up
    // a connection it heard nothing on for that long, so the server speaks
    // (heartbeats, noops) every second.
    args: ['--web-root', fixtures, '--allowed-origin', staticUrl, '--close-timeout', String(CLOSE_TIMEOUT_S),
      '--polling-duration', '1', '--heartbeat-interval', '1'],
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await new Promise((res) => (statics ? statics.close(res) : res()));
  await server?.stop();
});

/** Opens the legacy page at `url` and connects it as `name` over `transport`; resolves {page, user}. */
async function openLegacy(url, name, transport) {
  const page = await newPage(browser);
  await page.goto(url);
  assert.equal(await page.evaluate(() => io.version), '0.9.6');
  const got = await page.evaluate(({ name, transport }) => new Promise((resolve) => {
    window.legacy.connect(name, transport, (err, user, used) => resolve({ err, user, used }));
  }), { name, transport });
  assert.equal(got.err, null, `${name}: ${got.err}`);
  assert.equal(got.used, transport, `${name} connected over ${got.used}`);
  return { page, user: got.user };
}

const join_ = (page, room) => page.evaluate((room) => new Promise((resolve) => {
  window.legacy.join(room, (ack, before) => resolve({ ack, before }));
}), room);

const emit = (page, event, arg) => page.evaluate(({ event, arg }) => new Promise((resolve) => {
  window.legacy.emit(event, arg, resolve);
}), { event, arg });

/**
 * Waits until the page has received an event `name` whose data has every
 * value of `match` (dotted paths, e.g. {'data.text': 'hi'}); returns it. No
 * code is evaluated from strings: the page's CSP (from compeit-server) forbids it.
 */
async function waitForEvent(page, name, match = {}) {
  const handle = await page.waitForFunction(({ name, match }) => window.legacy.events.find((e) => e.name === name &&
    Object.entries(match).every(([path, want]) => path.split('.').reduce((v, k) => v?.[k], e.data) === want)),
  { name, match }, { timeout: TIMEOUT });
  return handle.jsonValue();
}

let nextRoom = 7100;

for (const transport of ['websocket', 'xhr-polling', 'jsonp-polling']) {
  test(`a legacy page from the server and one from another origin talk over ${transport}`, async () => {
    const room = nextRoom++;
    const a = await openLegacy(`${server.url}/`, `Same-${transport}`, transport);
    const b = await openLegacy(`${staticUrl}/`, `Cross-${transport}`, transport);

    // join_room: the ack comes after room_joined, the history, the media config and the streams.
    const joinedA = await join_(a.page, room);
    assert.equal(joinedA.ack.room, room);
    assert.deepEqual(joinedA.ack.users, [a.user]);
    for (const e of ['room_joined', 'server_message:chat:history', 'server_message:kurento:config',
      'server_message:kurento:streams']) {
      assert.ok(joinedA.before.includes(e), `${e} before the ack: ${joinedA.before}`);
    }
    const joinedB = await join_(b.page, room);
    assert.deepEqual(joinedB.ack.users, [a.user, b.user]);
    assert.ok(joinedB.before.includes('server_message:chat:history'), `${joinedB.before}`);
    await waitForEvent(a.page, 'user_joined', { 'user.id': b.user.id });

    // Room chat, both ways; the sender gets its own message too, stamped.
    assert.deepEqual(await emit(a.page, 'room_message', { type: 'chat', data: { text: `hello from ${a.user.name}` } }),
      { ok: true });
    const chat = await waitForEvent(b.page, 'room_message', { type: 'chat', 'data.text': `hello from ${a.user.name}` });
    assert.equal(chat.data.from, a.user.id);
    assert.equal(chat.data.data.room, room);
    await waitForEvent(a.page, 'room_message', { 'data.text': `hello from ${a.user.name}` });
    assert.deepEqual(await emit(b.page, 'room_message', { type: 'chat', data: { text: 'and back' } }), { ok: true });
    await waitForEvent(a.page, 'room_message', { 'data.text': 'and back' });

    // A room message of the page's own type is relayed as sent.
    assert.deepEqual(await emit(b.page, 'room_message', { type: 'game', data: { move: 'e4' } }), { ok: true });
    const move = await waitForEvent(a.page, 'room_message', { type: 'game' });
    assert.deepEqual(move.data, { from: b.user.id, type: 'game', data: { move: 'e4' } });

    // User messages: a private chat and one of the page's own type.
    assert.deepEqual(await emit(a.page, 'server_message', { to: b.user.id, type: 'chat', data: { text: 'psst' } }),
      { ok: true });
    const priv = await waitForEvent(b.page, 'user_message', { type: 'chat' });
    assert.equal(priv.data.data.to, b.user.id);
    assert.equal(priv.data.data.room, null);
    assert.deepEqual(await emit(b.page, 'server_message', { to: a.user.id, type: 'note', data: [1, 2] }), { ok: true });
    const note = await waitForEvent(a.page, 'user_message', { type: 'note' });
    assert.deepEqual(note.data, { from: b.user.id, type: 'note', data: [1, 2] });

    // A request the server cannot serve: the ack carries the error, request_error comes too.
    const refused = await emit(a.page, 'server_message', { type: 'nobody-handles-this', data: {} });
    assert.equal(refused.error.code, 'unknown_type');
    await waitForEvent(a.page, 'request_error', { code: 'unknown_type' });

    // Leaving: the other page sees it.
    await a.page.evaluate(() => window.legacy.socket.emit('leave_room'));
    await waitForEvent(b.page, 'user_left', { 'user.id': a.user.id });
    for (const p of [a.page, b.page]) {
      assert.deepEqual(p.problems, []);
      await p.context().close();
    }
  });
}

test('a closed page: on websocket the others see it leave at once, on polling after the close timeout', async () => {
  const room = nextRoom++;
  const watcher = await openLegacy(`${server.url}/`, 'Watcher', 'websocket');
  await join_(watcher.page, room);
  for (const transport of ['websocket', 'xhr-polling']) {
    const leaver = await openLegacy(`${staticUrl}/`, `Closing-${transport}`, transport);
    await join_(leaver.page, room);
    await waitForEvent(watcher.page, 'user_joined', { 'user.id': leaver.user.id });
    const t0 = Date.now();
    await leaver.page.context().close();
    await waitForEvent(watcher.page, 'user_left', { 'user.id': leaver.user.id });
    const gone = Date.now() - t0;
    // socket.io-client 0.9.6 sends nothing on unload (its disconnectSync opens
    // an XHR it never sends): a websocket's close is seen at once, a polling
    // client is missed once its aborted long-poll starts the close timeout.
    if (transport === 'websocket') assert.ok(gone < 1000, `websocket: user_left after ${gone} ms`);
    else assert.ok(gone >= (CLOSE_TIMEOUT_S - 1) * 1000, `${transport}: user_left after ${gone} ms, before the close timeout`);
  }
  await watcher.page.context().close();
});
