// TLS on the server's own listener (--tls-cert/--tls-key): https and wss on
// one port, with a throwaway CA and server certificates made by the openssl
// command for this test. The real socket.io-client 0.9.6 trusts the test CA
// through Node's https.globalAgent, which both of its Node transports use (ws
// 0.4 for wss, xmlhttprequest for the handshake and xhr-polling); nothing here
// turns certificate checks off. Covered: wss and xhr-polling chat, plain http
// to the TLS port, old protocol versions, the handshake deadline, certificate
// reload on SIGHUP with a client staying connected, bad reloads, start-up
// errors, and the default origins becoming https://.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { startServer, serverBinary, perProcess } from './lib/server.mjs';
import { Client, closeAll, io } from './lib/client.mjs';
import { withTimeout } from './lib/wait.mjs';
import { pollUntil } from './lib/proc.mjs';

let dir;
let ca;          // PEM of the test CA
let certs;       // name -> { cert, key } file paths, with serial
let server;      // started with the "live" files, which the reload tests overwrite
let nextRoom = 1300;
// A cluster ends TLS at haproxy; haproxy speaks plain http to the nodes (deploy/haproxy/compeit.cfg).
const onNodePort = perProcess('TLS on the node\'s own port, which haproxy in front of a cluster does not speak');
const extra = [];  // servers and clients a test started

const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

/** A P-256 key and a certificate for 127.0.0.1/localhost signed by the test CA, with this serial. */
function serverCertificate(name, serial) {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.csr`, '-subj', `/CN=compeit-${name}`);
  writeFileSync(join(dir, `${name}.ext`),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial,
    '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`), serial: serial.replace(/^0x/, '').toUpperCase() };
}

function install(name) {
  copyFileSync(certs[name].cert, join(dir, 'live.pem'));
  copyFileSync(certs[name].key, join(dir, 'live.key'));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'compeit-listener-tls-'));
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-days', '1', '-subj', '/CN=COMPEIT test CA');
  ca = readFileSync(join(dir, 'ca.pem'));
  certs = { first: serverCertificate('first', '0x1001'), second: serverCertificate('second', '0x2002') };
  // socket.io-client 0.9.6 passes no TLS options: it trusts what the global agent trusts.
  https.globalAgent.options.ca = ca;
  // Full handshakes only: a resumed TLS 1.3 session shows no peer certificate in Node.
  https.globalAgent.maxCachedSessions = 0;
  install('first');
  if (onNodePort) return;  // only the start-up test runs
  server = await startServer(['--tls-cert', join(dir, 'live.pem'), '--tls-key', join(dir, 'live.key')]);
});

afterEach(async () => {
  closeAll();
  for (const stop of extra.splice(0).reverse()) await stop();
});

after(async () => {
  const alive = server?.alive();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
  assert.ok(alive !== false, 'the server died during the test file');
});

/** Resolves once the server's log matches `re` after `from` characters (event-driven). */
function logged(srv, re, from = 0, timeout = 5000) {
  return withTimeout(new Promise((resolve) => {
    const check = () => {
      if (!re.test(srv.stderr().slice(from))) return;
      srv.proc.stderr.off('data', check);
      resolve();
    };
    srv.proc.stderr.on('data', check);  // after server.mjs's own listener: stderr() has the chunk
    check();
  }), timeout, `the server to log ${re}`);
}

/** A fresh TLS connection to the server (no session reuse); resolves with the socket once secure. */
function tlsConnect(options = {}) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: server.port, ca, ...options });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

async function peerSerial() {
  const s = await tlsConnect();
  const serial = s.getPeerCertificate().serialNumber;
  s.destroy();
  return serial.replace(/^0+/, '');
}

