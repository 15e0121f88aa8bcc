// The COMPEIT web app: rooms, members, chat, video and polls on top of the WebAssembly
// connection agent (/wasm/compeit.mjs). User text only ever reaches the page
// through textContent.
import { ChatLog } from './chat-log.mjs';
import { listenToChat, fetchOlder } from './chat-source.mjs';
import { Typing } from './typing.mjs';
import { Attention } from './attention.mjs';
import { showFieldError, clearFieldError } from './field-error.mjs';
import { VideoCall } from './video-call.mjs';
import { DevicePanel } from './devices.mjs';
import { PollPanel } from './poll-panel.mjs';
import { requestErrorFilter } from './request-errors.mjs';
import { joinLink, allowsRoom, linkHash } from './join-link.mjs';

const $ = (id) => document.getElementById(id);
const NAME_KEY = 'compeit.name';

const state = {
  ca: null,            // the current agent
  name: '',            // the name it connected with
  room: null,          // the room we are in, or null
  members: new Map(),  // id -> user, in join order
  me: new Set(),       // "id:name" of every identity we had (a reconnect gives a new id)
  names: new Map(),    // id -> name, for private messages to people who left
  privateTo: null,     // user we write to privately, or null
  online: false,
  failed: false,       // the agent gave up reconnecting
  link: null,          // the join link (#token=...) the page was opened with, or null
};

// --- feedback ----------------------------------------------------------------

let errorTimer = null;
function showError(text, code = '') {
  $('error-text').textContent = text;
  $('error-banner').dataset.code = code;
  $('error-banner').hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(hideError, 10000);
}
function hideError() { $('error-banner').hidden = true; }

let connTimer = null;
function showConnection(kind, text, { reload = false } = {}) {
  clearTimeout(connTimer);
  const banner = $('conn-banner');
  banner.className = `banner banner--${kind}`;
  banner.dataset.state = kind;
  $('conn-text').textContent = text;
  $('reload-button').hidden = !reload;
  banner.hidden = false;
  if (kind === 'ok') connTimer = setTimeout(() => { banner.hidden = true; }, 4000);
}

function setOnline(online) {
  state.online = online;
  $('conn-dot').classList.toggle('dot--off', !online);
  $('conn-dot').title = online ? 'Connected' : 'Not connected';
  $('send-button').disabled = !online;
}

const REASONS = {
  too_large: 'it is too long',
  rate_limited: 'you are sending too fast; wait a moment',
  room_full: 'the room is full',
  not_in_room: 'you are not in a room',
  unknown_user: 'that person is no longer connected',
  unavailable: 'the chat store is unavailable; try again',
  bad_request: 'the server could not read the request',
  disconnected: 'the connection was lost',
  not_connected: 'not connected to the server',
  connect_failed: 'could not reach the server',
  forbidden: 'your link does not allow that',
  unauthorized: 'the server refused your link: it may have expired or be for another server. Ask for a new link',
  no_link: 'this server needs an invitation link (…#token=…). Ask whoever runs it for one',
};
const ACTIONS = {
  join_room: 'Could not join the room',
  leave_room: 'Could not leave the room',
  room_message: 'Message not sent',
  server_message: 'Message not sent',
};
function explain(event, code, message) {
  const action = ACTIONS[event] ?? 'Request failed';
  return `${action}: ${REASONS[code] ?? message ?? code}.`;
}
// request_errors of the video call's requests are the call's to explain (request-errors.mjs).
const requestErrors = requestErrorFilter(({ event, code, message }) => showError(explain(event, code, message), code));

// A failed request: the agent rejects its promise and sends no request_error for it.
function onFailure(what, e) {
  if (e?.code === 'unauthorized') {
    // A refused token will not get better by retrying.
    dropAgent();
    const code = state.link ? 'unauthorized' : 'no_link';
    return showError(`${what}: ${REASONS[code]}.`, code);
  }
  showError(`${what}: ${REASONS[e?.code] ?? e?.message ?? String(e)}.`, e?.code ?? 'error');
}

