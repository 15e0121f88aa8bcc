// One chat message as a list item. Everything from users goes in via textContent.

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

const EVENT_TEXT = { user_joined: 'joined', user_left: 'left' };

/** ctx: {isMe(user): whether a message's user is us, names: Map id -> name}. */
export function messageElement(m, { isMe, names }) {
  const li = el('li', 'msg');
  li.dataset.testid = 'chat-message';
  li.dataset.id = String(m.id);
  const mine = isMe(m.user);

  if (m.event === 'user_joined' || m.event === 'user_left') {
    li.classList.add('msg--event');
    li.dataset.kind = 'event';
    li.dataset.event = m.event;
    const who = mine ? 'You' : m.user?.name ?? 'Someone';
    li.append(el('span', 'msg__event', `${who} ${EVENT_TEXT[m.event]}`), timeElement(m.ts));
    return li;
  }
  if (m.event === 'announcement') {
    li.classList.add('msg--announcement');
    li.dataset.kind = 'announcement';
    const meta = el('div', 'msg__meta');
    meta.append(el('span', 'msg__tag', 'Announcement'), timeElement(m.ts));
    li.append(meta, el('p', 'msg__text', m.text ?? ''));
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
  li.append(meta, el('p', 'msg__text', m.text ?? ''));
  return li;
}
