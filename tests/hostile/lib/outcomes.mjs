// What a hostile request must get, and the judge that compares it with what
// the server did. The contract (CA-10, CA-11): one request_error
// {event, code, message} per failed request, its message naming the field at
// fault, and an ack {error: {code, message}} with the same code and message;
// `internal` is never right (it means agent code failed on input that should
// have been refused).

export const OK = { ok: true, label: 'success' };

/** An error with this code; `field` (a name or a list of names) must appear in its message. */
export function error(code, field = null) {
  const fields = field === null ? null : [].concat(field);
  return { code, fields, label: `${code}${fields ? ` naming ${fields.join('|')}` : ''}` };
}

export const bad = (field) => error('bad_request', field);

/** JSON the server must refuse to read (nested past 64): bad_request; the event name may be unreadable (""). */
export const REFUSED = { ...error('bad_request'), anyEvent: true, label: 'bad_request (JSON too deep)' };
export const TOO_LARGE = error('too_large');
/** An unrepresentable value (values.mjs) may make the whole request unreadable: any bad_request. */
export const REFUSED_TEXT = { ...error('bad_request'), anyEvent: true, label: 'bad_request (unreadable text)' };

/** Any of these outcomes is right (the contract leaves the choice open). */
export const oneOf = (...alts) => ({ oneOf: alts, label: alts.map((a) => a.label).join(' or ') });

const names = (fields) => new RegExp(`\\b(${fields.join('|')})\\b`, 'i');

/** A short account of what the server did with one request. */
export function describe(outcome) {
  if (outcome.died) return 'the server died';
  const errs = outcome.errors.map((e) => `request_error ${JSON.stringify(e)}`);
  if (outcome.timedOut) return `no ack within ${outcome.timeout} ms${errs.length ? ` (got ${errs.join(', ')})` : ''}`;
  return [`ack ${JSON.stringify(outcome.ack)}`.slice(0, 300), ...errs].join(', ');
}

/** Null when `outcome` satisfies `spec`; otherwise why not. */
export function judge(outcome, spec, event) {
  if (spec.oneOf) {
    const reasons = spec.oneOf.map((alt) => judge(outcome, alt, event));
    return reasons.some((r) => r === null) ? null : `expected ${spec.label}; got ${describe(outcome)}`;
  }
  if (outcome.died || outcome.timedOut) return `expected ${spec.label}; ${describe(outcome)}`;
  const { ack, errors } = outcome;
  if (errors.length > 1) return `expected ${spec.label}; got ${errors.length} request_errors: ${describe(outcome)}`;
  if (spec.ok) {
    if (errors.length || ack?.error) return `expected success; got ${describe(outcome)}`;
    return null;
  }
  const [e] = errors;
  if (!e) return `expected ${spec.label}; got ${describe(outcome)}`;
  if (e.code === 'internal') return `INTERNAL (a validation hole): expected ${spec.label}; got ${describe(outcome)}`;
  if (e.code !== spec.code) return `expected ${spec.label}; got ${describe(outcome)}`;
  if (e.event !== event && !spec.anyEvent) return `request_error names event ${JSON.stringify(e.event)}, not ${JSON.stringify(event)}`;
  if (typeof e.message !== 'string' || !e.message) return `request_error without a message: ${describe(outcome)}`;
  if (spec.fields && !names(spec.fields).test(e.message)) {
    return `expected ${spec.label}; the message does not name the field: ${JSON.stringify(e.message)}`;
  }
  if (!ack?.error || ack.error.code !== e.code || ack.error.message !== e.message) {
    return `the ack does not carry the same error: ${describe(outcome)}`;
  }
  return null;
}