async function joined(name, room, transports) {
  let c;
  if (!transports) {
    c = await Client.connect(server.url, { name });
  } else {
    // Client.connect has no transports option: the same steps, with one. (A `transports`
    // option would be merged index by index into the client's global list, so the
    // list the new socket copies is swapped for the call instead.)
    const everyTransport = io.transports;
    io.transports = transports;
    let socket;
    try {
      socket = io.connect(`${server.url}/connection_agent?name=${encodeURIComponent(name)}`, {
        'force new connection': true, reconnect: false, 'connect timeout': 5000,
      });
    } finally {
      io.transports = everyTransport;
    }
    c = new Client(socket);
    extra.push(async () => { try { socket.socket.disconnect(); } catch { /* gone */ } });
    const first = await c.events.take((e) => ['connected', 'error', 'connect_failed'].includes(e.name),
      { what: 'connected' });
    assert.equal(first.name, 'connected', JSON.stringify(first.args));
    c.user = first.args[0].user;
  }
  assert.equal((await c.ack('join_room', { room })).room, room);
  return c;
}

const said = (c, text) => c.chat.take((e) => e.name === 'room_message' && e.args[0].data?.text === text,
  { what: `chat "${text}" on ${c.user?.name}` }).then((e) => e.args[0]);

async function chat(from, to, text) {
  assert.deepEqual(await from.ack('room_message', { type: 'chat', data: { text } }), { ok: true });
  const m = await said(to, text);
  assert.equal(m.from, from.user.id);
}

const transportOf = (c) => c.socket.socket.transport.name;

test('the server says https in its ready line and logs the certificate', { skip: onNodePort }, async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  // stderr and stdout are two pipes: the log line may arrive after the ready line.
  await pollUntil(() => /TLS certificate: \/CN=compeit-first, serial 1001/.test(server.stderr()),
    { what: 'the certificate in the log', describe: () => server.stderr() });
});

test('wss: two 0.9.6 clients join a room and chat over websocket through TLS', { skip: onNodePort }, async () => {
  const room = nextRoom++;
  const a = await joined('Ada', room);
  const b = await joined('Bob', room);
  assert.equal(transportOf(a), 'websocket');
  const tcp = a.socket.socket.transport.websocket._socket;
  assert.ok(tcp.encrypted, 'the websocket runs over a TLS socket');
  await chat(a, b, 'over wss');
  await chat(b, a, 'and back');
  // A long message: several TLS records each way, through the write queue.
  const long = 'x'.repeat(3900);
  await chat(a, b, long);
});

test('xhr-polling through https: a polling client and a websocket client chat', { skip: onNodePort }, async () => {
  // In Node, client 0.9.6's XHR.check reads `global.location.protocol`, where `global`
  // is its xhr.js module's `this` (module.exports): without a location it throws and
  // xhr-polling counts as unavailable. A location like a page of this server's.
  const xhrModule = createRequire(import.meta.url)('socket.io-client/lib/transports/xhr.js');
  xhrModule.location = { protocol: 'https:' };
  try {
    const room = nextRoom++;
    const p = await joined('Pol', room, ['xhr-polling']);
    const w = await joined('Wes', room);
    assert.equal(transportOf(p), 'xhr-polling');
    await chat(p, w, 'from the poller');
    await chat(w, p, 'to the poller');
    await chat(p, w, 'and again');  // the next long-poll, on the kept-alive https connection
  } finally {
    delete xhrModule.location;
  }
});

test('plain http to the TLS port gets a plain 400 and the server goes on', { skip: onNodePort }, async () => {
  const res = await withTimeout(new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: server.port, path: '/socket.io/1/' }, (r) => {
      let body = '';
      r.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => resolve({ status: r.statusCode, body }));
    });
    req.on('error', reject);
  }), 5000, 'the answer to plain http');
  assert.equal(res.status, 400);
  assert.match(res.body, /https/);
  assert.match(server.stderr(), /TLS handshake with 127\.0\.0\.1:\d+ failed: http request/);
  assert.ok(server.alive());
  const c = await joined('After', nextRoom++);
  assert.equal(transportOf(c), 'websocket');
});

