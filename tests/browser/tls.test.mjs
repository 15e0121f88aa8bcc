// The web app over https and wss: the server with --tls-cert/--tls-key (a
// self-signed certificate for 127.0.0.1 made by the openssl command for this
// test) and headless Chromium, which trusts exactly that certificate's key
// through its flag --ignore-certificate-errors-spki-list (every other
// certificate error still stops a page; the last test shows one that does).
// Two people join a room and chat; the app's websocket is wss://.
// Screenshot: test-output/tls-room.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer, launchBrowser, newPage, joinRoom, waitForMessage, sendMessage, screenshotPath, DESKTOP,
} from './lib/harness.mjs';

const ROOM = 443;
let dir, server, browser, alice, bob, spki;
const sockets = [];  // websocket URLs the pages opened

/** base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as Chromium's flag wants it. */
function spkiHash(certFile) {
  const pub = execFileSync('openssl', ['x509', '-in', certFile, '-pubkey', '-noout']);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pub });
  return execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'compeit-browser-tls-'));
  const cert = join(dir, 'server.pem'), key = join(dir, 'server.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'extendedKeyUsage=serverAuth'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  spki = spkiHash(cert);
  server = await startServer({ args: ['--tls-cert', cert, '--tls-key', key] });
  browser = await launchBrowser({ args: [`--ignore-certificate-errors-spki-list=${spki}`] });
  [alice, bob] = await Promise.all([
    newPage(browser, DESKTOP),
    newPage(browser, DESKTOP),
  ]);
  for (const page of [alice, bob]) page.on('websocket', (ws) => sockets.push(ws.url()));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('over https, two people join a room and chat through a wss websocket', async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  await joinRoom(alice, server.url, 'Alice', ROOM);
  await joinRoom(bob, server.url, 'Bob', ROOM);
  await waitForMessage(alice, 'Bob joined', { kind: 'event' });
  await sendMessage(alice, 'Hello Bob, over TLS');
  await waitForMessage(bob, 'Hello Bob, over TLS');
  await sendMessage(bob, 'Hi Alice, encrypted too');
  await waitForMessage(alice, 'Hi Alice, encrypted too');

  assert.match(alice.url(), /^https:\/\//);
  const own = `wss://127.0.0.1:${server.port}/socket.io/1/websocket/`;
  assert.equal(sockets.filter((u) => u.startsWith(own)).length, 2, `wss sockets: ${sockets.join(' ')}`);
  assert.deepEqual(sockets.filter((u) => !u.startsWith('wss://')), [], 'no plain ws');
  assert.deepEqual([...alice.problems, ...bob.problems], []);
  await alice.screenshot({ path: screenshotPath('tls-room.png') });
});

test('without the flag, Chromium refuses the test certificate (the trust comes from the flag alone)', async () => {
  const plain = await launchBrowser();
  try {
    const page = await newPage(plain);
    await assert.rejects(page.goto(`${server.url}/`), /ERR_CERT_AUTHORITY_INVALID/);
  } finally {
    await plain.close();
  }
});
