#!/usr/bin/env node
// The COMPEIT Connection Agent API (CA-1..CA-12) and the room/user chat
// (CH-1..CH-4, in memory) on npm socket.io@0.9.19: the peer a user would
// otherwise pick, kept only to be measured against the native server.
// Written the way a socket.io 0.9 application is: rooms are socket.io rooms,
// a room broadcast is `socket.broadcast.to(room).emit(...)` (encoded once by
// socket.io and dispatched to every member's transport).
//
// usage: node server.js [--port N] [--bind ADDR] [--max-room-users N] [--max-rooms N]
//                       [--heartbeat-interval S] [--heartbeat-timeout S] [--log-level N]
// Prints `listening on http://ADDR:PORT` once it accepts connections.
'use strict';

const http = require('http');
const sio = require('socket.io');

function parseArgs(argv) {
  const o = {
    port: 8080, bind: '127.0.0.1', maxRoomUsers: 256, maxRooms: 100000, maxText: 4000,
    maxData: 65536, heartbeatInterval: 25, heartbeatTimeout: 60, logLevel: 0,
  };
  const num = (v, flag) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) { console.error(`bad value for ${flag}: ${v}`); process.exit(2); }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    switch (a) {
      case '--port': o.port = num(v, a); i++; break;
      case '--bind': o.bind = v; i++; break;
      case '--max-room-users': o.maxRoomUsers = num(v, a); i++; break;
      case '--max-rooms': o.maxRooms = num(v, a); i++; break;
      case '--max-text': o.maxText = num(v, a); i++; break;
      case '--max-data': o.maxData = num(v, a); i++; break;
      case '--heartbeat-interval': o.heartbeatInterval = num(v, a); i++; break;
      case '--heartbeat-timeout': o.heartbeatTimeout = num(v, a); i++; break;
      case '--log-level': o.logLevel = num(v, a); i++; break;
      case '--help':
        console.log('usage: node server.js [--port N] [--bind ADDR] [--max-room-users N] [--max-rooms N] ' +
                    '[--max-text N] [--max-data N] [--heartbeat-interval S] [--heartbeat-timeout S] [--log-level 0-3]');
        process.exit(0);
        break;
      default: console.error(`unknown flag ${a}`); process.exit(2);
    }
  }
  return o;
}

const opt = parseArgs(process.argv.slice(2));

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, {'Content-Type': 'text/plain'});
  res.end('not found');
});

const io = sio.listen(httpServer, {
  'log level': opt.logLevel,
  log: opt.logLevel > 0,
  // policyfile@0.0.4 crashes on Node 20 (process.EventEmitter): no flash policy server.
  'flash policy server': false,
  'browser client': false,
  transports: ['websocket', 'htmlfile', 'xhr-polling', 'jsonp-polling'],
  'heartbeat interval': opt.heartbeatInterval,
  'heartbeat timeout': opt.heartbeatTimeout,
  // 0.9.19's websocket parser counts every inbound byte once per parser stage
  // and again for each frame still queued behind it in the same TCP read, on a
  // lifetime counter checked against this limit (default 1e8). A client whose
  // frames arrive coalesced (any sender faster than the server reads) is
  // kicked with `0::` after a few seconds at 1,000 msg/s. Lifted here, or the
  // reference could not run the 1,000 msg/s and flat-out scenarios at all.
  'destroy buffer size': Infinity,
});

// socket.io 0.9.19 removes its 'error' listener from a socket when the session
// ends; a TCP reset arriving after that is an unhandled 'error' that kills the
// process. Keep a listener on every connection for the life of the server.
httpServer.on('connection', (sock) => sock.on('error', () => {}));

// ---- state --------------------------------------------------------------------------------------------

let nextUserId = 1;
let nextChatId = 1;
const users = new Map();   // id -> {user, socket, room}
const rooms = new Map();   // room -> Map(id -> user) in join order
const chatHistory = new Map();  // room -> [chat message] (last kHistoryKeep)
const kHistoryKeep = 1000;
const kJoinHistory = 50;
const kMaxHistory = 200;

const ns = io.of('/connection_agent');
const ioRoom = (room) => 'r' + room;

function requestError(me, event, code, message, ack) {
  me.socket.emit('request_error', {event, code, message});
  if (typeof ack === 'function') ack({error: {code, message}});
}

