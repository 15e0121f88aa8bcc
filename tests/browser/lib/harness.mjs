// Shared pieces of the browser tests: the COMPEIT server, headless Chromium and
// bounded, event-driven waits. Nothing here sleeps.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import io from 'socket.io-client';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const outputDir = join(repoRoot, 'test-output');
export const serverBinary = process.env.COMPEIT_SERVER || join(repoRoot, 'build/native/bin/compeit-server');
export const TIMEOUT = 10_000;  // the bound of every single wait

/** Starts compeit-server on 127.0.0.1 (a free port unless `port` is given) with `dataDir` or a fresh one. */
export async function startServer({ port = 0, dataDir, args = [] } = {}) {
  if (!existsSync(serverBinary)) throw new Error(`server binary not found: ${serverBinary} (set COMPEIT_SERVER)`);
  const ownDir = !dataDir;
  dataDir ??= mkdtempSync(join(tmpdir(), 'compeit-browser-'));
  const argv = ['--bind', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', ...args];
  const proc = spawn(serverBinary, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  const exited = new Promise((res) => proc.once('exit', () => res()));
  let scheme = 'http';  // https with --tls-cert/--tls-key
  const actualPort = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server not ready in ${TIMEOUT} ms\n${err}`)), TIMEOUT);
    proc.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /listening on (https?):\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); scheme = m[1]; res(Number(m[2])); }
    });
    exited.then(() => { clearTimeout(timer); rej(new Error(`server exited before ready\n${err}`)); });
  });
  return {
    port: actualPort,
    url: `${scheme}://127.0.0.1:${actualPort}`,
    dataDir,
    stderr: () => err,
    /** SIGINT, which stops at once (SIGTERM would drain); SIGKILL after 5 s; removes the data dir unless `keepData` or it was given. */
    async stop({ keepData = false } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGINT');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (ownDir && !keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts the reference poll agent (examples/agents/poll/agent.mjs) against a server
 * started with `--agent-secret secret`; resolves once it says it serves `poll`.
 */
export async function startPollAgent(url, secret) {
  const agent = join(repoRoot, 'examples/agents/poll/agent.mjs');
  const proc = spawn(process.execPath, [agent, '--url', url, '--secret', secret], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  for (const stream of [proc.stdout, proc.stderr]) stream.setEncoding('utf8').on('data', (d) => { out += d; });
  const exited = new Promise((res) => proc.once('exit', () => res()));
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`poll agent not serving in ${TIMEOUT} ms\n${out}`)), TIMEOUT);
    proc.stdout.on('data', () => { if (/serving poll/.test(out)) { clearTimeout(timer); res(); } });
    exited.then(() => { clearTimeout(timer); rej(new Error(`poll agent exited\n${out}`)); });
  });
  return {
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Resolves once the server answers `server_message {type}` the way `served` says: with
 * anything but unknown_type while an agent serves the type, with unknown_type once none
 * does. Asks a socket.io-client 0.9.6 user again after each answer, within TIMEOUT.
 */
export async function waitForAgentType(url, type, { served }) {
  const socket = io.connect(`${url}/connection_agent?name=probe`, { 'force new connection': true, reconnect: false });
  const deadline = performance.now() + TIMEOUT;
  const bounded = (what, executor) => new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), Math.max(0, deadline - performance.now()));
    executor((v) => { clearTimeout(timer); res(v); });
  });
  try {
    await bounded('the probe to connect', (done) => socket.once('connected', done));
    for (;;) {
      const ack = await bounded(`${type} to be ${served ? 'served' : 'unknown'}`,
        (done) => socket.emit('server_message', { type, data: {} }, done));
      if ((ack?.error?.code !== 'unknown_type') === served) return;
    }
  } finally {
    socket.disconnect();
  }
}

/**
 * A page's own origin, apart from the server's: a static server on another port
 * of 127.0.0.1. `routes` maps a path to {type, body} (body: a string, a Buffer or
 * a function returning one, read on each request); others get 404. Resolves
 * {url, close()}.
 */
