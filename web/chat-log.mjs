// The chat log of the room page: keeps the messages (live ones and pages of
// history, merged by id, so a reconnect's history replays nothing), renders
// them as rows (chat-model.mjs) while reusing the nodes of unchanged rows (the
// aria-live log then announces only what is new), loads older history when the
// reader scrolls near the top, and stays pinned to the newest message whenever
// the layout changes (video starts, a phone keyboard opens, the phone turns)
// unless the reader scrolled up.
import { chatRows } from './chat-model.mjs';
import { rowElement } from './chat-view.mjs';
import { PAGE } from './chat-source.mjs';

const PIN_SLACK = 40;    // px from the bottom that still count as "at the newest message"
const LOAD_MARGIN = 300; // px from the top at which the next older page is asked for
const MAX_KEPT = 3000;   // messages kept in the page; beyond, the oldest go (scrolling up brings them back)

export class ChatLog {
  #log;            // the <ol role="log">
  #jump;           // the "Jump to newest" button
  #loading;        // the "Loading earlier messages…" status
  #context;        // () => {isMe, names}
  #loadOlder;      // async (beforeId) => {messages, hasMore}
  #isAway;         // () => whether the reader is away (page hidden or not focused)
  #messages = new Map();
  #nodes = new Map();   // row key -> {node, sig}
  #markers = [];        // {after, text, key, kind}
  #divider = null;      // id of the first message the reader has not seen, or null
  #caughtUp = true;     // the reader has seen everything up to now
  #pinned = true;
  #height = 0;          // the log's height when last laid out (ResizeObserver)
  #hasMore = false;     // older history may exist
  #gotHistory = false;  // the room's first history page (on joining) came
  #fetching = false;
  #generation = 0;      // bumped by clear(): a page for an old room is dropped

