// Runs a table of requests x fields x hostile values against one server.
//
// A request is {name, actor(ctx), event(ctx) -> {name, args}, fields, prepare?, undo?, ensure?}:
// `event` is a valid request as a JS object; each field {name, path, expect(value, ctx)}
// says where in it the hostile value goes and what the server must answer.
// `ensure` restores the state the request needs (once per field), `prepare`
// runs before each value, `undo` after each value that succeeded.
//
// Every request goes over a raw websocket (tests/node/lib/raw.mjs) so the JSON
// text is exactly what the table says, with an ack id; its window of received
// packets is checked for exactly one request_error. If the server dies, the
// case is recorded as a failure with the tail of its stderr, and a new server
// is started so the remaining cases still run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../node/lib/server.mjs';
import { openAgentWs } from '../../node/lib/raw.mjs';
import { parsePacket, NS } from '../../node/lib/packet.mjs';
import { withTimeout } from '../../node/lib/wait.mjs';
import { VALUES } from './values.mjs';
import { judge, describe, oneOf, REFUSED, REFUSED_TEXT, TOO_LARGE } from './outcomes.mjs';

// Thousands of requests per connection: the rate limit must not be what answers.
export const SERVER_ARGS = ['--rate', '1000000', '--burst', '1000000'];
export const OTHER_ROOM = 424242;
const ACK_TIMEOUT = Number(process.env.HOSTILE_ACK_TIMEOUT || 5000);
const SANITIZER_RE = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/;

/** A path into the event object {name, args:[arg]}: at('data', 'text') is args[0].data.text. */
export const at = (...path) => ['args', 0, ...path];
export const field = (name, path, expect) => ({ name, path, expect, inData: path[0] === 'args' && path[2] === 'data' });

const HOLE = '\u0001hostile\u0001';

/** The event's JSON text with the value at `path` replaced by value.raw (or removed). */
export function eventText(template, path, value) {
  const copy = structuredClone(template);
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k];
  const last = path.at(-1);
  if (value.kind === 'missing') {
    if (Array.isArray(o)) o.splice(last, 1);
    else delete o[last];
    return JSON.stringify(copy);
  }
  o[last] = HOLE;
  return JSON.stringify(copy).replace(JSON.stringify(HOLE), () => value.raw);
}

const requestErrors = (raws) => raws.map(parsePacket)
  .filter((p) => p?.type === 5 && p.endpoint === NS && p.name === 'request_error')
  .map((p) => p.args[0]);

/** A /connection_agent user on a raw websocket. */
export class Peer {
  constructor(target, ws, user) {
    Object.assign(this, { target, ws, user, nextId: 0, mark: 0 });
  }

  /** `connectData`: the query of the namespace connect packet (`?name=…`), as raw text. */
  static async open(target, name, { connectData } = {}) {
    const { ws, user } = await openAgentWs(target.server.port, { name, connectData });
    const peer = new Peer(target, ws, user);
    target.peers.push(peer);
    peer.mark = ws.inbox.items.length;
    return peer;
  }

  get id() { return this.user.id; }

  /**
   * Sends one event (its JSON text) with an ack id. Resolves with
   * {ack, errors, died?, timedOut?}: errors are the request_errors received
   * since the previous request's ack, up to this one's.
   */
  async send(eventJson, { timeout = ACK_TIMEOUT } = {}) {
    const id = ++this.nextId;
    const { server } = this.target;
    const outcome = { ack: undefined, errors: [], timeout };
    this.ws.sendText(`5:${id}+:${NS}:${eventJson}`);
    try {
      outcome.ack = await this.ws.nextAck(id, { timeout });
    } catch (e) {
      // The connection closed or the ack never came: did the server die?
      const exit = await withTimeout(server.exited, 2000, 'exit').catch(() => null);
      if (exit) outcome.died = exit;
      else if (this.ws.isClosed) outcome.died = { closedConnection: true, error: e.message };
      else outcome.timedOut = true;
    }
    // The window ends at the ack: what came after it (in the same read) belongs to later waits.
    const { items } = this.ws.inbox;
    const prefix = `6::${NS}:${id}+`;
    let end = items.length;
    if (outcome.ack !== undefined) {
      for (let i = items.length - 1; i >= this.mark; i--) if (items[i].item.startsWith(prefix)) { end = i + 1; break; }
    }
    outcome.errors = requestErrors(items.slice(this.mark, end).map((e) => e.item));
    for (let i = 0; i < end; i++) items[i].consumed = true; // later waits need not scan what is already judged
    this.mark = end;
    return outcome;
  }