// --- views -----------------------------------------------------------------------

function showRoom(inRoom) {
  $('lobby').hidden = inRoom;
  $('room').hidden = !inRoom;
  $('room-title').textContent = inRoom ? `Room ${state.room}` : '';
  attention.title = inRoom ? `Room ${state.room} · COMPEIT` : 'COMPEIT';
  if (inRoom) $('message-input').focus();
  else $('room-input').focus();
}

function renderMembers() {
  const list = $('member-list');
  list.replaceChildren();
  for (const user of state.members.values()) {
    const li = document.createElement('li');
    const mine = user.id === state.ca?.user?.id;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'member';
    button.dataset.testid = 'member';
    button.dataset.userId = String(user.id);
    const avatar = document.createElement('span');
    avatar.className = 'avatar';
    avatar.setAttribute('aria-hidden', 'true');
    avatar.textContent = (user.name.trim()[0] ?? '?').toUpperCase();
    avatar.style.setProperty('--hue', String(hue(user.name)));
    const name = document.createElement('span');
    name.className = 'member__name';
    name.textContent = user.name;
    button.append(avatar, name);
    if (mine) {
      const you = document.createElement('span');
      you.className = 'muted';
      you.textContent = ' (you)';
      name.append(you);
      button.disabled = true;
    } else {
      button.setAttribute('aria-pressed', String(state.privateTo?.id === user.id));
      button.title = `Message ${user.name} privately`;
      button.addEventListener('click', () => setPrivate(state.privateTo?.id === user.id ? null : user));
    }
    li.append(button);
    list.append(li);
  }
  $('member-count').textContent = `(${state.members.size})`;
  call.render();  // tiles show member names
}

function hue(name) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

function setPrivate(user) {
  state.privateTo = user;
  $('private-chip').hidden = !user;
  $('private-name').textContent = user?.name ?? '';
  $('composer').classList.toggle('composer--private', !!user);
  const label = user ? `Private message to ${user.name}` : 'Message to the room';
  $('message-label').textContent = label;
  $('message-input').placeholder = user ? `Message ${user.name} privately` : 'Message the room';
  renderMembers();
  $('message-input').focus();
}

// --- video ---------------------------------------------------------------------

const nameOf = (id) => state.members.get(id)?.name ?? state.names.get(id) ?? (id === state.ca?.user?.id ? state.name : `User ${id}`);
const call = new VideoCall({
  room: $('room'),
  grid: $('video-grid'),
  fold: $('grid-toggle'),
  camera: $('camera-button'),
  video: $('video-button'),
  audio: $('audio-button'),
  screen: $('screen-button'),
  record: $('record-button'),
  filter: $('filter-select'),
  status: $('call-status'),
  nameOf,
  showError,
  claimError: requestErrors.claim,
});
new DevicePanel({
  button: $('devices-button'),
  panel: $('devices'),
  preview: $('devices-preview'),
  camera: $('camera-select'),
  mic: $('mic-select'),
  speaker: $('speaker-select'),
  speakerLabel: $('speaker-label'),
  level: $('mic-level'),
  status: $('devices-status'),
  done: $('devices-done'),
}, call);

// --- polls -------------------------------------------------------------------------

const polls = new PollPanel({
  form: {
    toggle: $('poll-button'),
    form: $('poll-form'),
    question: $('poll-question'),
    options: $('poll-options'),
    add: $('poll-add'),
    cancel: $('poll-cancel'),
    submit: $('poll-submit'),
    status: $('poll-status'),
  },
  list: $('poll-list'),
  showError,
  claimError: requestErrors.claim,
});

// --- chat ----------------------------------------------------------------------

const isMe = (user) => !!user && state.me.has(`${user.id}:${user.name}`);
const attention = new Attention({ onBack: () => chat.present() });
const chat = new ChatLog({
  log: $('chat-log'),
  jump: $('jump-button'),
  loading: $('chat-loading'),
  context: () => ({ isMe, names: state.names }),
  loadOlder: (before) => fetchOlder(state.ca, before),
  isAway: () => attention.away,
});
const typing = new Typing({
  line: $('typing-line'),
  nameOf: (id) => state.members.get(id)?.name ?? null,
});

