#include "compeit/ca/room_owned_agent.hpp"

#include <exception>

#include "compeit/util/json_guard.hpp"

namespace compeit::ca {
namespace {

constexpr std::size_t kMaxDepth = 64;  // the router's bound on client JSON
constexpr std::size_t kMaxNodeName = 128;
constexpr std::size_t kMaxShort = 64;  // event names, ack ids, types as the router accepts them

const char* kind_name(Forwarded::Kind k) {
    switch (k) {
        case Forwarded::Kind::request: return "request";
        case Forwarded::Kind::join: return "join";
        case Forwarded::Kind::leave: return "leave";
        case Forwarded::Kind::rejoin: return "rejoin";
        case Forwarded::Kind::joined: return "joined";
        case Forwarded::Kind::claim: return "claim";
    }
    return "request";
}

std::optional<Forwarded::Kind> kind_of(std::string_view s) {
    for (auto k : {Forwarded::Kind::request, Forwarded::Kind::join, Forwarded::Kind::leave, Forwarded::Kind::rejoin,
                   Forwarded::Kind::joined, Forwarded::Kind::claim})
        if (s == kind_name(k)) return k;
    return std::nullopt;
}

// A string member no longer than `max`, or nullopt.
std::optional<std::string> short_string(const json& o, const char* key, std::size_t max) {
    const auto it = o.find(key);
    if (it == o.end() || !it->is_string()) return std::nullopt;
    auto s = it->get<std::string>();
    if (s.size() > max) return std::nullopt;
    return s;
}

std::optional<std::int64_t> integer(const json& o, const char* key, std::int64_t min, std::int64_t max) {
    const auto it = o.find(key);
    if (it == o.end() || !it->is_number_integer()) return std::nullopt;
    std::int64_t v = 0;
    if (it->is_number_unsigned()) {
        const auto u = it->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(max)) return std::nullopt;
        v = static_cast<std::int64_t>(u);
    } else {
        v = it->get<std::int64_t>();
    }
    if (v < min || v > max) return std::nullopt;
    return v;
}

}  // namespace

