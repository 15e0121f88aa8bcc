// Hostile transport input (TR, §1.3, LIM-1), each on its own connection while
// two watchers in another room keep exchanging messages: malformed socket.io
// packets, websocket frames that break RFC 6455 (unmasked, bad UTF-8, too
// large, reserved bits and opcodes, broken fragmentation and control frames),
// garbage xhr-polling POST bodies and jsonp-polling POSTs with a broken `d=`.
// The server must answer as docs/protocol.md says, stay up, and keep serving
// everyone else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Target, Peer, hostileTests, finalCheck } from './lib/harness.mjs';
import { openWs, PollSession, httpRequest, buildFrame } from '../node/lib/raw.mjs';
import { NS } from '../node/lib/packet.mjs';

const ROOM = 4000;
const target = new Target({ setup: async () => ({}) });
hostileTests(target, []); // starts and stops the server with the watchers

const port = () => target.server.port;
const deep = `${'['.repeat(10000)}${']'.repeat(10000)}`;

/** After each case: the server is up and the other room works. */
async function healthy() {
  assert.deepEqual(await target.health(), [], 'the server is alive and another room still works');
}

/** How a websocket ended: {closed, code} (code null when no close frame came). */
async function closeOf(ws, timeout = 5000) {
  try {
    const { closeFrame } = await ws.waitClosed(timeout);
    return { closed: true, code: closeFrame?.code ?? null };
  } catch {
    return { closed: false, code: null };
  }
}

// ---------------------------------------------------------------- socket.io packets

const MALFORMED = [
  '', ' ', ':', '::', '5', '5:', '5::', '5:::', '9::', 'x::', '55::/connection_agent:{}',
  '5:x:/connection_agent:{}', '5:1x+:/connection_agent:{}', '5:-1+:/connection_agent:{"name":"x"}',
  '5::/connection_agent', '5::/connection_agent:', '5::/connection_agent:{', '5::/connection_agent:}',
  '5::/connection_agent:null', '5::/connection_agent:[]', '5::/connection_agent:"join_room"',
  '5::/connection_agent:{"name":5}', '5::/connection_agent:{"args":[]}', '5::/connection_agent:{"name":null}',
  '5::/connection_agent:{"name":"join_room","args":[{"room":1}]}trailing',
  '5::/connection_agent:{"name":"join_room"} {"name":"leave_room"}',
  '5::/connection_agent:{"name":"join_room","name":"leave_room"}',
  '5::/connection_agent:{"name":"join_room","args":[{"room":"x","room":1}]}',
  '5::/connection_agent:{"name":"\\u0000"}', '5::/connection_agent:{"name":"\\ud800"}',
  '5::/connection_agent:{"name":"join_room","args":"\\u0000"}',
  `5::/connection_agent:{"name":"join_room","args":${deep}}`,
  `5::/connection_agent:${deep}`,
  `5:99999999999999999999999999+:/connection_agent:{"name":"x"}`,
  '5::/connection_agent:{"name":"join_room","args":[{"room":1e999999999}]}',
  '5::/connection_agent:{"name":"join_room","args":[{"room":-}]}',
  '5::/connection_agent:{"name":"join_room","args":[{"room":01}]}',
  '5::/connection_agent:{"name":"join_room","args":[{"room":0x10}]}',
  '5::/connection_agent:{"name":"join_room","args":[{"room":NaN}]}',
  "5::/connection_agent:{'name':'join_room'}",
  '5::/connection_agent:{"name":"join_room","args":[{"room":1}],}',
  '5::/connection_agent:{"name":"join_room\\x"}',
  '5::/connection_agent:{"name":"join_room\\u12"}',
  '6::/connection_agent:abc', '6::/connection_agent:1+[', '6::/connection_agent:1+{}',
  '6::/connection_agent:99999999999999999999999+[]', '6:::', '6::/connection_agent',
  '1::/other', '1::/connection_agent:?name=%', '1::/connection_agent:?name=%FF%FE', '0::/nonexistent',
  '7:::', '7:::1+0', '8::', '2::extra', '2::/connection_agent',
  '3::/connection_agent:hi', '4::/connection_agent:{', '4::/connection_agent:{"a":1}',
  `3::/connection_agent:${'x'.repeat(70 * 1024)}`,
];