test('TLS 1.1 and lower are refused by the server; 1.2 uses ECDHE, and 1.3 is preferred', { skip: onNodePort }, async () => {
  // SECLEVEL=0 lets this client's OpenSSL offer TLS 1.0/1.1 at all: the refusal must be the server's.
  for (const version of ['TLSv1', 'TLSv1.1']) {
    await assert.rejects(tlsConnect({ minVersion: 'TLSv1', maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' }),
      (e) => e.code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', `${version} must be refused by the server's alert`);
  }
  const s12 = await tlsConnect({ maxVersion: 'TLSv1.2' });
  assert.equal(s12.getProtocol(), 'TLSv1.2');
  assert.match(s12.getCipher().name, /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20)/);
  s12.destroy();
  // A TLS 1.2 client offering only suites without forward secrecy is refused.
  await assert.rejects(tlsConnect({ maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:AES256-SHA' }),
    (e) => /handshake failure|no shared cipher/i.test(`${e.code} ${e.message}`));
  const s13 = await tlsConnect();
  assert.equal(s13.getProtocol(), 'TLSv1.3');
  s13.destroy();
  assert.ok(server.alive());
});

test('a client that never finishes the TLS handshake is closed after --request-timeout', { skip: onNodePort }, async () => {
  const srv = await startServer(['--tls-cert', certs.first.cert, '--tls-key', certs.first.key, '--request-timeout', '0.5']);
  extra.push(() => srv.stop());
  const started = Date.now();
  const closedAfter = await withTimeout(new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('error', reject);
    s.on('connect', () => s.write(Buffer.from([0x16, 0x03, 0x01])));  // the start of a record, then nothing
    s.on('close', () => resolve(Date.now() - started));
  }), 5000, 'the server to close a silent TLS client');
  assert.ok(closedAfter >= 400, `closed after ${closedAfter} ms, before the timeout`);
});

test('SIGHUP reloads the certificate: a connected client keeps chatting, new connections get the new one', { skip: onNodePort }, async () => {
  const room = nextRoom++;
  const a = await joined('Stay', room);
  const b = await joined('Also', room);
  const serialOf = (c) => c.socket.socket.transport.websocket._socket.getPeerCertificate().serialNumber.replace(/^0+/, '');
  assert.equal(serialOf(a), certs.first.serial);
  assert.equal(await peerSerial(), certs.first.serial);

  install('second');
  let mark = server.stderr().length;
  server.proc.kill('SIGHUP');
  await logged(server, /SIGHUP: TLS certificate reloaded: \/CN=compeit-second, serial 2002/, mark);

  assert.equal(await peerSerial(), certs.second.serial, 'a new handshake sees the new certificate');
  await chat(a, b, 'still here after the reload');
  await chat(b, a, 'me too');
  assert.equal(serialOf(a), certs.first.serial, 'the old connection still runs on the old certificate');
  const c = await joined('New', room);
  assert.equal(serialOf(c), certs.second.serial);
  await chat(c, a, 'new meets old');

  // A bad reload keeps the current certificate, says why, and drops nobody.
  writeFileSync(join(dir, 'live.pem'), 'not a certificate\n');
  mark = server.stderr().length;
  server.proc.kill('SIGHUP');
  await logged(server, /SIGHUP: keeping the current TLS certificate: TLS certificate .*live\.pem: /, mark);
  copyFileSync(certs.second.cert, join(dir, 'live.pem'));
  copyFileSync(certs.first.key, join(dir, 'live.key'));  // a key that does not match
  mark = server.stderr().length;
  server.proc.kill('SIGHUP');
  await logged(server, /SIGHUP: keeping the current TLS certificate: TLS key .*live\.key does not match/, mark);
  assert.equal(await peerSerial(), certs.second.serial);
  await chat(a, c, 'nothing dropped');
  assert.ok(server.alive());
  install('first');
});

test('wss backpressure: a member that stops reading is dropped over --max-write-queue; the others get everything', { skip: onNodePort }, async () => {
  const srv = await startServer(['--tls-cert', certs.first.cert, '--tls-key', certs.first.key,
    '--max-write-queue', String(256 * 1024), '--rate', '2000', '--burst', '4000']);
  extra.push(() => srv.stop());
  const room = nextRoom++;
  const join = async (name) => {
    const c = await Client.connect(srv.url, { name });
    assert.equal((await c.ack('join_room', { room })).room, room);
    return c;
  };
  const reader = await join('Reads');
  const slow = await join('Stalls');
  const flooder = await join('Floods');
  await reader.next('user_joined', { filter: (x) => x.user?.id === flooder.user.id });
  const COUNT = 300;  // 9.6 MB: far over 8x the limit, past what the kernel buffers hold
  // The slow member's TLS socket stops being read: what the server sends piles up in its queue.
  slow.socket.socket.transport.websocket._socket.pause();
  let got = 0;
  let allArrived;
  const everything = new Promise((resolve) => { allArrived = resolve; });
  reader.socket.on('room_message', (m) => { if (m?.type === 'flood' && ++got === COUNT) allArrived(); });
  const pad = 'x'.repeat(32 * 1024);
  for (let i = 0; i < COUNT; i++) flooder.emit('room_message', { type: 'flood', data: { seq: i, pad } });
  const left = await reader.next('user_left', { filter: (x) => x.user?.id === slow.user.id, timeout: 15000 });
  assert.equal(left.user.id, slow.user.id);
  // The log comes through another pipe than the events: wait for its line.
  await pollUntil(() => /websocket 127\.0\.0\.1:\d+ does not read: dropped with \d+ bytes queued/.test(srv.stderr()),
    { what: 'the drop in the log', describe: () => srv.stderr() });
  await withTimeout(everything, 15000, 'every flood message at the reading member').catch((e) => {
    throw new Error(`${e.message}: got ${got} of ${COUNT}`);
  });
  await chat(reader, flooder, 'after the flood');
  assert.ok(srv.alive());
});

test('default origins are https:// with TLS: the own https origin is allowed, its http twin is not', { skip: onNodePort }, async () => {
  const get = (origin) => withTimeout(new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: server.port, path: '/socket.io/1/?t=1', headers: { Origin: origin }, agent: false, ca },
      (r) => { r.resume(); r.on('end', () => resolve(r)); }).on('error', reject);
  }), 5000, `the handshake from ${origin}`);
  const own = await get(`https://127.0.0.1:${server.port}`);
  assert.equal(own.statusCode, 200);
  assert.equal(own.headers['access-control-allow-origin'], `https://127.0.0.1:${server.port}`);
  const plain = await get(`http://127.0.0.1:${server.port}`);
  assert.equal(plain.statusCode, 403);
});

test('start-up: a missing file, a key that does not match, or one flag alone is reported and the server exits', () => {
  const run = (...args) => spawnSync(serverBinary, ['--port', '0', '--data-dir', join(dir, 'data'), ...args],
    { encoding: 'utf8', timeout: 10_000 });
  const missing = run('--tls-cert', join(dir, 'nope.pem'), '--tls-key', certs.first.key);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /TLS certificate .*nope\.pem: no such file/);
  const mismatched = run('--tls-cert', certs.first.cert, '--tls-key', certs.second.key);
  assert.equal(mismatched.status, 1);
  assert.match(mismatched.stderr, /TLS key .*second\.key does not match the certificate .*first\.pem/);
  const notPem = run('--tls-cert', join(dir, 'first.ext'), '--tls-key', certs.first.key);
  assert.equal(notPem.status, 1);
  assert.match(notPem.stderr, /TLS certificate .*first\.ext: /);
  const alone = run('--tls-cert', certs.first.cert);
  assert.equal(alone.status, 2);
  assert.match(alone.stderr, /--tls-cert and --tls-key go together/);
  for (const r of [missing, mismatched, notPem]) assert.doesNotMatch(r.stdout, /listening/);
});
