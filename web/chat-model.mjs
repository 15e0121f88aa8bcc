// What the chat log shows, as plain data (no DOM, so Node can test it): the
// messages in id order, runs of join and leave events collapsed into one line
// ("Ada, Bo and 3 others joined"), our own joins and leaves left out (a
// reconnect would otherwise replay them), the join of someone the log never saw
// leave left out too (they reconnected), and markers ("New messages",
// "Reconnected") between them. Also the splitting of text into plain parts and
// links.

const MAX_NAMED = 2;  // names spelled out in a summary; the rest are "N others"

/** "Ada", "Ada and Bo", "Ada, Bo and Cy", "Ada, Bo and 3 others". */
export function nameList(names) {
  if (names.length <= 1) return names[0] ?? '';
  if (names.length <= MAX_NAMED + 1) return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  const rest = names.length - MAX_NAMED;
  return `${names.slice(0, MAX_NAMED).join(', ')} and ${rest} others`;
}

/**
 * One line for a run of join/leave events. Per person the run's first and last
 * event decide: joined, left, or left and came back ("rejoined").
 */
export function summarizeEvents(events) {
  // By name: a reconnect gives the same person a new id.
  const people = new Map();  // name -> {name, first, last}
  for (const e of events) {
    const name = e.user?.name || 'Someone';
    const p = people.get(name) ?? { name, first: e.event };
    p.last = e.event;
    people.set(name, p);
  }
  const groups = { joined: [], rejoined: [], left: [] };
  for (const p of people.values()) {
    if (p.last === 'user_left') groups.left.push(p.name);
    else if (p.first === 'user_left') groups.rejoined.push(p.name);
    else groups.joined.push(p.name);
  }
  return Object.entries(groups).filter(([, names]) => names.length)
    .map(([verb, names]) => `${nameList(names)} ${verb}`).join(' · ');
}

const isMembership = (m) => m.event === 'user_joined' || m.event === 'user_left';

/**
 * The rows of the log. `messages`: sorted by id. `isMe(user)`: whether a user is
 * us. `divider`: the id of the first unread message (a "New messages" line goes
 * before it), or null. `markers`: [{after: id, text, key}] lines after a message
 * id (e.g. "Reconnected"). Rows: {key, sig, type: 'message'|'events'|'marker', …};
 * `sig` changes whenever the row's content does.
 */
export function chatRows(messages, { isMe, divider = null, markers = [] }) {
  const rows = [];
  const pending = [...markers].sort((a, b) => a.after - b.after);
  let run = null;  // the events row being collected
  const present = new Set();  // names in the room as far as the log tells
  const closeRun = () => {
    if (!run) return;
    const last = run.events.at(-1);
    run.text = summarizeEvents(run.events);
    run.ts = last.ts;
    const kinds = new Set(run.events.map((e) => e.event));
    run.event = kinds.size === 1 ? last.event : 'mixed';
    run.sig = `${run.events.map((e) => e.id).join(',')}`;
    run.names = [...new Set(run.events.map((e) => e.user?.name || 'Someone'))];
    rows.push(run);
    run = null;
  };
  const emitMarkersBefore = (id) => {
    while (pending.length && pending[0].after < id) {
      closeRun();
      const mk = pending.shift();
      rows.push({ type: 'marker', key: mk.key, sig: mk.text, text: mk.text, marker: mk.kind ?? 'marker' });
    }
  };
  for (const m of messages) {
    emitMarkersBefore(m.id);
    if (divider !== null && m.id === divider) {
      closeRun();
      rows.push({ type: 'marker', key: `new-${m.id}`, sig: 'new', text: 'New messages', marker: 'new' });
    }
    if (isMembership(m)) {
      if (isMe(m.user)) continue;  // ours: a reconnect makes pairs of these; the "Reconnected" line says it
      // A join of someone who never left is a reconnect (the server restarted, say): not news.
      const name = m.user?.name ?? '';
      if (m.event === 'user_left') present.delete(name);
      else if (present.has(name)) continue;
      else present.add(name);
      run ??= { type: 'events', key: `events-${m.id}`, id: m.id, events: [] };
      run.events.push(m);
      continue;
    }
    closeRun();
    rows.push({ type: 'message', key: `m-${m.id}`, sig: String(m.id), message: m });
  }
  closeRun();
  emitMarkersBefore(Infinity);
  return rows;
}

// --- links -------------------------------------------------------------------

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'")\]}>]+$/;  // sentence punctuation after a link is not part of it

/** Whether `href` is a link we make clickable: http or https only. */
export function safeHref(href) {
  try {
    const url = new URL(href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

const count = (s, c) => s.split(c).length - 1;

/** Splits text into [{text}] and [{text, href}] parts; only http(s) URLs become links. */
export function linkParts(text) {
  const parts = [];
  let at = 0;
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0].replace(TRAILING, '');
    // A closing bracket that belongs to the URL stays ("…/Foo_(bar)").
    if (match[0][raw.length] === ')' && count(raw, '(') > count(raw, ')')) raw += ')';
    const href = safeHref(raw);
    if (!href) continue;
    if (match.index > at) parts.push({ text: text.slice(at, match.index) });
    parts.push({ text: raw, href });
    at = match.index + raw.length;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}
