// The WebAssembly package used CDN-style: a page on another origin (a static
// server on another port, listed with --allowed-origin for the connection)
// imports /wasm/compeit.mjs from compeit-server by its full URL, which loads
// the .wasm from there too (CORS on /wasm/), and two such pages chat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, serveOrigin, TIMEOUT } from './lib/harness.mjs';

let server, origin, browser;

// The page imports the package from the server and keeps the agent and what it heard on window.
const page = (serverUrl) => `<!doctype html><meta charset="utf-8"><title>cross-origin</title><link rel="icon" href="data:,">
<script type="module">
  const { createConnectionAgent } = await import('${serverUrl}/wasm/compeit.mjs');
  const ca = await createConnectionAgent();
  window.heard = [];
  ca.on('chat_message', ({ message }) => window.heard.push(message.text));
  window.ca = ca;
</script>`;

before(async () => {
  origin = await serveOrigin({ '/': { type: 'text/html; charset=utf-8', body: () => page(server.url) } });
  server = await startServer({ args: ['--allowed-origin', origin.url] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await origin?.close();
  await server?.stop();
});

async function open(name) {
  const p = await newPage(browser);
  const wasm = p.waitForResponse((r) => r.url().endsWith('/wasm/compeit_core.wasm'), { timeout: TIMEOUT });
  await p.goto(`${origin.url}/`);
  await p.waitForFunction(() => window.ca, null, { timeout: TIMEOUT });
  const user = await p.evaluate(async ([url, n]) => window.ca.connect(url, { name: n }), [server.url, name]);
  return { page: p, user, wasm: await wasm };
}

test('a page on another origin imports the package from the server and chats', async () => {
  const a = await open('Cross A');
  const b = await open('Cross B');
  assert.equal(a.user.name, 'Cross A');
  assert.equal(a.wasm.headers()['access-control-allow-origin'], '*');
  assert.equal(a.wasm.headers()['content-type'], 'application/wasm');

  await a.page.evaluate(() => window.ca.joinRoom(77));
  await b.page.evaluate(() => window.ca.joinRoom(77));
  const sent = await a.page.evaluate(() => window.ca.chat.send('across origins'));
  assert.deepEqual(sent, { ok: true });
  await b.page.waitForFunction(() => window.heard.includes('across origins'), null, { timeout: TIMEOUT });
  const page = await b.page.evaluate(() => window.ca.chat.history({ limit: 10 }));
  assert.ok(page.messages.some((m) => m.text === 'across origins'));
  for (const p of [a.page, b.page]) assert.deepEqual(p.problems, []);
});
