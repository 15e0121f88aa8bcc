// Field rules: what a request gets when one field holds a given hostile value.
// Each rule is (value, ctx) -> outcome (see outcomes.mjs). Where the contract
// leaves a choice open the rule says so with oneOf and a comment.
import { OK, bad, oneOf } from './outcomes.mjs';

export const MAX_ROOM = 2n ** 53n - 1n; // docs/protocol.md: rooms are 0..2^53-1
export const MAX_USER = 2n ** 53n - 1n; // user ids are > 0 and JavaScript-safe

/** `ok` for a lone-surrogate string, or a refusal naming the field (see also harness.expected). */
export const loneOr = (name, ok) => oneOf(ok, bad(name));

/** An integer in [lo, hi] gets `ok`, anything else bad_request naming the field. */
export const integerIn = (name, lo, hi, ok = OK) => (v) =>
  (v.kind === 'int' && v.int >= lo && v.int <= hi ? ok : bad(name));

/** A string (non-empty unless allowEmpty) gets ok(v) (an outcome or a function of the value). */
export const string = (name, { ok = OK, allowEmpty = false } = {}) => (v, ctx) => {
  if (v.kind !== 'string' || (!allowEmpty && v.str === '')) return bad(name);
  const outcome = typeof ok === 'function' ? ok(v, ctx) : ok;
  return v.lone ? loneOr(name, outcome) : outcome;
};

export const boolean = (name, ok = OK) => (v) => (v.kind === 'bool' ? ok : bad(name));

/** An optional field: missing means the default (ok); null may mean missing or be refused. */
export const optional = (name, rule, ok = OK) => (v, ctx) => {
  if (v.kind === 'missing') return ok;
  if (v.kind === 'null') return oneOf(ok, bad(name));
  return rule(v, ctx);
};

/** Any JSON value is fine (relayed data). */
export const anything = (ok = OK) => () => ok;

/** The field is refused whatever it holds (no hostile value is the one right value). */
export const alwaysBad = (name) => () => bad(name);

/**
 * The value decides nothing (the action is not supported here, or the field is
 * not used): the request gets `outcome` anyway, or a refusal naming the field
 * if the server checks the request's shape first. Wrap in optional() for a
 * field that may be left out.
 */
export const regardless = (name, outcome) => () => oneOf(outcome, bad(name));

/** A stream name (docs/protocol.md §3.3, stream names): 1-32 characters of a-z, 0-9, - and _. */
export const STREAM_NAME = /^[a-z0-9_-]{1,32}$/;
/** The optional `stream` of a Kurento request: a name gets `ok`, anything else bad_request naming stream. */
export const streamName = (ok = OK) => optional('stream', (v) =>
  (v.kind === 'string' && !v.lone && STREAM_NAME.test(v.str) ? ok : bad('stream')));
