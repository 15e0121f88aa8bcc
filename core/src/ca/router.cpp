#include "compeit/ca/router.hpp"

#include <algorithm>
#include <array>

#include "compeit/util/json_guard.hpp"
#include "compeit/util/url.hpp"
#include "compeit/util/utf.hpp"

namespace compeit::ca {
namespace {

constexpr std::size_t kMaxJsonDepth = 64;

// Names socket.io 0.9 clients use for their own lifecycle events (CA-13).
bool reserved_event(std::string_view name) {
    static constexpr std::array<std::string_view, 9> names = {
        "connect", "connecting", "disconnect", "connect_failed", "error",
        "message", "reconnect", "reconnecting", "reconnect_failed"};
    return std::find(names.begin(), names.end(), name) != names.end() ||
           name.substr(0, 11) == "newListener";
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

bool valid_type(const json& t) { return t.is_string() && !t.get_ref<const std::string&>().empty(); }

}  // namespace

Router::Router(Limits limits) : limits_(limits) {}

void Router::attach(sio::Engine& engine) { engine_ = &engine; }

bool Router::register_agent(const std::string& type, ServerAgent& a) {
    if (type.empty() || agents_.count(type)) return false;
    agents_.emplace(type, &a);
    a.attached(Port(*this, type));
    return true;
}

ServerAgent* Router::agent(std::string_view type) const {
    const auto it = agents_.find(type);
    return it == agents_.end() ? nullptr : it->second;
}

Router::Member* Router::member(sio::SessionId s) {
    const auto it = members_.find(s);
    return it == members_.end() ? nullptr : &it->second;
}

Router::Member* Router::member_by_user(UserId id) {
    const auto it = sessions_by_user_.find(id);
    return it == sessions_by_user_.end() ? nullptr : member(it->second);
}

// --- connect / disconnect -------------------------------------------------

void Router::on_namespace_connect(sio::SessionId s, std::string_view endpoint, std::string_view query,
                                  sio::Time now) {
    now_ = now;
    if (endpoint != kNamespace) return;
    Member* m = member(s);
    if (!m) {
        // The name comes from the connect packet's query, else the handshake's.
        auto name = url::query_param(query, "name");
        if (!name) name = url::query_param(engine_->query(s), "name");
        const UserId id = next_user_++;
        std::string n = name && utf::valid_utf8(*name) ? utf::truncate_code_points(*name, limits_.max_name_chars)
                                                        : std::string();
        if (n.empty()) n = "user" + std::to_string(id);
        m = &members_.emplace(s, Member{User{id, std::move(n)}, s, std::nullopt,
                                        RateLimiter(limits_.rate_per_second, limits_.rate_burst)})
                 .first->second;
        sessions_by_user_.emplace(id, s);
    }
    emit(s, "connected", dump(json{{"user", to_json(m->user)}}));
}

void Router::on_namespace_disconnect(sio::SessionId s, std::string_view endpoint, sio::CloseReason,
                                     sio::Time now) {
    now_ = now;
    if (endpoint != kNamespace) return;
    Member* m = member(s);
    if (!m) return;
    leave_current(*m);
    sessions_by_user_.erase(m->user.id);
    members_.erase(s);
}

// --- requests -------------------------------------------------------------

void Router::on_packet(sio::SessionId s, const sio::Packet& p, sio::Time now) {
    now_ = now;
    if (p.endpoint != kNamespace) return;  // the root namespace carries no application events (TR-6)
    Member* m = member(s);
    if (!m || p.type == sio::PacketType::ack) return;

    Request req{s, m->user.id, {}, p.data_ack ? p.id : std::string()};
    if (p.type != sio::PacketType::event) {
        req.event = "message";
        return fail(req, ErrorCode::bad_request, "send events, not messages, on /connection_agent");
    }
    if (!util::json_depth_ok(p.data, kMaxJsonDepth))
        return fail(req, ErrorCode::bad_request, "JSON nested too deeply");
    json ev = util::parse_json(p.data, kMaxJsonDepth);
    if (ev.is_discarded() || !ev.is_object() || !ev.contains("name") || !ev["name"].is_string())
        return fail(req, ErrorCode::bad_request, "malformed event");
    req.event = ev["name"].get<std::string>();
    if (!m->rate.take(now.count())) return fail(req, ErrorCode::rate_limited, "too many messages");

    json args = ev.contains("args") ? std::move(ev["args"]) : json::array();
    if (!args.is_array()) args = json::array({std::move(args)});  // as socket.io 0.9 does
    dispatch(*m, req, args);
}

void Router::dispatch(Member& m, Request& req, const json& args) {
    const json& arg = args.empty() ? json() : args[0];
    if (reserved_event(req.event)) return fail(req, ErrorCode::bad_request, "reserved event name");
    if (req.event == "join_room") return join_room(m, req, arg);
    if (req.event == "leave_room") return leave_room(m, req);
    if (req.event == "server_message") return server_message(m, req, arg);
    if (req.event == "room_message") return room_message(m, req, arg);
    fail(req, ErrorCode::bad_request, "unknown event");
}

void Router::join_room(Member& m, const Request& req, const json& arg) {
    if (!arg.is_object() || !arg.contains("room") || !arg["room"].is_number_integer())
        return fail(req, ErrorCode::bad_request, "join_room needs {room: <integer>}");
    const json& r = arg["room"];
    if ((r.is_number_unsigned() && r.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxRoomId)) ||
        (!r.is_number_unsigned() && (r.get<std::int64_t>() < 0)))
        return fail(req, ErrorCode::bad_request, "room must be an integer from 0 to 2^53-1");
    const RoomId room = r.get<RoomId>();

