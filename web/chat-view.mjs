// The DOM of one chat-log row (chat-model.mjs): a message, a collapsed line of
// joins and leaves, or a marker. Everything from users goes in via textContent;
// links are <a> elements built here, for http(s) URLs only.
import { linkParts } from './chat-model.mjs';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeElement(ts) {
  const date = new Date(ts);
  const time = el('time', 'msg__time', date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  time.dateTime = date.toISOString();
  time.title = date.toLocaleString();
  return time;
}

/** The text of a message, its http(s) URLs as links that open in a new tab. */
export function textElement(text) {
  const p = el('p', 'msg__text');
  for (const part of linkParts(text)) {
    if (!part.href) { p.append(part.text); continue; }
    const a = el('a', 'msg__link', part.text);
    a.href = part.href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    p.append(a);
  }
  return p;
}

/** ctx: {isMe(user): whether a message's user is us, names: Map id -> name}. */
export function rowElement(row, ctx) {
  if (row.type === 'events') return eventsElement(row);
  if (row.type === 'marker') return markerElement(row);
  return messageElement(row.message, ctx);
}

function eventsElement(row) {
  const li = el('li', 'msg msg--event');
  li.dataset.testid = 'chat-message';
  li.dataset.kind = 'event';
  li.dataset.event = row.event;
  li.dataset.id = String(row.id);
  li.append(el('span', 'msg__event', row.text), timeElement(row.ts));
  if (row.names.length > 3) li.title = row.names.join(', ');
  return li;
}

function markerElement(row) {
  const li = el('li', `marker marker--${row.marker}`);
  li.dataset.testid = `marker-${row.marker}`;
  li.append(el('span', 'marker__text', row.text));
  return li;
}

function messageElement(m, { isMe, names }) {
  const li = el('li', 'msg');
  li.dataset.testid = 'chat-message';
  li.dataset.id = String(m.id);
  const mine = isMe(m.user);

  if (m.event === 'announcement') {
    li.classList.add('msg--announcement');
    li.dataset.kind = 'announcement';
    const meta = el('div', 'msg__meta');
    meta.append(el('span', 'msg__tag', 'Announcement'), timeElement(m.ts));
    li.append(meta, textElement(m.text ?? ''));
    return li;
  }

  const isPrivate = m.room === null || m.room === undefined;
  li.dataset.kind = isPrivate ? 'private' : 'text';
  if (mine) li.classList.add('msg--mine');
  if (isPrivate) li.classList.add('msg--private');
  const meta = el('div', 'msg__meta');
  meta.append(el('span', 'msg__author', mine ? 'You' : m.user?.name ?? 'Someone'));
  if (isPrivate) {
    const other = mine ? `to ${names.get(m.to) ?? `user ${m.to}`}` : 'to you';
    meta.append(el('span', 'msg__tag', `Private ${other}`));
  }
  meta.append(timeElement(m.ts));
  li.append(meta, textElement(m.text ?? ''));
  return li;
}
