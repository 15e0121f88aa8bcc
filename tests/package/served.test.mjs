// What the installed package serves (run by tests/package/run.sh with
// COMPEIT_SERVER set to the installed binary and config): the web app, the
// WASM client, and socket.io-client 0.9.6 from /usr/share/compeit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../node/lib/server.mjs';
import { httpRequest } from '../node/lib/raw.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(() => srv?.stop());

test('the installed server serves the web app, the WASM client and the socket.io 0.9.6 client', async () => {
  const page = await httpRequest(srv.port, { path: '/' });
  assert.equal(page.status, 200);
  assert.match(page.body, /<html/i);
  const wasm = await httpRequest(srv.port, { path: '/wasm/package.json' });
  assert.equal(wasm.status, 200);
  assert.ok(JSON.parse(wasm.body).name, wasm.body.slice(0, 200));
  const legacy = await httpRequest(srv.port, { path: '/socket.io/socket.io.js' });
  assert.equal(legacy.status, 200);
  assert.match(legacy.body, /0\.9\.6/);
});
