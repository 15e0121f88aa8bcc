// The real binary's configuration: a config file, COMPEIT_* variables and
// flags layered (seen through --print-config), a bad value's message and exit
// status, an unknown key in the file, --bind with a host name, --version and
// the start-up check of named folders.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, serverBinary, perProcess } from './lib/server.mjs';

const dir = mkdtempSync(join(tmpdir(), 'compeit-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the binary to its end with only the given COMPEIT_* variables. */
function run(args, env = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COMPEIT_')));
  const r = spawnSync(serverBinary, args, { env: { ...clean, ...env }, encoding: 'utf8', timeout: 10000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The `key = value` lines of a --print-config output, as an object of texts. */
function printed(stdout) {
  return Object.fromEntries(stdout.split('\n').filter((l) => /^[a-z-]+ = /.test(l)).map((l) => l.split(' = ')));
}

function configFile(name, text) {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

test('--print-config: the command line over the environment over the config file over the defaults', () => {
  const file = configFile('layers.conf', [
    '# what the package ships, edited',
    'port = 1001',
    'max-rooms = 5',
    'log-format = "json"',
    'data-dir = "/var/lib/compeit"',
    'access-log = true',
    'allowed-origin = ["https://a.example", "https://b.example"]',
    'admin-token = "from-the-file"',
  ].join('\n'));
  const r = run(['--config', file, '--print-config', '--port', '3003'],
    { COMPEIT_PORT: '2002', COMPEIT_MAX_ROOMS: '6', COMPEIT_AUTH_SECRET: 'x'.repeat(32) });
  assert.equal(r.status, 0, r.stderr);
  const c = printed(r.stdout);
  assert.equal(c.port, '3003');
  assert.equal(c['max-rooms'], '6');
  assert.equal(c['log-format'], '"json"');
  assert.equal(c['data-dir'], '"/var/lib/compeit"');
  assert.equal(c['access-log'], 'true');
  assert.equal(c['allowed-origin'], '["https://a.example", "https://b.example"]');
  assert.equal(c['max-frame'], '1048576');  // a default
  assert.equal(c['admin-token'], '"(set)"');
  assert.equal(c['auth-secret'], '"(set)"');
  assert.ok(!r.stdout.includes('from-the-file') && !r.stdout.includes('x'.repeat(32)), 'no secret printed');

  // COMPEIT_CONFIG names the file when --config does not
  const viaEnv = run(['--print-config'], { COMPEIT_CONFIG: file });
  assert.equal(viaEnv.status, 0, viaEnv.stderr);
  assert.equal(printed(viaEnv.stdout).port, '1001');
});

test('a bad value exits 2 and names the flag, the value and what is allowed', () => {
  const r = run(['--port', '99999']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^compeit-server: port must be 0–65535 \(got 99999\)$/m);
  const env = run([], { COMPEIT_LOG_FORMAT: 'xml' });
  assert.equal(env.status, 2);
  assert.match(env.stderr, /log-format must be text or json \(got xml\) in COMPEIT_LOG_FORMAT/);
  const url = run(['--media', 'kurento', '--kms-url', 'http://kms.example']);
  assert.equal(url.status, 2);
  assert.match(url.stderr, /kms-url must be a ws:\/\/ or wss:\/\/ URL \(only ws:\/\/ and wss:\/\/ URLs are supported\)/);
});

test('an unknown key in the config file is an error naming it', () => {
  const file = configFile('typo.conf', 'port = 8080\nprot = 8081\n');
  const r = run(['--config', file]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown key "prot"/);
  assert.ok(r.stderr.includes(file));
});

test('a named folder that does not exist stops the start', () => {
  const missing = join(dir, 'no-such-web-root');
  const r = run(['--port', '0', '--web-root', missing]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--web-root .*no-such-web-root: no such folder/);
});

test('--version prints the version and the git commit', () => {
  const r = run(['--version']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^compeit-server \d+\.\d+\.\d+ \(([0-9a-f]{7,40}|unknown)\)\n$/);
});

test('--bind takes a host name: localhost serves', { skip: perProcess('one process bound to a name') }, async () => {
  const srv = await startServer(['--bind', 'localhost']);
  try {
    assert.match(srv.stdout(), /listening on http:\/\/localhost:\d+/);
    // localhost's IPv4 address (srv.url's 127.0.0.1) is the one bound
    const res = await fetch(`${srv.url}/socket.io/1/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^[^:]+:\d+:\d+:/);  // a socket.io 0.9 handshake
  } finally {
    await srv.stop();
  }
});

test('--bind with a name that does not resolve is an error naming it', () => {
  const r = run(['--port', '0', '--bind', 'no-such-host.invalid', '--data-dir', join(dir, 'data')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--bind no-such-host\.invalid: /);
});
