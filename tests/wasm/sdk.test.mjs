// The package as an SDK (issue 16): application code cannot break the agent,
// on/off/once, promises that mean what they say (typed errors once, history
// pages, connect() that rejects once and stops) and the connection state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startServer } from '../node/lib/server.mjs';
import { quietWindow, withTimeout } from '../node/lib/wait.mjs';
import { wasmAgent, closeAll, createConnectionAgent } from './wasm_agent.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { closeAll(); await server?.stop(); });

const rejection = async (promise) => {
  try { await promise; } catch (e) { return e; }
  assert.fail('expected a rejection');
};

// console.error while `fn` runs, collected instead of printed.
async function capturingConsole(fn) {
  const original = console.error;
  const lines = [];
  console.error = (...args) => lines.push(args.map(String).join(' '));
  try { await fn(lines); } finally { console.error = original; }
  return lines;
}

test('a throwing register() callback and a throwing listener stop nothing', async () => {
  const a = await wasmAgent(server.url, 'Thrower');
  const b = await wasmAgent(server.url, 'Sender');
  const got = [];
  a.register('boom', { onRoomMessage: (from, data) => { got.push(data.n); throw new Error(`callback ${data.n}`); } });
  a.on('chat_message', () => { throw new Error('listener'); });
  a.on('error', () => { throw new Error('the error listener throws too'); });  // must not recurse
  const port = b.register('boom');
  await a.joinRoom(901);
  await b.joinRoom(901);

  const logged = await capturingConsole(async () => {
    await port.sendToRoom({ n: 1 });
    await port.sendToRoom({ n: 2 });
    await a.next('error', (e) => e.source === 'register:boom:room' && e.error.message === 'callback 2');
    // chat.send() still settles, its own echo reaches the throwing listener, and later events flow.
    assert.deepEqual(await withTimeout(a.chat.send('after the throws'), 5000, 'chat.send to settle'), { ok: true });
    await a.next('error', (e) => e.source === 'listener:chat_message' && e.error.message === 'listener');
    await b.chat.send('and more');
    await a.next('chat_message', (d) => d.message.text === 'and more');
  });
  assert.deepEqual(got, [1, 2]);
  assert.ok(logged.some((l) => l.includes('register:boom:room') && l.includes('callback 1')), logged.join('\n'));
  assert.ok(logged.some((l) => l.includes('listener:error')), 'a throwing error listener is logged, once per error');
  assert.equal(logged.filter((l) => l.includes('listener:error')).length,
    a.events.items.filter((x) => x.item.name === 'error').length);
});

test('on returns an unsubscribe function; off and once', async () => {
  const a = await wasmAgent(server.url, 'Listener');
  const b = await wasmAgent(server.url, 'Talker');
  await a.joinRoom(902);
  await b.joinRoom(902);
  const seen = { on: [], off: [], once: [], onceOff: [] };
  const stop = a.on('chat_message', ({ message }) => seen.on.push(message.text));
  const offFn = ({ message }) => seen.off.push(message.text);
  a.on('chat_message', offFn);
  a.once('chat_message', ({ message }) => seen.once.push(message.text));
  const onceOff = ({ message }) => seen.onceOff.push(message.text);
  a.once('chat_message', onceOff);
  a.off('chat_message', onceOff);  // a once listener can be taken back by its function

  await b.chat.send('one');
  await a.next('chat_message', (d) => d.message.text === 'one');
  stop();
  a.off('chat_message', offFn);
  await b.chat.send('two');
  await a.next('chat_message', (d) => d.message.text === 'two');
  assert.deepEqual(seen, { on: ['one'], off: ['one'], once: ['one'], onceOff: [] });
});

test('a failed request rejects once with a typed CompeitError; no request_error event for it', async () => {
  const a = await wasmAgent(server.url, 'Typed');
  const before = await rejection(a.chat.send('outside a room'));
  assert.equal(before.name, 'CompeitError');
  assert.equal(before.code, 'not_in_room');
  assert.equal(before.event, 'room_message');
  assert.equal(before.type, 'chat');
  await a.joinRoom(903);
  const empty = await rejection(a.chat.send(''));
  assert.equal(empty.code, 'bad_request');
  assert.match(empty.message, /^text /, 'the server says which field');
  const nobody = await rejection(a.register('nobody').sendToServer({}));
  assert.equal(nobody.code, 'unknown_type');
  assert.equal(nobody.type, 'nobody');
  // Many failures at once, of one kind and of others, in flight together.
  const results = await Promise.allSettled([a.chat.send(''), a.chat.send('fine'), a.joinRoom(-1), a.chat.sendTo(999999, 'x')]);
  assert.deepEqual(results.map((r) => r.status === 'fulfilled' ? 'ok' : r.reason.code),
    ['bad_request', 'ok', 'bad_request', 'unknown_user']);
  await quietWindow(200);
  assert.deepEqual(a.events.items.filter((x) => x.item.name === 'request_error'), []);

  const offline = await createConnectionAgent();
  const e = await rejection(offline.joinRoom(1));
  assert.equal(e.code, 'not_connected');
  assert.doesNotMatch(e.message, /_/, 'a sentence, not a protocol word');
});

