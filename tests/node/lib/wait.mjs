// Bounded, event-driven waiting: an inbox of received items that tests can
// wait on by predicate without racing the arrival order.

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after ms; only for "X must NOT happen within a short window" checks. */
export const quietWindow = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Items arrive with push(); take(pred) returns the first unconsumed item matching pred,
 * waiting (bounded) if none has arrived yet. Items are kept, so a test may look back.
 */
export class Inbox {
  constructor(describeItem = (x) => JSON.stringify(x)) {
    this.items = [];
    this.waiters = [];
    this.describeItem = describeItem;
    this.closedReason = null;
  }

  push(item) {
    const entry = { item, consumed: false, seq: this.items.length };
    this.items.push(entry);
    for (const w of [...this.waiters]) {
      if (!entry.consumed && w.pred(item)) {
        entry.consumed = true;
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(item);
      }
    }
  }

  /** Marks the source as finished: pending and later waits fail at once. */
  close(reason) {
    this.closedReason = reason;
    for (const w of this.waiters.splice(0)) w.reject(new Error(`${reason} while waiting for ${w.what}`));
  }

  take(pred, { timeout = 5000, what = 'a matching item' } = {}) {
    const found = this.items.find((e) => !e.consumed && pred(e.item));
    if (found) {
      found.consumed = true;
      return Promise.resolve(found.item);
    }
    if (this.closedReason) return Promise.reject(new Error(`${this.closedReason} while waiting for ${what}`));
    let waiter;
    const p = new Promise((resolve, reject) => {
      waiter = { pred, resolve, reject, what };
      this.waiters.push(waiter);
    });
    return withTimeout(p, timeout, `${what}; received so far: ${this.summary()}`).catch((e) => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      throw e;
    });
  }

  /** Marks everything received so far as consumed: later takes see only new items. */
  drain() {
    for (const e of this.items) e.consumed = true;
  }

  /** All items (consumed or not) matching pred. */
  all(pred = () => true) {
    return this.items.filter((e) => pred(e.item)).map((e) => e.item);
  }

  /** Index (arrival order) of the first item matching pred, or -1. */
  indexOf(pred) {
    const e = this.items.find((x) => pred(x.item));
    return e ? e.seq : -1;
  }

  summary(max = 12) {
    const list = this.items.slice(-max).map((e) => this.describeItem(e.item));
    return `[${list.join(', ')}]`.slice(0, 2000);
  }
}
