// The one place that knows how the connection agent delivers chat. Everything
// else in the app sees chat messages in one shape:
//   {id, room: number|null, ts, user: {id, name}, text?, to?, event?: 'user_joined'|'user_left'|'announcement'}
// (the Chat Agent's message, docs/protocol.md 3.1). A payload that does not fit
// is dropped here, so the views never meet a half-formed message.
//
// Today the package emits every live message as `chat_message` and every history
// page as `chat_history`, and chat.history() resolves with {ok: true}. The package
// is splitting live messages into `chat_message` (room text), `chat_event`
// (joined/left/announcement) and `private_message`, and history() is to resolve
// with {messages, hasMore}: both shapes are read here, so the split needs no
// change elsewhere.

/** Package events that carry one live chat message. */
const LIVE_EVENTS = ['chat_message', 'chat_event', 'private_message'];
const EVENTS = new Set(['user_joined', 'user_left', 'announcement']);
export const PAGE = 50;            // messages per history page
const HISTORY_TIMEOUT = 10_000;    // a page that does not come is given up on

const isId = (v) => Number.isSafeInteger(v) && v >= 0;

/** A chat message in the app's shape, or null when `raw` is not one. */
export function chatMessage(raw) {
  if (!raw || typeof raw !== 'object' || !isId(raw.id)) return null;
  const user = raw.user && typeof raw.user === 'object' && isId(raw.user.id)
    ? { id: raw.user.id, name: String(raw.user.name ?? '') } : null;
  if (!user) return null;
  const m = {
    id: raw.id,
    room: isId(raw.room) ? raw.room : null,
    ts: Number.isFinite(raw.ts) ? raw.ts : Date.now(),
    user,
  };
  if (typeof raw.text === 'string') m.text = raw.text;
  if (isId(raw.to)) m.to = raw.to;
  if (EVENTS.has(raw.event)) m.event = raw.event;
  if (m.text === undefined && !m.event) return null;
  return m;
}

const messagesOf = (list) => (Array.isArray(list) ? list.map(chatMessage).filter(Boolean) : []);

/**
 * Feeds the agent's chat into `onMessage(message)` (live) and `onHistory(messages)`
 * (a page of the room's history, oldest first). `on(event, fn)` subscribes to the
 * agent (the app's wrapper that drops events of a replaced agent).
 */
export function listenToChat(on, { onMessage, onHistory }) {
  for (const name of LIVE_EVENTS) {
    on(name, (payload) => {
      // {message} today; a flat message or {event} are read too, whichever the split brings.
      const m = [payload?.message, payload?.event, payload].map(chatMessage).find(Boolean);
      if (m) onMessage(m);
    });
  }
  on('chat_history', (payload) => onHistory(messagesOf(payload?.messages)));
}

/**
 * The page of history before message `before`: resolves with {messages, hasMore}
 * (messages oldest first). Today the page comes as a `chat_history` event before
 * the request's ack, and that event lists every message the agent holds for the
 * room, so the page is the part of it older than `before`. The page also reaches
 * onHistory that way; merging it twice is harmless.
 */
export async function fetchOlder(ca, before, limit = PAGE) {
  let latest = null;   // the newest chat_history event since the request
  let arrived = () => {};
  const off = ca.on('chat_history', (payload) => { latest = messagesOf(payload?.messages); arrived(); });
  let timer;
  try {
    const ack = await ca.chat.history({ before, limit });
    if (Array.isArray(ack?.messages)) {
      return { messages: messagesOf(ack.messages), hasMore: typeof ack.hasMore === 'boolean' ? ack.hasMore : ack.messages.length >= limit };
    }
    if (!latest) {
      await new Promise((resolve, reject) => {
        arrived = resolve;
        timer = setTimeout(() => reject(Object.assign(new Error('no history came'), { code: 'timeout' })), HISTORY_TIMEOUT);
      });
    }
    const messages = latest.filter((m) => m.id < before);
    return { messages, hasMore: messages.length >= limit };
  } finally {
    off();
    clearTimeout(timer);
  }
}