export async function serveOrigin(routes) {
  const srv = createServer((req, res) => {
    const route = routes[new URL(req.url, 'http://x').pathname];
    if (!route) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': route.type }).end(typeof route.body === 'function' ? route.body() : route.body);
  });
  await new Promise((res) => srv.listen(0, '127.0.0.1', res));
  return { url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((res) => srv.close(res)) };
}

/**
 * Chromium flags for WebRTC tests: fake camera and microphone, granted without a prompt,
 * peer connections over loopback, and sound that may start without a click. `cameras`:
 * how many fake cameras the page sees (Chromium's `device-count` option of the fake
 * device flag), for tests that switch between them.
 */
export function mediaArgs({ cameras = 1 } = {}) {
  const fake = cameras > 1 ? `--use-fake-device-for-media-stream=device-count=${cameras}` : '--use-fake-device-for-media-stream';
  return ['--use-fake-ui-for-media-stream', fake,
    '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'];
}
export const MEDIA_ARGS = mediaArgs();

export function launchBrowser({ args = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic', ...args],
    timeout: 20_000,
  });
}

/**
 * Test-only: keeps every RTCPeerConnection the page creates in
 * window.__testPeerConnections (the app's connection agent keeps its own
 * private), so a test can read their getStats(). Call before the page loads.
 */
export function recordPeerConnections(page) {
  return page.addInitScript(() => {
    const Original = window.RTCPeerConnection;
    const all = [];
    Object.defineProperty(window, '__testPeerConnections', { value: all });
    window.RTCPeerConnection = class extends Original {
      constructor(...args) {
        super(...args);
        all.push(this);
      }
    };
  });
}

/** A new context + page; browser console errors and page errors are collected in page.problems. */
/** The two screen sizes the tests use: newPage(browser, DESKTOP) or newPage(browser, PHONE). */
export const DESKTOP = Object.freeze({ viewport: { width: 1280, height: 800 } });
export const PHONE = Object.freeze({ viewport: { width: 390, height: 760 }, isMobile: true, hasTouch: true });

export async function newPage(browser, options = {}) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  return page;
}

export function screenshotPath(name) {
  mkdirSync(outputDir, { recursive: true });
  return join(outputDir, name);
}

// --- the web app, driven like a user ------------------------------------------------

const tid = (id) => `[data-testid="${id}"]`;
export { tid };

/** Opens the app and joins `room` as `name`; resolves once the room view shows us as a member. */
export async function joinRoom(page, baseUrl, name, room) {
  await page.goto(`${baseUrl}/`);
  // By their labels: the form must be usable with a screen reader too.
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Room number').fill(String(room));
  await page.getByLabel('Room number').press('Enter');
  await page.waitForSelector(tid('room-view'), { state: 'visible' });
  await waitForMembers(page, [name]);
}

/** The member names in the list, in order (the own entry carries " (you)"). */
export function memberNames(page) {
  return page.$$eval(`${tid('member')} .member__name`, (els) => els.map((e) => e.firstChild.textContent));
}

/** Waits until every one of `names` is in the member list and, with `exact`, nobody else. */
export async function waitForMembers(page, names, { exact = false } = {}) {
  await page.waitForFunction(({ names, exact }) => {
    const shown = [...document.querySelectorAll('[data-testid="member"] .member__name')].map((e) => e.firstChild.textContent);
    return names.every((n) => shown.includes(n)) && (!exact || shown.length === names.length);
  }, { names, exact }, { timeout: TIMEOUT });
}

/** Waits for a chat entry whose text contains `text` (optionally of a data-kind); returns its locator. */
export async function waitForMessage(page, text, { kind } = {}) {
  const selector = kind ? `${tid('chat-message')}[data-kind="${kind}"]` : tid('chat-message');
  const item = page.locator(selector).filter({ hasText: text }).last();
  await item.waitFor({ state: 'visible', timeout: TIMEOUT });
  return item;
}

/** Types `text` in the composer and presses Enter; resolves when it shows in the own log. */
export async function sendMessage(page, text, { kind = 'text' } = {}) {
  await page.fill(tid('message-input'), text);
  await page.press(tid('message-input'), 'Enter');
  return waitForMessage(page, text, { kind });
}
