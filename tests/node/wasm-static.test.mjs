// /wasm/: the WebAssembly client package is public, like any script, and
// pages on other origins import it: CORS (every origin by default, a list
// with --wasm-cors, or off), a preflight answered, `Vary: Origin` when the
// answer depends on it; ETags with `Cache-Control: no-cache` (the names carry
// no content hash) and 304s; the .wasm as application/wasm. A made-up package
// folder: no WebAssembly build needed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './lib/server.mjs';
import { httpRequest } from './lib/raw.mjs';

const APP = 'https://app.example.org';
let dir;
const servers = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'compeit-wasm-'));
  writeFileSync(join(dir, 'compeit.mjs'), 'export const x = 1;\n');
  writeFileSync(join(dir, 'compeit_core.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
});
after(async () => {
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function server(args = []) {
  const s = await startServer(['--wasm-dir', dir, ...args]);
  servers.push(s);
  return s;
}

test('every origin may load the package: Access-Control-Allow-Origin *, and the .wasm is application/wasm', async () => {
  const s = await server();
  const wasm = await httpRequest(s.port, { path: '/wasm/compeit_core.wasm', headers: { origin: APP } });
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers['access-control-allow-origin'], '*');
  assert.equal(wasm.headers['content-type'], 'application/wasm');
  assert.doesNotMatch(wasm.headers.vary ?? '', /Origin/i, 'the same answer for every origin');
  assert.equal(wasm.headers['access-control-allow-credentials'], undefined);
  const mjs = await httpRequest(s.port, { path: '/wasm/compeit.mjs' });
  assert.equal(mjs.headers['access-control-allow-origin'], '*');
  assert.match(mjs.headers['content-type'], /javascript/);
});

test('caching: an ETag, Cache-Control no-cache, 304 for a matching If-None-Match (weak and lists too)', async () => {
  const s = await server();
  const first = await httpRequest(s.port, { path: '/wasm/compeit.mjs', headers: { origin: APP } });
  const etag = first.headers.etag;
  assert.match(etag, /^"[^"]+"$/);
  assert.equal(first.headers['cache-control'], 'no-cache');
  for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const again = await httpRequest(s.port, { path: '/wasm/compeit.mjs', headers: { origin: APP, 'if-none-match': inm } });
    assert.equal(again.status, 304, inm);
    assert.equal(again.body, '');
    assert.equal(again.headers['access-control-allow-origin'], '*', 'a 304 keeps the CORS header');
  }
  const changed = await httpRequest(s.port, { path: '/wasm/compeit.mjs', headers: { 'if-none-match': '"stale"' } });
  assert.equal(changed.status, 200);
});

test('a preflight is answered: 204 with the methods and the headers asked for', async () => {
  const s = await server();
  const pre = await httpRequest(s.port, {
    method: 'OPTIONS', path: '/wasm/compeit_core.wasm',
    headers: { origin: APP, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-trace' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], '*');
  assert.match(pre.headers['access-control-allow-methods'], /GET/);
  assert.equal(pre.headers['access-control-allow-headers'], 'x-trace');
  assert.ok(Number(pre.headers['access-control-max-age']) > 0);
  // Only /wasm/ takes OPTIONS: the web app does not.
  assert.equal((await httpRequest(s.port, { method: 'OPTIONS', path: '/' })).status, 405);
});

test('--wasm-cors with a list: listed origins echoed with Vary: Origin, others get no CORS header', async () => {
  const s = await server(['--wasm-cors', `${APP},https://b.example`]);
  const ok = await httpRequest(s.port, { path: '/wasm/compeit.mjs', headers: { origin: APP } });
  assert.equal(ok.headers['access-control-allow-origin'], APP);
  assert.match(ok.headers.vary, /Origin/);
  const other = await httpRequest(s.port, { path: '/wasm/compeit.mjs', headers: { origin: 'https://evil.example' } });
  assert.equal(other.status, 200, 'the file is public; only the browser withholds it from the page');
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  assert.match(other.headers.vary, /Origin/);
  const pre = await httpRequest(s.port, { method: 'OPTIONS', path: '/wasm/compeit.mjs', headers: { origin: 'https://evil.example' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], undefined);
  assert.equal(pre.headers['access-control-allow-methods'], undefined);
});

test('--wasm-cors off: no CORS headers at all', async () => {
  const s = await server(['--wasm-cors', 'off']);
  const res = await httpRequest(s.port, { path: '/wasm/compeit.mjs', headers: { origin: APP } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['access-control-allow-origin'], undefined);
  assert.doesNotMatch(res.headers.vary, /Origin/);
});
