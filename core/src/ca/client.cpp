#include "compeit/ca/client.hpp"

#include <algorithm>

#include "compeit/sio/packet.hpp"
#include "compeit/util/json_guard.hpp"

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

json error_object(std::string_view code, std::string_view message) {
    return json{{"error", {{"code", code}, {"message", message}}}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

Client::Client(ClientConfig config) : config_(std::move(config)) {
    while (!config_.url.empty() && config_.url.back() == '/') config_.url.pop_back();
}

void Client::out(Output::Kind kind, std::string text, json data) {
    Output o;
    o.kind = kind;
    o.text = std::move(text);
    o.data = std::move(data);
    out_.push_back(std::move(o));
}

void Client::out_ack(std::uint64_t id, json data) {
    Output o;
    o.kind = Output::Kind::ack;
    o.data = std::move(data);
    o.request = id;
    out_.push_back(std::move(o));
}

std::vector<Output> Client::take_outputs() {
    std::vector<Output> v;
    v.swap(out_);
    return v;
}

void Client::emit_event(std::string name, json data) { out(Output::Kind::event, std::move(name), std::move(data)); }

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
    out(Output::Kind::http_get, config_.url + "/socket.io/1/?name=" + encode_query_value(config_.name) +
                                    "&t=" + std::to_string(now.count()));
}

void Client::on_http(int status, std::string_view body, sio::Time now) {
    if (state_ != State::handshaking) return;
    // `sid:heartbeat:close:transports`, and websocket must be offered.
    const auto c1 = body.find(':');
    const auto c2 = c1 == std::string_view::npos ? c1 : body.find(':', c1 + 1);
    const auto c3 = c2 == std::string_view::npos ? c2 : body.find(':', c2 + 1);
    if (status != 200 || c3 == std::string_view::npos || body.substr(c3 + 1).find("websocket") == std::string_view::npos) {
        if (!was_connected_ && attempts_ == 0)
            emit_event("error", json{{"message", "handshake failed: " + std::string(body.substr(0, 200))}});
        return lost(now, true);
    }
    sid_ = std::string(body.substr(0, c1));
    const auto hb = body.substr(c1 + 1, c2 - c1 - 1);
    std::int64_t seconds = 0;
    for (char c : hb)
        if (c >= '0' && c <= '9') seconds = seconds * 10 + (c - '0');
    heartbeat_timeout_ = sio::Time(seconds > 0 ? seconds * 1000 : 60'000);
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
    state_ = State::closed;
    for (auto& [id, event] : pending_) out_ack(id, error_object("disconnected", "disconnected"));
    pending_.clear();
    rejoin_.reset();
    room_.reset();
    emit_event("disconnect", json{{"reason", "client"}});
}

// The connection is gone (or never came): settle what waits, then back off.
void Client::lost(sio::Time now, bool allow_reconnect) {
    const bool was_up = state_ == State::connected;
    if (state_ == State::opening || state_ == State::connecting || state_ == State::connected) out(Output::Kind::ws_close);
    for (auto& [id, event] : pending_)
        out_ack(id, error_object("disconnected", "connection lost"));
    pending_.clear();
    if (room_) rejoin_ = room_;
    room_.reset();
    if (was_up) {
        for (auto& [type, agent] : agents_)
            if (agent) agent->on_membership("disconnect", json::object());
        emit_event("disconnect", json{{"reason", "transport closed"}});
    }
    if (!allow_reconnect || !config_.reconnect || attempts_ >= config_.max_attempts) {
        state_ = State::closed;
        if (allow_reconnect && config_.reconnect) emit_event("reconnect_failed", json::object());
        return;
    }
    auto delay = config_.reconnect_delay;
    for (unsigned i = 0; i < attempts_ && delay < config_.reconnect_delay_max; ++i) delay *= 2;
    delay = std::min(delay, config_.reconnect_delay_max);
    ++attempts_;
    state_ = State::reconnecting;
    retry_at_ = now + delay;
    emit_event("reconnecting", json{{"attempt", attempts_}, {"delay", delay.count()}});
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
            const std::uint64_t id = std::strtoull(a->id.c_str(), nullptr, 10);
            json args = util::parse_json(a->args);
            if (!args.is_array() || args.empty()) return;
            return settle(id, std::move(args[0]));
        }
        case sio::PacketType::event: {
            if (p->endpoint != kNamespace) return;
            json ev = util::parse_json(p->data);
            if (!ev.is_object() || !ev.contains("name") || !ev["name"].is_string()) return;
            json arg = ev.contains("args") && ev["args"].is_array() && !ev["args"].empty() ? std::move(ev["args"][0])
                                                                                           : json();
            if (!p->id.empty() && p->data_ack) send_packet(sio::encode(sio::make_ack(std::string(kNamespace), p->id, "[]")));
            if (ev["name"] == "connected" && state_ == State::connecting) {
                state_ = State::connected;
                deadline_ = now + heartbeat_timeout_;
            }
            return handle_event(ev["name"].get<std::string>(), arg);
        }
        default:
            return;
    }
}

