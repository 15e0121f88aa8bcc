// Documentation whose examples run: the ```js run blocks of a markdown text,
// in order, as one Node module. One helper for every such test
// (docs/agents.md, the package README).
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { withTimeout } from './wait.mjs';

/** The ```js run blocks of a markdown text, in order. */
export function runBlocks(markdown) {
  return [...markdown.matchAll(/^```js run\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/**
 * Writes `blocks` as one module in `dir` (so that its imports resolve from
 * there) and runs it with `env` added; resolves with {code, out} (stdout and
 * stderr together). A run that does not finish within `timeoutMs` is killed
 * and rejects with its output.
 */
export async function runModule(blocks, { dir, env = {}, timeoutMs = 20000, name = 'doc' }) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${process.pid}.mjs`);
  writeFileSync(file, blocks.join('\n'));
  try {
    const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const code = await withTimeout(new Promise((res) => child.once('exit', res)), timeoutMs, `${name} to finish`)
      .catch((e) => { child.kill('SIGKILL'); throw new Error(`${e.message}\noutput:\n${out}`); });
    return { code, out };
  } finally {
    rmSync(file, { force: true });
  }
}
