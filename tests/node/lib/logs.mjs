// The server's log as a test reads it: waiting (bounded, event-driven) for a
// line, and the --log-format json lines parsed.
import { withTimeout } from './wait.mjs';

/** Resolves with pred(text) once the server's stderr from `from` on makes it truthy. */
export function waitLog(srv, pred, { from = 0, timeout = 5000, what = 'a log line' } = {}) {
  let check;
  const found = new Promise((resolve) => {
    check = () => {
      const m = pred(srv.stderr().slice(from));
      if (m) resolve(m);
    };
    srv.proc.stderr.on('data', check);
    check();
  });
  return withTimeout(found, timeout, `${what}; log so far:\n${srv.stderr().slice(from).slice(-2000)}`)
    .finally(() => srv.proc.stderr.off('data', check));
}

/** Every complete stderr line of a --log-format json server, parsed; throws naming the first that is not JSON. */
export function jsonLines(text) {
  return text.split('\n').filter((l) => l !== '').map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`not a JSON log line: ${line.slice(0, 200)}`);
    }
  });
}

/** Waits for the first JSON line matching pred (an object); resolves it. */
export const waitJson = (srv, pred, opts = {}) =>
  waitLog(srv, (t) => jsonLines(t.slice(0, t.lastIndexOf('\n') + 1)).find(pred), opts);