void Client::settle(std::uint64_t id, json result) {
    const auto it = pending_.find(id);
    if (it == pending_.end()) return;
    pending_.erase(it);
    out_ack(id, std::move(result));
}

void Client::handle_event(std::string_view name, json& arg) {
    auto membership = [&](std::string_view event) {
        for (auto& [type, agent] : agents_)
            if (agent) agent->on_membership(event, arg);
    };
    if (name == "connected") {
        if (arg.is_object() && arg.contains("user") && arg["user"].is_object())
            user_ = User{arg["user"].value("id", UserId{0}), arg["user"].value("name", std::string())};
        const bool again = was_connected_;
        was_connected_ = true;
        attempts_ = 0;
        membership("connected");
        emit_event(again ? "reconnected" : "connected", arg);
        if (rejoin_) {
            const RoomId room = *rejoin_;
            rejoin_.reset();
            join_room(room);  // back into the active room after a reconnect
        }
        return;
    }
    if (name == "room_joined" && arg.is_object() && arg.contains("room") && arg["room"].is_number_integer())
        room_ = arg["room"].get<RoomId>();
    if (name == "room_left") room_.reset();
    if (name == "room_joined" || name == "room_left" || name == "user_joined" || name == "user_left") {
        membership(name);
        return emit_event(std::string(name), std::move(arg));
    }
    if (name == "server_message" || name == "room_message" || name == "user_message") {
        if (!arg.is_object() || !arg.contains("type") || !arg["type"].is_string()) return;
        const std::string type = arg["type"].get<std::string>();
        const UserId from = arg.value("from", UserId{0});
        json data = arg.contains("data") ? std::move(arg["data"]) : json();
        const auto it = agents_.find(type);
        if (it == agents_.end()) return;  // no agent of this type here: nothing to deliver to
        const std::string channel = name == "server_message" ? "server" : name == "room_message" ? "room" : "user";
        if (ClientAgent* a = it->second) {
            if (channel == "server") a->on_server_message(data);
            else if (channel == "room") a->on_room_message(from, data);
            else a->on_user_message(from, data);
            return;
        }
        Output o;
        o.kind = Output::Kind::agent;
        o.text = type;
        o.data = std::move(data);
        o.channel = channel;
        o.from = from;
        out_.push_back(std::move(o));
        return;
    }
    emit_event(std::string(name), std::move(arg));  // request_error and anything newer
}

// --- requests ------------------------------------------------------------------

std::uint64_t Client::request(std::string_view event, const json& arg, bool has_arg) {
    const std::uint64_t id = next_request_++;
    if (state_ != State::connected) {
        out_ack(id, error_object("not_connected", "not connected"));
        return id;
    }
    pending_.emplace(id, std::string(event));
    send_packet(sio::encode_event(kNamespace, event, has_arg ? "[" + dump(arg) + "]" : std::string(),
                                  std::to_string(id), true));
    return id;
}

std::uint64_t Client::join_room(RoomId room) { return request("join_room", json{{"room", room}}); }
std::uint64_t Client::leave_room() { return request("leave_room", json(), false); }

std::uint64_t Client::send_server(std::string_view type, const json& data) {
    return request("server_message", json{{"type", type}, {"data", data}});
}

std::uint64_t Client::send_room(std::string_view type, const json& data) {
    return request("room_message", json{{"type", type}, {"data", data}});
}

std::uint64_t Client::send_user(UserId to, std::string_view type, const json& data) {
    return request("server_message", json{{"to", to}, {"type", type}, {"data", data}});
}

}  // namespace compeit::ca