function onChatMessage(m) {
  if (m.room !== null && m.room !== state.room) return;
  if (m.user) state.names.set(m.user.id, m.user.name);
  typing.done(m.user.id);
  if (!chat.addLive(m)) return;
  const fromOthers = !isMe(m.user) && m.event !== 'user_joined' && m.event !== 'user_left';
  if (fromOthers) attention.arrived();
}

function onChatHistory(messages) {
  for (const m of messages) if (m.user) state.names.set(m.user.id, m.user.name);
  chat.addHistory(messages);
}

// --- the agent -------------------------------------------------------------------

function wire(ca) {
  const on = (event, fn) => ca.on(event, (payload) => { if (state.ca === ca) fn(payload ?? {}); });
  on('connected', ({ user }) => { setOnline(true); showMe(user); });
  on('reconnected', ({ user }) => {
    setOnline(true);
    showMe(user);
    showConnection('ok', 'Reconnected');
    if (state.room !== null) chat.markReconnected();
  });
  on('disconnect', ({ reason }) => {
    setOnline(false);
    if (reason !== 'client') showConnection('warn', 'Connection lost. Reconnecting…');
  });
  on('reconnecting', ({ attempt }) => {
    setOnline(false);
    showConnection('warn', attempt > 1 ? `Reconnecting… (attempt ${attempt})` : 'Reconnecting…');
  });
  on('reconnect_failed', () => {
    state.failed = true;
    setOnline(false);
    showConnection('error', 'Could not reconnect to the server.', { reload: true });
  });
  on('room_joined', ({ room, users }) => {
    state.room = room;
    state.members = new Map(users.map((u) => [u.id, u]));
    for (const u of users) state.names.set(u.id, u.name);
    if (state.privateTo && !state.members.has(state.privateTo.id)) setPrivate(null);
    renderMembers();
  });
  on('user_joined', ({ user }) => {
    state.members.set(user.id, user);
    state.names.set(user.id, user.name);
    renderMembers();
  });
  on('user_left', ({ user }) => {
    state.members.delete(user.id);
    typing.done(user.id);
    if (state.privateTo?.id === user.id) setPrivate(null);
    renderMembers();
  });
  on('room_left', () => {
    state.room = null;
    state.members.clear();
  });
  on('request_error', requestErrors.onRequestError);
  listenToChat(on, { onMessage: onChatMessage, onHistory: onChatHistory });
}

function showMe(user) {
  state.me.add(`${user.id}:${user.name}`);
  $('me').hidden = false;
  $('me-name').textContent = user.name;
}

function dropAgent() {
  call.attach(null);
  polls.attach(null);
  typing.attach(null);
  state.ca?.disconnect();
  state.ca = null;
  clearTimeout(connTimer);
  $('conn-banner').hidden = true;
}

async function agentFor(name) {
  if (state.ca && state.name === name && !state.failed) return state.ca;
  call.attach(null);  // the call goes with the old agent
  state.ca?.disconnect();
  const { createConnectionAgent } = await import('/wasm/compeit.mjs');
  const ca = await createConnectionAgent();
  state.ca = ca;
  state.failed = false;
  state.name = name;
  wire(ca);
  call.attach(ca);
  polls.attach(ca);
  typing.attach(ca);
  await ca.connect(location.origin, { name, token: state.link?.token ?? '' });
  return ca;
}

// --- actions ---------------------------------------------------------------------

