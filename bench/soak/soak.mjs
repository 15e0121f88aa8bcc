#!/usr/bin/env node
// Soak test (not in CI): runs compeit-server for a long time under a mixed,
// churning load with faults injected, and prints the server's RSS, open
// descriptors and CPU every minute and a summary at the end.
//
//   node bench/soak/soak.mjs --minutes 30 [--clients 40] [--rooms 8] [--report 60] [--server-arg=--flag=value …]
//
// Well-behaved clients (socket.io-client 0.9.6 over websocket, raw websockets,
// xhr-polling and jsonp-polling) join rooms, chat and send room messages, and
// leave after a random lifetime, to be replaced. Faults: abrupt closes, silent
// and half-open connections, garbage packets and bytes, a slow reader in a
// flooded room. Exit status 1 if the server died or an unexpected error was seen.
import net from 'node:net';
import { startServer } from '../../tests/node/lib/server.mjs';
import { Client } from '../../tests/node/lib/client.mjs';
import { openAgentWs, PollSession, buildFrame } from '../../tests/node/lib/raw.mjs';
import { NS, eventPacket, parsePacket } from '../../tests/node/lib/packet.mjs';
import { withTimeout } from '../../tests/node/lib/wait.mjs';
import { rssBytes, fdCount, cpuMeter, rssSampler, mib } from '../../tests/node/lib/proc.mjs';

// ---------------------------------------------------------------- options

const opts = { minutes: 30, clients: 40, rooms: 8, report: 60, serverArgs: [] };
for (let i = 2; i < process.argv.length; i++) {
  const [flag, inline] = process.argv[i].split(/=(.*)/s);
  const value = () => inline ?? process.argv[++i];
  if (flag === '--minutes') opts.minutes = Number(value());
  else if (flag === '--clients') opts.clients = Number(value());
  else if (flag === '--rooms') opts.rooms = Number(value());
  else if (flag === '--report') opts.report = Number(value());
  else if (flag === '--server-arg') opts.serverArgs.push(value());
  else if (flag === '--help') {
    console.log('node bench/soak/soak.mjs [--minutes 30] [--clients 40] [--rooms 8] [--report SECONDS] [--server-arg=--flag=value …]');
    process.exit(0);
  } else {
    console.error(`unknown option ${flag} (--help)`);
    process.exit(2);
  }
}
if (!(opts.minutes > 0 && opts.clients > 0 && opts.rooms > 0 && opts.report > 0)) {
  console.error('--minutes, --clients, --rooms and --report must be positive');
  process.exit(2);
}

// Short timeouts, so the server's own clean-up (heartbeats, close timeouts,
// request timeouts) happens many times during the run; a small write queue, so
// the slow reader is dropped by a modest flood.
const HEARTBEAT_INTERVAL_S = 5;
const HEARTBEAT_TIMEOUT_S = 10;
const REQUEST_TIMEOUT_S = 5;
const SERVER_ARGS = [
  '--heartbeat-interval', String(HEARTBEAT_INTERVAL_S), '--heartbeat-timeout', String(HEARTBEAT_TIMEOUT_S),
  '--close-timeout', '10', '--polling-duration', '5', '--handshake-timeout', '10',
  '--request-timeout', String(REQUEST_TIMEOUT_S), '--max-write-queue', String(1 << 20), '--log-level', 'warn',
  ...opts.serverArgs,
];

// ---------------------------------------------------------------- state