test('malformed socket.io packets are dropped or refused; the connection goes on', async () => {
  const peer = await Peer.open(target, 'Mal');
  const problems = [];
  for (const packet of MALFORMED) {
    peer.ws.sendText(packet);
    // The next request's window holds whatever the bad packet caused.
    const outcome = await peer.request('join_room', { room: ROOM });
    const { ack: joinAck, errors: errs } = outcome;
    const what = JSON.stringify(packet.length > 80 ? `${packet.slice(0, 80)}…` : packet);
    if (outcome.died || outcome.timedOut) {
      problems.push(`${what}: the next request got no answer (${outcome.died ? 'connection or server gone' : 'timeout'})`);
      if (!target.alive()) break;
      continue;
    }
    if (joinAck?.room !== ROOM) problems.push(`${what}: the next join_room got ${JSON.stringify(joinAck)}`);
    if (errs.length > 1) problems.push(`${what}: ${errs.length} request_errors ${JSON.stringify(errs)}`);
    for (const e of errs) if (e.code !== 'bad_request') problems.push(`${what}: request_error ${JSON.stringify(e)}`);
  }
  peer.ws.destroy();
  assert.deepEqual(problems, []);
  await healthy();
});

test('more than 50 malformed packets in a row close the session (§1.3)', async () => {
  const ws = await openWs(port());
  for (let i = 0; i < 60; i++) ws.sendText(`garbage ${i}`);
  const end = await closeOf(ws);
  assert.equal(end.closed, true, 'the session is closed');
  await healthy();
});

// ---------------------------------------------------------------- websocket frames

test('an unmasked frame from a client is answered with close 1002 (RFC 6455 §5.1)', async () => {
  const ws = await openWs(port());
  ws.sendText(`1::${NS}`, { mask: false });
  const end = await closeOf(ws);
  assert.deepEqual(end, { closed: true, code: 1002 });
  await healthy();
});

// Invalid UTF-8 inside a request's JSON text: RFC 6455 §8.1 says close with
// 1007; docs/protocol.md §1.3 says the packet is dropped and the connection
// goes on. Either is accepted; a request_error or an ack for it is not.
const BAD_UTF8 = {
  'a lone continuation byte': [0x80],
  '0xFF 0xFE': [0xff, 0xfe],
  'an overlong "/"': [0xc0, 0xaf],
  'an encoded surrogate (U+D800)': [0xed, 0xa0, 0x80],
  'a code point past U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
  'a five-byte sequence': [0xf8, 0x88, 0x80, 0x80, 0x80],
  'a truncated sequence': [0xe2, 0x82],
};

for (const [label, bytes] of Object.entries(BAD_UTF8)) {
  test(`a text frame with invalid UTF-8 (${label}) is dropped or closed with 1007`, async () => {
    const { ws } = await openAgentConnection();
    const head = Buffer.from(`5:1+:${NS}:{"name":"join_room","args":[{"room":${ROOM}, "x":"`);
    ws.sendText(Buffer.concat([head, Buffer.from(bytes), Buffer.from('"}]}')]));
    ws.sendText(`5:2+:${NS}:{"name":"join_room","args":[{"room":${ROOM}}]}`);
    const second = await ws.nextAck(2).then((a) => a, () => null);
    if (second === null) {
      const end = await closeOf(ws);
      assert.deepEqual(end, { closed: true, code: 1007 }, 'closed with 1007 when not dropped');
    } else {
      assert.equal(second.room, ROOM, 'the next request is served');
      assert.equal(ws.inbox.all((m) => m.startsWith(`6::${NS}:1+`)).length, 0, 'no ack for the dropped packet');
      ws.destroy();
    }
    await healthy();
  });
}

