#include "compeit/cluster/node.hpp"

#include <algorithm>
#include <charconv>

#include "compeit/sio/packet.hpp"
#include "compeit/util/json_guard.hpp"
#include "compeit/util/json_scan.hpp"
#include "compeit/util/utf.hpp"

namespace compeit::cluster {
namespace {

// Each function changes the room, its sequence, log and channel in one atomic
// step. Keys are built inside (one Redis, not Redis Cluster: no key slots).
constexpr std::string_view kLibrary = R"LUA(#!lua name=compeit
local P = 'compeit:'
-- The room's next message: its log entry and its one publish. The log
-- numbers the messages: XADD's id '0-*' is 0-<the next sequence>, so there
-- is no counter to INCR, and no number is formatted here (the sequence
-- stays the text Redis made). The entry holds the payload; its id the seq.
local function emit_to(log, channel, payload, maxlen)
  local seq = string.sub(redis.call('XADD', log, 'MAXLEN', '~', maxlen, '0-*', 'm', payload), 3)
  redis.call('PUBLISH', channel, seq .. ' ' .. payload)
  return seq
end
local function emit(room, payload, maxlen)
  return emit_to(P .. 'r:' .. room .. ':log', P .. 'r:' .. room, payload, maxlen)
end
-- The users a node had, taken out of the directory: id, room ('' none), user JSON, ...
local function take(node)
  local out = {}
  local key = P .. 'n:' .. node .. ':users'
  local users = redis.call('HGETALL', key)
  for i = 1, #users, 2 do
    local id, room = users[i], users[i + 1]
    if redis.call('HGET', P .. 'users', id) == node then redis.call('HDEL', P .. 'users', id) end
    local user = ''
    if room ~= '' then user = redis.call('HGET', P .. 'r:' .. room .. ':u', id) or '' end
    out[#out + 1] = id
    out[#out + 1] = room
    out[#out + 1] = user
  end
  redis.call('DEL', key)
  return out
end
-- publish(keys: room log, room channel; payload, maxlen) -> seq: once per room message, so the node
-- sends the keys made and Lua does nothing but the two calls
redis.register_function('compeit_publish', function(k, a) return emit_to(k[1], k[2], a[1], a[2]) end)
-- join(room, node, id, user json, max users, payload, maxlen) -> {seq, member JSON in join order...} | {-1}: full
-- (seq is a string here and in leave: the text XADD made)
redis.register_function('compeit_join', function(_, a)
  local room, node, id = a[1], a[2], a[3]
  local m, u = P .. 'r:' .. room .. ':m', P .. 'r:' .. room .. ':u'
  if not redis.call('ZSCORE', m, id) and redis.call('ZCARD', m) >= tonumber(a[5]) then return {-1} end
  local seq = emit(room, a[6], a[7])
  redis.call('ZADD', m, seq, id)
  redis.call('HSET', u, id, a[4])
  redis.call('HSET', P .. 'n:' .. node .. ':users', id, room)
  redis.call('PERSIST', P .. 'r:' .. room .. ':log')
  local out = {seq}
  for _, member in ipairs(redis.call('ZRANGE', m, 0, -1)) do out[#out + 1] = redis.call('HGET', u, member) end
  return out
end)
-- members(room) -> {member JSON in join order...}
redis.register_function{function_name = 'compeit_members', flags = {'no-writes'}, callback = function(_, a)
  local u, out = P .. 'r:' .. a[1] .. ':u', {}
  for _, member in ipairs(redis.call('ZRANGE', P .. 'r:' .. a[1] .. ':m', 0, -1)) do
    out[#out + 1] = redis.call('HGET', u, member)
  end
  return out
end}
-- rejoin(room, node, id, user json): a member re-registered after Redis lost it; nobody is told
redis.register_function('compeit_rejoin', function(_, a)
  local m = P .. 'r:' .. a[1] .. ':m'
  if redis.call('ZSCORE', m, a[3]) then return 0 end
  local last = redis.call('XREVRANGE', P .. 'r:' .. a[1] .. ':log', '+', '-', 'COUNT', 1)[1]
  redis.call('ZADD', m, last and string.sub(last[1], 3) or '0', a[3])
  redis.call('HSET', P .. 'r:' .. a[1] .. ':u', a[3], a[4])
  redis.call('HSET', P .. 'n:' .. a[2] .. ':users', a[3], a[1])
  return 1
end)
-- leave(room, node, id, payload, maxlen, still online '1'|'0') -> seq | 0: was not a member (said once)
redis.register_function('compeit_leave', function(_, a)
  local room, node, id = a[1], a[2], a[3]
  local m = P .. 'r:' .. room .. ':m'
  local users = P .. 'n:' .. node .. ':users'
  if a[6] == '0' then redis.call('HDEL', users, id)
  elseif redis.call('HGET', users, id) == room then redis.call('HSET', users, id, '') end
  if redis.call('ZREM', m, id) == 0 then return 0 end
  redis.call('HDEL', P .. 'r:' .. room .. ':u', id)
  local seq = emit(room, a[4], a[5])
  if redis.call('ZCARD', m) == 0 then
    redis.call('EXPIRE', P .. 'r:' .. room .. ':log', 86400)
  end
  return seq
end)
-- send(id, frame) -> 1 | 0: no node has the user
redis.register_function('compeit_send', function(_, a)
  local node = redis.call('HGET', P .. 'users', a[1])
  if not node then return 0 end
  redis.call('PUBLISH', P .. 'n:' .. node, a[1] .. '\n' .. a[2])
  return 1
end)
-- register(node, ttl ms, fresh '1'|'0', epoch candidate) -> {epoch, was registered 0|1, [id, room, user]...}
-- fresh: the node (re)started, so what an earlier run of it left is taken (and announced by the caller);
-- else the users Redis has for the node, which the caller reconciles with its own.
redis.register_function('compeit_register', function(_, a)
  local node = a[1]
  redis.call('SET', P .. 'epoch', a[4], 'NX')
  local out = {redis.call('GET', P .. 'epoch'), redis.call('SISMEMBER', P .. 'nodes', node)}
  if a[3] == '1' then
    for _, v in ipairs(take(node)) do out[#out + 1] = v end
  else
    local users = redis.call('HGETALL', P .. 'n:' .. node .. ':users')
    for i = 1, #users, 2 do
      local user = ''
      if users[i + 1] ~= '' then user = redis.call('HGET', P .. 'r:' .. users[i + 1] .. ':u', users[i]) or '' end
      out[#out + 1] = users[i]
      out[#out + 1] = users[i + 1]
      out[#out + 1] = user
    end
  end
  redis.call('SADD', P .. 'nodes', node)
  redis.call('SET', P .. 'n:' .. node .. ':alive', '1', 'PX', a[2])
  return out
end)
-- beat(node, ttl ms) -> {0}: this node was reaped | {1} | {1, dead node, [id, room, user]...}: reap these
redis.register_function('compeit_beat', function(_, a)
  local node = a[1]
  if redis.call('SISMEMBER', P .. 'nodes', node) == 0 then return {0} end
  redis.call('SET', P .. 'n:' .. node .. ':alive', '1', 'PX', a[2])
  for _, n in ipairs(redis.call('SMEMBERS', P .. 'nodes')) do
    if n ~= node and redis.call('EXISTS', P .. 'n:' .. n .. ':alive') == 0 then
      redis.call('SREM', P .. 'nodes', n)
      local out = {1, n}
      for _, v in ipairs(take(n)) do out[#out + 1] = v end
      return out
    end
  end
  return {1}
end)
-- route(scope, room, node, run, message, ttl ms, again '1'|'0') -> 1 | 0: nobody listens on the owner's channel
-- The room's owner for the scope is the node that claimed it while it is
-- alive; else the caller claims it, and hears so first (whose it was, what
-- that owner recorded). The message goes to the owner's channel, the
-- caller's own included: the owner runs every call in this order. A claim of
-- an earlier run of the caller is dead too. A live node that gets a call
-- for a room it did not claim in this run routes it again (`again`): if the
-- claim is its own after all, it hears the claim again. An owner whose
-- subscription is down (dying, or cut off) gets nothing: 0, and a claim just
-- made is undone.
redis.register_function('compeit_route', function(_, a)
  local k = P .. 'own:' .. a[1] .. ':' .. a[2]
  local owner, run, record = unpack(redis.call('HMGET', k, 'node', 'run', 'record'))
  local to = owner
  local mine = owner == a[3] and run == a[4]
  local live = owner and owner ~= a[3] and redis.call('EXISTS', P .. 'n:' .. owner .. ':alive') == 1
  local claimed = not mine and not live
  if claimed then
    redis.call('DEL', k)
    redis.call('HSET', k, 'node', a[3], 'run', a[4])
    to = a[3]
  end
  if claimed or (mine and a[7] == '1') then
    local previous, left = '', ''
    if claimed then previous, left = owner or '', record or '' end
    redis.call('PUBLISH', P .. 'n:' .. to, '@' .. a[1] .. '\n{"k":"claim","from":' .. cjson.encode(a[3]) ..
      ',"room":' .. a[2] .. ',"previous":' .. cjson.encode(previous) .. ',"record":' .. cjson.encode(left) .. '}')
  end
  if redis.call('PUBLISH', P .. 'n:' .. to, '@' .. a[1] .. '\n' .. a[5]) == 0 then
    if claimed then
      redis.call('DEL', k)
      if owner then redis.call('HSET', k, 'node', owner, 'run', run, 'record', record or '') end
    end
    return 0
  end
  redis.call('PEXPIRE', k, a[6])
  return 1
end)
-- record(scope, room, node, run, record, ttl ms) -> 1 | 0: not the owner
redis.register_function('compeit_record', function(_, a)
  local k = P .. 'own:' .. a[1] .. ':' .. a[2]
  local owner, run = unpack(redis.call('HMGET', k, 'node', 'run'))
  if owner ~= a[3] or run ~= a[4] then return 0 end
  if a[5] == '' then redis.call('HDEL', k, 'record') else redis.call('HSET', k, 'record', a[5]) end
  redis.call('PEXPIRE', k, a[6])
  return 1
end)
)LUA";

std::optional<std::uint64_t> to_u64(std::string_view s) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::string str(std::uint64_t v) { return std::to_string(v); }

resp::Value error_value(std::string text) { return resp::Value::error(std::move(text)); }

// The member JSON texts of a reply, from element `first` on, as one JSON
// array; what is not one JSON object (Redis is outside input too) is left out.
std::string json_array(const resp::Value& v, std::size_t first) {
    std::string out = "[";
    for (std::size_t i = first; i < v.elements.size(); ++i)
        if (const auto u = v.elements[i].as_string();
            u && !u->empty() && u->front() == '{' && utf::valid_utf8(*u) && util::json_value_span(*u, 4) == *u) {
            if (out.size() > 1) out += ',';
            out += *u;
        }
    out += ']';
    return out;
}

sio::Frame user_left_frame(ca::RoomId room, std::string_view user_json) {
    std::string arg = "[{\"room\":" + std::to_string(room) + ",\"user\":";
    arg += user_json;
    arg += "}]";
    return sio::make_frame(sio::encode_event(ca::kNamespace, "user_left", arg));
}

}  // namespace

std::string_view functions_library() { return kLibrary; }

Node::Node(NodeConfig config, Host host) : config_(std::move(config)), host_(std::move(host)) {}

std::string Node::key(std::string_view a, std::string_view b, std::string_view c) const {
    std::string k = "compeit:";
    k += a;
    k += b;
    k += c;
    return k;
}

void Node::wake() {
    if (host_.output) host_.output();
}

void Node::command(std::vector<std::string> args, Reply reply) {
    if (state_ != State::ready) {
        if (reply) reply(error_value("the cluster engine (Redis) is unreachable"));
        return;
    }
    if (pending_.size() >= config_.max_pending) {  // Redis is not keeping up: refuse, never queue without bound
        if (host_.note) host_.note("cluster: too many commands waiting for Redis; one was refused");
        if (reply) reply(error_value("the cluster engine (Redis) is not keeping up"));
        return;
    }
    std::vector<std::string_view> views(args.begin(), args.end());
    const bool was_empty = cmd_out_.empty();
    resp::append_command(cmd_out_, views);
    pending_.push_back(std::move(reply));
    if (was_empty) wake();
}

// (UN)SUBSCRIBE on the RESP3 connection: confirmed by a push, not by a
// reply, so nothing waits in pending_ for it.
void Node::subscriber_command(std::initializer_list<std::string_view> args) {
    if (state_ != State::ready) return;
    const bool was_empty = cmd_out_.empty();
    resp::append_command(cmd_out_, args);
    if (was_empty) wake();
}

std::string Node::take_commands() { return std::exchange(cmd_out_, {}); }

// --- ids --------------------------------------------------------------------

void Node::add_ids(ca::UserId first, std::size_t count) {
    ids_requested_ = false;
    if (count) ids_.emplace_back(first, count);
}

std::optional<ca::UserId> Node::allocate_user() {
    while (!ids_.empty() && ids_.front().second == 0) ids_.pop_front();
    std::size_t left = 0;
    for (const auto& b : ids_) left += b.second;
    if (left <= config_.id_block / 2 && !ids_requested_ && host_.need_ids) {
        ids_requested_ = true;
        host_.need_ids();
    }
    if (ids_.empty()) return std::nullopt;
    auto& [next, count] = ids_.front();
    --count;
    return next++;
}

// --- connection life ----------------------------------------------------------

void Node::connected(sio::Time now) {
    now_ = now;
    state_ = State::ready;
    settling_ = 1;  // until registered (and every room subscribed again): requests get `unavailable`
    cmd_out_.clear();
    // RESP3 first: pub/sub pushes and command replies share the connection.
    command({"HELLO", "3"}, [this](const resp::Value& v) {
        if (v.is_error() && host_.note) host_.note("cluster: Redis refused RESP3 (HELLO 3; Redis 7 is needed): " + v.str);
    });
    command({"FUNCTION", "LOAD", "REPLACE", std::string(kLibrary)}, [this](const resp::Value& v) {
        if (v.is_error() && host_.note) host_.note("cluster: loading the functions failed: " + v.str);
    });
    register_node(!registered_once_);
}

void Node::register_node(bool fresh) {
    // A candidate epoch: any value unlikely to repeat will do; the first node's wins.
    const std::string candidate = config_.name + ":" + str(static_cast<std::uint64_t>(now_.count())) + ":" +
                                  str(reinterpret_cast<std::uintptr_t>(this));
    command({"FCALL", "compeit_register", "0", config_.name, str(config_.alive_ttl.count()), fresh ? "1" : "0",
             candidate},
            [this, fresh](const resp::Value& v) { registered(v, fresh); });
    next_alive_ = now_ + config_.alive_every;
}

void Node::registered(const resp::Value& v, bool fresh) {
    if (v.kind != resp::Value::Kind::array || v.elements.size() < 2 || !v.elements[0].as_string()) {
        if (host_.note) host_.note("cluster: registering failed: " + (v.is_error() ? v.str : std::string("bad reply")));
        register_failed_ = true;  // tried again on the next tick; requests get `unavailable` until then
        return;
    }
    const std::string epoch(*v.elements[0].as_string());
    const bool was_member = v.elements[1].as_integer().value_or(0) == 1;
    const bool same_redis = epoch == epoch_;
    if (registered_once_ && same_redis && !was_member) {
        // Cut off for longer than the liveness TTL: another node has reaped
        // this one and told every room its users left. They must start again.
        std::vector<sio::SessionId> sessions;
        for (const auto& [id, s] : users_) sessions.push_back(s);
        if (host_.drop) host_.drop(sessions, "this server lost the cluster for too long");
    }
    if (!same_redis)  // a new Redis: every room's sequence starts again at 1, for the members here too
        for (auto& [id, r] : rooms_) {
            r.next_seq = registered_once_ ? 1 : 0;
            for (Member& m : r.members) m.since = 0;
        }
    epoch_ = epoch;
    registered_once_ = true;
    // This process's run: room claims of an earlier run of this node are dead (ca::RoomOwners).
    if (run_.empty()) run_ = config_.name + ":" + str(static_cast<std::uint64_t>(now_.count())) + ":" + epoch;
    const auto rest = resp::Value::array({v.elements.begin() + 2, v.elements.end()});
    if (fresh) reaped(rest, true);  // what an earlier run of this node left: announced as leaves now
    else reaped(rest, false);       // what changed here while Redis could not be told

    subscriber_command({"SUBSCRIBE", key("n:", config_.name)});
    // Chat messages committed but not published while Redis was away: an
    // empty marker in their place, so receivers need not wait for them.
    for (const auto& [room, order] : std::exchange(unpublished_, {}))
        command({"FCALL", "compeit_publish", "2", key("r:", str(room), ":log"), key("r:", str(room)),
                 room_payload(0, order, sio::make_frame(std::string())), str(config_.log_length)},
                {});
    // Users and members again (no-ops when Redis still has them).
    for (const auto& [id, s] : users_) {
        command({"HSET", key("users"), str(id), config_.name}, {});
        const auto room = user_rooms_[id];
        if (room)
            command({"FCALL", "compeit_rejoin", "0", str(*room), config_.name, str(id), user_json_[id]}, {});
        else
            command({"HSET", key("n:", config_.name, ":users"), str(id), ""}, {});
    }
    // The rooms again; what was published in them while this node was away
    // (or, in a new Redis, before it was back) is in their logs.
    settling_ = rooms_.size();
    for (auto& [id, r] : rooms_) {
        r.subscribed = r.subscribing = false;
        subscribe(id, [this, room = id](bool ok) {
            if (!ok) return;
            const auto it = rooms_.find(room);
            if (it != rooms_.end() && it->second.next_seq && !it->second.filling) fill(room, it->second, 0);
            if (settling_ > 0) --settling_;
        });
    }
}

void Node::disconnected() {
    state_ = State::down;
    cmd_out_.clear();
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& reply : pending)
        if (reply) reply(error_value("the connection to the cluster engine (Redis) was lost"));
    std::vector<std::function<void(bool)>> waiting;
    for (auto& [room, r] : rooms_) {
        r.subscribed = r.subscribing = false;
        r.filling = false;
        for (auto& f : r.after_subscribe) waiting.push_back(std::move(f));
        r.after_subscribe.clear();
    }
    for (auto& f : waiting) f(false);  // joins waiting for a subscription fail now
}

void Node::tick(sio::Time now) {
    now_ = now;
    for (auto& [room, r] : rooms_)
        if (!r.chat_held.empty() && now - r.chat_since >= config_.chat_wait) {
            // An earlier chat message was committed but never published here
            // (its node died in between): it is in the history; go on without it.
            r.next_order = r.chat_held.begin()->first;
            while (!r.chat_held.empty() && r.chat_held.begin()->first == r.next_order) {
                Held h = std::move(r.chat_held.begin()->second);
                r.chat_held.erase(r.chat_held.begin());
                ++r.next_order;
                deliver(r, h);
            }
            r.chat_since = now;
        }
    if (state_ != State::ready || now < next_alive_) return;
    if (register_failed_) {
        register_failed_ = false;
        return register_node(!registered_once_);
    }
    next_alive_ = now + config_.alive_every;
    command({"FCALL", "compeit_beat", "0", config_.name, str(config_.alive_ttl.count())},
            [this](const resp::Value& v) {
                if (v.kind != resp::Value::Kind::array || v.elements.empty()) return;
                if (v.elements[0].as_integer().value_or(1) == 0) {
                    if (host_.note) host_.note("cluster: this node was reaped by another; registering again");
                    register_node(false);  // registered() sees it was not a member: drops the sessions
                    return;
                }
                if (v.elements.size() >= 2 && v.elements[1].as_string()) {
                    if (host_.note) host_.note("cluster: node " + std::string(*v.elements[1].as_string()) + " is gone; its users leave");
                    reaped(resp::Value::array({v.elements.begin() + 2, v.elements.end()}), true);
                }
            });
}

// Users of a node that is gone (or of this node's previous run): each leaves
// its room, announced once in the cluster (the leave function says 0 to any
// second attempt), and the agents hear of it here (`gone`). Without `gone`,
// these are this node's users as Redis has them after a blip: a user that
// left (or moved) meanwhile leaves there now; the agents heard of it already.
void Node::reaped(const resp::Value& v, bool gone) {
    for (std::size_t i = 0; i + 3 <= v.elements.size(); i += 3) {
        const auto id = v.elements[i].as_integer();
        const auto room_text = v.elements[i + 1].as_string();
        const auto user_text = v.elements[i + 2].as_string();
        if (!id || !room_text) continue;
        const auto here = user_rooms_.find(static_cast<ca::UserId>(*id));
        if (!gone && here == user_rooms_.end()) command({"HDEL", key("users"), str(*id)}, {});
        if (!gone && here == user_rooms_.end() && room_text->empty())
            command({"HDEL", key("n:", config_.name, ":users"), str(*id)}, {});
        if (room_text->empty() || !user_text || user_text->empty()) continue;
        const auto room = to_u64(*room_text);
        if (!gone && here != user_rooms_.end() && here->second && room && static_cast<std::uint64_t>(*here->second) == *room)
            continue;  // still there
        const bool still_online = !gone && here != user_rooms_.end();
        const auto user = util::parse_json(*user_text, 4);
        if (!room || !user.is_object() || !user.contains("id") || !user["id"].is_number_integer()) continue;
        // Redis is outside input too: a name of another type reads as none (value() would throw).
        const auto name = user.find("name");
        ca::User u(user["id"].get<ca::UserId>(),
                   name != user.end() && name->is_string() ? name->get<std::string>() : std::string());
        const std::string payload = room_payload(0, 0, user_left_frame(static_cast<ca::RoomId>(*room), *user_text));
        command({"FCALL", "compeit_leave", "0", str(*room), config_.name, str(*id), payload, str(config_.log_length),
                 still_online ? "1" : "0"},
                [this, u, gone, room = static_cast<ca::RoomId>(*room)](const resp::Value& r) {
                    if (gone && r.as_integer().value_or(0) > 0 && host_.reaped_leave) host_.reaped_leave(u, room);
                });
    }
}

// --- subscriptions ----------------------------------------------------------------

void Node::subscribe(ca::RoomId room, std::function<void(bool)> then) {
    Room& r = rooms_[room];
    if (r.subscribed) return then(true);
    r.after_subscribe.push_back(std::move(then));
    if (r.subscribing) return;
    r.subscribing = true;
    subscriber_command({"SUBSCRIBE", key("r:", str(room))});
}

void Node::unsubscribe_if_empty(ca::RoomId room) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end() || !it->second.members.empty() || !it->second.after_subscribe.empty()) return;
    if (it->second.subscribed || it->second.subscribing) subscriber_command({"UNSUBSCRIBE", key("r:", str(room))});
    rooms_.erase(it);
}

void Node::on_value(resp::Value v) {
    if (v.is_push()) on_push(std::move(v));
    else on_reply(std::move(v));
}

void Node::on_push(resp::Value v) {
    if ((v.kind != resp::Value::Kind::push && v.kind != resp::Value::Kind::array) || v.elements.size() != 3) return;
    const auto kind = v.elements[0].as_string();
    const auto channel = v.elements[1].as_string();
    if (!kind || !channel) return;
    const std::string_view room_prefix = "compeit:r:";
    std::optional<ca::RoomId> room;
    if (channel->substr(0, room_prefix.size()) == room_prefix)
        if (const auto n = to_u64(channel->substr(room_prefix.size())); n && *n <= static_cast<std::uint64_t>(ca::kMaxRoomId))
            room = static_cast<ca::RoomId>(*n);
    if (*kind == "message") {
        const auto body = v.elements[2].as_string();
        if (!body) return;
        if (room) on_room_message(*room, *body);
        else if (*channel == key("n:", config_.name)) on_user_message(*body);
        return;
    }
    if (*kind == "subscribe" && room) {
        const auto it = rooms_.find(*room);
        if (it == rooms_.end() || !it->second.subscribing) return;
        Room& r = it->second;
        r.subscribing = false;
        r.subscribed = true;
        auto then = std::move(r.after_subscribe);
        r.after_subscribe.clear();
        for (auto& f : then) f(true);
    }
}

// --- room traffic ------------------------------------------------------------

std::string Node::room_payload(sio::SessionId skip, std::uint64_t order, const sio::Frame& frame) const {
    std::string p = config_.name;
    p += ' ';
    p += str(skip);
    p += ' ';
    p += str(order);
    p += '\n';
    p += *frame;
    return p;
}

std::optional<Node::Held> Node::parse_room_message(std::string_view body) {
    // "<seq> <origin> <skip> <order>\n<frame>"
    const auto nl = body.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view head = body.substr(0, nl);
    std::string_view fields[4];
    for (int i = 0; i < 4; ++i) {
        const auto sp = head.find(' ');
        fields[i] = head.substr(0, sp);
        head = sp == std::string_view::npos ? std::string_view() : head.substr(sp + 1);
        if (fields[i].empty() || (i < 3 && sp == std::string_view::npos)) return std::nullopt;
    }
    const auto seq = to_u64(fields[0]), skip = to_u64(fields[2]), order = to_u64(fields[3]);
    // An empty frame with a chat order: that chat message was not published
    // (see publish); receivers go on past it at once.
    if (!seq || !*seq || !skip || !order || (nl + 1 >= body.size() && !*order)) return std::nullopt;
    Held h;
    h.seq = *seq;
    h.skip = *skip;
    h.order = *order;
    h.frame = sio::make_frame(std::string(body.substr(nl + 1)));
    h.local_origin = false;  // the caller compares the origin (it knows the node's name)
    return h;
}

void Node::on_room_message(ca::RoomId room, std::string_view body) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    auto h = parse_room_message(body);
    if (!h) {
        if (host_.note) host_.note("cluster: a malformed room message was ignored");
        return;
    }
    const auto origin = body.substr(body.find(' ') + 1);
    h->local_origin = origin.substr(0, origin.find(' ')) == config_.name;
    accept(room, it->second, std::move(*h));
}

void Node::accept(ca::RoomId room, Room& r, Held h) {
    if (r.filling) {
        if (r.held.size() >= config_.max_held) return lose_room(room, "too far behind the room's order");
        r.held.push_back(std::move(h));
        return;
    }
    if (r.next_seq && h.seq < r.next_seq) return;  // seen already (a fill overlapped the live stream)
    if (r.next_seq && h.seq > r.next_seq) {
        r.held.push_back(std::move(h));
        return fill(room, r, r.held.back().seq - 1);
    }
    r.next_seq = h.seq + 1;
    release(r, h);
}

// Messages next_seq..upto (0: to the end of the log) from the room's log.
void Node::fill(ca::RoomId room, Room& r, std::uint64_t upto) {
    r.filling = true;
    const std::uint64_t from = r.next_seq;
    command({"XRANGE", key("r:", str(room), ":log"), "0-" + str(from), upto ? "0-" + str(upto) : "+"},
            [this, room, from, upto](const resp::Value& v) { filled(room, v, from, upto); });
}

void Node::filled(ca::RoomId room, const resp::Value& v, std::uint64_t from, std::uint64_t upto) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    Room& r = it->second;
    r.filling = false;
    if (v.kind != resp::Value::Kind::array) return lose_room(room, "the room's order could not be recovered");
    std::vector<Held> got;
    for (const auto& entry : v.elements) {
        // [0-<seq>, [field, payload]]: the message as published is "<seq> <payload>"
        if (entry.kind != resp::Value::Kind::array || entry.elements.size() != 2 ||
            entry.elements[1].kind != resp::Value::Kind::array || entry.elements[1].elements.size() != 2)
            return lose_room(room, "the room's log is unreadable");
        const auto id = entry.elements[0].as_string();
        const auto payload = entry.elements[1].elements[1].as_string();
        if (!id || !payload || id->substr(0, 2) != "0-") return lose_room(room, "the room's log is unreadable");
        std::string body(id->substr(2));
        body += ' ';
        body += *payload;
        auto h = parse_room_message(body);
        if (!h) return lose_room(room, "the room's log is unreadable");
        const auto origin = body.substr(body.find(' ') + 1);
        h->local_origin = origin.substr(0, origin.find(' ')) == config_.name;
        got.push_back(std::move(*h));
    }
    // Every message from `from` on must be there (up to `upto`, or to the log's end).
    if ((upto && (got.empty() || got.back().seq != upto)) || (!got.empty() && got.front().seq != from))
        return lose_room(room, "messages of the room are no longer in its log");
    ++gaps_filled_;
    for (auto& h : got)
        if (h.seq >= r.next_seq) {
            r.next_seq = h.seq + 1;
            release(r, h);
        }
    auto held = std::move(r.held);
    r.held.clear();
    for (auto& h : held) {
        const auto again = rooms_.find(room);  // a drop may have ended the room here
        if (again == rooms_.end()) return;
        accept(room, again->second, std::move(h));
    }
}

void Node::release(Room& r, const Held& h) {
    if (!h.order) return deliver(r, h);
    release_chat(r, h);
}

// Chat frames carry the history's sequence in the room: released in that
// order, whichever node committed them and whenever it published.
void Node::release_chat(Room& r, const Held& h) {
    if (r.next_order && h.order < r.next_order) return;  // skipped earlier: it is in the history
    if (r.next_order && h.order > r.next_order) {
        if (r.chat_held.empty()) r.chat_since = now_;
        if (r.chat_held.size() < config_.max_held) r.chat_held.emplace(h.order, h);
        return;
    }
    r.next_order = h.order + 1;
    deliver(r, h);
    while (!r.chat_held.empty() && r.chat_held.begin()->first == r.next_order) {
        Held next = std::move(r.chat_held.begin()->second);
        r.chat_held.erase(r.chat_held.begin());
        ++r.next_order;
        deliver(r, next);
    }
    if (!r.chat_held.empty()) r.chat_since = now_;
}

void Node::deliver(Room& r, const Held& h) {
    if (h.frame->empty()) return;  // a chat message's place, not published
    bool pending = false;
    for (const Member& m : r.members) {
        if (!m.joined) {
            pending = true;
            continue;
        }
        if (h.seq <= m.since || (h.local_origin && m.session == h.skip)) continue;
        host_.deliver(m.session, h.frame);
    }
    // A joiner whose join is still in flight gets what follows its join when it completes.
    if (pending && r.recent.size() < config_.max_held) r.recent.push_back(h);
}

void Node::lose_room(ca::RoomId room, std::string_view reason) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    std::vector<sio::SessionId> sessions;
    for (const Member& m : it->second.members) sessions.push_back(m.session);
    if (host_.note) host_.note("cluster: room " + str(room) + ": " + std::string(reason));
    if (host_.drop) host_.drop(sessions, reason);
}

void Node::on_user_message(std::string_view body) {
    const auto nl = body.find('\n');
    if (nl == std::string_view::npos) return;
    if (body.front() == '@') {  // for a room-owned agent here: "@<scope>\n<message>"
        const auto it = listeners_.find(body.substr(1, nl - 1));
        if (it == listeners_.end() || body.size() - nl - 1 > kMaxAgentMessage) {
            if (host_.note) host_.note("cluster: a message for no agent here (or too large) was ignored");
            return;
        }
        return it->second(body.substr(nl + 1));
    }
    const auto id = to_u64(body.substr(0, nl));
    if (!id) return;
    const auto it = users_.find(static_cast<ca::UserId>(*id));
    if (it == users_.end()) return;
    host_.deliver(it->second, sio::make_frame(std::string(body.substr(nl + 1))));
}

// --- ClusterLink --------------------------------------------------------------

void Node::user_online(const ca::User& user, sio::SessionId session) {
    users_[user.id] = session;
    user_rooms_[user.id] = std::nullopt;
    user_json_[user.id] = ca::to_json(user).dump();
    command({"HSET", key("users"), str(user.id), config_.name}, {});
    command({"HSET", key("n:", config_.name, ":users"), str(user.id), ""}, {});
}

void Node::user_offline(const ca::User& user) {
    users_.erase(user.id);
    user_rooms_.erase(user.id);
    user_json_.erase(user.id);
    command({"HDEL", key("users"), str(user.id)}, {});
    command({"HDEL", key("n:", config_.name, ":users"), str(user.id)}, {});
}

void Node::join(ca::RoomId room, sio::SessionId session, const ca::User& user, sio::Frame joined_frame,
                std::function<void(Joined)> done) {
    if (!available() || pending_.size() >= config_.max_pending)
        return done(Joined{ca::ErrorCode::unavailable, {}});
    rooms_[room].members.push_back(Member{session, false, 0});
    const std::string user_json = ca::to_json(user).dump();
    user_json_[user.id] = user_json;
    subscribe(room, [this, room, session, user_id = user.id, user_json, frame = std::move(joined_frame),
                     done = std::move(done)](bool subscribed) mutable {
        if (!subscribed) {
            if (const auto it = rooms_.find(room); it != rooms_.end()) {
                auto& v = it->second.members;
                v.erase(std::remove_if(v.begin(), v.end(), [&](const Member& m) { return m.session == session && !m.joined; }),
                        v.end());
            }
            unsubscribe_if_empty(room);
            return done(Joined{ca::ErrorCode::unavailable, {}});
        }
        command({"FCALL", "compeit_join", "0", str(room), config_.name, str(user_id), user_json,
                 str(config_.max_room_users), room_payload(session, 0, frame), str(config_.log_length)},
                [this, room, session, user_id, done = std::move(done)](const resp::Value& v) {
                    const std::int64_t seq = v.kind == resp::Value::Kind::array && !v.elements.empty()
                                                 ? v.elements[0].as_integer().value_or(0) : 0;
                    const auto it = rooms_.find(room);
                    if (it == rooms_.end()) return done(Joined{ca::ErrorCode::unavailable, {}});
                    const auto member = std::find_if(it->second.members.begin(), it->second.members.end(),
                                                     [&](const Member& m) { return m.session == session && !m.joined; });
                    if (seq <= 0 || member == it->second.members.end()) {
                        if (member != it->second.members.end()) it->second.members.erase(member);
                        unsubscribe_if_empty(room);
                        return done(Joined{seq < 0 ? ca::ErrorCode::room_full : ca::ErrorCode::unavailable, {}});
                    }
                    Room& r = it->second;
                    member->joined = true;
                    member->since = static_cast<std::uint64_t>(seq);
                    if (!r.next_seq) r.next_seq = member->since + 1;
                    user_rooms_[user_id] = room;
                    std::string users = json_array(v, 1);
                    const std::uint64_t since = member->since;
                    done(Joined{std::nullopt, std::move(users)});  // room_joined first (the router may act on more)
                    const auto again = rooms_.find(room);
                    if (again == rooms_.end()) return;
                    Room& joined = again->second;
                    // What the room said after the join, while it was in flight, unless the joiner left meanwhile.
                    if (std::any_of(joined.members.begin(), joined.members.end(),
                                    [&](const Member& m) { return m.session == session && m.joined; }))
                        for (const Held& h : joined.recent)
                            if (h.seq > since && !(h.local_origin && h.skip == session)) host_.deliver(session, h.frame);
                    if (std::none_of(joined.members.begin(), joined.members.end(), [](const Member& m) { return !m.joined; }))
                        joined.recent.clear();
                });
    });
}

void Node::leave(ca::RoomId room, sio::SessionId session, const ca::User& user, sio::Frame left_frame) {
    if (const auto it = rooms_.find(room); it != rooms_.end()) {
        auto& v = it->second.members;
        v.erase(std::remove_if(v.begin(), v.end(), [&](const Member& m) { return m.session == session; }), v.end());
    }
    if (const auto it = user_rooms_.find(user.id); it != user_rooms_.end() && it->second == room) it->second.reset();
    command({"FCALL", "compeit_leave", "0", str(room), config_.name, str(user.id), room_payload(session, 0, left_frame),
             str(config_.log_length), "1"},
            {});
    unsubscribe_if_empty(room);
}

void Node::publish(ca::RoomId room, sio::Frame frame, sio::SessionId skip, std::uint64_t order,
                   std::function<void(bool)> done) {
    if (!available() || pending_.size() >= config_.max_pending) {
        if (order) unpublished(room, order);
        if (done) done(false);
        return;
    }
    command({"FCALL", "compeit_publish", "2", key("r:", str(room), ":log"), key("r:", str(room)),
             room_payload(skip, order, frame), str(config_.log_length)},
            [this, room, order, done = std::move(done)](const resp::Value& v) {
                const bool ok = v.as_integer().value_or(0) > 0;
                if (!ok && order) unpublished(room, order);
                if (done) done(ok);
            });
}

// Bounded: beyond it, receivers wait chat_wait for the ones forgotten.
void Node::unpublished(ca::RoomId room, std::uint64_t order) {
    if (unpublished_.size() < config_.max_held) unpublished_.emplace_back(room, order);
}

void Node::to_user(ca::UserId user, sio::Frame frame, std::function<void(bool)> done) {
    if (!available()) {
        if (done) done(false);
        return;
    }
    command({"FCALL", "compeit_send", "0", str(user), *frame}, [done = std::move(done)](const resp::Value& v) {
        if (done) done(v.as_integer().value_or(0) == 1);
    });
}

void Node::members(ca::RoomId room, std::function<void(Joined)> done) {
    if (!available()) return done(Joined{ca::ErrorCode::unavailable, {}});
    command({"FCALL", "compeit_members", "0", str(room)}, [done = std::move(done)](const resp::Value& v) {
        if (v.kind != resp::Value::Kind::array) return done(Joined{ca::ErrorCode::unavailable, {}});
        done(Joined{std::nullopt, json_array(v, 0)});
    });
}

void Node::locate(ca::UserId user, std::function<void(bool)> done) {
    if (!available()) return done(false);
    command({"HEXISTS", key("users"), str(user)},
            [done = std::move(done)](const resp::Value& v) { done(v.as_integer().value_or(0) == 1); });
}

void Node::on_reply(resp::Value v) {
    if (pending_.empty()) {
        if (host_.note) host_.note("cluster: a reply nobody asked for was ignored");
        return;
    }
    Reply reply = std::move(pending_.front());
    pending_.pop_front();
    if (reply) reply(v);
}

// --- RoomOwners ------------------------------------------------------------------

void Node::route(std::string_view scope, ca::RoomId room, std::string message, bool again,
                 std::function<void(bool)> done) {
    if (!available() || run_.empty() || message.size() > kMaxAgentMessage) return done(false);
    command({"FCALL", "compeit_route", "0", std::string(scope), str(room), config_.name, run_, std::move(message),
             str(kClaimTtlMs), again ? "1" : "0"},
            [done = std::move(done)](const resp::Value& v) { done(v.as_integer().value_or(0) == 1); });
}

void Node::to_node(std::string_view scope, std::string_view node, std::string message) {
    std::string body = "@";
    body += scope;
    body += '\n';
    body += message;
    command({"PUBLISH", key("n:", node), std::move(body)}, {});
}

void Node::record(std::string_view scope, ca::RoomId room, std::string record) {
    if (run_.empty()) return;
    command({"FCALL", "compeit_record", "0", std::string(scope), str(room), config_.name, run_, std::move(record),
             str(kClaimTtlMs)},
            {});
}

void Node::listen(std::string_view scope, std::function<void(std::string_view)> handler) {
    listeners_[std::string(scope)] = std::move(handler);
}

}  // namespace compeit::cluster