  request(name, arg, opts) {
    return this.send(JSON.stringify(arg === undefined ? { name } : { name, args: [arg] }), opts);
  }

  /** A request that must succeed (for setting up state); resolves with its ack. */
  async must(name, arg) {
    const outcome = await this.request(name, arg);
    const problem = judge(outcome, { ok: true }, name);
    if (problem) throw new Error(`setup: ${name} ${JSON.stringify(arg).slice(0, 200)} by user ${this.id}: ${problem}`);
    return outcome.ack;
  }

  /** Next event `name` on /connection_agent whose argument satisfies pred (bounded). */
  async event(name, pred = () => true, timeout = 5000) {
    const p = await this.ws.nextPacket((q) => q.type === 5 && q.endpoint === NS && q.name === name && pred(q.args[0]),
      { timeout, what: `${name} on user ${this.id}` });
    return p.args[0];
  }
}

/** One server under hostile input, with two watchers chatting in another room. */
export class Target {
  /** setup(target) -> ctx: connects the peers a table needs (after the watchers, so they are users 1 and 2). */
  constructor({ args = [], setup, env }) {
    Object.assign(this, { args, setup, env, peers: [], crashes: [], pings: 0 });
  }

  async start() {
    this.server = await startServer([...SERVER_ARGS, ...this.args], { env: this.env });
    this.peers = [];
    this.w1 = await Peer.open(this, 'watcher1');
    this.w2 = await Peer.open(this, 'watcher2');
    await this.w1.must('join_room', { room: OTHER_ROOM });
    await this.w2.must('join_room', { room: OTHER_ROOM });
    this.ctx = await this.setup(this);
  }

  alive() { return this.server.alive(); }

  /** The end of the server's stderr without its info lines (a sanitizer report, an uncaught exception). */
  stderrTail(lines = 20) {
    const all = this.server.stderr().trim().split('\n');
    const loud = all.filter((l) => !/^\S+ info /.test(l));
    return (loud.length ? loud : all).slice(0, lines).map((l) => `    ${l}`).join('\n');
  }

  /** After a crash: keeps what killed it, starts a fresh server and the table's peers. */
  async restart() {
    const info = await withTimeout(this.server.exited, 5000, 'the dead server to exit').catch(() => null);
    this.crashes.push({ exit: info, stderr: this.stderrTail() });
    for (const p of this.peers) p.ws.destroy();
    await this.server.stop();
    await this.start();
  }

  /** Sanitizer reports in the server's stderr (a build without sanitizers has none). */
  sanitizerReports() {
    return this.server.stderr().split('\n').filter((l) => SANITIZER_RE.test(l));
  }

  /** Problems with the server as a whole: dead, a sanitizer report, or the other room no longer works. */
  async health() {
    if (!this.alive()) return [`the server is dead:\n${this.stderrTail()}`];
    const reports = this.sanitizerReports();
    if (reports.length) return [`sanitizer reports in the server's stderr:\n${reports.slice(0, 10).join('\n')}`];
    const n = ++this.pings;
    const sent = await this.w1.request('room_message', { type: 'hostile-ping', data: n });
    const problem = judge(sent, { ok: true }, 'room_message');
    if (problem) return [`the other room no longer works: ${problem}`];
    try {
      await this.w2.event('room_message', (m) => m?.type === 'hostile-ping' && m.data === n);
    } catch (e) {
      return [`the other room no longer works: ${e.message}`];
    }
    return [];
  }