test('a multibyte character split across two fragments is valid UTF-8 and served', async () => {
  const { ws } = await openAgentConnection();
  const text = Buffer.from(`5:3+:${NS}:{"name":"room_message","args":[{"type":"hostile","data":"é€😀"}]}`);
  const cut = text.indexOf(Buffer.from('€')) + 1; // inside the three bytes of €
  ws.sendFrame({ opcode: 1, fin: false, payload: text.subarray(0, cut) });
  ws.sendFrame({ opcode: 0, fin: true, payload: text.subarray(cut) });
  const ack = await ws.nextAck(3);
  assert.ok(ack.ok || ack.error?.code === 'not_in_room', JSON.stringify(ack));
  ws.destroy();
  await healthy();
});

test('a frame declaring more than --max-frame is closed with 1009 before its body (LIM)', async () => {
  const ws = await openWs(port());
  ws.sendFrame({ opcode: 1, payload: Buffer.alloc(16), declaredLength: 2 * 1024 * 1024 });
  assert.deepEqual(await closeOf(ws), { closed: true, code: 1009 });
  await healthy();
});

const FRAME_VIOLATIONS = {
  'a 64-bit length with its top bit set': { opcode: 1, payload: Buffer.alloc(4), declaredLength: 2 ** 63 },
  'a length near 2^64': { opcode: 1, payload: Buffer.alloc(4), declaredLength: 2 ** 64 - 2048 },
  'RSV bits set without an extension': { opcode: 1, rsv: 7, payload: `1::${NS}` },
  'reserved data opcode 3': { opcode: 3, payload: 'x' },
  'reserved control opcode 0xB': { opcode: 0xb, payload: 'x' },
  'a continuation frame with nothing to continue': { opcode: 0, payload: 'x' },
  'a fragmented ping': { opcode: 9, fin: false, payload: 'x' },
  'a ping with 126 bytes (control frames carry at most 125)': { opcode: 9, payload: Buffer.alloc(126) },
  'a close frame with a 1-byte body': { opcode: 8, payload: Buffer.from([3]) },
  'a close frame with code 999': { opcode: 8, payload: Buffer.from([0x03, 0xe7]) },
  'a close frame with code 1005 (never sent on the wire)': { opcode: 8, payload: Buffer.from([0x03, 0xed]) },
  'a close frame whose reason is invalid UTF-8': { opcode: 8, payload: Buffer.from([0x03, 0xe8, 0xff, 0xfe]) },
};

for (const [label, frame] of Object.entries(FRAME_VIOLATIONS)) {
  test(`a websocket frame with ${label} ends that connection only`, async () => {
    const ws = await openWs(port());
    ws.sendRaw(buildFrame(frame));
    const end = await closeOf(ws);
    assert.equal(end.closed, true, 'the connection is closed');
    // a close code the server sends must be one RFC 6455 §7.4.1 allows on the wire (not an echo of a bad one)
    if (end.code !== null) {
      assert.ok([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011].includes(end.code), `the server closed with code ${end.code}`);
    }
    await healthy();
  });
}

test('a text frame starting while a fragmented message is unfinished ends the connection', async () => {
  const ws = await openWs(port());
  ws.sendFrame({ opcode: 1, fin: false, payload: '5::' });
  ws.sendFrame({ opcode: 1, fin: true, payload: '5::' });
  assert.equal((await closeOf(ws)).closed, true);
  await healthy();
});

// ---------------------------------------------------------------- polling

