// Messages decoded and dispatched per second inside the WebAssembly client,
// in Node: room_message frames go in through the same C ABI the ES module
// uses, and come out as agent outputs (one JSON array per batch).
// Usage: node bench/wasm/dispatch.mjs [messages=200000] [batch=100]
import { readFile } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = process.env.COMPEIT_WASM_DIR || join(root, 'build/wasm/package');
const { default: createCompeitCore } = await import(pathToFileURL(join(pkg, 'compeit_core.mjs')).href);
const core = await createCompeitCore({ wasmBinary: await readFile(join(pkg, 'compeit_core.wasm')) });

const total = Number(process.argv[2] ?? 200000);
const batch = Number(process.argv[3] ?? 100);

const cstr = (s) => {
  const n = core.lengthBytesUTF8(s) + 1;
  const p = core._malloc(n);
  core.stringToUTF8(s, p, n);
  return p;
};
const call = (fn, ...strings) => {
  const ptrs = strings.map(cstr);
  try { return fn(...ptrs); } finally { ptrs.forEach((p) => core._free(p)); }
};
const take = (h) => JSON.parse(core.UTF8ToString(core._compeit_take_outputs(h)));

// A connected client, as after a real handshake.
const h = call((u, n) => core._compeit_new(u, n), 'http://127.0.0.1:1', 'bench');
call((t) => core._compeit_register(h, t), 'bench');
core._compeit_connect(h, 0);
call((b) => core._compeit_on_http(h, 200, b, 0), 'sid:60:60:websocket');
core._compeit_on_ws_open(h, 0);
for (const f of ['1::', '1::/connection_agent', '5::/connection_agent:{"name":"connected","args":[{"user":{"id":1,"name":"bench"}}]}'])
  call((t) => core._compeit_on_ws_message(h, t, 0), f);
take(h);

const frames = Array.from({ length: batch }, (_, i) =>
  `5::/connection_agent:{"name":"room_message","args":[{"from":2,"type":"bench","data":{"seq":${i},"text":"hello room"}}]}`);
const ptrs = frames.map(cstr);

let dispatched = 0;
const start = process.hrtime.bigint();
for (let sent = 0; sent < total; sent += batch) {
  for (const p of ptrs) core._compeit_on_ws_message(h, p, 1);
  dispatched += take(h).filter((o) => o.op === 'agent').length;
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
if (dispatched !== Math.ceil(total / batch) * batch) throw new Error(`dispatched ${dispatched} of ${total}`);
console.log(JSON.stringify({ messages: dispatched, seconds: +seconds.toFixed(3), per_second: Math.round(dispatched / seconds) }));
