// A raw peer of the agent link (docs/agents.md) for tests: frames received are
// kept in an Inbox, and the reference poll agent can be started as a process.
import { spawn } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Inbox, withTimeout } from './wait.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const pollAgentPath = join(repoRoot, 'examples/agents/poll/agent.mjs');

const linkUrl = (url) => `${url.replace(/^http/, 'ws')}/agent_link`;

/**
 * Opens a link with `Authorization: Bearer <secret>` (none when secret is undefined).
 * Resolves to a Link once open; rejects with {status} when the upgrade is refused.
 * `autoPong: false` makes a peer that does not answer the server's pings.
 */
export function openLink(url, secret, { timeout = 5000, autoPong = true } = {}) {
  const headers = secret === undefined ? {} : { authorization: `Bearer ${secret}` };
  const ws = new WebSocket(linkUrl(url), { headers, autoPong });
  return withTimeout(new Promise((res, rej) => {
    ws.once('open', () => res(new Link(ws)));
    ws.once('unexpected-response', (_req, response) => {
      const e = new Error(`agent link refused: ${response.statusCode}`);
      e.status = response.statusCode;
      ws.terminate();
      rej(e);
    });
    ws.once('error', rej);
  }), timeout, 'the agent link to open');
}

export class Link {
  constructor(ws) {
    this.ws = ws;
    this.frames = new Inbox((f) => JSON.stringify(f).slice(0, 160));
    this.closed = new Promise((res) => ws.once('close', (code) => { this.frames.close('link closed'); res(code); }));
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data))));
  }

  send(frame) { this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)); }

  /** The next frame of `op` matching filter (bounded wait). */
  next(op, { filter = () => true, timeout = 5000 } = {}) {
    return this.frames.take((f) => f.op === op && filter(f), { timeout, what: `link frame ${op}` });
  }

  /** register, then its answer (`registered` or `error`). */
  async register(types, extra = {}) {
    this.send({ op: 'register', types, ...extra });
    return this.frames.take((f) => f.op === 'registered' || f.op === 'error', { what: 'register answer' });
  }

  close() { this.ws.close(); return this.closed; }
}

/**
 * Starts the reference poll agent against `url` (or every URL of an array: a cluster's
 * nodes); resolves once it printed that it serves on each. The handle's stop() kills it.
 */
export async function startPollAgent(url, secret, { timeout = 10000 } = {}) {
  const urls = [url].flat();
  const proc = spawn(process.execPath, [pollAgentPath, ...urls.flatMap((u) => ['--url', u]), '--secret', secret],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new Inbox((l) => l);
  for (const stream of [proc.stdout, proc.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (d) => d.split('\n').filter(Boolean).forEach((l) => output.push(l)));
  }
  const exited = new Promise((res) => proc.once('exit', res));
  const agent = {
    proc,
    output,
    /** Resolves at its next "serving" line (after a reconnect, say). */
    serving: (t = timeout) => output.take((l) => l.includes('serving poll'), { timeout: t, what: 'the poll agent serving' }),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
  try {
    for (const _ of urls) await agent.serving();
  } catch (e) {
    await agent.stop();
    throw e;
  }
  return agent;
}
