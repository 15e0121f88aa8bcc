// Session resume with the WebAssembly client (docs/protocol.md §8): the core
// asks for a token by default and, when its connection drops, resumes by
// itself: same user and room, the messages sent meanwhile once and in order,
// and the others see nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../node/lib/server.mjs';
import { startRelay } from '../node/lib/relay.mjs';
import { Inbox, quietWindow } from '../node/lib/wait.mjs';
import { wasmAgent, closeAll } from './wasm_agent.mjs';

let server;
let relay;
before(async () => {
  server = await startServer();
  relay = await startRelay(server.port);
});
after(async () => { closeAll(); await relay?.close(); await server?.stop(); });

test('a dropped connection resumes by itself: same user and room, missed messages once and in order, nobody told', async () => {
  const a = await wasmAgent(relay.url, 'Wanderer');  // through the relay, which will drop
  const b = await wasmAgent(server.url, 'Stayer');
  const states = new Inbox();
  a.on('statechange', (s) => states.push(s));  // the package's event on the core's `state`
  const got = new Inbox();
  a.register('game', {
    onRoomMessage: (from, data) => got.push({ room: data.n }),
    onUserMessage: (from, data) => got.push({ user: data.n }),
  });
  const gameB = b.register('game');
  await a.joinRoom(701);
  await b.joinRoom(701);
  const me = a.user.id;

  await gameB.sendToRoom({ n: 1 });
  await gameB.sendToUser(me, { n: 1 });
  await got.take((x) => x.user === 1);

  assert.ok(relay.cut() >= 1, 'the relay carried the websocket');
  await states.take((s) => s.state === 'reconnecting', { what: 'reconnecting' });
  await gameB.sendToRoom({ n: 2 });
  await gameB.sendToUser(me, { n: 2 });
  await gameB.sendToRoom({ n: 3 });

  const re = await a.next('reconnected', () => true, 10000);
  assert.equal(re.resumed, true);
  assert.equal(re.user.id, me);
  const s = await states.take((x) => x.state === 'connected', { what: 'connected again' });
  assert.equal(s.reason, 'resumed');
  await got.take((x) => x.room === 3);
  await gameB.sendToRoom({ n: 4 });  // still in the room
  await got.take((x) => x.room === 4);
  await quietWindow(200);
  assert.deepEqual(got.all(), [{ room: 1 }, { user: 1 }, { room: 2 }, { user: 2 }, { room: 3 }, { room: 4 }]);

  assert.equal(a.events.all((e) => e.name === 'room_joined').length, 1, 'no rejoin: the server kept the room');
  const aboutA = b.events.all((e) => (e.name === 'user_left' || e.name === 'user_joined') && e.data.user.id === me);
  assert.deepEqual(aboutA, [], 'the others saw no user_left or user_joined');
});
