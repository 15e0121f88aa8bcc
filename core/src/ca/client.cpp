#include "compeit/ca/client.hpp"

#include <algorithm>

#include "compeit/sio/packet.hpp"
#include "compeit/util/json_scan.hpp"

namespace compeit::ca {
namespace {

std::string encode_query_value(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string error_object(std::string_view code, std::string_view message) {
    std::string out = "{\"error\":{\"code\":";
    util::append_json_string(out, code);
    out += ",\"message\":";
    util::append_json_string(out, message);
    out += "}}";
    return out;
}

// "60" or "0.6" (the handshake's seconds) in milliseconds; 0 when malformed.
std::int64_t seconds_to_ms(std::string_view s) {
    const auto dot = s.find('.');
    const auto whole = s.substr(0, dot);
    const auto frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    if (whole.empty() || whole.size() > 9) return 0;
    std::int64_t ms = 0;
    for (char c : whole) {
        if (c < '0' || c > '9') return 0;
        ms = ms * 10 + (c - '0');
    }
    ms *= 1000;
    std::int64_t scale = 100;
    for (char c : frac) {
        if (c < '0' || c > '9') return 0;
        ms += (c - '0') * scale;
        scale /= 10;
    }
    return ms;
}

std::string object1(std::string_view key, std::string_view value_json) {
    std::string out = "{";
    util::append_json_string(out, key);
    out += ':';
    out += value_json;
    out += '}';
    return out;
}

}  // namespace

Client::Client(ClientConfig config) : config_(std::move(config)) {
    while (!config_.url.empty() && config_.url.back() == '/') config_.url.pop_back();
}

void Client::out(Output::Kind kind, std::string text, std::string payload) {
    Output o;
    o.kind = kind;
    o.text = std::move(text);
    o.payload = std::move(payload);
    out_.push_back(std::move(o));
}

void Client::out_ack(std::uint64_t id, std::string payload) {
    Output o;
    o.kind = Output::Kind::ack;
    o.payload = std::move(payload);
    o.request = id;
    out_.push_back(std::move(o));
}

std::vector<Output> Client::take_outputs() {
    std::vector<Output> v;
    v.swap(out_);
    return v;
}

void Client::emit_event(std::string name, std::string payload) {
    out(Output::Kind::event, std::move(name), std::move(payload));
}

bool Client::register_agent(const std::string& type, ClientAgent* agent) {
    if (type.empty() || agents_.count(type)) return false;
    agents_.emplace(type, agent);
    return true;
}

// --- connection lifecycle ---------------------------------------------------

void Client::connect(sio::Time now) {
    if (state_ != State::idle && state_ != State::closed) return;
    attempts_ = 0;
    start_handshake(now);
}

void Client::start_handshake(sio::Time now) {
    state_ = State::handshaking;
    deadline_ = now + config_.connect_timeout;
    std::string url = config_.url + "/socket.io/1/?name=" + encode_query_value(config_.name);
    if (!config_.token.empty()) url += "&token=" + encode_query_value(config_.token);
    out(Output::Kind::http_get, url + "&t=" + std::to_string(now.count()));
}

void Client::on_http(int status, std::string_view body, sio::Time now) {
    if (state_ != State::handshaking) return;
    // `sid:heartbeat:close:transports`, and websocket must be offered.
    const auto c1 = body.find(':');
    const auto c2 = c1 == std::string_view::npos ? c1 : body.find(':', c1 + 1);
    const auto c3 = c2 == std::string_view::npos ? c2 : body.find(':', c2 + 1);
    if (status != 200 || c3 == std::string_view::npos || body.substr(c3 + 1).find("websocket") == std::string_view::npos) {
        if (!was_connected_ && attempts_ == 0) {
            std::string message;
            util::append_json_string(message, "handshake failed: " + std::string(body.substr(0, 200)));
            emit_event("error", object1("message", message));
        }
        return lost(now, true);
    }
    sid_ = std::string(body.substr(0, c1));
    const std::int64_t ms = seconds_to_ms(body.substr(c1 + 1, c2 - c1 - 1));
    heartbeat_timeout_ = sio::Time(ms > 0 ? ms : 60'000);
    std::string ws = config_.url;
    if (ws.rfind("https://", 0) == 0) ws.replace(0, 5, "wss");
    else if (ws.rfind("http://", 0) == 0) ws.replace(0, 4, "ws");
    state_ = State::opening;
    out(Output::Kind::ws_open, ws + "/socket.io/1/websocket/" + sid_);
}

void Client::on_ws_open(sio::Time now) {
    if (state_ != State::opening) return;
    state_ = State::connecting;  // waiting for `1::`, then `connected`
    deadline_ = now + config_.connect_timeout;
}

void Client::on_ws_close(sio::Time now) {
    if (state_ == State::idle || state_ == State::closed || state_ == State::reconnecting) return;
    lost(now, true);
}

void Client::disconnect() {
    if (state_ == State::idle || state_ == State::closed) return;
    const bool open = state_ == State::connecting || state_ == State::connected;
    if (open) send_packet("0::");
    if (state_ != State::reconnecting && state_ != State::handshaking) out(Output::Kind::ws_close);
    const bool was_up = state_ == State::connected;
    state_ = State::closed;
    fail_pending("disconnected", "disconnected");
    rejoin_.reset();
    room_.reset();
    if (was_up)
        for (auto& [type, agent] : agents_)
            if (agent) agent->on_membership("disconnect", "{}");
    emit_event("disconnect", R"({"reason":"client"})");
}

// The connection is gone (or never came): settle what waits, then back off.
void Client::lost(sio::Time now, bool allow_reconnect) {
    const bool was_up = state_ == State::connected;
    if (state_ == State::opening || state_ == State::connecting || state_ == State::connected) out(Output::Kind::ws_close);
    fail_pending("disconnected", "connection lost");
    if (room_) rejoin_ = room_;
    room_.reset();
    if (was_up) {
        for (auto& [type, agent] : agents_)
            if (agent) agent->on_membership("disconnect", "{}");
        emit_event("disconnect", R"({"reason":"transport closed"})");
    }
    if (!allow_reconnect || !config_.reconnect || attempts_ >= config_.max_attempts) {
        state_ = State::closed;
        if (allow_reconnect && config_.reconnect) emit_event("reconnect_failed", "{}");
        return;
    }
    auto delay = config_.reconnect_delay;
    for (unsigned i = 0; i < attempts_ && delay < config_.reconnect_delay_max; ++i) delay *= 2;
    delay = std::min(delay, config_.reconnect_delay_max);
    ++attempts_;
    state_ = State::reconnecting;
    retry_at_ = now + delay;
    emit_event("reconnecting",
               "{\"attempt\":" + std::to_string(attempts_) + ",\"delay\":" + std::to_string(delay.count()) + "}");
}

void Client::tick(sio::Time now) {
    switch (state_) {
        case State::reconnecting:
            if (now >= retry_at_) start_handshake(now);
            break;
        case State::handshaking:
        case State::opening:
        case State::connecting:
        case State::connected:
            if (now >= deadline_) lost(now, true);  // connect timeout, or heartbeat silence
            break;
        default:
            break;
    }
}

// --- packets -----------------------------------------------------------------

void Client::send_packet(std::string text) { out(Output::Kind::ws_send, std::move(text)); }

void Client::on_ws_message(std::string_view text, sio::Time now) {
    if (state_ != State::connecting && state_ != State::connected) return;
    auto p = sio::decode(text);
    if (!p) return;
    if (state_ == State::connected) deadline_ = now + heartbeat_timeout_;  // any packet proves life
    switch (p->type) {
        case sio::PacketType::connect:
            if (p->endpoint.empty()) send_packet("1::" + std::string(kNamespace));
            return;
        case sio::PacketType::heartbeat:
            send_packet("2::");
            return;
        case sio::PacketType::disconnect:
            if (p->endpoint.empty()) {  // booted: socket.io 0.9 clients do not reconnect
                rejoin_.reset();
                lost(now, false);
            }
            return;
        case sio::PacketType::error:
            if (p->endpoint.empty() && sio::parse_error(p->data).advice) lost(now, true);
            return;
        case sio::PacketType::ack: {
            if (p->endpoint != kNamespace) return;
            const auto a = sio::parse_ack(p->data);
            if (!a || !a->has_args) return;
            const auto args = util::json_value_span(a->args);
            const auto first = args ? util::json_first_element(*args) : std::nullopt;
            if (!first) return;
            return settle(std::strtoull(a->id.c_str(), nullptr, 10), std::string(*first));
        }
        case sio::PacketType::event: {
            if (p->endpoint != kNamespace) return;
            const auto ev = util::json_value_span(p->data);
            if (!ev) return;
            std::optional<std::string> name;
            std::string_view arg = "null";
            util::for_each_member(*ev, [&](std::string_view key, std::string_view value) {
                if (key == "name") name = util::json_string(value);
                else if (key == "args")
                    if (auto first = util::json_first_element(value)) arg = *first;
            });
            if (!name) return;
            if (!p->id.empty() && p->data_ack) send_packet(sio::encode(sio::make_ack(std::string(kNamespace), p->id, "[]")));
            if (*name == "connected" && state_ == State::connecting) {
                state_ = State::connected;
                deadline_ = now + heartbeat_timeout_;
            }
            return handle_event(*name, arg);
        }
        default:
            return;
    }
}

void Client::settle(std::uint64_t id, std::string result) {
    const auto it = pending_.find(id);
    if (it == pending_.end()) return;
    AckHandler handler = std::move(it->second.handler);
    pending_.erase(it);
    if (handler) handler(result);
    else out_ack(id, std::move(result));
}

void Client::fail_pending(std::string_view code, std::string_view message) {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : pending) {
        if (auto& handler = p.handler) handler(error_object(code, message));
        else out_ack(id, error_object(code, message));
    }
}

void Client::handle_event(std::string_view name, std::string_view arg) {
    auto membership = [&](std::string_view event) {
        for (auto& [type, agent] : agents_)
            if (agent) agent->on_membership(event, arg);
    };
    if (name == "connected") {
        if (const auto u = util::json_member(arg, "user")) {
            const auto id = util::json_member(*u, "id");
            const auto n = util::json_member(*u, "name");
            user_ = User{id ? util::json_integer(*id).value_or(0) : 0,
                         n ? util::json_string(*n).value_or("") : std::string()};
        }
        const bool again = was_connected_;
        was_connected_ = true;
        attempts_ = 0;
        membership("connected");
        emit_event(again ? "reconnected" : "connected", std::string(arg));
        if (rejoin_) {
            const RoomId room = *rejoin_;
            rejoin_.reset();
            join_room(room);  // back into the active room after a reconnect
        }
        return;
    }
    if (name == "room_joined") {
        const auto r = util::json_member(arg, "room");
        if (const auto room = r ? util::json_integer(*r) : std::nullopt) room_ = *room;
    }
    if (name == "room_left") room_.reset();
    if (name == "room_joined" || name == "room_left" || name == "user_joined" || name == "user_left") {
        membership(name);
        return emit_event(std::string(name), std::string(arg));
    }
    if (name == "server_message" || name == "room_message" || name == "user_message") {
        std::optional<std::string> type;
        UserId from = 0;
        std::string_view data = "null";
        util::for_each_member(arg, [&](std::string_view key, std::string_view value) {
            if (key == "type") type = util::json_string(value);
            else if (key == "from") from = util::json_integer(value).value_or(0);
            else if (key == "data") data = value;
        });
        if (!type) return;
        const auto it = agents_.find(*type);
        if (it == agents_.end()) return;  // no agent of this type here: nothing to deliver to
        const std::string_view channel = name == "server_message" ? "server" : name == "room_message" ? "room" : "user";
        if (ClientAgent* a = it->second) {
            if (channel == "server") a->on_server_message(data);
            else if (channel == "room") a->on_room_message(from, data);
            else a->on_user_message(from, data);
            return;
        }
        Output o;
        o.kind = Output::Kind::agent;
        o.text = std::move(*type);
        o.payload = std::string(data);
        o.channel = std::string(channel);
        o.from = from;
        out_.push_back(std::move(o));
        return;
    }
    if (name == "request_error" && claim_request_error(arg)) return;  // its request's ack reports it
    emit_event(std::string(name), std::string(arg));  // request_error and anything newer
}

// Matches a request_error to the oldest pending request of the same event
// (and agent type, which servers since the extension name: docs/protocol.md
// 2.1) that has no error yet. Exact by order: the server answers each
// request with its request_error and then its ack, so the failed request is
// still pending; only the match of two same-kind requests in flight may
// pick the older one, which is harmless, since the ack settles each by id.
bool Client::claim_request_error(std::string_view arg) {
    std::optional<std::string> event, type;
    util::for_each_member(arg, [&](std::string_view key, std::string_view value) {
        if (key == "event") event = util::json_string(value);
        else if (key == "type") type = util::json_string(value);
    });
    if (!event) return false;
    for (auto& [id, p] : pending_) {
        if (p.failed || p.event != *event || (type && p.type != *type)) continue;
        p.failed = true;
        return true;
    }
    return false;
}

// --- requests ------------------------------------------------------------------

std::uint64_t Client::request(std::string_view event, const std::string& arg_json, AckHandler on_ack,
                              std::string_view type) {
    const std::uint64_t id = next_request_++;
    if (state_ != State::connected) {
        if (on_ack) on_ack(error_object("not_connected", "not connected"));
        else out_ack(id, error_object("not_connected", "not connected"));
        return id;
    }
    pending_.emplace(id, Pending{std::move(on_ack), std::string(event), std::string(type), false});
    send_packet(sio::encode_event(kNamespace, event, arg_json.empty() ? std::string() : "[" + arg_json + "]",
                                  std::to_string(id), true));
    return id;
}

std::uint64_t Client::message(std::string_view event, const UserId* to, std::string_view type,
                              std::string_view data_json, AckHandler on_ack) {
    const auto data = util::json_value_span(data_json);
    if (!data) {
        const std::uint64_t id = next_request_++;
        if (on_ack) on_ack(error_object("bad_request", "data is not JSON"));
        else out_ack(id, error_object("bad_request", "data is not JSON"));
        return id;
    }
    std::string arg = "{";
    if (to) arg += "\"to\":" + std::to_string(*to) + ",";
    arg += "\"type\":";
    util::append_json_string(arg, type);
    arg += ",\"data\":";
    arg += *data;
    arg += '}';
    return request(event, arg, std::move(on_ack), type);
}

std::uint64_t Client::send_server(std::string_view type, std::string_view data_json, AckHandler on_ack) {
    return message("server_message", nullptr, type, data_json, std::move(on_ack));
}

std::uint64_t Client::send_server_shaped(std::string_view type, std::string_view data_json, AckShape shape) {
    const std::uint64_t id = next_request_;  // the id message() takes, whatever happens
    return message("server_message", nullptr, type, data_json,
                   [this, id, shape = std::move(shape)](std::string_view ack) { out_ack(id, shape(ack)); });
}

std::uint64_t Client::join_room(RoomId room) { return request("join_room", object1("room", std::to_string(room))); }
std::uint64_t Client::leave_room() { return request("leave_room", {}); }

std::uint64_t Client::send_server(std::string_view type, std::string_view data_json) {
    return message("server_message", nullptr, type, data_json);
}

std::uint64_t Client::send_room(std::string_view type, std::string_view data_json) {
    return message("room_message", nullptr, type, data_json);
}

std::uint64_t Client::send_user(UserId to, std::string_view type, std::string_view data_json) {
    return message("server_message", &to, type, data_json);
}

}  // namespace compeit::ca