  constructor({ log, jump, loading, context, loadOlder, isAway }) {
    this.#log = log;
    this.#jump = jump;
    this.#loading = loading;
    this.#context = context;
    this.#loadOlder = loadOlder;
    this.#isAway = isAway;
    log.addEventListener('scroll', () => this.#onScroll(), { passive: true });
    new ResizeObserver(() => {
      this.#height = log.clientHeight;
      if (this.#pinned) this.scrollToEnd();
    }).observe(log);
    jump.addEventListener('click', () => { this.scrollToEnd(); log.focus(); });
  }

  /** A new room: nothing shown, nothing older known yet. */
  clear() {
    this.#generation++;
    this.#messages.clear();
    this.#markers = [];
    this.#divider = null;
    this.#caughtUp = true;
    this.#hasMore = false;
    this.#gotHistory = false;
    this.#pinned = true;
    this.render();
  }

  /** A live message. Returns false for one already shown. */
  addLive(m) {
    if (this.#messages.has(m.id)) return false;
    this.#messages.set(m.id, m);
    const mine = this.#context().isMe(m.user);
    if (mine) {
      this.#divider = null;  // writing means the reader has caught up
      this.#pinned = true;
    } else if (this.#countsAsNew(m) && (this.#isAway() || !this.#pinned)) {
      if (this.#divider === null || this.#caughtUp) this.#divider = m.id;
      this.#caughtUp = false;
      if (!this.#pinned) this.#jump.hidden = false;
    }
    this.#trim();
    this.render();
    return true;
  }

  /** A long session would grow the log without end: while the reader is at the newest
   *  message, the oldest go (as unloaded history: scrolling up asks for them again). */
  #trim() {
    if (this.#messages.size <= MAX_KEPT || !this.#pinned) return;
    const ids = [...this.#messages.keys()].sort((a, b) => a - b);
    for (const id of ids.slice(0, ids.length - MAX_KEPT)) this.#messages.delete(id);
    this.#hasMore = true;
  }

  /** A page of room history (oldest first): merged, nothing shown twice. */
  addHistory(messages) {
    for (const m of messages) if (!this.#messages.has(m.id)) this.#messages.set(m.id, m);
    // The page sent on joining is the newest PAGE messages: a full one may have more before it.
    if (!this.#gotHistory) this.#hasMore = messages.length >= PAGE;
    this.#gotHistory = true;
    this.render();
    this.#maybeLoadOlder();
  }

  /** A "Reconnected" line after what is shown now; history that comes after it merges below. */
  markReconnected() {
    const after = Math.max(-1, ...this.#messages.keys());
    this.#markers.push({ after, text: 'Reconnected', key: `reconnected-${this.#markers.length}`, kind: 'reconnected' });
    this.render();
  }

  /** The reader is back (page visible and focused): what they see now counts as seen. */
  present() {
    if (this.#pinned) this.#caughtUp = true;
  }

  /** The log became visible: newest message in view, and older ones if the view is not full. */
  shown() {
    this.scrollToEnd();
    this.#maybeLoadOlder();
  }

  scrollToEnd() {
    this.#log.scrollTop = this.#log.scrollHeight;
    this.#pinned = true;
    this.#jump.hidden = true;
  }

  render() {
    const log = this.#log;
    const anchor = this.#pinned ? null : this.#firstVisible();
    const anchorOffset = anchor ? anchor.offsetTop - log.scrollTop : 0;

    const sorted = [...this.#messages.values()].sort((a, b) => a.id - b.id);
    const rows = chatRows(sorted, { ...this.#context(), divider: this.#divider, markers: this.#markers });
    if (!this.#hasMore && sorted.length) {
      rows.unshift({ type: 'marker', key: 'start', sig: 'start', text: 'Start of the conversation', marker: 'start' });
    }
    const wanted = rows.map((row) => this.#nodeFor(row));
    const keep = new Set(wanted);
    for (const [key, { node }] of this.#nodes) {
      if (!keep.has(node)) { node.remove(); this.#nodes.delete(key); }
    }
    // Insert new nodes in place; nodes already in order stay untouched.
    let cursor = log.firstElementChild;
    for (const node of wanted) {
      if (node === cursor) { cursor = cursor.nextElementSibling; continue; }
      log.insertBefore(node, cursor);
    }

    if (this.#pinned) this.scrollToEnd();
    else if (anchor?.isConnected) log.scrollTop = anchor.offsetTop - anchorOffset;
  }

  #nodeFor(row) {
    const known = this.#nodes.get(row.key);
    if (known && known.sig === row.sig) return known.node;
    const node = rowElement(row, this.#context());
    known?.node.remove();
    this.#nodes.set(row.key, { node, sig: row.sig });
    return node;
  }

  #firstVisible() {
    const top = this.#log.scrollTop;
    for (const node of this.#log.children) if (node.offsetTop + node.offsetHeight > top) return node;
    return null;
  }

  #countsAsNew(m) { return m.event !== 'user_joined' && m.event !== 'user_left'; }

  #onScroll() {
    const log = this.#log;
    // A scroll the layout caused (the log got shorter and the browser clamped it) is not
    // the reader's: it neither pins nor unpins. Scroll events run before ResizeObserver
    // callbacks, so the height differs from the last one seen exactly then.
    if (log.clientHeight !== this.#height) {
      if (this.#pinned) this.scrollToEnd();
      return;
    }
    this.#pinned = log.scrollHeight - log.scrollTop - log.clientHeight < PIN_SLACK;
    if (this.#pinned) {
      this.#jump.hidden = true;
      if (!this.#isAway()) this.#caughtUp = true;
    }
    this.#maybeLoadOlder();
  }

  async #maybeLoadOlder() {
    const log = this.#log;
    if (!this.#hasMore || this.#fetching || !log.clientHeight || log.scrollTop > LOAD_MARGIN) return;
    const roomIds = [...this.#messages.values()].filter((m) => m.room !== null).map((m) => m.id);
    if (!roomIds.length) return;
    const generation = this.#generation;
    this.#fetching = true;
    this.#loading.hidden = false;
    log.setAttribute('aria-busy', 'true');
    let loaded = false;
    try {
      const { messages, hasMore } = await this.#loadOlder(Math.min(...roomIds));
      if (generation !== this.#generation) return;
      this.#hasMore = hasMore;
      for (const m of messages) if (!this.#messages.has(m.id)) this.#messages.set(m.id, m);
      loaded = true;
    } catch {
      // Offline or a refused request: the next scroll asks again.
    } finally {
      this.#fetching = false;
      this.#loading.hidden = true;
      log.removeAttribute('aria-busy');
    }
    if (!loaded) return;
    this.render();
    this.#maybeLoadOlder();  // still near the top (a short page, or a fast reader)
  }
}
