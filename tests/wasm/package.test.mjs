// The packaged WebAssembly client, as a user gets it: `npm pack` of
// build/wasm/package, unpacked into an empty folder outside the repository,
// imported from there by a fresh Node process that connects to the server,
// joins a room and chats.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../node/lib/server.mjs';
import { withTimeout } from '../node/lib/wait.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkgDir = process.env.COMPEIT_WASM_DIR || join(repoRoot, 'build/wasm/package');

let server;
let folder;
before(async () => { server = await startServer(); folder = mkdtempSync(join(tmpdir(), 'compeit-pkg-')); });
after(async () => { await server?.stop(); if (folder) rmSync(folder, { recursive: true, force: true }); });

test('npm pack gives a package that works from an empty folder', async () => {
  execFileSync('npm', ['pack', pkgDir, '--pack-destination', folder, '--silent'], { stdio: 'pipe' });
  const tarball = readdirSync(folder).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack wrote a tarball');
  execFileSync('tar', ['-xzf', tarball], { cwd: folder });
  const files = readdirSync(join(folder, 'package')).sort();
  for (const f of ['compeit.d.ts', 'compeit.mjs', 'compeit_core.mjs', 'compeit_core.wasm', 'package.json'])
    assert.ok(files.includes(f), `${f} is in the package`);

  // Outside the repository nothing resolves `ws`: the user passes a WebSocket
  // (here Node's own, behind its flag in Node 20).
  writeFileSync(join(folder, 'smoke.mjs'), `
    import { createConnectionAgent } from './package/compeit.mjs';
    const ca = await createConnectionAgent({ WebSocket: globalThis.WebSocket });
    const echoed = new Promise((res) => ca.on('chat_message', ({ message }) => message.text === 'from the package' && res(message)));
    const user = await ca.connect(process.argv[2], { name: 'Packaged' });
    const joined = await ca.joinRoom(4242);
    await ca.chat.send('from the package');
    const m = await echoed;
    console.log(JSON.stringify({ user, joined, id: m.id }));
    ca.disconnect();
    process.exit(0);
  `);
  const child = spawn(process.execPath, ['--experimental-websocket', 'smoke.mjs', server.url], { cwd: folder });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const code = await withTimeout(new Promise((res) => child.on('exit', res)), 15000, 'the smoke test process');
  assert.equal(code, 0, `exit ${code}: ${err}`);
  const result = JSON.parse(out.trim().split('\n').pop());
  assert.equal(result.user.name, 'Packaged');
  assert.equal(result.joined.room, 4242);
  assert.ok(Number.isInteger(result.id) && result.id > 0);
});
