// The New poll form of the room page: a question and 2 to 6 options, shown and
// hidden by the Poll button. It checks what was typed and hands it to `onOpen`
// (poll-panel.mjs, which sends it); the panel tells it how that went. What is
// missing is said next to the field (field-error.mjs).
import { showFieldError, clearFieldError } from './field-error.mjs';

export const MIN_OPTIONS = 2;
export const MAX_OPTIONS = 6;

export class PollForm {
  #el;  // {toggle, form, question, options, add, cancel, submit, status}

  /** onOpen({question, options}) is called with a checked question and 2 to 6 options. */
  constructor(el, onOpen) {
    this.#el = el;
    el.toggle.addEventListener('click', () => (el.form.hidden ? this.show() : this.hide()));
    el.cancel.addEventListener('click', () => this.hide());
    el.add.addEventListener('click', () => { this.#addOption(); this.#inputs().at(-1).focus(); });
    el.form.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { ev.preventDefault(); this.hide(); } });
    el.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const question = el.question.value.trim();
      const options = this.#inputs().map((i) => i.value.trim()).filter(Boolean);
      if (!question) return showFieldError(el.question, 'Write a question.');
      if (options.length < MIN_OPTIONS) {
        const empty = this.#inputs().find((i) => !i.value.trim());
        return showFieldError(empty, `Give at least ${MIN_OPTIONS} options.`, { after: empty.parentElement });
      }
      onOpen({ question, options });
    });
  }

  /** An empty form, the question focused. */
  show() {
    const { form, question, options, toggle } = this.#el;
    question.value = '';
    clearFieldError(question);
    options.replaceChildren();
    for (let i = 0; i < MIN_OPTIONS; i++) this.#addOption();
    this.say('');
    this.busy(false);
    form.hidden = false;
    toggle.setAttribute('aria-expanded', 'true');
    question.focus();
  }

  hide({ focus = true } = {}) {
    const { form, toggle } = this.#el;
    const wasOpen = !form.hidden;
    form.hidden = true;
    toggle.setAttribute('aria-expanded', 'false');
    if (focus && wasOpen && !toggle.hidden) toggle.focus();
  }

  /** A line under the buttons (a live region). */
  say(text) { this.#el.status.textContent = text; }

  busy(on) { this.#el.submit.disabled = on; }

  /** Polls cannot be opened here: the form says `text`, the Poll button goes (until `offer`). */
  unavailable(text) {
    this.busy(true);
    this.say(text);
    this.#el.toggle.hidden = true;
  }

  offer() { this.#el.toggle.hidden = false; }

  get toggle() { return this.#el.toggle; }

  #inputs() { return [...this.#el.options.querySelectorAll('input')]; }

  #addOption() {
    const n = this.#inputs().length + 1;
    if (n > MAX_OPTIONS) return;
    const row = document.createElement('div');
    row.className = 'poll-form__option';
    const label = document.createElement('label');
    label.htmlFor = `poll-option-${n}`;
    label.textContent = `Option ${n}`;
    const input = document.createElement('input');
    Object.assign(input, { id: `poll-option-${n}`, maxLength: 100, autocomplete: 'off' });
    row.append(label, input);
    this.#el.options.append(row);
    this.#el.add.disabled = n >= MAX_OPTIONS;
  }
}