const stats = {
  connected: 0, left: 0, roomSent: 0, delivered: 0, chatsSent: 0, chatsDelivered: 0, gaps: 0,
  faults: { abrupt: 0, silent: 0, halfOpen: 0, garbage: 0, garbageBytes: 0, slowReader: 0 },
  cleanedUp: { silent: 0, halfOpen: 0, slowReader: 0 },
};
const errors = new Map();  // kind -> {count, example}
function error(kind, detail) {
  const e = errors.get(kind) ?? { count: 0, example: String(detail).slice(0, 200) };
  e.count++;
  errors.set(kind, e);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const between = (lo, hi) => lo + Math.random() * (hi - lo);
let stopping = false;
let nextName = 1;
const live = new Set();      // well-behaved peers
const pending = new Set();   // promises of things in flight (joined at the end)
const track = (p) => { pending.add(p); p.finally(() => pending.delete(p)); return p; };

// ---------------------------------------------------------------- peers

/**
 * One well-behaved user over one of four client kinds. Counts the soak's room
 * messages it receives (per sender in order) and the chats.
 */
class Peer {
  constructor(kind, room) {
    Object.assign(this, { kind, room, name: `${kind}${nextName++}`, seq: 0, last: new Map(), closing: false });
  }

  onRoomMessage(m) {
    if (m?.type === 'soak') {
      stats.delivered++;
      const prev = this.last.get(m.from);
      if (prev !== undefined && m.data.seq <= prev) error('out of order', `${this.name} from ${m.from}: ${m.data.seq} after ${prev}`);
      else if (prev !== undefined && m.data.seq !== prev + 1) stats.gaps++;
      this.last.set(m.from, m.data.seq);
    } else if (m?.type === 'chat' && m.data?.text) stats.chatsDelivered++;
  }

  onEvent(name, arg) {
    if (name === 'room_message') this.onRoomMessage(arg);
    else if (name === 'request_error') error(`request_error ${arg?.code}`, `${this.name}: ${JSON.stringify(arg)}`);
  }

  async open(port, url) {
    if (this.kind === 'sio') {
      this.client = await Client.connect(url, { name: this.name });
      this.user = this.client.user;
      const orig = this.client.socket.$emit;
      const self = this;
      this.client.socket.$emit = function (name, ...args) { self.onEvent(name, args[0]); return orig.call(this, name, ...args); };
      this.client.socket.on('disconnect', () => { if (!this.closing && !stopping) error('server closed a good client', this.name); });
      const joined = await this.client.ack('join_room', { room: this.room });
      if (!joined?.users) throw new Error(`join: ${JSON.stringify(joined)}`);
      this.client.events.items.length = 0;  // nothing is waited on any more: keep nothing
    } else if (this.kind === 'raw') {
      const { ws, user } = await openAgentWs(port, { name: this.name });
      Object.assign(this, { ws, user });
      ws.emit('join_room', [{ room: this.room }]);
      await ws.nextEvent('room_joined');
      ws.tap = (text) => {
        const p = parsePacket(text);
        if (p?.type === 5 && p.endpoint === NS) this.onEvent(p.name, p.args?.[0]);
        return true;
      };
      ws.closed.then(() => { if (!this.closing && !stopping) error('server closed a good client', this.name); });
    } else {
      const s = await PollSession.open(port, { transport: this.kind === 'xhr' ? 'xhr-polling' : 'jsonp-polling', query: `name=${this.name}` });
      this.poll = s;
      await s.waitFor((p) => p.type === 1, { what: '1::' });
      await s.post(`1::${NS}`);
      this.user = (await s.waitEvent('connected')).user;
      await s.emit('join_room', [{ room: this.room }]);
      await s.waitEvent('room_joined');
      s.inbox.items.length = 0;
      this.polling = track(this.pollLoop());
    }
    stats.connected++;
  }

  async pollLoop() {
    while (!this.closing) {
      try {
        const { packets } = await this.poll.get({ timeout: 15000 });
        for (const p of packets) if (p.type === 5 && p.endpoint === NS) this.onEvent(p.name, p.args?.[0]);
        this.poll.inbox.items.length = 0;
        if (packets.some((p) => p.type === 7 || p.type === 0)) {
          if (!this.closing && !stopping) error('server closed a good client', `${this.name}: ${packets.map((p) => p.raw).join(' ')}`);
          return;
        }
      } catch (e) {
        if (!this.closing && !stopping) error('poll failed', `${this.name}: ${e.message}`);
        return;
      }
    }
  }

  async send(name, arg) {
    if (this.kind === 'sio') this.client.emit(name, arg);
    else if (this.kind === 'raw') this.ws.emit(name, [arg]);
    else {
      const res = await this.poll.post(eventPacket(name, [arg]));
      if (res.status !== 200 || res.body !== '1') throw new Error(`POST answered ${JSON.stringify(res)}`);
    }
  }

  async roomMessage() {
    await this.send('room_message', { type: 'soak', data: { seq: this.seq++, pad: 'p'.repeat(Math.floor(between(10, 2000))) } });
    stats.roomSent++;
  }

  async chat() {
    await this.send('room_message', { type: 'chat', data: { text: `chat from ${this.name} #${this.seq}` } });
    stats.chatsSent++;
  }

  /** Leaves: politely, or (abrupt) by dropping the TCP connection with no goodbye. */
  async close(abrupt = false) {
    if (this.closing) return;
    this.closing = true;
    live.delete(this);
    stats.left++;
    if (this.kind === 'sio') (abrupt ? this.client.dropTransport() : this.client.disconnect());
    else if (this.kind === 'raw') {
      if (!abrupt) this.ws.sendText('0::');
      this.ws.destroy();
    } else if (!abrupt) {
      await this.poll.post('0::').catch(() => {});
    }  // an abrupt polling client just stops polling: the close timeout ends it
  }
}

/** Keeps the population at opts.clients: each peer lives 5–60 s, then leaves and is replaced. */
async function peerLife(port, url) {
  const peer = new Peer(pick(['sio', 'raw', 'xhr', 'jsonp']), 1 + Math.floor(Math.random() * opts.rooms));
  try {
    await withTimeout(peer.open(port, url), 15000, `${peer.kind} connect`);
  } catch (e) {
    if (!stopping) error(`connect failed (${peer.kind})`, e.message);
    peer.closing = true;
    return;
  }
  live.add(peer);
  const end = performance.now() + between(5000, 60000);
  let nextChat = performance.now() + between(5000, 20000);
  while (!peer.closing && !stopping && performance.now() < end) {
    try {
      if (performance.now() > nextChat) { await peer.chat(); nextChat += between(10000, 20000); }
      else await peer.roomMessage();
    } catch (e) {
      if (!peer.closing && !stopping) error(`send failed (${peer.kind})`, e.message);
      break;
    }
    await sleep(between(500, 1500));
  }
  await peer.close(false);
}

// ---------------------------------------------------------------- faults

const GARBAGE = ['9::', 'hello', '', ':::', '5:::{bad json', `5::${NS}:[1,2]`, `5::${NS}:{"name":5}`, `6::${NS}:1+[`,
  '7:::', '3:::hi', '1::/other', `5::${NS}:{"name":"join_room","args":"x"}`, '\ufffd999\ufffd3:::x', 'x'.repeat(5000),
  `5::${NS}:${'['.repeat(500)}`, `5::${NS}:{"name":"room_message","args":[{"type":"","data":1}]}`, '\u0000\u0001', '😀:😀'];

const faults = {
  /** A live peer vanishes without a goodbye; the room must see it leave. */
  async abrupt() {
    const victim = pick([...live]);
    if (!victim) return;
    stats.faults.abrupt++;
    await victim.close(true);
  },

  /** A websocket that answers no heartbeat and never closes: dropped by the heartbeat timeout. */
  async silent(port) {
    const { ws } = await openAgentWs(port, { name: 'silent', autoHeartbeat: false });
    stats.faults.silent++;
    ws.tap = () => true;
    const t0 = performance.now();
    try {
      await ws.waitClosed((HEARTBEAT_INTERVAL_S + HEARTBEAT_TIMEOUT_S) * 1000 + 10000);
      stats.cleanedUp.silent++;
    } catch {
      error('silent websocket not dropped', `open ${Math.round(performance.now() - t0)} ms`);
      ws.destroy();
    }
  },

  /** A half-open HTTP request (headers never finished, write side shut): closed by the request timeout. */
  async halfOpen(port) {
    stats.faults.halfOpen++;
    await new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      const timer = setTimeout(() => { error('half-open connection not closed', 'after request timeout + 10 s'); sock.destroy(); }, REQUEST_TIMEOUT_S * 1000 + 10000);
      sock.on('connect', () => sock.write('GET /socket.io/1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: '));
      sock.on('error', () => {});
      sock.on('data', () => {});
      sock.on('close', () => { clearTimeout(timer); stats.cleanedUp.halfOpen++; resolve(); });
    });
  },

  /** Garbage socket.io packets on a websocket and a poll, then proof the websocket still works. */
  async garbage(port) {
    stats.faults.garbage++;
    const { ws } = await openAgentWs(port, { name: 'garbage' });
    try {
      for (const g of GARBAGE) ws.sendText(g);
      ws.sendFrame({ opcode: 2, payload: Buffer.from('binary junk') });
      ws.emit('join_room', [{ room: 999 }], { id: '77' });
      await ws.nextAck('77', { timeout: 5000 });
      const s = await PollSession.open(port);
      await s.post(GARBAGE.slice(0, 8));
      await s.post('\ufffd3\ufffd');
      await s.post('0::');
    } catch (e) {
      error('garbage broke a connection', e.message);
    } finally {
      ws.destroy();
    }
  },

  /** Random bytes instead of HTTP on a raw TCP connection. */
  async garbageBytes(port) {
    stats.faults.garbageBytes++;
    await new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      const timer = setTimeout(() => { sock.destroy(); resolve(); }, REQUEST_TIMEOUT_S * 1000 + 5000);
      sock.on('connect', () => sock.write(Buffer.from(Array.from({ length: 3000 }, () => Math.floor(Math.random() * 256)))));
      sock.on('error', () => {});
      sock.on('data', () => {});
      sock.on('close', () => { clearTimeout(timer); resolve(); });
    });
  },

  /** A member stops reading while a flooder fills its room: the server must drop it. */
  async slowReader(port) {
    stats.faults.slowReader++;
    const room = 1000 + stats.faults.slowReader;
    const slow = await openAgentWs(port, { name: 'slow' });
    const flood = await openAgentWs(port, { name: 'flooder' });
    try {
      for (const { ws } of [slow, flood]) {
        ws.tap = (t) => !t.includes('"room_joined"') && !t.includes('"user_left"');
        ws.emit('join_room', [{ room }]);
        await ws.nextEvent('room_joined');
      }
      slow.ws.sock.pause();
      const pad = 'f'.repeat(16 * 1024);
      const t0 = performance.now();
      let left = null;
      const dropped = flood.ws.nextPacket((p) => p.name === 'user_left' && p.args?.[0]?.user?.id === slow.user.id, { timeout: 30000 })
        .then(() => { left = performance.now() - t0; }, () => {});
      // 100 messages of 16 KiB a second (within --rate) until the slow reader is gone, at most 25 s
      while (left === null && performance.now() - t0 < 25000 && !stopping) {
        for (let i = 0; i < 10; i++) flood.ws.sendRaw(buildFrame({ payload: eventPacket('room_message', [{ type: 'flood', data: pad }]) }));
        await sleep(100);
      }
      await dropped;
      if (left !== null) stats.cleanedUp.slowReader++;
      else if (!stopping) error('slow reader not dropped', 'after 25 s of flooding its room');
    } finally {
      slow.ws.destroy();
      flood.ws.destroy();
    }
  },
};

