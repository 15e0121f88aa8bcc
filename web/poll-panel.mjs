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
import { PollForm } from './poll-form.mjs';

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
  #form;                  // the New poll form
  #list;                  // the <ul> of polls
  #showError;
  #claimError;
  #polls = new Map();     // id -> {poll, li, myVote, opener, closing}
  #opening = null;        // {question, options} while our open is pending

  /** `form`: the elements of PollForm; `list`: the <ul> the polls go in. */
  constructor({ form, list, showError, claimError = () => {} }) {
    this.#form = new PollForm(form, (poll) => this.#open(poll));
    this.#list = list;
    this.#showError = showError;
    this.#claimError = claimError;
  }

  /** The panel follows `ca` (or nothing); a new agent may find polls again. */
  attach(ca) {
    this.#port = ca?.register('poll', { onRoomMessage: (from, data) => this.#received(readPoll(from, data)) }) ?? null;
    this.#form.offer();
    this.clear();
  }

  /** Forgets the polls shown (we left the room, or joined another). */
  clear() {
    this.#polls.clear();
    this.#opening = null;
    this.#list.replaceChildren();
    this.#list.hidden = true;
    this.#form.hide({ focus: false });
  }

  async #open({ question, options }) {
    if (!this.#port) return this.#form.say(`Could not open the poll: ${REASONS.not_connected}.`);
    this.#form.busy(true);
    this.#form.say('Opening…');
    this.#opening = { question, options };
    try {
      await this.#send({ action: 'open', question, options });
      this.#form.hide();
    } catch (e) {
      if (e?.code === 'unknown_type') return this.#form.unavailable(UNAVAILABLE);  // for this page and server
      this.#form.busy(false);
      this.#form.say(`Could not open the poll: ${reason(e)}.`);
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
      this.#list.append(li);
      this.#list.hidden = false;
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

  #failed(what, e) {
    if (e?.code === 'unknown_type') this.#form.unavailable(UNAVAILABLE);  // the agent went away
    this.#showError(`${what}: ${reason(e)}.`, e?.code ?? 'error');
  }

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
      this.#failed('Vote not counted', e);
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
      this.#failed('Could not close the poll', e);
    } finally {
      entry.closing = false;
      this.#render(entry);
      // The Close button went with the poll: keep the keyboard user in the panel.
      if (document.activeElement === document.body && !this.#form.toggle.hidden) this.#form.toggle.focus();
    }
  }
}