    if (m.room != room) {
        const auto it = rooms_.find(room);
        if (it == rooms_.end() && rooms_.size() >= limits_.max_rooms)
            return fail(req, ErrorCode::room_full, "too many rooms");
        if (it != rooms_.end() && it->second.sessions.size() >= limits_.max_room_users)
            return fail(req, ErrorCode::room_full, "room is full");
        leave_current(m);  // CA-7
        rooms_[room].sessions.push_back(m.session);
        m.room = room;
        const std::string joined = dump(json{{"room", room}, {"user", to_json(m.user)}});
        broadcast(room, sio::make_frame(sio::encode_event(kNamespace, "user_joined", "[" + joined + "]")),
                  m.session);
    } else {
        return reply_joined(req, room);  // already there: nothing changes, nobody else hears of it
    }
    reply_joined(req, room);
    for (auto& [type, a] : agents_) a->on_join(m.user, room);
}

void Router::reply_joined(const Request& req, RoomId room) {
    json users = json::array();
    for (const User& u : members(room)) users.push_back(to_json(u));
    succeed(req, "room_joined", dump(json{{"room", room}, {"users", std::move(users)}}));
}

void Router::leave_room(Member& m, const Request& req) {
    if (!m.room) return fail(req, ErrorCode::not_in_room, "not in a room");
    const RoomId room = *m.room;
    leave_current(m);
    const std::string left = dump(json{{"room", room}});
    ack(req, left);
}

void Router::leave_current(Member& m) {
    if (!m.room) return;
    const RoomId room = *m.room;
    m.room.reset();
    auto it = rooms_.find(room);
    if (it != rooms_.end()) {
        auto& v = it->second.sessions;
        v.erase(std::remove(v.begin(), v.end(), m.session), v.end());
    }
    emit(m.session, "room_left", dump(json{{"room", room}}));
    const std::string left = dump(json{{"room", room}, {"user", to_json(m.user)}});
    broadcast(room, sio::make_frame(sio::encode_event(kNamespace, "user_left", "[" + left + "]")), m.session);
    for (auto& [type, a] : agents_) a->on_leave(m.user, room);
    it = rooms_.find(room);  // agents may have touched the map
    if (it != rooms_.end() && it->second.sessions.empty()) rooms_.erase(it);
}

void Router::server_message(Member& m, const Request& req, const json& arg_in) {
    if (!arg_in.is_object() || !arg_in.contains("type") || !valid_type(arg_in["type"]))
        return fail(req, ErrorCode::bad_request, "server_message needs {type: <string>, data}");
    json arg = arg_in;
    const std::string type = arg["type"].get<std::string>();
    json data = arg.contains("data") ? std::move(arg["data"]) : json();
    const std::string data_json = dump(data);
    if (data_json.size() > limits_.max_data_bytes) return fail(req, ErrorCode::too_large, "data too large");

    if (arg.contains("to")) {
        if (!arg["to"].is_number_integer()) return fail(req, ErrorCode::bad_request, "to must be a user id");
        const UserId to = arg["to"].get<UserId>();
        Member* target = member_by_user(to);
        if (!target) return fail(req, ErrorCode::unknown_user, "no such user");
        if (ServerAgent* a = agent(type); a && a->on_user_message(req, m.user, to, data)) return;
        emit(target->session, "user_message", message_json(m.user.id, type, data_json));
        return ack(req, R"({"ok":true})");
    }
    ServerAgent* a = agent(type);
    if (!a) return fail(req, ErrorCode::unknown_type, "no server agent for this type");
    a->on_server_message(req, m.user, data);
}

void Router::room_message(Member& m, const Request& req, const json& arg_in) {
    if (!arg_in.is_object() || !arg_in.contains("type") || !valid_type(arg_in["type"]))
        return fail(req, ErrorCode::bad_request, "room_message needs {type: <string>, data}");
    if (!m.room) return fail(req, ErrorCode::not_in_room, "not in a room");
    json arg = arg_in;
    const std::string type = arg["type"].get<std::string>();
    json data = arg.contains("data") ? std::move(arg["data"]) : json();
    const std::string data_json = dump(data);
    if (data_json.size() > limits_.max_data_bytes) return fail(req, ErrorCode::too_large, "data too large");

    if (ServerAgent* a = agent(type); a && a->on_room_message(req, m.user, *m.room, data)) return;
    const auto frame = sio::make_frame(
        sio::encode_event(kNamespace, "room_message", "[" + message_json(m.user.id, type, data_json) + "]"));
    broadcast(*m.room, frame, m.session);
    ack(req, R"({"ok":true})");
}

// --- output ---------------------------------------------------------------

std::string Router::message_json(UserId from, std::string_view type, const std::string& data_json) const {
    std::string out = "{\"from\":";
    out += std::to_string(from);
    out += ",\"type\":";
    out += dump(json(type));
    out += ",\"data\":";
    out += data_json;
    out += '}';
    return out;
}

void Router::emit(sio::SessionId s, std::string_view name, const std::string& arg_json) {
    engine_->send(s, sio::make_frame(sio::encode_event(kNamespace, name, "[" + arg_json + "]")));
}

void Router::broadcast(RoomId room, const sio::Frame& frame, sio::SessionId skip) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    for (sio::SessionId s : it->second.sessions)
        if (s != skip) engine_->send(s, frame);
}

