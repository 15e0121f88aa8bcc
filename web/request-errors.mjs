// Which request_errors to show. A failed request of the video call comes back
// twice: as the server's request_error and, from the agent, as a media_error
// that the call handles itself (some are expected, like a candidate for someone
// who just left). request_error does not say which agent a server_message was
// for, so a server_message's error waits a moment for the call to claim it,
// matched by code and message; a claim may also come first.

/**
 * show(payload) displays a request_error. Returns {onRequestError(payload), claim(code, message)}.
 * `setTimer`, `clearTimer` and `now` are there for tests.
 */
export function requestErrorFilter(show, {
  windowMs = 300, setTimer = setTimeout, clearTimer = clearTimeout, now = () => performance.now(),
} = {}) {
  const held = [];    // {code, message, timer}
  const claims = [];  // {code, message, at}
  const same = (code, message) => (x) => x.code === code && x.message === message;
  const dropOldClaims = () => {
    while (claims.length && now() - claims[0].at >= windowMs) claims.shift();
  };

  function onRequestError(payload) {
    if (payload.event !== 'server_message') return show(payload);
    dropOldClaims();
    const i = claims.findIndex(same(payload.code, payload.message));
    if (i >= 0) { claims.splice(i, 1); return; }
    const entry = { code: payload.code, message: payload.message };
    entry.timer = setTimer(() => {
      held.splice(held.indexOf(entry), 1);
      show(payload);
    }, windowMs);
    held.push(entry);
  }

  function claim(code, message) {
    const i = held.findIndex(same(code, message));
    if (i >= 0) {
      clearTimer(held[i].timer);
      held.splice(i, 1);
      return;
    }
    dropOldClaims();
    claims.push({ code, message, at: now() });
  }

  return { onRequestError, claim };
}
