// Structured logs (issue 15): with --log-format json every stderr line is one
// JSON object with time, level and a stable event name; a session's story
// (session_open, user_connected, session_closed) carries its sid tag,
// transport, remote address, user, room and the close reason in plain words;
// no line holds a message's text, a token or a full sid. The text form keeps
// its shape, `<time> <level> <message> key=value...`, one line per event
// whatever a value holds.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, perProcess } from './lib/server.mjs';
import { Client, closeAll } from './lib/client.mjs';
import { SECRET, claims, hs256, parts } from './lib/tokens.mjs';
import { waitLog, waitJson, jsonLines } from './lib/logs.mjs';

const skip = perProcess('reads one process\'s log');
let json;  // --log-format json, token mode
let text;  // the default text form, token mode

before(async () => {
  if (skip) return;
  [json, text] = await Promise.all([
    startServer(['--auth-secret', SECRET, '--log-format', 'json', '--log-level', 'debug']),
    startServer(['--auth-secret', SECRET]),
  ]);
});
afterEach(() => closeAll());
after(async () => {
  closeAll();
  await Promise.all([json, text].map((s) => s?.stop()));
});

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const connect = (srv, token) => Client.connect(srv.url, { query: `token=${encodeURIComponent(token)}` });

/** The session's sid as the 0.9.6 client holds it. */
const sidOf = (c) => c.socket.socket.sessionid;

/** The log's lines of one session (by its sid tag), in order. */
const linesOf = (lines, session) => lines.filter((l) => l.session === session);

test('json: a user\'s session from open to close, with its fields, and nothing of what it said', { skip }, async () => {
  const token = hs256(claims({ sub: 'log-user', name: 'Lou' }));
  const chatText = `chat-marker-${process.pid}-${Date.now()}`;
  const roomText = `room-marker-${process.pid}-${Date.now()}`;
  const room = 15001;
  const a = await connect(json, token);
  const b = await connect(json, hs256(claims({ sub: 'log-peer' })));
  const sid = sidOf(a);
  assert.ok(sid && sid.length >= 22, `sid ${sid}`);
  await a.ack('join_room', { room });
  await b.ack('join_room', { room });
  assert.deepEqual(await a.ack('room_message', { type: 'chat', data: { text: chatText } }), { ok: true });
  a.emit('room_message', { type: 'game', data: { text: roomText } });
  const relayed = await b.next('room_message', { filter: (m) => m.type === 'game' });
  assert.equal(relayed.data.text, roomText);
  a.disconnect();

  const closed = await waitJson(json, (l) => l.event === 'session_closed' && l.user === a.user.id,
    { what: 'session_closed of the user' });
  const lines = jsonLines(json.stderr());
  for (const l of lines) {
    assert.match(l.time, TIME, JSON.stringify(l));
    assert.ok(['debug', 'info', 'warn', 'error'].includes(l.level), JSON.stringify(l));
    assert.match(l.event, /^[a-z_]+$/, JSON.stringify(l));
  }
  assert.ok(lines.some((l) => l.event === 'listening'), 'a listening line');

  // the session, followed by its tag: 8 hex characters, not the sid
  assert.match(closed.session, /^[0-9a-f]{8}$/);
  const story = linesOf(lines, closed.session);
  const open = story.find((l) => l.event === 'session_open');
  assert.ok(open, `session_open of ${closed.session} in ${JSON.stringify(story)}`);
  assert.equal(open.transport, 'websocket');
  assert.equal(open.remote, '127.0.0.1');
  assert.equal(open.level, 'info');
  const user = story.find((l) => l.event === 'user_connected');
  assert.equal(user?.user, a.user.id);
  assert.equal(closed.level, 'info');
  assert.equal(closed.transport, 'websocket');
  assert.equal(closed.remote, '127.0.0.1');
  assert.equal(closed.room, room);
  assert.equal(closed.reason, 'client left');
  assert.ok(story.indexOf(open) < story.findIndex((l) => l.event === 'session_closed'), 'open before closed');

  // nothing the user said, no token or part of one, no sid
  const all = json.stderr();
  for (const [secret, what] of [[chatText, 'the chat text'], [roomText, 'the room message text'], [sid, 'the sid'],
    [sidOf(b), 'the other sid'], ...parts(token).map((p) => [p, 'a part of the token'])]) {
    assert.ok(!all.includes(secret), `${what} is in the log`);
  }
});

test('json: a session that times out or is cut says so in plain words', { skip }, async () => {
  const c = await connect(json, hs256(claims({ sub: 'log-drop' })));
  const from = json.stderr().length;
  c.dropTransport();
  const closed = await waitJson(json, (l) => l.event === 'session_closed' && l.user === c.user.id,
    { from, what: 'session_closed of the dropped user' });
  assert.equal(closed.reason, 'connection lost');
  assert.doesNotMatch(json.stderr(), /booted|transport closed/);
});

test('text: `<time> <level> <message> key=value...`, fields the message says left out', { skip }, async () => {
  const c = await connect(text, hs256(claims({ sub: 'text-user' })));
  await c.ack('join_room', { room: 15002 });
  c.disconnect();
  const closed = await waitLog(text, (t) => t.match(
    new RegExp(`^(\\S+) info session ([0-9a-f]{8}) closed: client left user=${c.user.id} room=15002 ` +
      'transport=websocket remote=127\\.0\\.0\\.1$', 'm')), { what: 'the session closed line' });
  assert.match(closed[1], TIME);
  assert.match(text.stderr(), new RegExp(`^\\S+ info session ${closed[2]} open websocket remote=127\\.0\\.0\\.1$`, 'm'));
  assert.match(text.stderr(), new RegExp(`^\\S+ info session ${closed[2]} is user ${c.user.id} ` +
    'transport=websocket remote=127\\.0\\.0\\.1$', 'm'));
  assert.doesNotMatch(text.stderr(), /^\{/m, 'no JSON in the text form');
});

test('text: a value with a newline or an escape cannot forge a line', { skip }, async () => {
  const from = text.stderr().length;
  const forged = '2026-01-01T00:00:00.000Z error forged';
  const c = await connect(text, hs256(claims({ sub: `evil\n${forged}\u001b[2J` })));
  const line = await waitLog(text, (t) => t.match(/^.* handshake from .* as evil.*$/m), { from, what: 'the handshake line' });
  assert.ok(line[0].includes('evil\\x0a2026-01-01T00:00:00.000Z error forged\\x1b[2J'), line[0]);
  assert.doesNotMatch(text.stderr(), /^2026-01-01T00:00:00\.000Z error forged/m);
  assert.ok(!text.stderr().includes('\u001b'), 'an escape character reached the log');
  c.disconnect();
});