std::string encode_forwarded(const Forwarded& f) {
    json out{{"k", kind_name(f.kind)}, {"from", f.from}, {"room", f.room}};
    if (f.kind == Forwarded::Kind::claim) {
        out["previous"] = f.previous;
        out["record"] = f.record;
        return out.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    out["user"] = {{"id", f.user.id}, {"name", f.user.name},
                   {"caps", {f.user.caps.publish, f.user.caps.filter, f.user.caps.record}}};
    if (f.hold) out["hold"] = f.hold;
    if (f.hops) out["hops"] = f.hops;
    if (f.kind == Forwarded::Kind::request) {
        out["event"] = f.event;
        out["ack"] = f.ack_id;
        out["type"] = f.type;
        out["data"] = f.data;
    }
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The one boundary for messages between nodes: Redis (and whatever can
// publish on it) is outside input like a client.
std::optional<Forwarded> parse_forwarded(std::string_view text) {
    if (text.size() > kMaxForwardedBytes) return std::nullopt;
    const json o = util::parse_json(text, kMaxDepth);
    if (!o.is_object()) return std::nullopt;
    Forwarded f;
    const auto k = short_string(o, "k", kMaxShort);
    const auto kind = k ? kind_of(*k) : std::nullopt;
    auto from = short_string(o, "from", kMaxNodeName);
    const auto room = integer(o, "room", 0, kMaxRoomId);
    if (!kind || !from || from->empty() || !room) return std::nullopt;
    f.kind = *kind;
    f.from = std::move(*from);
    f.room = *room;
    if (f.kind == Forwarded::Kind::claim) {
        auto previous = short_string(o, "previous", kMaxNodeName);
        auto record = short_string(o, "record", kMaxForwardedBytes);
        if (!previous || !record) return std::nullopt;
        f.previous = std::move(*previous);
        f.record = std::move(*record);
        return f;
    }
    const auto user = o.find("user");
    if (user == o.end() || !user->is_object()) return std::nullopt;
    const auto id = integer(*user, "id", 1, kMaxRoomId);
    auto name = short_string(*user, "name", 4 * 1024);
    const auto caps = user->find("caps");
    if (!id || !name || caps == user->end() || !caps->is_array() || caps->size() != 3) return std::nullopt;
    for (const auto& c : *caps)
        if (!c.is_boolean()) return std::nullopt;
    f.user = User(*id, std::move(*name));
    f.user.caps.publish = (*caps)[0].get<bool>();
    f.user.caps.filter = (*caps)[1].get<bool>();
    f.user.caps.record = (*caps)[2].get<bool>();
    if (o.contains("hold")) {
        const auto hold = integer(o, "hold", 1, kMaxRoomId);
        if (!hold) return std::nullopt;
        f.hold = static_cast<std::uint64_t>(*hold);
    }
    if (o.contains("hops")) {
        const auto hops = integer(o, "hops", 0, 16);
        if (!hops) return std::nullopt;
        f.hops = static_cast<std::uint32_t>(*hops);
    }
    if (f.kind == Forwarded::Kind::joined && !f.hold) return std::nullopt;
    if (f.kind == Forwarded::Kind::request) {
        auto event = short_string(o, "event", kMaxShort);
        auto ack = short_string(o, "ack", kMaxShort);
        auto type = short_string(o, "type", kMaxShort);
        const auto data = o.find("data");
        if (!event || event->empty() || !ack || !type || data == o.end()) return std::nullopt;
        f.event = std::move(*event);
        f.ack_id = std::move(*ack);
        f.type = std::move(*type);
        f.data = *data;
    }
    return f;
}

RoomOwnedAgent::RoomOwnedAgent(std::string type, ServerAgent& inner, OwnedRoomState* state, RoomOwners& owners,
                               Config config)
    : type_(std::move(type)), inner_(inner), state_(state), owners_(owners), config_(config) {}

template <class F>
void RoomOwnedAgent::guarded(F&& f) {
    // Calls that run after the cluster answered are outside the router's
    // barrier: the same rule, an agent's exception costs the call, not the process.
#if defined(__cpp_exceptions)
    try {
        f();
    } catch (const std::exception&) {
        ++rejected_;
    } catch (...) {
        ++rejected_;
    }
#else
    f();
#endif
}

void RoomOwnedAgent::attached(Port port) {
    port_.emplace(port);
    inner_.attached(std::move(port));
    owners_.listen(type_, [this](std::string_view text) { on_message(text); });
    if (state_) state_->watch_rooms([this](RoomId room) { changed(room); });
}

void RoomOwnedAgent::route(const Forwarded& f, std::function<void()> unavailable) {
    std::string text = encode_forwarded(f);
    // The owner would refuse it (parse_forwarded's bound): refused here, at once.
    if (text.size() > kMaxForwardedBytes) return unavailable();
    ++in_flight_;
    owners_.route(type_, f.room, std::move(text), f.hops > 0, [this, unavailable = std::move(unavailable)](bool sent) {
        --in_flight_;
        if (!sent) unavailable();
    });
}

void RoomOwnedAgent::on_server_message(const Request& r, const User& from, json& data) {
    const auto room = port_->room_of(from.id);
    if (!room) return inner_.on_server_message(r, from, data);  // not in a room: the inner agent says so, here
    if (in_flight_ >= config_.max_in_flight)
        return port_->fail(r, ErrorCode::unavailable, "too many requests are waiting for the cluster");
    Forwarded f;
    f.kind = Forwarded::Kind::request;
    f.from = owners_.node_name();
    f.room = *room;
    f.user = from;
    f.event = r.event;
    f.ack_id = r.ack_id;
    f.type = r.type;
    f.data = data;
    if (encode_forwarded(f).size() > kMaxForwardedBytes)  // only with --max-data-bytes above it
        return port_->fail(r, ErrorCode::too_large, "data too large to forward to the room's media owner");
    route(f, [this, r] { port_->fail(r, ErrorCode::unavailable, "the cluster is unavailable"); });
}

void RoomOwnedAgent::on_join(const User& user, RoomId room) { membership(Forwarded::Kind::join, user, room); }
void RoomOwnedAgent::on_rejoin(const User& user, RoomId room) { membership(Forwarded::Kind::rejoin, user, room); }
void RoomOwnedAgent::on_leave(const User& user, RoomId room) { membership(Forwarded::Kind::leave, user, room); }

void RoomOwnedAgent::membership(Forwarded::Kind kind, const User& user, RoomId room) {
    Forwarded f;
    f.kind = kind;
    f.from = owners_.node_name();
    f.room = room;
    f.user = user;
    if (kind != Forwarded::Kind::leave) {
        // The joiner's ack waits for its initial state (config, streams),
        // wherever the owner is. Beyond the bound it goes without waiting.
        if (const JoinHold hold = port_->hold_join(user.id)) {
            if (held_.size() >= config_.max_held) {
                port_->release_join(hold);
            } else {
                f.hold = next_hold_++;
                held_.emplace(f.hold, Held{hold, port_->now()});
            }
        }
    }
    // Unreachable: the joiner gets no media state (its client sees no
    // `config` and may join again); a lost leave leaves its streams with the
    // owner until they or the owner go (docs/protocol.md §6).
    route(f, [this, number = f.hold] { release(number); });
}

void RoomOwnedAgent::release(std::uint64_t number) {
    if (!number) return;
    const auto it = held_.find(number);
    if (it == held_.end()) return;
    const JoinHold hold = it->second.hold;
    held_.erase(it);
    port_->release_join(hold);
}

void RoomOwnedAgent::tick(sio::Time now) {
    while (!held_.empty() && now - held_.begin()->second.since >= config_.hold_timeout)
        release(held_.begin()->first);  // numbers grow with time: the oldest first
}

void RoomOwnedAgent::on_message(std::string_view text) {
    auto f = parse_forwarded(text);
    if (!f) {
        ++rejected_;
        return;
    }
    if (f->kind == Forwarded::Kind::claim) {
        // This node owns the room from now on; the calls that follow are its.
        if (owned_.size() < config_.max_owned) owned_.insert(f->room);
        if (!f->previous.empty() && state_) {
            recorded_.erase(f->room);
            guarded([&] { state_->take_over(f->room, f->record); });
        }
        return;
    }
    if (f->kind == Forwarded::Kind::joined || owned_.count(f->room)) return run(*f);
    // Not claimed by this process: route it again (see owned_), a bounded number of times.
    auto refuse = [this, f = *f] {
        if (f.kind != Forwarded::Kind::request) return;
        Request r;
        r.user = f.user.id;
        r.event = f.event;
        r.ack_id = f.ack_id;
        r.type = f.type;
        r.remote = true;
        port_->fail(r, ErrorCode::unavailable, "the room's media owner could not be found");
    };
    if (f->hops >= config_.max_hops || in_flight_ >= config_.max_in_flight) {
        ++rejected_;
        return refuse();
    }
    ++f->hops;
    route(*f, std::move(refuse));
}

// On the owner: a call of a user on node f.from, run as if it were here.
void RoomOwnedAgent::run(const Forwarded& f) {
    switch (f.kind) {
        case Forwarded::Kind::joined: return release(f.hold);
        case Forwarded::Kind::claim: return;  // on_message took it
        case Forwarded::Kind::request: {
            Request r;
            r.session = 0;
            r.user = f.user.id;
            r.event = f.event;
            r.ack_id = f.ack_id;
            r.type = f.type;
            r.remote = true;
            json data = f.data;
            bool ok = false;
            guarded([&] {
                if (state_) state_->member_seen(f.user.id, f.room);
                inner_.on_server_message(r, f.user, data);
                ok = true;
            });
            if (!ok) port_->fail(r, ErrorCode::internal, "the server failed on this request");
            return;
        }
        case Forwarded::Kind::join:
        case Forwarded::Kind::rejoin:
        case Forwarded::Kind::leave:
            guarded([&] {
                if (f.kind == Forwarded::Kind::join) inner_.on_join(f.user, f.room);
                else if (f.kind == Forwarded::Kind::rejoin) inner_.on_rejoin(f.user, f.room);
                else inner_.on_leave(f.user, f.room);
            });
            if (f.hold && f.from == owners_.node_name()) {
                release(f.hold);  // the joiner is here: what on_join sent it went out already
            } else if (f.hold) {
                // After what on_join sent the joiner (same channel, so in order): its ack may go.
                Forwarded done;
                done.kind = Forwarded::Kind::joined;
                done.from = owners_.node_name();
                done.room = f.room;
                done.user = f.user;
                done.hold = f.hold;
                owners_.to_node(type_, f.from, encode_forwarded(done));
            }
            return;
    }
}

void RoomOwnedAgent::changed(RoomId room) {
    std::string record = state_->room_record(room);
    const auto it = recorded_.find(room);
    if (it != recorded_.end() ? it->second == record : record.empty()) return;
    if (record.empty()) recorded_.erase(room);
    else recorded_[room] = record;
    owners_.record(type_, room, std::move(record));
}

}  // namespace compeit::ca