test('chat.history pages back with before = the oldest id: every message once, hasMore exact', async () => {
  const a = await wasmAgent(server.url, 'Pager');
  await a.joinRoom(904);
  for (let i = 0; i < 9; i++) await a.chat.send(`m${i}`);  // with the join event: 10 messages
  const ids = [];
  let page = await a.chat.history({ limit: 3 });
  let pages = 1;
  ids.unshift(...page.messages.map((m) => m.id));
  while (page.hasMore) {
    page = await a.chat.history({ before: ids[0], limit: 3 });
    ids.unshift(...page.messages.map((m) => m.id));
    pages++;
  }
  assert.equal(pages, 4);  // 3 + 3 + 3 + 1
  assert.equal(ids.length, 10);
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
  assert.equal(new Set(ids).size, 10);
  const exact = await a.chat.history({ before: ids[3], limit: 3 });  // exactly the first three
  assert.deepEqual(exact.messages.map((m) => m.id), ids.slice(0, 3));
  assert.equal(exact.hasMore, false);
  assert.equal((await rejection(a.chat.history({ limit: 500 }))).code, 'bad_request');
});

// A handshake endpoint that counts its requests and answers `status`.
async function refusingServer(status) {
  let hits = 0;
  const srv = createServer((req, res) => { hits++; res.writeHead(status).end('no'); });
  await new Promise((res) => srv.listen(0, '127.0.0.1', res));
  return { url: `http://127.0.0.1:${srv.address().port}`, hits: () => hits, close: () => new Promise((r) => srv.close(r)) };
}

for (const [status, code] of [[503, 'connect_failed'], [401, 'unauthorized']]) {
  test(`connect() rejects once with ${code} (HTTP ${status}) and then tries no more`, async () => {
    const refusing = await refusingServer(status);
    try {
      const ca = await createConnectionAgent();
      const changes = [];
      ca.on('statechange', (c) => changes.push(c));
      const e = await rejection(withTimeout(ca.connect(refusing.url, { name: 'Refused', minDelay: 50 }), 5000, 'the rejection'));
      assert.equal(e.code, code);
      assert.equal(ca.state, 'disconnected');
      await quietWindow(700);  // many times the first reconnect delay
      assert.equal(refusing.hits(), 1, 'no hidden retry after the rejection');
      assert.deepEqual(changes.map((c) => `${c.previous}>${c.state}:${c.reason}`),
        ['disconnected>connecting:connect', 'connecting>disconnected:handshake_failed']);
    } finally {
      await refusing.close();
    }
  });
}

test('statechange: connecting, connected, then disconnected by the client; reasons given', async () => {
  const a = await wasmAgent(server.url, 'Stateful');
  assert.equal(a.state, 'connected');
  a.disconnect();
  assert.equal(a.state, 'disconnected');
  const states = a.events.items.filter((x) => x.item.name === 'statechange').map((x) => x.item.data);
  assert.deepEqual(states.map((c) => [c.previous, c.state, c.reason]), [
    ['disconnected', 'connecting', 'connect'],
    ['connecting', 'connected', 'connected'],
    ['connected', 'disconnected', 'client_disconnect'],
  ]);
});

test('statechange: a lost connection is reconnecting with attempt and delay, then connected again', async () => {
  const own = await startServer();
  const a = await wasmAgent(own.url, 'Blip', { minDelay: 100, maxDelay: 200, jitter: 0 });
  a.events.drain();  // the first connect's changes are not waited for below
  await own.stop();
  const lost = await a.next('statechange', (c) => c.state === 'reconnecting');
  assert.equal(lost.previous, 'connected');
  assert.equal(lost.reason, 'transport_closed');
  assert.equal(lost.attempt, 1);
  assert.equal(lost.delay, 100);
  const again = await startServer(['--port', String(own.port)]);
  try {
    await a.next('statechange', (c) => c.state === 'connected', 15000);
    assert.equal(a.state, 'connected');
    // From the loss on: reconnecting, then attempts (connecting, reconnecting again while the server is down), then connected.
    const all = a.events.all((e) => e.name === 'statechange').map((e) => e.data);
    const since = all.slice(all.findIndex((c) => c.state === 'reconnecting'));
    assert.equal(since.at(-1).state, 'connected');
    for (const c of since.slice(0, -1)) assert.ok(['reconnecting', 'connecting'].includes(c.state), JSON.stringify(c));
    for (let i = 1; i < since.length; i++) assert.equal(since[i].previous, since[i - 1].state, 'each change starts where the last ended');
  } finally {
    a.disconnect();
    await again.stop();
  }
});
