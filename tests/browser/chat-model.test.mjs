// web/chat-model.mjs and web/chat-source.mjs on their own (no browser): how the
// chat log collapses joins and leaves, places its markers, finds links, and
// which payloads from the package count as chat messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chatRows, summarizeEvents, nameList, linkParts, safeHref } from '../../web/chat-model.mjs';
import { chatMessage, listenToChat, fetchOlder } from '../../web/chat-source.mjs';

const user = (id, name) => ({ id, name });
const joined = (id, who) => ({ id, room: 1, ts: id, event: 'user_joined', user: who });
const left = (id, who) => ({ id, room: 1, ts: id, event: 'user_left', user: who });
const text = (id, who, t) => ({ id, room: 1, ts: id, user: who, text: t });
const me = user(1, 'Me');
const isMe = (u) => u?.id === me.id && u?.name === me.name;

test('names: one, two, three, and "N others" beyond', () => {
  assert.equal(nameList(['Ada']), 'Ada');
  assert.equal(nameList(['Ada', 'Bo']), 'Ada and Bo');
  assert.equal(nameList(['Ada', 'Bo', 'Cy']), 'Ada, Bo and Cy');
  assert.equal(nameList(['Ada', 'Bo', 'Cy', 'Di', 'Ed']), 'Ada, Bo and 3 others');
});

test('a run of joins and leaves is one line; a leave and a join again is "rejoined"', () => {
  const people = ['Ada', 'Bo', 'Cy', 'Di', 'Ed'].map((n, i) => user(10 + i, n));
  assert.equal(summarizeEvents(people.map((u, i) => joined(i, u))), 'Ada, Bo and 3 others joined');
  assert.equal(summarizeEvents([left(1, people[0]), joined(2, user(99, 'Ada')), left(3, people[1])]),
    'Ada rejoined · Bo left');
  const rows = chatRows([joined(1, people[0]), joined(2, people[1]), text(3, people[0], 'hi'), left(4, people[1])], { isMe });
  assert.deepEqual(rows.map((r) => r.type), ['events', 'message', 'events']);
  assert.equal(rows[0].text, 'Ada and Bo joined');
  assert.equal(rows[0].event, 'user_joined');
  assert.equal(rows[2].text, 'Bo left');
});

test('our own joins and leaves, and joins of people who never left, are not shown', () => {
  const ada = user(2, 'Ada');
  const rows = chatRows([
    joined(1, ada), joined(2, me), text(3, ada, 'hello'),
    left(4, me), joined(5, me),              // our reconnect
    joined(6, user(7, 'Ada')),               // Ada back after a server restart, never left
  ], { isMe });
  assert.deepEqual(rows.map((r) => r.type), ['events', 'message']);
  assert.equal(rows[0].text, 'Ada joined');
});

test('markers: "New messages" before the first unread, "Reconnected" after an id', () => {
  const ada = user(2, 'Ada');
  const rows = chatRows([text(1, ada, 'a'), text(2, ada, 'b'), text(5, ada, 'c')], {
    isMe, divider: 2, markers: [{ after: 2, text: 'Reconnected', key: 'r0', kind: 'reconnected' }],
  });
  assert.deepEqual(rows.map((r) => r.type === 'marker' ? r.marker : r.message.id), [1, 'new', 2, 'reconnected', 5]);
});

test('links: http and https only, sentence punctuation left out, javascript: stays text', () => {
  assert.deepEqual(linkParts('see https://example.com/a?b=1. ok'), [
    { text: 'see ' }, { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' }, { text: '. ok' },
  ]);
  assert.deepEqual(linkParts('(https://en.wikipedia.org/wiki/Foo_(bar))').map((p) => p.href ?? null),
    [null, 'https://en.wikipedia.org/wiki/Foo_(bar)', null]);
  for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<b>x</b>', 'ftp://example.com/',
    'vbscript:msgbox(1)', 'javascript://example.com/%0aalert(1)']) {
    assert.deepEqual(linkParts(bad), [{ text: bad }], bad);
  }
  assert.equal(safeHref('javascript:alert(1)'), null);
  assert.equal(safeHref('http://x.test/'), 'http://x.test/');
  assert.deepEqual(linkParts('no links here'), [{ text: 'no links here' }]);
});

test('chat payloads from the package are checked before the views see them', () => {
  assert.equal(chatMessage(null), null);
  assert.equal(chatMessage({ id: 'x', user: { id: 1, name: 'a' }, text: 't' }), null);
  assert.equal(chatMessage({ id: 1, user: null, text: 't' }), null);
  assert.equal(chatMessage({ id: 1, user: { id: 1, name: 'a' } }), null, 'neither text nor event');
  assert.equal(chatMessage({ id: 1, user: { id: 1, name: 'a' }, event: 'exploded' }), null);
  assert.deepEqual(chatMessage({ id: 3, room: 7, ts: 9, user: { id: 1, name: 'a' }, text: 't', extra: 1 }),
    { id: 3, room: 7, ts: 9, user: { id: 1, name: 'a' }, text: 't' });
  assert.equal(chatMessage({ id: 3, room: null, ts: 9, user: { id: 1, name: 'a' }, text: 't', to: 2 }).to, 2);
});

test('live chat in today\'s shape and in the split one reaches the app the same way', () => {
  const listeners = new Map();
  const on = (event, fn) => listeners.set(event, fn);
  const got = [];
  const pages = [];
  listenToChat(on, { onMessage: (m) => got.push(m), onHistory: (list) => pages.push(list) });
  const ada = user(2, 'Ada');
  listeners.get('chat_message')({ message: text(1, ada, 'today') });
  listeners.get('chat_event')({ event: joined(2, ada) });
  listeners.get('private_message')({ ...text(3, ada, 'flat'), room: null, to: 1 });
  listeners.get('chat_message')({ message: { id: 4, text: 'no user' } });
  assert.deepEqual(got.map((m) => [m.id, m.text ?? m.event]), [[1, 'today'], [2, 'user_joined'], [3, 'flat']]);
  listeners.get('chat_history')({ messages: [text(5, ada, 'a'), { junk: true }] });
  assert.deepEqual(pages.map((p) => p.map((m) => m.id)), [[5]]);
});

test('an older page: from the ack where the package gives it, else from its history event', async () => {
  const ada = user(2, 'Ada');
  const split = { on: () => () => {}, chat: { history: async () => ({ messages: [text(7, ada, 'x')], hasMore: false }) } };
  assert.deepEqual(await fetchOlder(split, 10, 50), { messages: [text(7, ada, 'x')], hasMore: false });

  // Today: the event (everything the agent holds) comes before the ack; the page is what is older.
  let listener;
  const today = {
    on: (event, fn) => { listener = fn; return () => { listener = null; }; },
    chat: { history: async ({ before, limit }) => {
      listener({ messages: [text(3, ada, 'old'), text(4, ada, 'old too'), text(10, ada, 'shown')] });
      assert.deepEqual({ before, limit }, { before: 10, limit: 2 });
      return { ok: true };
    } },
  };
  const page = await fetchOlder(today, 10, 2);
  assert.deepEqual(page.messages.map((m) => m.id), [3, 4]);
  assert.equal(page.hasMore, true, 'a full page may have more before it');
  assert.equal(listener, null, 'the listener is gone');
});
