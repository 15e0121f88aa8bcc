// "Ada is typing…": a room message of its own type, `typing`, that the server
// relays to the other members and does not store (docs/protocol.md CA-9). We
// send {typing: true} at most every SEND_EVERY ms while the composer has text,
// and {typing: false} when it is sent or emptied; a member shows as typing until
// their message comes, their false, or SHOW_FOR ms without news.

export const TYPE = 'typing';
const SEND_EVERY = 3000;
const SHOW_FOR = 5000;

export class Typing {
  #port = null;        // the agent's send functions for TYPE
  #lastSent = 0;       // when we last said {typing: true}
  #announced = false;  // the others think we are typing
  #typists = new Map(); // user id -> expiry timer
  #line;               // the element that says who is typing
  #nameOf;             // id -> name, or null for someone not in the room

  constructor({ line, nameOf }) {
    this.#line = line;
    this.#nameOf = nameOf;
  }

  /** Registers the type on a (new) agent; the previous agent's typists are forgotten. */
  attach(ca) {
    this.clear();
    this.#port = ca ? ca.register(TYPE, { onRoomMessage: (from, data) => this.#received(from, data) }) : null;
  }

  /** The composer's text changed. `toRoom`: it is a room message (private ones are not announced). */
  input(hasText, toRoom) {
    if (!hasText || !toRoom) return this.stop();
    const now = performance.now();
    if (this.#announced && now - this.#lastSent < SEND_EVERY) return;
    this.#lastSent = now;
    this.#announced = true;
    this.#send(true);
  }

  /** Our message went out, or the text is gone. */
  stop() {
    if (!this.#announced) return;
    this.#announced = false;
    this.#send(false);
  }

  /** `user` wrote a message or left: no longer typing. */
  done(userId) {
    clearTimeout(this.#typists.get(userId));
    if (this.#typists.delete(userId)) this.#render();
  }

  clear() {
    for (const timer of this.#typists.values()) clearTimeout(timer);
    this.#typists.clear();
    this.#announced = false;
    this.#render();
  }

  #send(typing) {
    // Best effort: a lost indicator is not worth an error message.
    this.#port?.sendToRoom({ typing }).catch(() => {});
  }

  #received(from, data) {
    if (!Number.isSafeInteger(from) || from <= 0 || this.#nameOf(from) === null) return;  // only members
    if (data?.typing !== true) return this.done(from);
    clearTimeout(this.#typists.get(from));
    this.#typists.set(from, setTimeout(() => this.done(from), SHOW_FOR));
    this.#render();
  }

  #render() {
    const names = [...this.#typists.keys()].map((id) => this.#nameOf(id)).filter(Boolean);
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    this.#line.textContent = text;
    this.#line.dataset.count = String(names.length);
  }
}
