// socket.io protocol revision 1 packets and polling payloads, written from the
// protocol reference for the tests' raw clients (not used against the server's code).

export const NS = '/connection_agent';

/** Decodes `<type>:<id>[+]:<endpoint>[:<data>]` into its parts; null if it does not match. */
export function parsePacket(str) {
  const m = /^([0-8]):([0-9]*)(\+?):([^:]*):?([\s\S]*)$/.exec(str);
  if (!m) return null;
  const p = { type: Number(m[1]), id: m[2], ack: m[3] === '+', endpoint: m[4], data: m[5], raw: str };
  if (p.type === 5) {
    try {
      const ev = JSON.parse(p.data);
      p.name = ev.name;
      p.args = ev.args ?? [];
    } catch { p.badJson = true; }
  } else if (p.type === 6) {
    const am = /^([0-9]+)(?:\+([\s\S]*))?$/.exec(p.data);
    if (am) {
      p.ackId = am[1];
      p.ackArgs = am[2] === undefined ? [] : JSON.parse(am[2]);
    }
  }
  return p;
}

/** An event packet: `5:<id>[+]:<endpoint>:{"name":..,"args":[..]}`. */
export function eventPacket(name, args = [], { id = '', ack = id !== '', endpoint = NS } = {}) {
  const body = args.length ? { name, args } : { name };
  return `5:${id}${ack ? '+' : ''}:${endpoint}:${JSON.stringify(body)}`;
}

const SEP = '\ufffd';

/** Frames packets as a polling payload; lengths are UTF-16 code units (JS string length). */
export function encodePayload(packets) {
  if (packets.length === 1) return packets[0];
  return packets.map((p) => `${SEP}${p.length}${SEP}${p}`).join('');
}

/**
 * Splits a polling payload into packets, strictly: each length must be a number and must
 * not run past the end. Throws on a malformed payload so a wrong framing fails the test.
 */
export function decodePayload(body) {
  if (body === '') return [];
  if (body[0] !== SEP) return [body];
  const out = [];
  let i = 0;
  while (i < body.length) {
    if (body[i] !== SEP) throw new Error(`payload: expected U+FFFD at ${i} in ${JSON.stringify(body)}`);
    const end = body.indexOf(SEP, i + 1);
    if (end < 0) throw new Error(`payload: unterminated length at ${i}`);
    const len = Number(body.slice(i + 1, end));
    if (!Number.isInteger(len) || len < 0) throw new Error(`payload: bad length at ${i}`);
    if (end + 1 + len > body.length) throw new Error(`payload: length ${len} runs past the end`);
    out.push(body.slice(end + 1, end + 1 + len));
    i = end + 1 + len;
  }
  return out;
}

/** True if the payload starts as a framed (multi-packet) payload. */
export const isFramed = (body) => body.length > 0 && body[0] === SEP;

/**
 * The server's chat agent (type "chat") also talks on room_message / server_message
 * (join and leave notices, history). Tests of the Connection Agent set it aside.
 */
export const isChatTraffic = (name, arg) =>
  (name === 'room_message' || name === 'server_message' || name === 'user_message') && arg?.type === 'chat';

/** Count of `name` events in a list of raw packet strings (chat traffic excluded). */
export const countEvents = (raws, name) => raws.filter((m) => {
  const p = parsePacket(m);
  return p?.type === 5 && p.endpoint === NS && p.name === name && !isChatTraffic(name, p.args?.[0]);
}).length;