void Router::ack(const Request& r, const std::string& arg_json) {
    if (r.ack_id.empty()) return;
    engine_->send(r.session, sio::make_ack(std::string(kNamespace), r.ack_id, "[" + arg_json + "]"));
}

void Router::succeed(const Request& r, std::string_view reply_event, const std::string& reply_json) {
    emit(r.session, reply_event, reply_json);
    ack(r, reply_json);
}

void Router::fail(const Request& r, ErrorCode code, std::string_view message) {
    if (!engine_->alive(r.session)) return;
    emit(r.session, "request_error",
         dump(json{{"event", r.event}, {"code", to_string(code)}, {"message", message}}));
    ack(r, dump(json{{"error", {{"code", to_string(code)}, {"message", message}}}}));
}

// --- queries ----------------------------------------------------------------

std::optional<User> Router::user(UserId id) const {
    const auto it = sessions_by_user_.find(id);
    if (it == sessions_by_user_.end()) return std::nullopt;
    return members_.at(it->second).user;
}

std::optional<RoomId> Router::room_of(UserId id) const {
    const auto it = sessions_by_user_.find(id);
    if (it == sessions_by_user_.end()) return std::nullopt;
    return members_.at(it->second).room;
}

std::vector<User> Router::members(RoomId room) const {
    std::vector<User> out;
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return out;
    out.reserve(it->second.sessions.size());
    for (sio::SessionId s : it->second.sessions) out.push_back(members_.at(s).user);
    return out;
}

// --- Port -------------------------------------------------------------------

void Port::to_user(UserId to, const json& data) const {
    if (auto* m = router_->member_by_user(to))
        router_->emit(m->session, "server_message", dump(json{{"type", type_}, {"data", data}}));
}

void Port::to_room(RoomId room, const json& data) const {
    const auto frame = sio::make_frame(sio::encode_event(
        kNamespace, "room_message", "[" + router_->message_json(0, type_, dump(data)) + "]"));
    router_->broadcast(room, frame, 0);
}

void Port::relay_to_room(RoomId room, UserId from, const json& data, bool include_sender) const {
    const auto frame = sio::make_frame(sio::encode_event(
        kNamespace, "room_message", "[" + router_->message_json(from, type_, dump(data)) + "]"));
    const auto* sender = router_->member_by_user(from);
    router_->broadcast(room, frame, include_sender || !sender ? 0 : sender->session);
}

void Port::user_message(UserId to, UserId from, const json& data) const {
    if (auto* m = router_->member_by_user(to))
        router_->emit(m->session, "user_message", router_->message_json(from, type_, dump(data)));
}

void Port::ok(const Request& r) const { router_->ack(r, R"({"ok":true})"); }

void Port::fail(const Request& r, ErrorCode code, std::string_view message) const {
    router_->fail(r, code, message);
}

std::optional<User> Port::user(UserId id) const { return router_->user(id); }
std::optional<RoomId> Port::room_of(UserId id) const { return router_->room_of(id); }
std::vector<User> Port::members(RoomId room) const { return router_->members(room); }
sio::Time Port::now() const { return router_->now(); }

}  // namespace compeit::ca