  async stop() {
    for (const p of this.peers) p.ws.destroy();
    return this.server?.stop();
  }
}

/**
 * Sends each [label, event JSON text, expected outcome] of `cases` from `peer`;
 * resolves with the failures (strings). For requests a template cannot write
 * (duplicate keys, escaped keys).
 */
export async function runCases(target, peer, cases) {
  const failures = [];
  for (const [label, text, spec] of cases) {
    const outcome = await peer.send(text);
    const name = /"name":"([^"]*)"/.exec(text)?.[1] ?? '';
    const problem = judge(outcome, spec, name);
    if (problem) failures.push(`${label}: ${problem}`);
    if (outcome.died) break;
  }
  return failures;
}

/** What the server must answer when `value` replaces `f` (the rules every field shares first). */
export function expected(f, value, ctx) {
  if (value.kind === 'deep') return REFUSED;
  if (value.huge && f.inData) return TOO_LARGE;
  if (value.unrepresentable) return oneOf(f.expect(value, ctx), REFUSED_TEXT);
  return f.expect(value, ctx);
}

/** Sends the request once per value; resolves with a list of failures (strings). */
export async function runField(target, r, f, values = VALUES) {
  const failures = [];
  // A setup step (ensure, prepare, undo) that fails is a failure of its own; a dead server is restarted.
  const step = async (what, fn) => {
    try {
      await fn(target.ctx);
      return true;
    } catch (e) {
      failures.push(`${what}: ${e.message}`);
      if (!target.alive()) await target.restart();
      return false;
    }
  };
  if (r.ensure) await step('ensure (before the values)', r.ensure);
  for (const value of values) {
    if (!target.alive()) await target.restart();
    if (r.prepare && !(await step(`prepare for ${f.name} = ${value.label}`, r.prepare))) continue;
    const { ctx } = target;
    const template = r.event(ctx);
    const spec = expected(f, value, ctx);
    const outcome = await r.actor(ctx).send(eventText(template, f.path, value));
    const problem = judge(outcome, spec, template.name);
    if (problem) failures.push(`${f.name} = ${value.label}: ${problem}`);
    if (outcome.died) {
      await target.restart();
      failures[failures.length - 1] += `\n  ...server output before it died:\n${target.crashes.at(-1).stderr}`;
      if (r.ensure) await step('ensure (after a restart)', r.ensure);
      continue;
    }
    if (judge(outcome, { ok: true }, template.name) === null && r.undo) {
      await step(`undo after ${f.name} = ${value.label}`, r.undo);
    }
  }
  return failures;
}

/**
 * One test per (request, field): every hostile value in turn, then the server
 * must be alive and another room must still work.
 */
export function hostileTests(target, requests, { values = VALUES, extraChecks } = {}) {
  before(() => target.start());
  after(() => target.stop());
  for (const r of requests) {
    for (const f of r.fields) {
      test(`${r.name}: ${f.name} replaced by each hostile value`, async () => {
        const failures = await runField(target, r, f, values);
        failures.push(...await target.health());
        if (extraChecks) failures.push(...await extraChecks(target));
        assert.equal(failures.length, 0, `${failures.length} failing case(s):\n${failures.join('\n')}`);
      });
    }
  }
}

/**
 * The last test of a file: the server never died, another room still works,
 * and the server stops cleanly (under ASan: no leak or other report at exit).
 */
export function finalCheck(target) {
  test('finally: the server is alive, another room still works, and it stops cleanly', async () => {
    assert.deepEqual(await target.health(), []);
    const exit = await target.stop();
    assert.deepEqual(target.sanitizerReports(), [], 'no sanitizer report, at exit included');
    assert.equal(exit.code, 0, `a clean exit on SIGINT (${JSON.stringify(exit)})`);
    assert.equal(target.crashes.length, 0, `the server died ${target.crashes.length} time(s) during this file:\n${
      target.crashes.map((c) => c.stderr).join('\n---\n')}`);
  });
}

export { describe };
