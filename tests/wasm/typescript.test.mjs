// compeit.d.ts in a Node.js TypeScript project without the DOM library:
// `tsc --strict --noEmit` on tests/wasm/ts-example (lib ES2022, no @types).
// tsc comes from node_modules (devDependency `typescript`) or the PATH
// (Debian's node-typescript); without either the test is skipped, saying so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const example = join(repoRoot, 'tests/wasm/ts-example');

function findTsc() {
  const local = join(repoRoot, 'node_modules/.bin/tsc');
  if (existsSync(local)) return local;
  const onPath = spawnSync('tsc', ['--version'], { encoding: 'utf8' });
  return onPath.status === 0 ? 'tsc' : null;
}

const tsc = findTsc();

test('compeit.d.ts compiles under tsc --strict without the DOM library', {
  skip: tsc ? false : 'tsc not found: add the devDependency `typescript` (npm install) or install node-typescript',
}, () => {
  const run = spawnSync(tsc, ['--strict', '--noEmit', '-p', example], { encoding: 'utf8', timeout: 120000 });
  assert.equal(run.status, 0, `tsc failed:\n${run.stdout}${run.stderr}`);
});

test('the check can fail: a wrong use of the types is an error', {
  skip: tsc ? false : 'tsc not found',
}, () => {
  // The same project with one line that misuses the API: tsc must refuse it.
  const run = spawnSync(tsc, ['--strict', '--noEmit', '-p', join(example, 'tsconfig.misuse.json')], { encoding: 'utf8', timeout: 120000 });
  assert.notEqual(run.status, 0, 'tsc accepted a misuse');
  assert.match(run.stdout, /misuse\.ts.*no_such_code/s);
  assert.match(run.stdout, /Property 'event' does not exist/);
});
