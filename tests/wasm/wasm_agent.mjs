// The built WebAssembly connection agent, loaded in Node, with every event it
// emits recorded in an Inbox so tests can wait for one by predicate.
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Inbox, withTimeout } from '../node/lib/wait.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkgDir = process.env.COMPEIT_WASM_DIR || join(repoRoot, 'build/wasm/package');
const { createConnectionAgent } = await import(pathToFileURL(join(pkgDir, 'compeit.mjs')).href);

const EVENTS = ['connected', 'reconnected', 'disconnect', 'reconnecting', 'reconnect_failed', 'error', 'statechange',
  'room_joined', 'user_joined', 'user_left', 'room_left', 'request_error', 'chat_message', 'chat_event',
  'private_message', 'chat_history'];

const live = new Set();

/** Connects a WASM agent as `name` (`options` go to connect()); `.events` records {name, data}. */
export async function wasmAgent(url, name, options = {}) {
  const ca = await createConnectionAgent();
  const events = new Inbox((e) => `${e.name}:${JSON.stringify(e.data)}`.slice(0, 160));
  for (const ev of EVENTS) ca.on(ev, (data) => events.push({ name: ev, data }));
  ca.events = events;
  ca.next = (event, pred = () => true, timeout = 5000) =>
    events.take((e) => e.name === event && pred(e.data), { timeout, what: `${name}: ${event}` }).then((e) => e.data);
  live.add(ca);
  await withTimeout(ca.connect(url, { name, ...options }), 5000, `${name} connected`);
  return ca;
}

export { createConnectionAgent };

export function closeAll() {
  for (const ca of live) ca.disconnect();
  live.clear();
}
