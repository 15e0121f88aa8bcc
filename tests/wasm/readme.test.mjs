// The package README's examples run as written: its ```js run blocks, in
// order, as one module that imports 'compeit-client' (the built package,
// linked into a node_modules of its own), against a started server; the
// README's http://localhost:8080 becomes that server's URL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, symlinkSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../node/lib/server.mjs';
import { runBlocks, runModule } from '../node/lib/doc-blocks.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkgDir = process.env.COMPEIT_WASM_DIR || join(repoRoot, 'build/wasm/package');
const dir = join(repoRoot, 'build', 'doc-tests', `readme-${process.pid}`);
let server;

before(async () => {
  server = await startServer();
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(resolve(pkgDir), join(dir, 'node_modules', 'compeit-client'), 'dir');
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('wasm/package/README.md: the examples run against the server', { timeout: 40000 }, async () => {
  const readme = readFileSync(join(repoRoot, 'wasm/package/README.md'), 'utf8');
  const blocks = runBlocks(readme).map((b) => b.replaceAll('http://localhost:8080', server.url));
  assert.ok(blocks.length >= 10, `found ${blocks.length} js run blocks`);
  const { code, out } = await runModule(blocks, { dir, name: 'readme', timeoutMs: 30000 });
  assert.equal(code, 0, `the README's examples failed:\n${out}`);
  // What the README says they print.
  assert.match(out, /connected as Alice, user #\d+; state: connected/);
  assert.match(out, /^true connect_failed$/m);
  assert.match(out, /in room 7 with 1/);
  assert.match(out, /Bob joined/);
  assert.match(out, /Bob got \{ from: \d+, data: \{ move: 'e4' \} \}/);
  assert.match(out, /Alice: hello room/);
  assert.match(out, /\d+ messages, ids \d+( < \d+)+/);
  assert.match(out, /unknown_user - no such user/);
  assert.match(out, /caught from listener:chat_message: a bug in my listener/);
});
