// wss:// links to the media server (--kms-url wss://...): the server speaks
// TLS to the FAKE Kurento Media Server (tests/fake-kms, here over https with a
// self-signed certificate made for the test by the openssl command), checks
// the certificate against the trust store (SSL_CERT_FILE points the server's
// OpenSSL at the test's certificate) and the host name, and refuses to talk
// to a server it cannot trust: publishing then gets request_error unavailable.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { startFakeKms } from '../fake-kms/fake-kms.mjs';
import { withTimeout } from './lib/wait.mjs';

let dir;
let nextRoom = 700;
const cleanups = [];  // stops what a test started

/** A self-signed certificate (PEM) for `names` (DNS names or IPv4 addresses), in `dir`. */
function certificate(label, names) {
  const key = join(dir, `${label}.key`), cert = join(dir, `${label}.pem`);
  const san = names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(cert), certFile: cert };
}

before(() => { dir = mkdtempSync(join(tmpdir(), 'compeit-tls-')); });
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  closeAll();
  for (const stop of cleanups.splice(0).reverse()) await stop();
});

async function setUp(tls, env) {
  const kms = await startFakeKms({ tls });
  cleanups.push(() => kms.close());
  const server = await startServer(['--media', 'kurento', '--kms-url', kms.url], { env });
  cleanups.push(() => server.stop());
  const c = await Client.connect(server.url, { name: 'Tess' });
  await c.ack('join_room', { room: nextRoom++ });
  return { kms, server, c };
}

const OFFER = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0',
  'a=mid:0', 'a=sendonly', 'a=rtpmap:96 VP8/90000', ''].join('\r\n');
/**
 * Resolves once the server's log matches re. A publish made while the link is
 * still connecting is refused at once ("not connected"); the refused TLS
 * handshake is logged when it fails, which may be later.
 */
function logged(server, re, timeout = 5000) {
  return withTimeout(new Promise((resolve) => {
    const check = () => {
      if (!re.test(server.stderr())) return;
      server.proc.stderr.off('data', check);
      resolve();
    };
    server.proc.stderr.on('data', check);  // after server.mjs's own listener: stderr() has the chunk
    check();
  }), timeout, `the server to log ${re}`);
}

const publish = (c) => c.ack('server_message', { type: 'kurento', data: { action: 'publish', sdp: OFFER, audio: false, video: true } });

test('wss://: with the certificate trusted, the server reaches the media server over TLS and publishing works', async () => {
  const tls = certificate('good', ['127.0.0.1']);
  const { kms, server, c } = await setUp(tls, { SSL_CERT_FILE: tls.certFile });
  assert.match(kms.url, /^wss:\/\//);
  await kms.waitForConnections(1);
  assert.deepEqual(await publish(c), { ok: true });
  assert.equal(kms.liveObjects('WebRtcEndpoint').length, 1);
  assert.match(server.stderr(), /connected: wss:\/\/127\.0\.0\.1:\d+\/kurento/);
});

test('wss://: an untrusted certificate is refused; publishing gets request_error unavailable', async () => {
  const tls = certificate('untrusted', ['127.0.0.1']);
  const trusted = certificate('other', ['127.0.0.1']);  // the server trusts only this one
  const { kms, server, c } = await setUp(tls, { SSL_CERT_FILE: trusted.certFile });
  const r = await publish(c);
  assert.equal(r.error?.code, 'unavailable', JSON.stringify(r));
  await logged(server, /TLS handshake: certificate verify failed/);
  assert.equal(kms.connectionCount, 0, 'no WebSocket reached the untrusted server');
});

test('wss://: a certificate for another host name is refused', async () => {
  const tls = certificate('wrong-name', ['media.example.org']);
  const { kms, server, c } = await setUp(tls, { SSL_CERT_FILE: tls.certFile });
  const r = await publish(c);
  assert.equal(r.error?.code, 'unavailable', JSON.stringify(r));
  await logged(server, /TLS handshake: certificate verify failed/);
  assert.equal(kms.connectionCount, 0);
});

test('a media-server URL that is neither ws:// nor wss:// is refused at start', async () => {
  await assert.rejects(startServer(['--media', 'kurento', '--kms-url', 'http://127.0.0.1:1/kurento']), /exited before ready/);
});