const GARBAGE_POSTS = {
  'an empty body': '',
  'a lone U+FFFD': '\ufffd',
  'two U+FFFD': '\ufffd\ufffd',
  'a length and nothing': '\ufffd5\ufffd',
  'a non-numeric length': '\ufffdx\ufffd5::',
  'a negative length': '\ufffd-1\ufffd5::',
  'a length of 10^20': '\ufffd99999999999999999999\ufffd5::',
  'a length past the end': '\ufffd300\ufffd5::',
  'a zero length': '\ufffd0\ufffd',
  'a length that cuts a surrogate pair': '\ufffd1\ufffd😀',
  'an unterminated second frame': '\ufffd3\ufffd8::\ufffd4',
  'a frame holding another framing': '\ufffd9\ufffd\ufffd1\ufffd8::',
  'invalid UTF-8': Buffer.from([0xff, 0xfe, 0xfd, 0x35, 0x3a, 0x3a]),
  'invalid UTF-8 inside a framed payload': Buffer.concat([Buffer.from('\ufffd4\ufffd'), Buffer.from([0x38, 0x3a, 0x3a, 0xff])]),
  'a NUL byte': '5::\u0000',
  'an event nested 10,000 deep': `5::${NS}:{"name":"join_room","args":${deep}}`,
  '200 KB of noise': Buffer.from(Array.from({ length: 200 * 1024 }, (_, i) => (i * 7919) % 256)),
};

test('garbage xhr-polling POST bodies are answered and ignored; the session goes on', async () => {
  const s = await PollSession.open(port());
  await s.get(); // 1::
  await s.post(`1::${NS}`);
  await s.waitEvent('connected');
  const problems = [];
  for (const [label, body] of Object.entries(GARBAGE_POSTS)) {
    const res = await httpRequest(port(), {
      method: 'POST', path: s.path(), headers: { 'Content-Type': 'text/plain;charset=UTF-8' }, body,
    });
    if (res.noResponse || !(res.status === 200 || (res.status >= 400 && res.status < 500))) {
      problems.push(`${label}: answered ${JSON.stringify(res).slice(0, 200)}`);
    }
  }
  assert.deepEqual(problems, []);
  await s.emit('join_room', [{ room: ROOM }]);
  assert.equal((await s.waitEvent('room_joined')).room, ROOM, 'the session still works');
  await healthy();
});

const BROKEN_D = {
  'no body': '',
  'no d': 'x=1',
  'an empty d': 'd=',
  'a lone %': 'd=%',
  'a bad escape': 'd=%ZZ',
  'an unterminated JSON string': 'd=%22abc',
  'a number': 'd=5',
  'null': 'd=null',
  'an array': 'd=%5B1%5D',
  'an object': 'd=%7B%22a%22%3A1%7D',
  'a lone surrogate': 'd=%22%5Cud800%22',
  'a bad JSON escape': 'd=%22%5Cu00%22',
  'invalid UTF-8 after decoding': 'd=%22%FF%FE%22',
  'a NUL': 'd=%22%00%22',
  'two d': 'd=%228%3A%3A%22&d=%22x',
  'a d 10,000 deep': `d=${encodeURIComponent(deep)}`,
  'a string of a packet nested 10,000 deep': `d=${encodeURIComponent(JSON.stringify(`5::${NS}:{"name":"x","args":${deep}}`))}`,
  '300 KB of d': `d=${'a'.repeat(300 * 1024)}`,
};

test('jsonp-polling POSTs with a broken d= are answered 200 "1" and ignored (§1.2)', async () => {
  const s = await PollSession.open(port(), { transport: 'jsonp-polling', jsonpIndex: 3 });
  await s.get(); // 1::
  await s.post(`1::${NS}`);
  await s.waitEvent('connected');
  const problems = [];
  for (const [label, body] of Object.entries(BROKEN_D)) {
    const res = await httpRequest(port(), {
      method: 'POST', path: s.path(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body,
    });
    if (res.noResponse || res.status !== 200 || res.body !== '1') problems.push(`${label}: answered ${JSON.stringify(res).slice(0, 200)}`);
  }
  assert.deepEqual(problems, []);
  await s.emit('join_room', [{ room: ROOM }]);
  assert.equal((await s.waitEvent('room_joined')).room, ROOM, 'the session still works');
  await healthy();
});

finalCheck(target);

/** A user on a raw websocket (for frames written by hand). */
function openAgentConnection() {
  return Peer.open(target, 'Raw');
}
