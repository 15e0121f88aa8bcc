// The room's polls, served by the poll agent (examples/agents/poll, an external
// agent over the agent link) through the connection agent's generic path:
// ca.register('poll') sends server_message {type:'poll'} and receives the poll
// messages the agent posts to the room (room_message {from:0}).
//
// The agent's messages do not say who opened a poll, so the panel remembers
// the polls it opened: the first new poll with our question and options while
// our open is pending (the agent posts a poll before it answers the open). Our
// own vote is remembered the same way, from our clicks.
// Without a poll agent, open fails with unknown_type: the form says so and the
// Poll button goes away.
import { pollElement, updatePoll } from './poll-view.mjs';

const MIN_OPTIONS = 2;
const MAX_OPTIONS = 6;
const MAX_POLLS = 20;  // shown at once; the oldest go first
const UNAVAILABLE = 'Polls are not available on this server.';

const REASONS = {
  unknown_type: 'polls are not available on this server',
  unavailable: 'the poll service did not answer; try again',
  not_in_room: 'you are not in a room',
  rate_limited: 'you are sending too fast; wait a moment',
  disconnected: 'the connection was lost',
  not_connected: 'not connected to the server',
};
const reason = (e) => REASONS[e?.code] ?? e?.message ?? String(e);

const isText = (s) => typeof s === 'string' && s.length > 0;
const isCount = (n) => Number.isInteger(n) && n >= 0;
/** The poll in a message from the agent, or null when it is not one. */
function readPoll(from, data) {
  if (from !== 0 || data?.action !== 'poll' || !Number.isInteger(data.id) || !isText(data.question)) return null;
  const { options, votes } = data;
  if (!Array.isArray(options) || !options.every(isText) || !Array.isArray(votes) || !votes.every(isCount)) return null;
  if (options.length !== votes.length) return null;
  return { id: data.id, question: data.question, options, votes, closed: data.closed === true };
}

export class PollPanel {
  #port = null;           // ca.register('poll', ...) of the current agent
  #el;                    // {toggle, form, question, options, add, cancel, submit, status, list}
  #showError;
  #claimError;
  #polls = new Map();     // id -> {poll, li, myVote, opener, closing}
  #opening = null;        // {question, options} while our open is pending