async function join(name, room) {
  const button = $('join-button');
  button.disabled = true;
  button.textContent = 'Joining…';
  hideError();
  try {
    if (state.link && !allowsRoom(state.link, room)) {
      showError(`Could not join the room: ${REASONS.forbidden} (room ${room}).`, 'forbidden');
      showFieldError($('room-input'), `Your link does not allow room ${room}.`);
      return;
    }
    const ca = await agentFor(name);
    if (!state.link) localStorage.setItem(NAME_KEY, name);
    chat.clear();
    typing.clear();
    polls.clear();
    state.privateTo = null;
    setPrivate(null);
    const joined = await ca.joinRoom(room);
    state.room = joined.room;
    history.replaceState(null, '', state.link ? linkHash(state.link, joined.room) : `#room=${joined.room}`);
    showRoom(true);
    chat.shown();
  } catch (e) {
    onFailure('Could not join the room', e);
  } finally {
    button.disabled = false;
    button.textContent = 'Join room';
  }
}

async function leave() {
  call.stop();  // camera off and our stream gone from the room before we go
  try {
    await state.ca?.leaveRoom();
  } catch (e) {
    // Offline: drop the connection, or the agent would rejoin the room once it is back.
    if (['disconnected', 'not_connected'].includes(e?.code)) dropAgent();
    else onFailure('Could not leave the room', e);
  }
  state.room = null;
  state.members.clear();
  chat.clear();
  typing.clear();
  polls.clear();
  history.replaceState(null, '', state.link ? linkHash(state.link, null) : location.pathname);
  showRoom(false);
}

async function send() {
  const input = $('message-input');
  const text = input.value.trim();
  if (!text || !state.ca) return;
  const to = state.privateTo;
  input.value = '';
  typing.stop();
  clearFieldError(input);
  try {
    if (to) await state.ca.chat.sendTo(to.id, text);
    else await state.ca.chat.send(text);
  } catch (e) {
    if (!input.value) input.value = text;  // give the text back so it can be fixed or resent
    // Said next to the field too, where the eyes (and the screen reader) are.
    if (['too_large', 'rate_limited', 'not_in_room', 'unknown_user'].includes(e?.code)) {
      showFieldError(input, `Not sent: ${REASONS[e.code]}.`, { after: input.parentElement });
    }
    onFailure('Message not sent', e);
  }
}

// --- start -----------------------------------------------------------------------

function parseRoom(value) {
  const n = Number(String(value).trim());
  return String(value).trim() !== '' && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

function start() {
  const nameInput = $('name-input');
  const roomInput = $('room-input');
  nameInput.value = localStorage.getItem(NAME_KEY) ?? '';
  state.link = joinLink(location.hash);
  if (state.link) {
    // The name is the link's: shown, not asked for.
    nameInput.value = state.link.name ?? '';
    nameInput.readOnly = true;
    $('link-note').hidden = false;
    if (state.link.malformed) showError('This invitation link is damaged: ask for a new one.', 'malformed_link');
    else if (state.link.expired) showError('This invitation link has expired: ask for a new one.', 'expired_link');
  }
  const hashRoom = parseRoom(new URLSearchParams(location.hash.slice(1)).get('room') ?? '');
  if (hashRoom !== null) roomInput.value = String(hashRoom);

  $('join-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = nameInput.value.trim();
    const room = parseRoom(roomInput.value);
    if (!name) return showFieldError(nameInput, 'Please enter your name.');
    if (room === null) return showFieldError(roomInput, 'The room number must be a whole number, 0 or more.');
    join(name, room);
  });
  $('composer').addEventListener('submit', (ev) => { ev.preventDefault(); send(); });
  $('message-input').addEventListener('input', (ev) => typing.input(ev.target.value.trim() !== '', !state.privateTo));
  $('composer').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && state.privateTo) { ev.preventDefault(); setPrivate(null); }
  });
  $('cancel-private').addEventListener('click', () => setPrivate(null));
  $('leave-button').addEventListener('click', leave);
  $('error-close').addEventListener('click', hideError);
  $('reload-button').addEventListener('click', () => location.reload());

  const usable = !state.link || (!state.link.malformed && !state.link.expired);
  if (usable && nameInput.value && hashRoom !== null) join(nameInput.value, hashRoom);  // back where we were
  else (nameInput.value ? roomInput : nameInput).focus();
}

start();
