// Whether the reader is looking at the page, and the unread count in the tab
// title while they are not: "(3) Room 7 · COMPEIT".

export class Attention {
  #base = document.title;
  #unread = 0;
  #focused = document.hasFocus();
  #onBack;  // () => void: the reader came back

  constructor({ onBack = () => {} } = {}) {
    this.#onBack = onBack;
    const changed = () => {
      if (!this.away) {
        this.#unread = 0;
        this.#render();
        this.#onBack();
      }
    };
    document.addEventListener('visibilitychange', changed);
    window.addEventListener('focus', () => { this.#focused = true; changed(); });
    window.addEventListener('blur', () => { this.#focused = false; });
  }

  /** The page is hidden (another tab, minimised) or another window has the focus. */
  get away() { return document.visibilityState === 'hidden' || !this.#focused; }

  get unread() { return this.#unread; }

  /** The title without the count. */
  set title(text) {
    this.#base = text;
    this.#render();
  }

  /** A message from someone else arrived. */
  arrived() {
    if (!this.away) return;
    this.#unread++;
    this.#render();
  }

  #render() {
    document.title = this.#unread ? `(${this.#unread}) ${this.#base}` : this.#base;
  }
}