function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
function isRoomId(v) { return Number.isSafeInteger(v) && v >= 0; }

function storeChat(room, msg) {
  let h = chatHistory.get(room);
  if (!h) chatHistory.set(room, h = []);
  h.push(msg);
  if (h.length > kHistoryKeep) h.splice(0, h.length - kHistoryKeep);
}

function historyOf(room, before, limit) {
  const h = chatHistory.get(room) || [];
  const older = before === undefined ? h : h.filter((m) => m.id < before);
  return older.slice(Math.max(0, older.length - limit));
}

// CH-3: join and leave events in the room's chat, from the server, to the whole room.
function chatEvent(room, user, event) {
  const msg = {id: nextChatId++, room, ts: Date.now(), user, event};
  storeChat(room, msg);
  ns.in(ioRoom(room)).emit('room_message', {from: 0, type: 'chat', data: msg});
}

function leave(me) {
  const room = me.room;
  if (room === null) return null;
  const members = rooms.get(room);
  members.delete(me.user.id);
  me.socket.leave(ioRoom(room));
  me.room = null;
  if (members.size === 0) {
    rooms.delete(room);
  } else {
    me.socket.broadcast.to(ioRoom(room)).emit('user_left', {room, user: me.user});
    chatEvent(room, me.user, 'user_left');
  }
  return room;
}

function chatText(me, event, data, ack) {
  if (!isObject(data) || typeof data.text !== 'string') {
    requestError(me, event, 'bad_request', 'chat needs {text: <string>}', ack);
    return null;
  }
  if (data.text.length === 0) {
    requestError(me, event, 'bad_request', 'empty text', ack);
    return null;
  }
  if ([...data.text].length > opt.maxText) {
    requestError(me, event, 'too_large', `text longer than ${opt.maxText} characters`, ack);
    return null;
  }
  return data.text;
}

function dataTooLarge(me, event, data, ack) {
  const size = data === undefined ? 4 : Buffer.byteLength(JSON.stringify(data));
  if (size > opt.maxData) {
    requestError(me, event, 'too_large', `data over ${opt.maxData} bytes`, ack);
    return true;
  }
  return false;
}

