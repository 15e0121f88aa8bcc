// The admin API: rooms and their members, kicking a user, closing a room,
// announcements; authorised by the admin token or an access token with the
// `admin` capability; failed authorisations throttled per address; every
// action logged with who did it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, serverBinary, perProcess } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';

const ADMIN = 'admin-token-for-tests';
const SECRET = 'a-secret-of-at-least-32-bytes-for-tests';
const perNode = perProcess('the admin API sees the rooms and users of the node that answers it');
let srv;
before(async () => { srv = await startServer(['--admin-token', ADMIN, '--auth-secret', SECRET]); });
after(async () => { closeAll(); await srv?.stop(); });

const mint = (...args) => execFileSync(serverBinary, ['token', '--secret', SECRET, ...args]).toString().trim();
const userToken = (sub, name) => mint('--sub', sub, '--name', name, '--rooms', '*');

async function admin(path, { method = 'GET', body, token = ADMIN, from } = {}) {
  const res = await fetch(`${srv.url}/admin${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: await res.json() };
}

async function member(sub, name, room) {
  const c = await Client.connect(srv.url, { query: `token=${userToken(sub, name)}` });
  await c.ack('join_room', { room });
  return c;
}

test('rooms are listed with member counts, paged; a room lists its members', { skip: perNode }, async () => {
  const a = await member('a', 'Ada', 501);
  const b = await member('b', 'Bo', 501);
  const c = await member('c', 'Cy', 502);
  const all = await admin('/rooms');
  assert.equal(all.status, 200);
  assert.deepEqual(all.body.rooms.filter((r) => r.room >= 501 && r.room <= 502), [{ room: 501, members: 2 }, { room: 502, members: 1 }]);
  const page = await admin('/rooms?after=500&limit=1');
  assert.deepEqual(page.body, { rooms: [{ room: 501, members: 2 }], next: 501 });
  const room = await admin('/rooms/501');
  assert.deepEqual(room.body, { room: 501, members: [{ id: a.user.id, name: 'Ada' }, { id: b.user.id, name: 'Bo' }] });
  assert.equal((await admin('/rooms?limit=0')).status, 400);
  assert.equal((await admin('/rooms/x')).status, 404);
  for (const cl of [a, b, c]) cl.disconnect();
});

test('kicking a user ends its session; the room sees it leave; the log says who did it', { skip: perNode }, async () => {
  const a = await member('k1', 'Kim', 510);
  const b = await member('k2', 'Lou', 510);
  const res = await admin(`/users/${b.user.id}/kick`, { method: 'POST' });
  assert.deepEqual(res, { status: 200, body: { user: b.user.id } });
  assert.equal((await a.next('user_left')).user.id, b.user.id);
  await b.events.take((e) => e.name === 'disconnect', { what: 'disconnect on the kicked client' });
  assert.match(srv.stderr(), new RegExp(`admin: the admin token from 127\\.0\\.0\\.1 kicked user ${b.user.id}`));
  assert.equal((await admin(`/users/${b.user.id}/kick`, { method: 'POST' })).status, 404);
  assert.equal((await admin(`/users/${a.user.id}/kick`)).status, 405);
  a.disconnect();
});

test('closing a room makes every member leave it; their sessions go on', { skip: perNode }, async () => {
  const a = await member('c1', 'Max', 520);
  const b = await member('c2', 'Ned', 520);
  const res = await admin('/rooms/520/close', { method: 'POST' });
  assert.deepEqual(res.body, { room: 520, removed: 2 });
  assert.equal((await a.next('room_left')).room, 520);
  assert.equal((await b.next('room_left')).room, 520);
  assert.deepEqual((await admin('/rooms/520')).body, { room: 520, members: [] });
  assert.equal((await a.ack('join_room', { room: 521 })).room, 521, 'the session goes on');
  a.disconnect();
  b.disconnect();
});

test('an access token with the admin capability is accepted; one without it is not', async () => {
  const boss = mint('--sub', 'ops-7', '--caps', 'admin');
  const res = await admin('/rooms', { token: boss });
  assert.equal(res.status, 200);
  const a = await member('ann', 'Ann', 530);
  await admin('/rooms/530/announce', { method: 'POST', token: boss, body: { text: 'hello from ops' } });
  assert.match(srv.stderr(), /admin: token of ops-7 from 127\.0\.0\.1 announced in room 530/);
  assert.equal((await admin('/rooms', { token: userToken('plain', 'Pat') })).status, 401);
  a.disconnect();
});

test('the Bearer scheme is matched in any case (RFC 7235)', async () => {
  for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
    const res = await fetch(`${srv.url}/admin/rooms`, { headers: { authorization: `${scheme} ${ADMIN}` } });
    assert.equal(res.status, 200, scheme);
  }
  const hs = await fetch(`${srv.url}/socket.io/1/`, { headers: { authorization: `bearer ${userToken('case', 'Case')}` } });
  assert.equal(hs.status, 200);
});

test('announce validates its body', async () => {
  for (const body of [{}, { text: 5 }, { text: '' }, [1]]) {
    const res = await admin('/rooms/540/announce', { method: 'POST', body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.error, /text|body/);
  }
});

test('failed authorisations are throttled per address: after 5 in a minute even the right token gets 429', {
  skip: perProcess('each node throttles the addresses it sees, which behind haproxy is haproxy\'s; the attempts are spread over the nodes'),
}, async () => {
  const other = await startServer(['--admin-token', ADMIN]);
  try {
    const call = (token) => fetch(`${other.url}/admin/rooms`, { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 5; i++) assert.equal((await call(`wrong-${i}`)).status, 401);
    assert.equal((await call('wrong-again')).status, 429);
    assert.equal((await call(ADMIN)).status, 429);
    assert.ok(!other.stderr().includes('wrong-'), 'a token attempt reached the log');
  } finally {
    await other.stop();
  }
});
