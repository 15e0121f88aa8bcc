#!/usr/bin/env node
// A room poll agent over the agent link (docs/agents.md): users open a poll in
// their room, vote, and the opener closes it; the room sees the counts.
//   node examples/agents/poll/agent.mjs --url http://127.0.0.1:8080 --secret S
// (or COMPEIT_AGENT_SECRET=S). It reconnects when the server goes away. In a
// cluster, give every node's --url: the agent links to each node and serves
// the users of all of them from one set of polls (docs/agents.md).
//
// Type `poll`, server_message {type:"poll", data:{action, ...}}:
//   {action:"open", question, options:[...]}  -> the room gets room_message
//       {from:0, type:"poll", data:{action:"poll", id, question, options, votes:[counts]}}
//   {action:"vote", id, option:<index>}       -> the same, with the new counts
//       (one vote per user per poll: a second vote moves it)
//   {action:"close", id}                      -> by the opener: the last counts, closed:true
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { url: { type: 'string', multiple: true, default: ['http://127.0.0.1:8080'] }, secret: { type: 'string' } },
});
const secret = args.secret ?? process.env.COMPEIT_AGENT_SECRET;
if (!secret) {
  console.error('usage: agent.mjs --url http://HOST:PORT [--url ...] --secret S (or env COMPEIT_AGENT_SECRET)');
  process.exit(2);
}
const linkUrls = args.url.map((url) => url.replace(/^http/, 'ws').replace(/\/$/, '') + '/agent_link');
// Node 22 has a WebSocket of its own; before that, the `ws` package.
const WebSocket = globalThis.WebSocket ?? (await import('ws')).default;

const MAX_POLLS = 1000;
const polls = new Map(); // id -> {id, room, opener, question, options, votes: Map(userId -> option)}
let nextId = 1;

const isText = (s, max) => typeof s === 'string' && s.length > 0 && s.length <= max;
const counts = (p) => p.options.map((_, i) => [...p.votes.values()].filter((v) => v === i).length);
const view = (p, closed) => ({ action: 'poll', id: p.id, question: p.question, options: p.options,
  votes: counts(p), ...(closed ? { closed: true } : {}) });

// One request: {id, user, room, data}; returns the frames to send, the answer last.
function serve({ id, user, room, data }) {
  const fail = (code, message) => [{ op: 'fail', id, code, message }];
  const post = (p, closed) => ({ op: 'to_room', room: p.room, data: view(p, closed) });
  if (!data || typeof data !== 'object') return fail('bad_request', 'data must be an object');
  if (room === null) return fail('not_in_room', 'join a room first');
  if (data.action === 'open') {
    const { question, options } = data;
    if (!isText(question, 200)) return fail('bad_request', 'question must be a string of 1 to 200 characters');
    if (!Array.isArray(options) || options.length < 2 || options.length > 10 || !options.every((o) => isText(o, 100)))
      return fail('bad_request', 'options must be 2 to 10 strings of 1 to 100 characters');
    if (polls.size >= MAX_POLLS) return fail('unavailable', 'too many open polls');
    const p = { id: nextId++, room, opener: user.id, question, options, votes: new Map() };
    polls.set(p.id, p);
    return [post(p), { op: 'ok', id }];
  }
  const p = polls.get(data.id);
  if (!p || p.room !== room) return fail('bad_request', 'no such poll in this room');
  if (data.action === 'vote') {
    if (!Number.isInteger(data.option) || data.option < 0 || data.option >= p.options.length)
      return fail('bad_request', 'option must be the index of an option');
    p.votes.set(user.id, data.option);
    return [post(p), { op: 'ok', id }];
  }
  if (data.action === 'close') {
    if (p.opener !== user.id) return fail('forbidden', 'only the opener closes a poll');
    polls.delete(p.id);
    return [post(p, true), { op: 'ok', id }];
  }
  return fail('bad_request', 'action must be open, vote or close');
}

// One link per server (per node in a cluster), each with its own backoff.
// A request is answered on the link it came by: that node has the user.
function connect(linkUrl, delay = 500) {
  const ws = new WebSocket(linkUrl, { headers: { authorization: `Bearer ${secret}` } });
  const send = (frame) => ws.send(JSON.stringify(frame));
  ws.onopen = () => {
    delay = 500;
    send({ op: 'register', types: ['poll'] });
  };
  ws.onmessage = (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (frame.op === 'registered') console.log(`poll agent: serving ${frame.types.join(', ')} at ${linkUrl}`);
    else if (frame.op === 'request') serve(frame).forEach(send);
    else if (frame.op === 'error') console.error(`poll agent: server says ${frame.code}: ${frame.message}`);
  };
  ws.onerror = () => {}; // the close that follows reconnects
  ws.onclose = () => {
    console.error(`poll agent: link to ${linkUrl} closed, reconnecting in ${delay} ms`);
    setTimeout(() => connect(linkUrl, Math.min(delay * 2, 5000)), delay);
  };
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
for (const url of linkUrls) connect(url);
