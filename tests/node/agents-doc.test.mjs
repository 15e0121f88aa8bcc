// docs/agents.md's walkthrough runs: its ```js run blocks, in order, as one
// module, against a server with an agent secret. A block that throws, or a
// walkthrough that does not finish, fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, perProcess } from './lib/server.mjs';
import { withTimeout } from './lib/wait.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SECRET = 'doc-secret';
const skip = perProcess("the walkthrough's one link serves one node's users");
let srv;

before(async () => { if (!skip) srv = await startServer(['--agent-secret', SECRET]); });
after(async () => { await srv?.stop(); });

/** The ```js run blocks of a markdown text, in order. */
export function runBlocks(markdown) {
  return [...markdown.matchAll(/^```js run\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

test('docs/agents.md: the walkthrough runs against the server', { skip, timeout: 30000 }, async () => {
  const blocks = runBlocks(readFileSync(join(repoRoot, 'docs/agents.md'), 'utf8'));
  assert.ok(blocks.length >= 4, `found ${blocks.length} js run blocks`);
  // Inside the repository, so that its imports resolve from node_modules.
  const dir = join(repoRoot, 'build', 'doc-tests');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `agents-${process.pid}.mjs`);
  writeFileSync(file, blocks.join('\n'));
  try {
    const child = spawn(process.execPath, [file], {
      env: { ...process.env, COMPEIT_URL: srv.url, COMPEIT_AGENT_SECRET: SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const code = await withTimeout(new Promise((res) => child.once('exit', res)), 20000, 'the walkthrough to finish')
      .catch((e) => { child.kill('SIGKILL'); throw new Error(`${e.message}\noutput:\n${out}`); });
    assert.equal(code, 0, `the walkthrough failed:\n${out}`);
    assert.match(out, /HELLO/);
  } finally {
    rmSync(file, { force: true });
  }
});