ns.on('connection', (socket) => {
  const query = (socket.handshake && socket.handshake.query) || {};
  const id = nextUserId++;
  let name = typeof query.name === 'string' && query.name !== '' ? query.name : 'user' + id;
  if (name.length > 100) name = name.slice(0, 100);
  const me = {user: {id, name}, socket, room: null};
  users.set(id, me);
  socket.emit('connected', {user: me.user});  // CA-1

  // CA-2, CA-7
  socket.on('join_room', (req, ack) => {
    if (!isObject(req) || !isRoomId(req.room)) {
      return requestError(me, 'join_room', 'bad_request', 'join_room needs {room: <integer>}', ack);
    }
    const room = req.room;
    if (me.room === room) {
      const again = {room, users: [...rooms.get(room).values()]};
      socket.emit('room_joined', again);
      if (typeof ack === 'function') ack(again);
      return;
    }
    const members = rooms.get(room);
    if ((members && members.size >= opt.maxRoomUsers) || (!members && rooms.size >= opt.maxRooms)) {
      return requestError(me, 'join_room', 'room_full', 'the room is full', ack);
    }
    if (me.room !== null) {
      const old = leave(me);
      socket.emit('room_left', {room: old});
    }
    let m = rooms.get(room);
    if (!m) rooms.set(room, m = new Map());
    m.set(id, me.user);
    me.room = room;
    socket.join(ioRoom(room));
    const joined = {room, users: [...m.values()]};
    socket.emit('room_joined', joined);
    // CH-4: the joiner gets the last messages of the room's chat.
    socket.emit('server_message', {type: 'chat', data: {action: 'history', room, messages: historyOf(room, undefined, kJoinHistory)}});
    socket.broadcast.to(ioRoom(room)).emit('user_joined', {room, user: me.user});
    chatEvent(room, me.user, 'user_joined');
    if (typeof ack === 'function') ack(joined);
  });

  // CA-3
  socket.on('leave_room', (...args) => {
    const ack = args.find((a) => typeof a === 'function');
    if (me.room === null) return requestError(me, 'leave_room', 'not_in_room', 'not in a room', ack);
    const room = leave(me);
    socket.emit('room_left', {room});
    if (typeof ack === 'function') ack({room});
  });

  // CA-5, CA-9, CH-1
  socket.on('room_message', (req, ack) => {
    if (!isObject(req) || typeof req.type !== 'string' || req.type === '') {
      return requestError(me, 'room_message', 'bad_request', 'room_message needs {type: <string>, data}', ack);
    }
    if (me.room === null) return requestError(me, 'room_message', 'not_in_room', 'not in a room', ack);
    const data = req.data === undefined ? null : req.data;
    if (dataTooLarge(me, 'room_message', data, ack)) return;
    const room = me.room;
    if (req.type === 'chat') {
      const text = chatText(me, 'room_message', data, ack);
      if (text === null) return;
      const msg = {id: nextChatId++, room, text, ts: Date.now(), user: me.user};
      storeChat(room, msg);
      ns.in(ioRoom(room)).emit('room_message', {from: id, type: 'chat', data: msg});  // the sender too
    } else {
      socket.broadcast.to(ioRoom(room)).emit('room_message', {from: id, type: req.type, data});
    }
    if (typeof ack === 'function') ack({ok: true});
  });

  // CA-4, CA-6, CH-2, CH-4
  socket.on('server_message', (req, ack) => {
    if (!isObject(req) || typeof req.type !== 'string' || req.type === '') {
      return requestError(me, 'server_message', 'bad_request', 'server_message needs {type: <string>, data}', ack);
    }
    const data = req.data === undefined ? null : req.data;
    if (dataTooLarge(me, 'server_message', data, ack)) return;
    if (req.to !== undefined) {
      if (!Number.isSafeInteger(req.to)) {
        return requestError(me, 'server_message', 'bad_request', 'to must be a user id', ack);
      }
      const target = users.get(req.to);
      if (!target) return requestError(me, 'server_message', 'unknown_user', 'no such user', ack);
      if (req.type === 'chat') {
        const text = chatText(me, 'server_message', data, ack);
        if (text === null) return;
        const msg = {id: nextChatId++, room: null, text, ts: Date.now(), user: me.user, to: req.to};
        target.socket.emit('user_message', {from: id, type: 'chat', data: msg});
        if (req.to !== id) socket.emit('user_message', {from: id, type: 'chat', data: msg});
      } else {
        target.socket.emit('user_message', {from: id, type: req.type, data});
      }
      if (typeof ack === 'function') ack({ok: true});
      return;
    }
    if (req.type !== 'chat') {
      return requestError(me, 'server_message', 'unknown_type', `no server agent for type ${req.type}`, ack);
    }
    if (!isObject(data) || data.action !== 'history') {
      return requestError(me, 'server_message', 'bad_request', 'chat server_message needs {action: "history"}', ack);
    }
    if (me.room === null) return requestError(me, 'server_message', 'not_in_room', 'history is per room: join one first', ack);
    let before;
    if (data.before !== undefined) {
      if (!Number.isSafeInteger(data.before) || data.before < 1) {
        return requestError(me, 'server_message', 'bad_request', 'before must be a message id', ack);
      }
      before = data.before;
    }
    let limit = kJoinHistory;
    if (data.limit !== undefined) {
      if (!Number.isSafeInteger(data.limit) || data.limit < 1 || data.limit > kMaxHistory) {
        return requestError(me, 'server_message', 'bad_request', 'limit must be an integer from 1 to 200', ack);
      }
      limit = data.limit;
    }
    socket.emit('server_message', {type: 'chat', data: {action: 'history', room: me.room, messages: historyOf(me.room, before, limit)}});
    if (typeof ack === 'function') ack({ok: true});
  });

  // CA-8: a closed transport, a heartbeat timeout or a namespace disconnect leave the room once.
  socket.on('disconnect', () => {
    leave(me);
    users.delete(id);
  });
});

httpServer.on('error', (err) => {
  console.error(`reference server: ${err.message}`);
  process.exit(1);
});

httpServer.listen(opt.port, opt.bind, () => {
  const a = httpServer.address();
  console.log(`listening on http://${a.address}:${a.port}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
