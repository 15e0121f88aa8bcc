#include "compeit/sio/engine.hpp"

#include <algorithm>

#include "compeit/util/base64url.hpp"

namespace compeit::sio {

struct Engine::Session {
    SessionId id = 0;
    std::string sid;
    std::string query;
    std::string peer;
    Time created{};
    bool opened = false;             // a transport connected: `1::` was (or is being) sent
    std::optional<Transport> transport;
    std::vector<std::string> namespaces;  // connected endpoints besides the root
    std::vector<Frame> outbox;
    std::size_t outbox_bytes = 0;
    bool dirty = false;
    unsigned bad_packets = 0;
    // polling
    bool poll_held = false;
    Time poll_deadline{};
    Time close_deadline{};
    // websocket heartbeats
    Time heartbeat_due{};
    bool awaiting_heartbeat = false;
    Time heartbeat_deadline{};
};

namespace {

// Seconds as the handshake advertises them: "60", or "0.6" for sub-second
// settings (the 0.9.6 client multiplies by 1000, so decimals work; a value cut
// to 0 would make it drop the connection at once).
std::string seconds_field(Time t) {
    const auto ms = t.count();
    std::string s = std::to_string(ms / 1000);
    if (const auto frac = ms % 1000) {
        std::string f = std::to_string(1000 + frac).substr(1);  // 3 digits, zero-padded
        while (f.back() == '0') f.pop_back();
        s += '.' + f;
    }
    return s;
}

const Frame& connect_frame() {
    static const Frame f = make_frame("1::");
    return f;
}
const Frame& heartbeat_frame() {
    static const Frame f = make_frame("2::");
    return f;
}
const Frame& disconnect_frame() {
    static const Frame f = make_frame("0::");
    return f;
}

}  // namespace

std::optional<Transport> parse_transport(std::string_view name) {
    if (name == "websocket") return Transport::websocket;
    if (name == "xhr-polling") return Transport::xhr_polling;
    if (name == "jsonp-polling") return Transport::jsonp_polling;
    return std::nullopt;
}

std::string_view transport_name(Transport t) {
    switch (t) {
        case Transport::websocket: return "websocket";
        case Transport::xhr_polling: return "xhr-polling";
        case Transport::jsonp_polling: return "jsonp-polling";
    }
    return "";
}

std::string_view to_string(CloseReason r) {
    switch (r) {
        case CloseReason::namespace_left: return "namespace left";
        case CloseReason::booted: return "booted";
        case CloseReason::server: return "server disconnect";
        case CloseReason::forced: return "forced disconnect";
        case CloseReason::transport_closed: return "transport closed";
        case CloseReason::heartbeat_timeout: return "heartbeat timeout";
        case CloseReason::close_timeout: return "close timeout";
        case CloseReason::handshake_timeout: return "handshake timeout";
        case CloseReason::overflow: return "buffer overflow";
        case CloseReason::garbage: return "malformed packets";
    }
    return "";
}

Engine::Engine(EngineConfig config, TransportHost& host, Application& app)
    : config_(std::move(config)), host_(host), app_(app) {}

Engine::~Engine() = default;

std::array<std::size_t, kTransportCount> Engine::sessions_by_transport() const {
    std::array<std::size_t, kTransportCount> out{};
    for (const auto& [id, s] : sessions_)
        if (s->opened && s->transport) ++out[static_cast<std::size_t>(*s->transport)];
    return out;
}

void Engine::add_namespace(std::string endpoint) { namespaces_.push_back(std::move(endpoint)); }

bool Engine::serves(std::string_view endpoint) const {
    return std::find(namespaces_.begin(), namespaces_.end(), endpoint) != namespaces_.end();
}

bool Engine::is_transport_allowed(Transport t) const {
    return std::find(config_.transports.begin(), config_.transports.end(), t) != config_.transports.end();
}

Engine::Handshake Engine::handshake(Time now, std::string_view random, std::string_view query,
                                    std::string_view peer) {
    Handshake h;
    if (query.size() > config_.max_query_bytes) h.refused = Refusal::query_too_long;
    else if (pending_ >= config_.max_pending_handshakes) h.refused = Refusal::too_many_pending;
    else if (const auto it = pending_by_peer_.find(std::string(peer));
             it != pending_by_peer_.end() && it->second >= config_.max_pending_per_peer)
        h.refused = Refusal::too_many_from_peer;
    if (h.refused != Refusal::none) {
        ++stats_.refused[static_cast<std::size_t>(h.refused)];
        return h;
    }

    // The random bytes, base64url: 22 characters for 128 bits; in a cluster
    // after the node's prefix, which load balancers route on.
    std::string sid = random.size() >= kSidRandomBytes
                          ? config_.sid_prefix + util::base64url_encode(random.substr(0, kSidRandomBytes))
                          : std::string();
    if (sid.empty() || by_sid_.count(sid)) {
        h.refused = Refusal::bad_random;
        ++stats_.refused[static_cast<std::size_t>(h.refused)];
        return h;
    }
    auto s = std::make_unique<Session>();
    s->id = next_id_++;
    s->sid = std::move(sid);
    s->query = std::string(query);
    s->peer = std::string(peer);
    s->created = now;
    ++pending_;
    ++pending_by_peer_[s->peer];

    h.id = s->id;
    h.sid = s->sid;
    h.body = s->sid + ':' + seconds_field(config_.heartbeat_timeout) + ':' + seconds_field(config_.close_timeout) + ':';
    for (std::size_t i = 0; i < config_.transports.size(); ++i) {
        if (i) h.body += ',';
        h.body += transport_name(config_.transports[i]);
    }
    by_sid_.emplace(s->sid, s->id);
    sessions_.emplace(s->id, std::move(s));
    return h;
}

void Engine::forget_pending(const Session& s) {
    --pending_;
    const auto it = pending_by_peer_.find(s.peer);
    if (it != pending_by_peer_.end() && --it->second == 0) pending_by_peer_.erase(it);
}

Engine::Session* Engine::get(SessionId id) const {
    const auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second.get();
}

SessionId Engine::find(std::string_view sid, std::string_view peer) const {
    const auto it = by_sid_.find(std::string(sid));
    if (it == by_sid_.end()) return 0;
    if (config_.bind_sid_to_peer && get(it->second)->peer != peer) return 0;
    return it->second;
}

std::string_view Engine::query(SessionId id) const {
    const Session* s = get(id);
    return s ? std::string_view(s->query) : std::string_view();
}

std::string_view Engine::peer(SessionId id) const {
    const Session* s = get(id);
    return s ? std::string_view(s->peer) : std::string_view();
}

std::string Engine::refusal(SessionId id) const {
    // Unknown or gone: "client not handshaken, reconnect". A live session
    // already bound to another transport: "transport not supported".
    return get(id) ? "7:::0" : "7:::1+0";
}

void Engine::open(Session& s, Transport t, Time now) {
    s.transport = t;
    if (s.opened) return;
    s.opened = true;
    forget_pending(s);
    ++stats_.opened[static_cast<std::size_t>(t)];
    host_.opened(s.id, s.sid, t);
    s.outbox.insert(s.outbox.begin(), connect_frame());
    s.outbox_bytes += connect_frame()->size();
    if (t == Transport::websocket) s.heartbeat_due = now + config_.heartbeat_interval;
}

bool Engine::open_websocket(SessionId id, Time now) {
    Session* s = get(id);
    if (!s || s->transport) return false;
    open(*s, Transport::websocket, now);
    deliver(*s, now);
    return true;
}

void Engine::on_ws_text(SessionId id, std::string_view text, Time now) {
    if (Session* s = get(id); s && s->transport == Transport::websocket) {
        stats_.bytes_in[static_cast<std::size_t>(Transport::websocket)] += text.size();
        on_packet_text(*s, text, now);
    }
}

void Engine::on_transport_closed(SessionId id, Time now) {
    if (Session* s = get(id); s && s->transport == Transport::websocket)
        end(*s, CloseReason::transport_closed, now, false);
}

std::optional<Engine::PollResult> Engine::on_poll(SessionId id, Transport kind, Time now) {
    Session* s = get(id);
    if (!s || (s->transport && *s->transport != kind)) return std::nullopt;
    PollResult r;
    r.release_previous = s->poll_held;
    open(*s, kind, now);
    if (!s->outbox.empty()) {
        r.respond = true;
        r.body = encode_payload(s->outbox);
        stats_.bytes_out[static_cast<std::size_t>(kind)] += r.body.size();
        s->outbox.clear();
        s->outbox_bytes = 0;
        s->poll_held = false;
        s->close_deadline = now + config_.close_timeout;
        return r;
    }
    s->poll_held = true;
    s->poll_deadline = now + config_.polling_duration;
    return r;
}

void Engine::on_poll_aborted(SessionId id, Time now) {
    Session* s = get(id);
    if (!s || !s->poll_held) return;
    s->poll_held = false;
    s->close_deadline = now + config_.close_timeout;
}

void Engine::on_post(SessionId id, Transport kind, std::string_view body, Time now) {
    Session* s = get(id);
    // Before the first GET a POST is taken (some clients send first, X9);
    // after it, only from the transport the session opened with.
    if (!s || !is_polling(kind) || (s->transport && *s->transport != kind)) return;
    stats_.bytes_in[static_cast<std::size_t>(kind)] += body.size();
    const auto packets = decode_payload(body);
    if (!packets) {  // a broken payload counts like a broken packet
        if (++s->bad_packets > config_.max_bad_packets) end(*s, CloseReason::garbage, now, true);
        return;
    }
    for (std::string_view text : *packets) {
        // A packet may end the session (0::); stop there.
        if (!alive(id)) return;
        on_packet_text(*s, text, now);
    }
}

void Engine::on_packet_text(Session& s, std::string_view text, Time now) {
    auto p = decode(text);
    if (!p) {
        if (++s.bad_packets > config_.max_bad_packets) end(s, CloseReason::garbage, now, true);
        return;
    }
    s.bad_packets = 0;
    handle(s, std::move(*p), now);
}

void Engine::handle(Session& s, Packet&& p, Time now) {
    const bool root = p.endpoint.empty();
    const bool joined =
        root || std::find(s.namespaces.begin(), s.namespaces.end(), p.endpoint) != s.namespaces.end();
    switch (p.type) {
        case PacketType::heartbeat:
            if (s.awaiting_heartbeat) {
                s.awaiting_heartbeat = false;
                s.heartbeat_due = now + config_.heartbeat_interval;
            }
            return;
        case PacketType::connect: {
            if (root) return;
            if (!serves(p.endpoint)) {
                push(s, make_frame(encode(make_error(p.endpoint, ErrorReason::unauthorized))));
                return;
            }
            if (!joined) s.namespaces.push_back(p.endpoint);
            push(s, make_frame(encode(Packet{PacketType::connect, {}, false, p.endpoint, {}})));
            std::string_view query = p.data;
            if (!query.empty() && query.front() == '?') query.remove_prefix(1);
            app_.on_namespace_connect(s.id, p.endpoint, query, now);
            return;
        }
        case PacketType::disconnect:
            if (root) {
                end(s, CloseReason::booted, now, true);
            } else if (joined) {
                s.namespaces.erase(std::find(s.namespaces.begin(), s.namespaces.end(), p.endpoint));
                app_.on_namespace_disconnect(s.id, p.endpoint, CloseReason::namespace_left, now);
            }
            return;
        case PacketType::message:
        case PacketType::json:
        case PacketType::event:
        case PacketType::ack:
            if (!joined) return;  // packets for a namespace never connected are dropped
            if (!p.id.empty() && !p.data_ack && p.type != PacketType::ack)
                push(s, make_frame(encode(make_ack(p.endpoint, p.id, std::nullopt))));  // auto-ack first
            app_.on_packet(s.id, p, now);
            return;
        case PacketType::error:
        case PacketType::noop:
            return;
    }
}

void Engine::send(SessionId id, const Frame& packet) {
    if (Session* s = get(id)) {
        ++stats_.deliveries;
        push(*s, packet);
    }
}

void Engine::push(Session& s, Frame f) {
    s.outbox_bytes += f->size();
    s.outbox.push_back(std::move(f));
    if (!s.dirty) {
        s.dirty = true;
        if (dirty_.empty()) host_.schedule_flush();
        dirty_.push_back(s.id);
    }
}

void Engine::flush(Time now) {
    std::vector<SessionId> dirty;
    dirty.swap(dirty_);
    for (SessionId id : dirty) {
        Session* s = get(id);
        if (!s) continue;
        s->dirty = false;
        deliver(*s, now);
    }
}

void Engine::deliver(Session& s, Time now) {
    if (s.outbox.empty() || !s.transport || !s.opened) return;
    if (*s.transport == Transport::websocket) {
        std::vector<Frame> frames;
        frames.swap(s.outbox);
        stats_.bytes_out[static_cast<std::size_t>(Transport::websocket)] += s.outbox_bytes;
        s.outbox_bytes = 0;
        host_.ws_write(s.id, std::move(frames));
        return;
    }
    if (s.poll_held) {
        std::string body = encode_payload(s.outbox);
        s.outbox.clear();
        s.outbox_bytes = 0;
        answer_poll(s, std::move(body), now);
        return;
    }
    if (s.outbox_bytes > config_.max_buffered_bytes) end(s, CloseReason::overflow, now, false);
}

void Engine::answer_poll(Session& s, std::string body, Time now) {
    s.poll_held = false;
    s.close_deadline = now + config_.close_timeout;
    if (s.transport) stats_.bytes_out[static_cast<std::size_t>(*s.transport)] += body.size();
    host_.poll_respond(s.id, std::move(body));
}

void Engine::disconnect(SessionId id, CloseReason reason, Time now) {
    if (Session* s = get(id)) end(*s, reason, now, true);
}

void Engine::end(Session& s, CloseReason reason, Time now, bool say_goodbye) {
    const SessionId id = s.id;
    // Tell the client first, while the transport is still attached.
    if (say_goodbye && s.opened && s.transport) {
        s.outbox.push_back(disconnect_frame());
        deliver(s, now);
    }
    // The namespaces, then the root, learn that the session is gone.
    std::vector<std::string> namespaces;
    namespaces.swap(s.namespaces);
    for (const auto& ns : namespaces) app_.on_namespace_disconnect(id, ns, reason, now);
    app_.on_namespace_disconnect(id, "", reason, now);

    const std::size_t by = s.opened && s.transport ? static_cast<std::size_t>(*s.transport) : kTransportCount;
    ++stats_.closed[by][static_cast<std::size_t>(reason)];
    host_.closed(id, s.sid, reason);
    if (!s.opened) forget_pending(s);
    by_sid_.erase(s.sid);
    sessions_.erase(id);  // `s` is gone from here on
    host_.end(id);
}

void Engine::tick(Time now) {
    std::vector<std::pair<SessionId, CloseReason>> expired;
    for (auto& [id, ptr] : sessions_) {
        Session& s = *ptr;
        if (!s.opened) {
            if (now - s.created >= config_.handshake_timeout)
                expired.emplace_back(id, CloseReason::handshake_timeout);
            continue;
        }
        if (s.transport == Transport::websocket) {
            if (s.awaiting_heartbeat) {
                if (now >= s.heartbeat_deadline) expired.emplace_back(id, CloseReason::heartbeat_timeout);
            } else if (now >= s.heartbeat_due) {
                s.awaiting_heartbeat = true;
                s.heartbeat_deadline = now + config_.heartbeat_timeout;
                push(s, heartbeat_frame());
            }
        } else if (s.poll_held) {
            if (now >= s.poll_deadline) answer_poll(s, "8::", now);
        } else if (now >= s.close_deadline) {
            expired.emplace_back(id, CloseReason::close_timeout);
        }
    }
    for (auto [id, reason] : expired)
        if (Session* s = get(id)) end(*s, reason, now, false);
}

}  // namespace compeit::sio