// ---------------------------------------------------------------- measurement

function sample(pid) {
  try { return { rss: rssBytes(pid), fds: fdCount(pid) }; } catch { return null; }
}

const hms = (ms) => `${Math.floor(ms / 60000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}`;

// ---------------------------------------------------------------- main

async function main() {
  const srv = await startServer(SERVER_ARGS);
  const pid = srv.proc.pid;
  const start = sample(pid);
  const mem = { start: start.rss, peak: start.rss, fdsStart: start.fds, fdsPeak: start.fds };
  console.log(`soak: ${opts.minutes} min, ${opts.clients} clients in ${opts.rooms} rooms, server pid ${pid} on ${srv.url}`);
  console.log(`server args: ${SERVER_ARGS.join(' ')}`);
  console.log(`[0:00] rss ${mib(start.rss)} fds ${start.fds}`);
  const sampler = rssSampler(pid, { intervalMs: 1000 });  // the peaks, between the reports
  const t0 = performance.now();
  const endAt = t0 + opts.minutes * 60000;

  // the population: one life after another in each slot
  const slots = Array.from({ length: opts.clients }, async (_, i) => {
    await sleep(i * 100);  // ramp up
    while (!stopping && srv.alive()) await peerLife(srv.port, srv.url);
  });

  // faults: one every 2–6 s, the slow reader every 2 minutes (first after 30 s)
  const faultLoop = (async () => {
    let nextSlow = t0 + 30000;
    while (!stopping && srv.alive()) {
      await sleep(between(2000, 6000));
      if (stopping) break;
      const name = performance.now() > nextSlow ? 'slowReader' : pick(['abrupt', 'abrupt', 'silent', 'halfOpen', 'garbage', 'garbageBytes']);
      if (name === 'slowReader') nextSlow += 120000;
      track(faults[name](srv.port).catch((e) => { if (!stopping) error(`fault ${name} could not run`, e.message); }));
    }
  })();

  // every report interval: RSS, descriptors, CPU share since the last report
  let meter = cpuMeter(pid);
  let cpuTotal = 0;
  while (performance.now() < endAt && srv.alive()) {
    await sleep(Math.min(opts.report * 1000, endAt - performance.now()));
    const s = sample(pid);
    if (!s) break;
    const { share, cpu } = meter.stop();
    cpuTotal += cpu;
    meter = cpuMeter(pid);
    mem.peak = Math.max(mem.peak, s.rss, sampler.stats.peakRss);
    mem.fdsPeak = Math.max(mem.fdsPeak, s.fds, sampler.stats.peakFds);
    const errCount = [...errors.values()].reduce((a, e) => a + e.count, 0);
    console.log(`[${hms(performance.now() - t0)}] rss ${mib(s.rss)} (peak ${mib(mem.peak)}) fds ${s.fds} cpu ${(share * 100).toFixed(0)}%` +
      ` | clients ${live.size} (${stats.connected} connected, ${stats.left} left) | room msgs ${stats.roomSent} sent, ${stats.delivered} delivered` +
      ` | chats ${stats.chatsSent}/${stats.chatsDelivered} | faults ${JSON.stringify(stats.faults)} | errors ${errCount}`);
  }

  // wind down: everyone leaves politely, then the server has a heartbeat timeout to clean up
  stopping = true;
  const alive = srv.alive();
  await Promise.race([Promise.all(slots), sleep(20000)]);
  for (const p of [...live]) await p.close(false);
  await Promise.race([Promise.allSettled([...pending, faultLoop]), sleep(30000)]);
  let end = sample(pid);
  const settleUntil = performance.now() + (HEARTBEAT_INTERVAL_S + HEARTBEAT_TIMEOUT_S) * 1000;
  while (end && end.fds > mem.fdsStart + 2 && performance.now() < settleUntil) {  // connections still being closed
    await sleep(500);
    end = sample(pid);
  }
  sampler.stop();
  mem.peak = Math.max(mem.peak, sampler.stats.peakRss);
  mem.fdsPeak = Math.max(mem.fdsPeak, sampler.stats.peakFds);
  const info = await srv.stop();

  const errCount = [...errors.values()].reduce((a, e) => a + e.count, 0);
  const minutes = (performance.now() - t0) / 60000;
  console.log('\n== soak summary ==');
  console.log(`duration ${minutes.toFixed(1)} min; server ${alive ? 'alive to the end' : `DIED (${JSON.stringify(info)})`}`);
  console.log(`clients: ${stats.connected} connected, ${stats.left} left`);
  console.log(`room messages: ${stats.roomSent} sent, ${stats.delivered} delivered (${stats.gaps} gaps after joins and drops)`);
  console.log(`chats: ${stats.chatsSent} sent, ${stats.chatsDelivered} delivered`);
  console.log(`faults injected: ${JSON.stringify(stats.faults)}; cleaned up by the server: ${JSON.stringify(stats.cleanedUp)}`);
  console.log(`RSS start ${mib(mem.start)}, peak ${mib(mem.peak)}, end ${end ? mib(end.rss) : '?'}; fds start ${mem.fdsStart}, peak ${mem.fdsPeak}, end ${end?.fds ?? '?'}`);
  console.log(`server CPU ${cpuTotal.toFixed(1)} s (${((cpuTotal / (minutes * 60)) * 100).toFixed(1)} % of a core on average)`);
  console.log(`errors: ${errCount}`);
  for (const [kind, e] of errors) console.log(`  ${kind}: ${e.count} (e.g. ${e.example})`);
  if (!alive) console.log(`server stderr tail:\n${srv.stderr().slice(-3000)}`);
  process.exit(alive && errCount === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
