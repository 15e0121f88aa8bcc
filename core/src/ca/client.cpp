#include "compeit/ca/client.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

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

// A JSON number span as a double (nullopt when it is not a number).
std::optional<double> json_number(std::string_view span) {
    if (span.empty() || span.size() > 32 || !(span[0] == '-' || (span[0] >= '0' && span[0] <= '9'))) return std::nullopt;
    const std::string text(span);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::optional<bool> json_bool(std::string_view span) {
    if (span == "true") return true;
    if (span == "false") return false;
    return std::nullopt;
}

// A millisecond option: 0 .. one hour.
std::optional<sio::Time> json_ms(std::string_view span) {
    const auto v = json_number(span);
    if (!v) return std::nullopt;
    return sio::Time(static_cast<std::int64_t>(std::clamp(*v, 0.0, 3'600'000.0)));
}

// splitmix64: a small, well-mixed generator; the seed comes from the host.
std::uint64_t next_random(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace

bool apply_client_options(ClientConfig& config, std::string_view json_text) {
    const auto obj = util::json_value_span(json_text, 8);
    if (!obj || obj->front() != '{') return false;
    util::for_each_member(*obj, [&](std::string_view key, std::string_view value) {
        if (key == "reconnect") {
            if (auto b = json_bool(value)) config.reconnect = *b;
        } else if (key == "resume") {
            if (auto b = json_bool(value)) config.resume = *b;
        } else if (key == "maxAttempts") {
            if (auto n = json_number(value)) config.max_attempts = static_cast<unsigned>(std::clamp(*n, 0.0, 1e6));
        } else if (key == "minDelay") {
            if (auto t = json_ms(value)) config.reconnect_delay = *t;
        } else if (key == "maxDelay") {
            if (auto t = json_ms(value)) config.reconnect_delay_max = *t;
        } else if (key == "jitter") {
            if (auto n = json_number(value)) config.jitter = std::clamp(*n, 0.0, 1.0);
        } else if (key == "seed") {
            if (auto n = json_number(value)) config.seed = static_cast<std::uint32_t>(std::clamp(*n, 0.0, 4294967295.0));
        }
    });
    // A first delay of 0 would retry in a tight loop against a server that is down.
    config.reconnect_delay = std::max(config.reconnect_delay, sio::Time(1));
    config.reconnect_delay_max = std::max(config.reconnect_delay_max, config.reconnect_delay);
    return true;
}

Client::Client(ClientConfig config) : config_(std::move(config)), rng_(config_.seed) {
    while (!config_.url.empty() && config_.url.back() == '/') config_.url.pop_back();
}

bool Client::configure(std::string_view json_text) {
    if (!apply_client_options(config_, json_text)) return false;
    rng_ = config_.seed;
    return true;
}

sio::Time Client::backoff(unsigned attempt) {
    auto delay = config_.reconnect_delay;
    for (unsigned i = 1; i < attempt && delay < config_.reconnect_delay_max; ++i) delay *= 2;
    delay = std::min(delay, config_.reconnect_delay_max);
    // Clients that lost the same server at the same moment spread out.
    const double unit = static_cast<double>(next_random(rng_) >> 11) * 0x1.0p-53;  // [0, 1)
    const auto cut = static_cast<std::int64_t>(static_cast<double>(delay.count()) * config_.jitter * unit);
    return delay - sio::Time(cut);
}

void Client::emit_state(std::string_view state, std::string_view reason, std::string extra) {
    std::string p = "{\"state\":\"";
    p += state;
    p += "\",\"reason\":\"";
    p += reason;
    p += '"';
    p += extra;
    p += '}';
    emit_event("state", std::move(p));
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
    was_connected_ = false;  // a new connect(): its first failure stops it
    resume_token_.clear();
    seen_ = 0;
    emit_state("connecting", "connect");
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
        status_ = status;  // 401/403: the host reports the token as refused
        return lost(now, true, "handshake_failed");
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
    lost(now, true, "transport_closed");
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
    resume_token_.clear();  // `0::` ended the session on the server
    if (was_up)
        for (auto& [type, agent] : agents_)
            if (agent) agent->on_membership("disconnect", "{}");
    emit_event("disconnect", R"({"reason":"client"})");
    emit_state("disconnected", "client_disconnect");
}

// The connection is gone (or never came): settle what waits, then back off.
// Only a connection that was up is retried: a first connect() that fails stops.
void Client::lost(sio::Time now, bool allow_reconnect, std::string_view reason) {
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
    if (!allow_reconnect || !config_.reconnect || !was_connected_) {
        state_ = State::closed;
        if (!allow_reconnect) resume_token_.clear();
        std::string extra;
        if (reason == "handshake_failed") extra = ",\"status\":" + std::to_string(status_);
        return emit_state("disconnected", reason, std::move(extra));
    }
    if (attempts_ >= config_.max_attempts) {
        state_ = State::closed;
        emit_event("reconnect_failed", "{}");
        return emit_state("disconnected", "retries_exhausted");
    }
    ++attempts_;
    const auto delay = backoff(attempts_);
    state_ = State::reconnecting;
    retry_at_ = now + delay;
    const std::string numbers =
        "\"attempt\":" + std::to_string(attempts_) + ",\"delay\":" + std::to_string(delay.count());
    emit_event("reconnecting", "{" + numbers + "}");
    emit_state("reconnecting", reason, "," + numbers);
}

void Client::tick(sio::Time now) {
    switch (state_) {
        case State::reconnecting:
            if (now >= retry_at_) start_handshake(now);
            break;
        case State::handshaking:
        case State::opening:
        case State::connecting:
            if (now >= deadline_) lost(now, true, "connect_timeout");
            break;
        case State::connected:
            if (now >= deadline_) lost(now, true, "heartbeat_timeout");  // silence
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
            if (p->endpoint.empty()) send_packet("1::" + std::string(kNamespace) + connect_query());
            return;
        case sio::PacketType::heartbeat:
            send_packet("2::");
            return;
        case sio::PacketType::disconnect:
            if (p->endpoint.empty()) {  // booted: socket.io 0.9 clients do not reconnect
                rejoin_.reset();
                lost(now, false, "server_disconnect");
            }
            return;
        case sio::PacketType::error:
            if (p->endpoint.empty() && sio::parse_error(p->data).advice)
                lost(now, true, state_ == State::connected ? "transport_closed" : "handshake_failed");
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
            if (*name == "connected") {
                if (state_ != State::connecting) return;
                state_ = State::connected;
                deadline_ = now + heartbeat_timeout_;
                return on_connected(arg);
            }
            // What the server counts too: every namespace event after `connected`
            // but request_error (it belongs to its connection; never replayed).
            if (*name != "request_error") ++seen_;
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

// `connected`: a new user-session, or (after a resume) the same one. The
// server's answer says which: `resumed` (same user and room, what was missed
// follows), `missed` (a new user: rejoin), or neither.
void Client::on_connected(std::string_view arg) {
    if (const auto u = util::json_member(arg, "user")) {
        const auto id = util::json_member(*u, "id");
        const auto n = util::json_member(*u, "name");
        user_ = User{id ? util::json_integer(*id).value_or(0) : 0,
                     n ? util::json_string(*n).value_or("") : std::string()};
    }
    const auto flag = [&](std::string_view key) {
        const auto v = util::json_member(arg, key);
        return v && *v == "true";
    };
    const bool resumed = !resume_token_.empty() && flag("resumed");
    const bool missed = !resume_token_.empty() && !resumed;
    resume_token_.clear();
    if (const auto t = util::json_member(arg, "resume"); t && config_.resume)
        resume_token_ = util::json_string(*t).value_or("");
    if (!resumed) seen_ = 0;  // a new user-session: the count starts again
    const bool again = was_connected_;
    was_connected_ = true;
    attempts_ = 0;
    if (resumed) {
        room_ = rejoin_;  // the server kept the room
        rejoin_.reset();
    }
    for (auto& [type, agent] : agents_)
        if (agent) agent->on_membership("connected", arg);
    emit_event(again ? "reconnected" : "connected", std::string(arg));
    emit_state("connected", resumed ? "resumed" : missed ? "resume_missed" : "connected");
    if (rejoin_) {
        const RoomId room = *rejoin_;
        rejoin_.reset();
        join_room(room);  // back into the active room after a reconnect
    }
}

// The namespace connect's query: ask for a token, or present it with the count.
std::string Client::connect_query() const {
    if (!config_.resume) return {};
    if (resume_token_.empty()) return ":?resume=1";
    return ":?resume=" + encode_query_value(resume_token_) + "&seen=" + std::to_string(seen_);
}

void Client::handle_event(std::string_view name, std::string_view arg) {
    auto membership = [&](std::string_view event) {
        for (auto& [type, agent] : agents_)
            if (agent) agent->on_membership(event, arg);
    };
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
