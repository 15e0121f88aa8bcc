// docs/agents.md's walkthrough runs: its ```js run blocks, in order, as one
// module, against a server with an agent secret. A block that throws, or a
// walkthrough that does not finish, fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, perProcess } from './lib/server.mjs';
import { runBlocks, runModule } from './lib/doc-blocks.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SECRET = 'doc-secret';
const skip = perProcess("the walkthrough's one link serves one node's users");
let srv;

before(async () => { if (!skip) srv = await startServer(['--agent-secret', SECRET]); });
after(async () => { await srv?.stop(); });

test('docs/agents.md: the walkthrough runs against the server', { skip, timeout: 30000 }, async () => {
  const blocks = runBlocks(readFileSync(join(repoRoot, 'docs/agents.md'), 'utf8'));
  assert.ok(blocks.length >= 4, `found ${blocks.length} js run blocks`);
  // Inside the repository, so that its imports resolve from node_modules.
  const { code, out } = await runModule(blocks, {
    dir: join(repoRoot, 'build', 'doc-tests'),
    env: { COMPEIT_URL: srv.url, COMPEIT_AGENT_SECRET: SECRET },
    name: 'agents',
  });
  assert.equal(code, 0, `the walkthrough failed:\n${out}`);
  assert.match(out, /HELLO/);
});