  constructor({ showError, claimError = () => {}, ...el }) {
    this.#el = el;
    this.#showError = showError;
    this.#claimError = claimError;
    el.toggle.addEventListener('click', () => (el.form.hidden ? this.#openForm() : this.#closeForm()));
    el.cancel.addEventListener('click', () => this.#closeForm());
    el.add.addEventListener('click', () => { this.#addOption(''); this.#optionInputs().at(-1).focus(); });
    el.form.addEventListener('submit', (ev) => { ev.preventDefault(); this.#open(); });
    el.form.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { ev.preventDefault(); this.#closeForm(); } });
  }

  /** The panel follows `ca` (or nothing); a new agent may find polls again. */
  attach(ca) {
    this.#port = ca?.register('poll', { onRoomMessage: (from, data) => this.#received(readPoll(from, data)) }) ?? null;
    this.#el.toggle.hidden = false;
    this.clear();
  }

  /** Forgets the polls shown (we left the room, or joined another). */
  clear() {
    this.#polls.clear();
    this.#opening = null;
    this.#el.list.replaceChildren();
    this.#el.list.hidden = true;
    this.#closeForm({ focus: false });
  }

  // --- the form ----------------------------------------------------------------

  #optionInputs() { return [...this.#el.options.querySelectorAll('input')]; }

  #openForm() {
    const { form, question, toggle } = this.#el;
    question.value = '';
    this.#el.options.replaceChildren();
    for (let i = 0; i < MIN_OPTIONS; i++) this.#addOption('');
    this.#setStatus('');
    this.#el.submit.disabled = false;
    form.hidden = false;
    toggle.setAttribute('aria-expanded', 'true');
    question.focus();
  }

  #closeForm({ focus = true } = {}) {
    const { form, toggle } = this.#el;
    const wasOpen = !form.hidden;
    form.hidden = true;
    toggle.setAttribute('aria-expanded', 'false');
    if (focus && wasOpen && !toggle.hidden) toggle.focus();
  }

  #addOption(value) {
    const inputs = this.#optionInputs();
    if (inputs.length >= MAX_OPTIONS) return;
    const n = inputs.length + 1;
    const row = document.createElement('div');
    row.className = 'poll-form__option';
    const label = document.createElement('label');
    label.htmlFor = `poll-option-${n}`;
    label.textContent = `Option ${n}`;
    const input = document.createElement('input');
    Object.assign(input, { id: `poll-option-${n}`, maxLength: 100, autocomplete: 'off', value });
    row.append(label, input);
    this.#el.options.append(row);
    this.#el.add.disabled = n >= MAX_OPTIONS;
  }

  #setStatus(text) { this.#el.status.textContent = text; }

  async #open() {
    const question = this.#el.question.value.trim();
    const options = this.#optionInputs().map((i) => i.value.trim()).filter(Boolean);
    if (!question) { this.#setStatus('Write a question.'); return this.#el.question.focus(); }
    if (options.length < MIN_OPTIONS) {
      this.#setStatus(`Give at least ${MIN_OPTIONS} options.`);
      return this.#optionInputs().find((i) => !i.value.trim())?.focus();
    }
    if (!this.#port) return this.#setStatus(`Could not open the poll: ${REASONS.not_connected}.`);
    this.#el.submit.disabled = true;
    this.#setStatus('Opening…');
    this.#opening = { question, options };
    try {
      await this.#send({ action: 'open', question, options });
      this.#closeForm();
    } catch (e) {
      if (e?.code === 'unknown_type') {
        this.#el.toggle.hidden = true;  // for as long as this page talks to this server
        this.#setStatus(UNAVAILABLE);
      } else {
        this.#el.submit.disabled = false;
        this.#setStatus(`Could not open the poll: ${reason(e)}.`);
      }
    } finally {
      this.#opening = null;
    }
  }

  // --- polls -------------------------------------------------------------------

  /** Sends to the poll agent; its request_error is ours to explain, not the app's. */
  async #send(data) {
    try {
      return await this.#port.sendToServer(data);
    } catch (e) {
      if (e?.code) this.#claimError(e.code, e.message);
      throw e;
    }
  }

  #received(poll) {
    if (!poll) return;
    let entry = this.#polls.get(poll.id);
    if (!entry) {
      const o = this.#opening;
      const opener = !!o && o.question === poll.question && o.options.join('\n') === poll.options.join('\n');
      if (opener) this.#opening = null;
      const li = pollElement(poll, { onVote: (i) => this.#vote(poll.id, i), onClose: () => this.#close(poll.id) });
      entry = { poll, li, myVote: undefined, opener, closing: false };
      this.#polls.set(poll.id, entry);
      this.#el.list.append(li);
      this.#el.list.hidden = false;
      for (const [id, old] of this.#polls) {
        if (this.#polls.size <= MAX_POLLS) break;
        old.li.remove();
        this.#polls.delete(id);
      }
    }
    entry.poll = poll;
    this.#render(entry);
  }

  #render(entry) { updatePoll(entry.li, entry.poll, entry); }

  async #vote(id, option) {
    const entry = this.#polls.get(id);
    if (!entry || entry.poll.closed || entry.myVote === option) return;
    const before = entry.myVote;
    entry.myVote = option;
    this.#render(entry);
    try {
      await this.#send({ action: 'vote', id, option });
    } catch (e) {
      if (entry.myVote === option) entry.myVote = before;
      this.#render(entry);
      this.#showError(`Vote not counted: ${reason(e)}.`, e?.code ?? 'error');
    }
  }

  async #close(id) {
    const entry = this.#polls.get(id);
    if (!entry || entry.closing) return;
    entry.closing = true;
    this.#render(entry);
    try {
      await this.#send({ action: 'close', id });
    } catch (e) {
      this.#showError(`Could not close the poll: ${reason(e)}.`, e?.code ?? 'error');
    } finally {
      entry.closing = false;
      this.#render(entry);
    }
  }
}
