// web/request-errors.mjs on its own (no browser): which request_errors the app
// shows while the video call claims the ones of its own requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestErrorFilter } from '../../web/request-errors.mjs';

/** A filter with a hand-driven clock; `shown` collects what reached the page. */
function setup() {
  let clock = 0;
  const timers = new Map();
  let nextId = 1;
  const shown = [];
  const filter = requestErrorFilter((p) => shown.push(p), {
    windowMs: 300,
    now: () => clock,
    setTimer: (fn, ms) => { const id = nextId++; timers.set(id, { fn, at: clock + ms }); return id; },
    clearTimer: (id) => timers.delete(id),
  });
  const advance = (ms) => {
    clock += ms;
    for (const [id, t] of [...timers]) if (t.at <= clock) { timers.delete(id); t.fn(); }
  };
  return { filter, shown, advance, timers };
}

const err = (event, code, message) => ({ event, code, message });

test('errors of other requests are shown at once', () => {
  const { filter, shown } = setup();
  filter.onRequestError(err('room_message', 'too_large', 'text too long'));
  assert.deepEqual(shown, [err('room_message', 'too_large', 'text too long')]);
});

test('a server_message error the call claims is never shown', () => {
  const { filter, shown, advance, timers } = setup();
  filter.onRequestError(err('server_message', 'bad_request', 'no peer connection with that user'));
  advance(50);
  filter.claim('bad_request', 'no peer connection with that user');
  assert.equal(timers.size, 0);
  advance(1000);
  assert.deepEqual(shown, []);
});

test('a claim that comes first swallows the matching error within the window only', () => {
  const { filter, shown, advance } = setup();
  filter.claim('bad_request', 'x');
  advance(100);
  filter.onRequestError(err('server_message', 'bad_request', 'x'));
  advance(1000);
  assert.deepEqual(shown, []);
  filter.claim('bad_request', 'x');
  advance(400);  // too old now
  filter.onRequestError(err('server_message', 'bad_request', 'x'));
  advance(300);
  assert.deepEqual(shown, [err('server_message', 'bad_request', 'x')]);
});

test('an unclaimed server_message error is shown after the window; others stay held', () => {
  const { filter, shown, advance } = setup();
  filter.onRequestError(err('server_message', 'unknown_user', 'not connected'));
  filter.onRequestError(err('server_message', 'bad_request', 'mine'));
  filter.claim('bad_request', 'other');  // matches neither
  advance(299);
  assert.deepEqual(shown, []);
  filter.claim('bad_request', 'mine');
  advance(1);
  assert.deepEqual(shown, [err('server_message', 'unknown_user', 'not connected')]);
});
