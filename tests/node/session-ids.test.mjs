// Session ids are a polling client's only credential: 128 bits from a
// cryptographic source with nothing predictable in them, bound to the
// address and the transport they were first used with, and never logged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, perProcess, sidPattern } from './lib/server.mjs';
import { httpRequest, handshake, PollSession, RawWs } from './lib/raw.mjs';
import { NS, eventPacket } from './lib/packet.mjs';

let srv;
before(async () => { srv = await startServer(['--max-handshakes-per-address', '5000']); });
after(async () => { await srv?.stop(); });

// the random part: a cluster node's sid starts with its name and a dot
const bits = (sid) => [...Buffer.from(sid.slice(sid.indexOf('.') + 1), 'base64url')].flatMap((b) => [7, 6, 5, 4, 3, 2, 1, 0].map((i) => (b >> i) & 1));

test('sids are 22 base64url characters of 128 random bits: unique, balanced, no counter', async () => {
  const N = 2000;
  const sids = [];
  for (let i = 0; i < N; i++) sids.push(await handshake(srv.port));
  assert.equal(new Set(sids).size, N, 'no repeats');
  for (const sid of sids) assert.match(sid, new RegExp(`^${sidPattern}$`));
  // Every bit position is set about half the time: 4.5 standard deviations
  // either way (sqrt(N)/2 = 22) would be failed by a fixed or counting field.
  const ones = new Array(128).fill(0);
  for (const sid of sids) bits(sid).forEach((b, i) => { ones[i] += b; });
  for (let i = 0; i < 128; i++) assert.ok(Math.abs(ones[i] - N / 2) < 4.5 * 22.4, `bit ${i} set ${ones[i]} times of ${N}`);
  // Consecutive sids differ in about half their bits (a counter would change a few).
  let minDistance = 128;
  for (let i = 1; i < N; i++) {
    const a = bits(sids[i - 1]);
    const d = bits(sids[i]).filter((b, j) => b !== a[j]).length;
    minDistance = Math.min(minDistance, d);
  }
  assert.ok(minDistance > 30, `two consecutive sids differ in only ${minDistance} bits`);
});

test('a sid never appears in the log', async () => {
  const sid = await handshake(srv.port);
  const poll = new PollSession(srv.port, sid);
  await poll.get();
  await poll.emit('x');  // something for the log to talk about
  assert.ok(!srv.stderr().includes(sid), 'the sid is in the log');
  assert.match(srv.stderr(), /session [0-9a-f]{8} open xhr-polling/);
});

test('a polling sid presented from another address is unknown there, and the session is untouched', {
  skip: perProcess('behind haproxy every request reaches the node from haproxy\'s address, the thief\'s too'),
}, async () => {
  const sid = await handshake(srv.port);
  const own = new PollSession(srv.port, sid);
  assert.equal((await own.get()).payload, '1::');
  await own.post(`1::${NS}`);
  await own.waitEvent('connected');
  // The thief on 127.0.0.2: its GET is told to handshake again, its POST goes nowhere.
  const stolen = await httpRequest(srv.port, { path: `/socket.io/1/xhr-polling/${sid}?t=1`, localAddress: '127.0.0.2' });
  assert.equal(stolen.body, '7:::1+0');
  await httpRequest(srv.port, {
    method: 'POST', path: `/socket.io/1/xhr-polling/${sid}?t=2`, localAddress: '127.0.0.2', body: eventPacket('join_room', [{ room: 77 }]),
  });
  await httpRequest(srv.port, { path: `/socket.io/1/xhr-polling/${sid}?disconnect`, localAddress: '127.0.0.2' });
  await assert.rejects(RawWs.connect(srv.port, `/socket.io/1/websocket/${sid}`, { localAddress: '127.0.0.2' })
    .then(async (ws) => { const first = await ws.next(() => true); ws.destroy(); if (first !== '1::') throw new Error(first); }));
  // The owner's session goes on: its request is answered, nothing was done in its name.
  await own.emit('join_room', [{ room: 5 }], { id: '1' });
  const ack = await own.waitFor((p) => p.type === 6, { what: 'the ack' });
  assert.deepEqual(ack.ackArgs[0], { room: 5, users: [{ id: ack.ackArgs[0].users[0].id, name: ack.ackArgs[0].users[0].name }] });
  assert.equal(ack.ackArgs[0].users.length, 1);
  assert.ok(!own.responses.join('').includes('"room":77'), 'the stolen POST joined a room in the owner\'s name');
});

test('a polling sid is refused on another transport: websocket and jsonp get 7:::0, their POSTs are ignored', async () => {
  const sid = await handshake(srv.port);
  const xhr = new PollSession(srv.port, sid);
  assert.equal((await xhr.get()).payload, '1::');
  const jsonp = new PollSession(srv.port, sid, { transport: 'jsonp-polling' });
  assert.equal((await jsonp.get()).payload, '7:::0');
  await jsonp.post(`1::${NS}`);  // would connect the namespace if it were taken
  const ws = await RawWs.connect(srv.port, `/socket.io/1/websocket/${sid}`);
  assert.equal(await ws.next(() => true, { what: 'the refusal' }), '7:::0');
  await ws.waitClosed();
  // Had the jsonp POST been taken, this connect would be the second: two `1::/connection_agent`.
  await xhr.post(`1::${NS}`);
  await xhr.waitEvent('connected');
  const connects = xhr.responses.join('').split(`1::${NS}`).length - 1;
  assert.equal(connects, 1, `the jsonp POST reached the session: ${xhr.responses.join(' | ')}`);
});
