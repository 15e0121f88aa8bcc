#include "compeit/ca/router.hpp"

#include <algorithm>
#include <array>

#include "compeit/util/base64url.hpp"
#include "compeit/util/json_guard.hpp"
#include "compeit/util/json_scan.hpp"
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


Router::In classify(std::string_view event) {
    using In = Router::In;
    if (event == "room_message") return In::room_message;
    if (event == "server_message") return In::server_message;
    if (event == "join_room") return In::join_room;
    if (event == "leave_room") return In::leave_room;
    return In::other;
}

}  // namespace

std::string_view Router::event_name(In e) {
    static constexpr std::array<std::string_view, kInCount> names = {
        "join_room", "leave_room", "server_message", "user_message", "room_message", "other"};
    return names[static_cast<std::size_t>(e)];
}

std::string_view Router::event_name(Out e) {
    static constexpr std::array<std::string_view, kOutCount> names = {
        "connected", "room_joined", "room_left", "user_joined", "user_left",
        "room_message", "user_message", "server_message", "request_error", "ack"};
    return names[static_cast<std::size_t>(e)];
}

Router::Router(Limits limits) : limits_(limits) {}

// The last-resort barrier (LIM-1): whatever escapes router or agent code ends
// here, not in std::terminate. Without exceptions (the WASM build) there is
// nothing to catch.
template <class F>
bool Router::guarded(std::string_view event, std::string_view type, UserId user, F&& f) {
#if defined(__cpp_exceptions)
    try {
        f();
        return true;
    } catch (const std::exception& e) {
        if (on_fault_) on_fault_(Fault{event, type, user, e.what()});
    } catch (...) {
        if (on_fault_) on_fault_(Fault{event, type, user, "unknown exception"});
    }
    return false;
#else
    static_cast<void>(event), static_cast<void>(type), static_cast<void>(user);
    f();
    return true;
#endif
}

void Router::attach(sio::Engine& engine) { engine_ = &engine; }

bool Router::register_agent(const std::string& type, ServerAgent& a) {
    if (type.empty() || agents_.count(type)) return false;
    agents_.emplace(type, Registered{&a, agent_slot(type)});
    a.attached(Port(*this, type));
    return true;
}

bool Router::unregister_agent(const std::string& type, const ServerAgent& a) {
    const auto it = agents_.find(type);
    if (it == agents_.end() || it->second.agent != &a) return false;
    agents_.erase(it);
    return true;
}

// A type registered again (an external agent that reconnects) keeps its
// counter; types beyond kMaxAgentStats share one counted as "other", so
// agents coming and going under new names cannot grow the table.
std::size_t Router::agent_slot(const std::string& type) {
    for (std::size_t i = 0; i < stats_.agents.size(); ++i)
        if (stats_.agents[i].type == type) return i;
    if (stats_.agents.size() + 1 < kMaxAgentStats) {
        stats_.agents.push_back(AgentCount{type, 0});
        return stats_.agents.size() - 1;
    }
    if (stats_.agents.size() + 1 == kMaxAgentStats) stats_.agents.push_back(AgentCount{"other", 0});
    return stats_.agents.size() - 1;
}

ServerAgent* Router::agent(std::string_view type) const {
    const auto it = agents_.find(type);
    return it == agents_.end() ? nullptr : it->second.agent;
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
    // `resume=1` asks for a token; `resume=<token>&seen=<n>` presents one.
    // Without resume (a socket.io 0.9.6 client, or a cluster) `connected` is as ever.
    const auto asked = resume_enabled() ? url::query_param(query, "resume") : std::nullopt;
    bool missed = false;
    Member* m = member(s);
    if (!m && asked && *asked != "1") {
        if (resume(s, *asked, url::query_param(query, "seen").value_or(""), now)) return;
        missed = true;
        ++stats_.resume_missed;
    }
    if (!m) {
        std::optional<UserId> id = next_user_;
        if (link_) id = link_->allocate_user();  // unique in the whole cluster
        else ++next_user_;
        if (!id) return engine_->disconnect(s, sio::CloseReason::server, now);
        m = &add_member(s, query, *id);
        if (link_) link_->user_online(m->user, s);
        if (asked) {
            m->replay = std::make_unique<Replay>();
            ++resumable_;
        }
    }
    std::string connected = "{\"user\":" + dump(to_json(m->user));
    if (m->replay) {
        // `connected` itself is not counted: the count starts after it.
        if (const std::string token = new_token(*m); !token.empty()) {
            connected += ",\"resume\":";
            util::append_json_string(connected, token);
        }
    }
    if (missed) connected += ",\"missed\":true";
    connected += '}';
    ++stats_.out[static_cast<std::size_t>(Out::connected)];
    engine_->send(s, sio::make_frame(sio::encode_event(kNamespace, "connected", "[" + connected + "]")));
}

Router::Member& Router::add_member(sio::SessionId s, std::string_view query, UserId id) {
    Member m{User{id, {}, {}}, s, std::nullopt, RateLimiter(limits_.rate_per_second, limits_.rate_burst), {}, false, {}};
    std::optional<std::string> name;
    bool chosen_by_client = true;
    // The identity stays with the session until it ends: leaving the
    // namespace and connecting it again must not shed the token's limits.
    if (const auto it = identities_.find(s); it != identities_.end()) {
        name = it->second.name;
        chosen_by_client = false;
        m.user.caps = it->second.caps;
        m.allowed_rooms = it->second.rooms;
    } else {
        // Open mode: the name comes from the connect packet's query, else the handshake's.
        name = url::query_param(query, "name");
        if (!name) name = url::query_param(engine_->query(s), "name");
        if (name && !utf::valid_utf8(*name)) name.reset();
    }
    m.user.name = name ? utf::clean_display_name(*name, limits_.max_name_chars) : std::string();
    // The server's own name cannot be taken by a client.
    if (chosen_by_client && utf::ascii_iequals(m.user.name, kServerName)) m.user.name.clear();
    if (m.user.name.empty()) m.user.name = "user" + std::to_string(id);
    sessions_by_user_.emplace(id, s);
    return members_.emplace(s, std::move(m)).first->second;
}

void Router::identify(sio::SessionId s, Identity identity) { identities_[s] = std::move(identity); }

void Router::on_namespace_disconnect(sio::SessionId s, std::string_view endpoint, sio::CloseReason reason,
                                     sio::Time now) {
    now_ = now;
    if (endpoint.empty()) identities_.erase(s);  // the session is gone
    if (endpoint != kNamespace) return;
    Member* m = member(s);
    if (!m) return;
    // A lost transport parks a resumable member; an ended session (0::, kick,
    // garbage, overflow) leaves at once.
    const bool lost = reason == sio::CloseReason::transport_closed || reason == sio::CloseReason::heartbeat_timeout ||
                      reason == sio::CloseReason::close_timeout;
    if (m->replay && lost) return park(*m, now);
    remove_member(*m);
}

void Router::remove_member(Member& m) {
    const sio::SessionId s = m.session;
    leave_current(m);
    if (link_) link_->user_offline(m.user);
    parked_.erase(s);
    if (m.replay) --resumable_;
    sessions_by_user_.erase(m.user.id);
    members_.erase(s);
}

// --- session resume -----------------------------------------------------------

void Router::enable_resume(ResumeConfig config, std::function<std::string(std::size_t)> random,
                           std::function<bool(std::string_view, std::string_view)> equal) {
    resume_ = config;
    random_ = std::move(random);
    equal_ = std::move(equal);
}

// `<user id>.<secret>`: the id finds the member (it is no secret), the
// secret is compared in constant time. A new one at every (re)connect.
std::string Router::new_token(Member& m) {
    const std::string bytes = random_(kResumeSecretBytes);
    if (bytes.size() < kResumeSecretBytes) {
        m.replay->secret.clear();  // never resumable with a weak secret
        return {};
    }
    m.replay->secret = util::base64url_encode(bytes);
    return std::to_string(m.user.id) + "." + m.replay->secret;
}

bool Router::resume(sio::SessionId s, std::string_view token, std::string_view seen_text, sio::Time now) {
    const auto dot = token.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 16) return false;
    std::uint64_t user = 0, seen = 0;
    for (char c : token.substr(0, dot)) {
        if (c < '0' || c > '9') return false;
        user = user * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (seen_text.empty() || seen_text.size() > 19) return false;
    for (char c : seen_text) {
        if (c < '0' || c > '9') return false;
        seen = seen * 10 + static_cast<std::uint64_t>(c - '0');
    }
    Member* m = member_by_user(static_cast<UserId>(user));
    if (!m || !m->replay || m->replay->secret.empty() || !equal_(token.substr(dot + 1), m->replay->secret))
        return false;  // unknown, expired or used: the member (if any) is not touched
    Replay& r = *m->replay;
    const sio::SessionId old = m->session;
    if (seen > r.sent || seen < r.first() || r.overflowed) {
        // The right client, but what it missed is gone: it starts afresh,
        // and its old self leaves as any other.
        if (r.parked) remove_member(*m);
        else engine_->disconnect(old, sio::CloseReason::server, now);
        return false;
    }
    // The member moves to the new session: its room, rate limit and identity with it.
    auto node = members_.extract(old);
    node.key() = s;
    node.mapped().session = s;
    m = &members_.insert(std::move(node)).position->second;
    sessions_by_user_[m->user.id] = s;
    if (m->room)
        if (const auto it = rooms_.find(*m->room); it != rooms_.end())
            std::replace(it->second.sessions.begin(), it->second.sessions.end(), old, s);
    parked_.erase(old);
    const bool was_live = !r.parked;
    r.parked = false;
    r.overflowed = false;
    // A half-open old transport (the server had not noticed yet) ends now; its
    // session no longer has a member, so nobody hears of it.
    if (was_live) engine_->disconnect(old, sio::CloseReason::server, now);

    std::string connected = "{\"user\":" + dump(to_json(m->user));
    if (const std::string next = new_token(*m); !next.empty()) {
        connected += ",\"resume\":";
        util::append_json_string(connected, next);
    }
    connected += ",\"resumed\":true}";
    ++stats_.out[static_cast<std::size_t>(Out::connected)];
    ++stats_.resumed;
    engine_->send(s, sio::make_frame(sio::encode_event(kNamespace, "connected", "[" + connected + "]")));
    for (std::uint64_t i = seen; i < r.sent; ++i) engine_->send(s, r.frames[static_cast<std::size_t>(i - r.first())]);
    return true;
}

void Router::park(Member& m, sio::Time now) {
    Replay& r = *m.replay;
    r.parked = true;
    r.sent_at_park = r.sent;
    r.deadline = now + resume_.timeout;
    parked_.insert(m.session);
}

bool Router::record(Member& m, const sio::Frame& frame) {
    Replay& r = *m.replay;
    ++r.sent;
    r.frames.push_back(frame);
    r.bytes += frame->size();
    while (r.frames.size() > resume_.buffer || (r.bytes > resume_.buffer_bytes && r.frames.size() > 1)) {
        r.bytes -= r.frames.front()->size();
        r.frames.pop_front();
    }
    // Parked, and an event its client cannot have read is gone: it cannot
    // resume; it leaves at the next tick (not here: a broadcast may be
    // walking the room).
    if (r.parked && r.first() > r.sent_at_park) r.overflowed = true;
    return !r.parked;
}

void Router::deliver(sio::SessionId s, const sio::Frame& frame) {
    // Only while some member can resume does a delivery look its member up:
    // socket.io 0.9 clients alone cost nothing more per recipient.
    if (resumable_ > 0)
        if (Member* m = member(s); m && m->replay && !record(*m, frame)) return;
    engine_->send(s, frame);
}

void Router::tick(sio::Time now) {
    now_ = now;
    std::vector<sio::SessionId> expired;
    for (sio::SessionId s : parked_) {
        const Member* m = member(s);
        if (!m || m->replay->overflowed || now >= m->replay->deadline) expired.push_back(s);
    }
    for (sio::SessionId s : expired) {
        parked_.erase(s);
        if (Member* m = member(s)) remove_member(*m);
    }
}

// --- requests -------------------------------------------------------------

void Router::on_packet(sio::SessionId s, const sio::Packet& p, sio::Time now) {
    now_ = now;
    if (p.endpoint != kNamespace) return;  // the root namespace carries no application events (TR-6)
    Member* m = member(s);
    if (!m || p.type == sio::PacketType::ack) return;
    if (m->joining) {  // cluster mode: after the join in flight, in order
        if (m->queued.size() < kMaxQueued) return m->queued.push_back(p);
        Request req{s, m->user.id, "message", p.data_ack ? p.id : std::string(), {}};
        return fail(req, ErrorCode::rate_limited, "too many requests while joining a room");
    }
    handle(*m, p);
}

void Router::handle(Member& member, const sio::Packet& p) {
    Member* m = &member;
    const sio::SessionId s = m->session;
    const sio::Time now = now_;
    Request req{s, m->user.id, {}, p.data_ack ? p.id : std::string(), {}};
    if (p.type != sio::PacketType::event) {
        ++stats_.in[static_cast<std::size_t>(In::other)];
        req.event = "message";
        return fail(req, ErrorCode::bad_request, "send events, not messages, on /connection_agent");
    }
    // One validating pass over the event; from here on only spans of it are read.
    const auto ev = util::json_value_span(p.data, kMaxJsonDepth);
    std::optional<std::string> name;
    std::string_view args = "[]";
    if (ev)
        util::for_each_member(*ev, [&](std::string_view key, std::string_view value) {
            if (key == "name") name = util::json_string(value);
            else if (key == "args") args = value;
        });
    if (!name) {
        ++stats_.in[static_cast<std::size_t>(In::other)];
        return fail(req, ErrorCode::bad_request, ev ? "malformed event" : "malformed or too deeply nested JSON");
    }
    req.event = std::move(*name);
    ++stats_.in[static_cast<std::size_t>(classify(req.event))];
    if (!m->rate.take(now.count())) return fail(req, ErrorCode::rate_limited, "too many messages");

    // The first argument; non-array args count as one argument, as socket.io 0.9 does.
    std::string_view arg = "null";
    if (args.front() != '[') arg = args;
    else if (auto first = util::json_first_element(args)) arg = *first;
    if (!guarded(req.event, {}, req.user, [&] { dispatch(*m, req, arg); }))
        fail(req, ErrorCode::internal, "the server failed on this request");
}

void Router::dispatch(Member& m, Request& req, std::string_view arg) {
    if (reserved_event(req.event)) return fail(req, ErrorCode::bad_request, "reserved event name");
    if (req.event == "join_room") return join_room(m, req, arg);
    if (req.event == "leave_room") return leave_room(m, req);
    if (req.event == "server_message" || req.event == "room_message") {
        // Known before any check, so that every request_error of it names the type.
        if (const auto t = util::json_member(arg, "type")) req.type = util::json_string(*t).value_or("");
        return req.event == "server_message" ? server_message(m, req, arg) : room_message(m, req, arg);
    }
    fail(req, ErrorCode::bad_request, "unknown event");
}

void Router::join_room(Member& m, const Request& req, std::string_view arg) {
    const auto r = util::json_member(arg, "room");
    const auto parsed = r ? util::json_integer(*r) : std::nullopt;
    if (!parsed || *parsed < 0 || *parsed > kMaxRoomId)
        return fail(req, ErrorCode::bad_request, "room must be an integer from 0 to 2^53-1");
    const RoomId room = *parsed;
    if (m.allowed_rooms && !m.allowed_rooms->count(room))
        return fail(req, ErrorCode::forbidden, "room: the access token does not allow room " + std::to_string(room));

    const bool again = m.room == room;  // already there: the state comes again, nobody else hears of it
    if (!again) {
        const auto it = rooms_.find(room);
        if (it == rooms_.end() && rooms_.size() >= limits_.max_rooms)
            return fail(req, ErrorCode::room_full, "too many rooms");
        if (link_) return join_cluster(m, req, room, false);  // the cluster counts the room's members
        if (it != rooms_.end() && it->second.sessions.size() >= limits_.max_room_users)
            return fail(req, ErrorCode::room_full, "room is full");
        leave_current(m);  // CA-7
        rooms_[room].sessions.push_back(m.session);
        m.room = room;
        const std::string joined = dump(json{{"room", room}, {"user", to_json(m.user)}});
        broadcast(Out::user_joined, room, sio::make_frame(sio::encode_event(kNamespace, "user_joined", "[" + joined + "]")),
                  m.session);
    } else if (link_) {
        return join_cluster(m, req, room, true);  // the members on every node
    }
    reply_joined(req, User(m.user), room, again);
}

// Cluster mode: the room's size is checked and the join announced by the
// cluster in the room's order (or, joining again, the members are read);
// the session's next packets wait for it. The old room is left only once
// the new one has taken the user: a refused join leaves it where it was.
void Router::join_cluster(Member& m, const Request& req, RoomId room, bool again) {
    m.joining = true;
    auto done = [this, s = m.session, req, user = m.user, room, again](ClusterLink::Joined j) {
        joined_cluster(s, req, user, room, again, std::move(j));
    };
    if (again) return link_->members(room, std::move(done));
    const std::string joined = dump(json{{"room", room}, {"user", to_json(m.user)}});
    link_->join(room, m.session, m.user, sio::make_frame(sio::encode_event(kNamespace, "user_joined", "[" + joined + "]")),
                std::move(done));
}

void Router::joined_cluster(sio::SessionId s, const Request& req, const User& user, RoomId room, bool again,
                            ClusterLink::Joined j) {
    Member* m = member(s);
    if (!m) {  // gone while joining: leave again
        if (!j.error && !again) {
            const std::string left = dump(json{{"room", room}, {"user", to_json(user)}});
            link_->leave(room, s, user, sio::make_frame(sio::encode_event(kNamespace, "user_left", "[" + left + "]")));
        }
        return;
    }
    m->joining = false;
    if (j.error) {
        fail(req, *j.error, *j.error == ErrorCode::room_full ? "room is full" : "the cluster is unavailable");
    } else {
        if (!again) {
            leave_current(*m);  // CA-7
            rooms_[room].sessions.push_back(s);
            m->room = room;
        }
        reply_joined(req, m->user, room, again, j.users_json);
    }
    // What the client sent meanwhile, in order; another join stops the drain.
    while ((m = member(s)) && !m->joining && !m->queued.empty()) {
        const sio::Packet p = std::move(m->queued.front());
        m->queued.pop_front();
        handle(*m, p);
    }
}

// Every agent hears of a join or leave, each behind the barrier: one agent's
// failure neither stops the others nor the membership change.
void Router::membership(bool joined, const User& user, RoomId room) {
    for (auto& [type, a] : agents_)
        guarded(joined ? "join" : "leave", type, user.id, [&, agent = a.agent] {
            joined ? agent->on_join(user, room) : agent->on_leave(user, room);
        });
}

// room_joined, then what the agents send the joiner (chat history, media
// config and streams), then the ack: a client of the socket.io era reads
// that state in its ack callback. An agent that sends part of it later holds
// the ack back (Port::hold_join). Joining the room one is in sends it all
// again and tells the others nothing (on_rejoin).
void Router::reply_joined(const Request& req, const User& user, RoomId room, bool again,
                          std::string_view users_json) {
    std::string reply;
    if (users_json.empty()) {
        json users = json::array();
        for (const User& u : members(room)) users.push_back(to_json(u));
        reply = dump(json{{"room", room}, {"users", std::move(users)}});
    } else {
        reply = "{\"room\":" + std::to_string(room) + ",\"users\":";
        reply += users_json;
        reply += '}';
    }
    emit(req.session, Out::room_joined, reply);
    const JoinHold join = next_join_++;
    if (!req.ack_id.empty()) pending_joins_.emplace(join, PendingJoin{req, std::move(reply), 1});
    joining_ = join;
    if (again) {
        for (auto& [type, a] : agents_)
            guarded("join", type, user.id, [&, agent = a.agent] { agent->on_rejoin(user, room); });
    } else {
        membership(true, user, room);
    }
    joining_ = 0;
    release_join(join);  // the router's own hold
}

void Router::release_join(JoinHold hold) {
    const auto it = pending_joins_.find(hold);
    if (it == pending_joins_.end() || --it->second.holds > 0) return;
    ack(it->second.request, it->second.reply);
    pending_joins_.erase(it);
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
    emit(m.session, Out::room_left, dump(json{{"room", room}}));
    const std::string left = dump(json{{"room", room}, {"user", to_json(m.user)}});
    auto frame = sio::make_frame(sio::encode_event(kNamespace, "user_left", "[" + left + "]"));
    if (link_) link_->leave(room, m.session, m.user, std::move(frame));
    else broadcast(Out::user_left, room, frame, m.session);
    membership(false, m.user, room);
    it = rooms_.find(room);  // agents may have touched the map
    if (it != rooms_.end() && it->second.sessions.empty()) rooms_.erase(it);
}

// The {type, data, to?} argument of server_message and room_message, as spans.
struct Router::Envelope {
    std::string type;
    std::string_view type_json;    // the type as sent, a JSON string
    std::string_view data = "null";
    std::optional<std::string_view> to;
    ServerAgent* agent = nullptr;  // the one serving `type`, if any
};

std::optional<Router::Envelope> Router::envelope(const Request& req, std::string_view arg) {
    Envelope e;
    std::optional<std::string> type;
    util::for_each_member(arg, [&](std::string_view key, std::string_view value) {
        if (key == "type") {
            type = util::json_string(value);
            e.type_json = value;
        } else if (key == "data") {
            e.data = value;
        } else if (key == "to") {
            e.to = value;
        }
    });
    if (!type || type->empty()) {
        fail(req, ErrorCode::bad_request, "type must be a non-empty string");
        return std::nullopt;
    }
    if (e.data.size() > limits_.max_data_bytes) {
        fail(req, ErrorCode::too_large, "data larger than " + std::to_string(limits_.max_data_bytes) + " bytes");
        return std::nullopt;
    }
    e.type = std::move(*type);
    if (const auto it = agents_.find(e.type); it != agents_.end()) {
        e.agent = it->second.agent;
        ++stats_.agents[it->second.slot].messages;
    } else {
        ++stats_.unrouted;
    }
    return e;
}

void Router::server_message(Member& m, const Request& req, std::string_view arg) {
    auto e = envelope(req, arg);
    if (!e) return;
    if (e->to) {
        // Counted as server_message by handle(); with `to` it is a user message.
        --stats_.in[static_cast<std::size_t>(In::server_message)];
        ++stats_.in[static_cast<std::size_t>(In::user_message)];
        const auto to = util::json_integer(*e->to);
        if (!to) return fail(req, ErrorCode::bad_request, "to must be a user id");
        Member* target = member_by_user(*to);
        if (!target && link_)
            return user_message_cluster(req, m.user, *to, e->type, std::string(e->type_json), std::string(e->data));
        if (!target) return fail(req, ErrorCode::unknown_user, "no such user");
        if (ServerAgent* a = e->agent) {
            bool taken = true;
            if (!guarded(req.event, e->type, m.user.id, [&] {
                    if (a->wants_text()) return void(taken = a->on_user_message_text(req, m.user, *to, e->data));
                    json data = util::parse_json(e->data);
                    taken = a->on_user_message(req, m.user, *to, data);
                }))
                return fail(req, ErrorCode::internal, "the server failed on this request");
            if (taken) return;
        }
        emit(target->session, Out::user_message, message_json(m.user.id, e->type_json, e->data));
        return ack(req, R"({"ok":true})");
    }
    ServerAgent* a = e->agent;
    if (!a) return fail(req, ErrorCode::unknown_type, "no server agent for this type");
    if (!guarded(req.event, e->type, m.user.id, [&] {
            if (a->wants_text()) return a->on_server_message_text(req, m.user, e->data);
            json data = util::parse_json(e->data);
            a->on_server_message(req, m.user, data);
        }))
        fail(req, ErrorCode::internal, "the server failed on this request");
}

// Cluster mode: a user not connected here. Whether some node has the user is
// asked first (an agent such as chat must not store a message to nobody);
// then as for a local user, delivered through the cluster.
void Router::user_message_cluster(const Request& req, const User& from, UserId to, std::string type,
                                  std::string type_json, std::string data) {
    if (!link_->available()) return fail(req, ErrorCode::unavailable, "the cluster is unavailable");
    if (!agent(type)) {  // relayed as sent, in one step: in order with the sender's room messages
        const auto frame = sio::make_frame(
            sio::encode_event(kNamespace, "user_message", "[" + message_json(from.id, type_json, data) + "]"));
        return link_->to_user(to, frame, [this, req](bool sent) {
            if (sent) ack(req, R"({"ok":true})");
            else fail(req, ErrorCode::unknown_user, "no such user");
        });
    }
    link_->locate(to, [this, req, from, to, type = std::move(type), type_json = std::move(type_json),
                       data = std::move(data)](bool found) {
        if (!engine_->alive(req.session)) return;
        if (!found) return fail(req, ErrorCode::unknown_user, "no such user");
        if (ServerAgent* a = agent(type)) {
            bool taken = true;
            if (!guarded(req.event, type, from.id, [&] {
                    if (a->wants_text()) return void(taken = a->on_user_message_text(req, from, to, data));
                    json parsed = util::parse_json(data);
                    taken = a->on_user_message(req, from, to, parsed);
                }))
                return fail(req, ErrorCode::internal, "the server failed on this request");
            if (taken) return;
        }
        const auto frame = sio::make_frame(
            sio::encode_event(kNamespace, "user_message", "[" + message_json(from.id, type_json, data) + "]"));
        link_->to_user(to, frame, [this, req](bool sent) {
            if (sent) ack(req, R"({"ok":true})");
            else fail(req, ErrorCode::unknown_user, "no such user");
        });
    });
}

void Router::room_message(Member& m, const Request& req, std::string_view arg) {
    auto e = envelope(req, arg);
    if (!e) return;
    if (!m.room) return fail(req, ErrorCode::not_in_room, "not in a room");
    if (ServerAgent* a = e->agent) {
        bool taken = true;
        if (!guarded(req.event, e->type, m.user.id, [&] {
                if (a->wants_text()) return void(taken = a->on_room_message_text(req, m.user, *m.room, e->data));
                json data = util::parse_json(e->data);
                taken = a->on_room_message(req, m.user, *m.room, data);
            }))
            return fail(req, ErrorCode::internal, "the server failed on this request");
        if (taken) return;
    }
    // Relayed as sent: the data bytes are copied once into the shared frame.
    const auto frame = sio::make_frame(sio::encode_event(
        kNamespace, "room_message", "[" + message_json(m.user.id, e->type_json, e->data) + "]"));
    if (link_)  // acked once the cluster has it: then every member will get it
        return link_->publish(*m.room, frame, m.session, 0, [this, req](bool ok) {
            if (ok) ack(req, R"({"ok":true})");
            else fail(req, ErrorCode::unavailable, "the cluster is unavailable");
        });
    broadcast(Out::room_message, *m.room, frame, m.session);
    ack(req, R"({"ok":true})");
}

// --- output ---------------------------------------------------------------

std::string Router::message_json(UserId from, std::string_view type_json, std::string_view data_json) const {
    std::string out;
    out.reserve(32 + type_json.size() + data_json.size());
    out += "{\"from\":";
    out += std::to_string(from);
    out += ",\"type\":";
    out += type_json;
    out += ",\"data\":";
    out += data_json;
    out += '}';
    return out;
}

void Router::emit(sio::SessionId s, Out event, const std::string& arg_json) {
    ++stats_.out[static_cast<std::size_t>(event)];
    auto frame = sio::make_frame(sio::encode_event(kNamespace, event_name(event), "[" + arg_json + "]"));
    // A request_error answers a request of this very connection: a resumed
    // client has failed those as disconnected, so it is neither kept for a
    // replay nor counted (docs/protocol.md §8).
    if (event == Out::request_error) return engine_->send(s, frame);
    deliver(s, frame);
}

void Router::broadcast(Out event, RoomId room, const sio::Frame& frame, sio::SessionId skip, std::uint64_t order,
                       std::function<void(bool)> done) {
    ++stats_.out[static_cast<std::size_t>(event)];
    if (link_) return link_->publish(room, frame, skip, order, std::move(done));
    if (const auto it = rooms_.find(room); it != rooms_.end())
        for (sio::SessionId s : it->second.sessions)
            if (s != skip) deliver(s, frame);
    if (done) done(true);
}

void Router::send_user(Out event, UserId to, const sio::Frame& frame) {
    ++stats_.out[static_cast<std::size_t>(event)];
    if (const Member* m = member_by_user(to)) deliver(m->session, frame);
    else if (link_) link_->to_user(to, frame, {});
}

void Router::ack(const Request& r, const std::string& arg_json) {
    if (r.ack_id.empty()) return;
    ++stats_.out[static_cast<std::size_t>(Out::ack)];
    auto packet = sio::make_ack(std::string(kNamespace), r.ack_id, "[" + arg_json + "]");
    if (r.remote) {  // the user's node writes it to the session, which is the user's only one
        if (const Member* m = member_by_user(r.user)) return engine_->send(m->session, std::move(packet));
        if (link_) link_->to_user(r.user, sio::make_frame(sio::encode(packet)), {});
        return;
    }
    engine_->send(r.session, std::move(packet));
}

void Router::fail(const Request& r, ErrorCode code, std::string_view message) {
    if (r.remote) {
        if (const Member* m = member_by_user(r.user)) {  // a user of this node after all: as a local request
            Request local = r;
            local.session = m->session;
            local.remote = false;
            return fail(local, code, message);
        }
    }
    ++stats_.errors[static_cast<std::size_t>(code)];
    if (!r.remote && !engine_->alive(r.session)) return;
    json error{{"event", r.event}, {"code", to_string(code)}, {"message", message}};
    if (!r.type.empty()) error["type"] = r.type;  // an extension old clients ignore (docs/protocol.md 2.1)
    if (r.remote) {  // request_error, then the ack, in this order through the same channel
        if (!link_) return;
        ++stats_.out[static_cast<std::size_t>(Out::request_error)];
        link_->to_user(r.user, sio::make_frame(sio::encode_event(kNamespace, "request_error", "[" + dump(error) + "]")), {});
        return ack(r, dump(json{{"error", {{"code", to_string(code)}, {"message", message}}}}));
    }
    emit(r.session, Out::request_error, dump(error));
    ack(r, dump(json{{"error", {{"code", to_string(code)}, {"message", message}}}}));
}

// --- operators --------------------------------------------------------------

bool Router::kick(UserId user, sio::Time now) {
    Member* m = member_by_user(user);
    if (!m) return false;
    if (m->replay && m->replay->parked) remove_member(*m);  // no session to end: it leaves
    else engine_->disconnect(m->session, sio::CloseReason::server, now);
    return true;
}

std::size_t Router::close_room(RoomId room) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return 0;
    const std::vector<sio::SessionId> sessions = it->second.sessions;  // leaving edits the room
    for (sio::SessionId s : sessions)
        if (Member* m = member(s)) leave_current(*m);
    return sessions.size();
}

std::vector<std::pair<RoomId, std::size_t>> Router::rooms(RoomId after, std::size_t limit) const {
    std::vector<std::pair<RoomId, std::size_t>> out;
    for (const auto& [id, r] : rooms_)
        if (id > after) out.emplace_back(id, r.sessions.size());
    std::sort(out.begin(), out.end());
    if (out.size() > limit) out.resize(limit);
    return out;
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

std::optional<UserId> Router::user_of(sio::SessionId session) const {
    const auto it = members_.find(session);
    if (it == members_.end()) return std::nullopt;
    return it->second.user.id;
}

std::vector<User> Router::members(RoomId room) const {
    std::vector<User> out;
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return out;
    out.reserve(it->second.sessions.size());
    for (sio::SessionId s : it->second.sessions) out.push_back(members_.at(s).user);
    return out;
}

void Router::members_everywhere(RoomId room, std::function<void(std::optional<std::string>)> done) const {
    if (!link_) {
        json users = json::array();
        for (const User& u : members(room)) users.push_back(to_json(u));
        return done(dump(users));
    }
    link_->members(room, [done = std::move(done)](ClusterLink::Joined j) {
        if (j.error) return done(std::nullopt);
        done(std::move(j.users_json));
    });
}

// --- Port -------------------------------------------------------------------

// Without a cluster, a message to nobody is not even encoded.
bool Port::reachable(UserId to) const { return router_->link_ || router_->member_by_user(to); }

void Port::to_user(UserId to, const json& data) const {
    if (!reachable(to)) return;
    router_->send_user(Router::Out::server_message, to, sio::make_frame(sio::encode_event(
                               kNamespace, "server_message", "[" + dump(json{{"type", type_}, {"data", data}}) + "]")));
}

void Port::to_user_raw(UserId to, std::string_view data_json) const {
    if (!reachable(to)) return;
    std::string arg = "[{\"type\":" + type_json() + ",\"data\":";
    arg += data_json;
    arg += "}]";
    router_->send_user(Router::Out::server_message, to,
                       sio::make_frame(sio::encode_event(kNamespace, "server_message", arg)));
}

void Port::to_room(RoomId room, const json& data, std::uint64_t order, std::function<void(bool)> done) const {
    to_room_raw(room, dump(data), order, std::move(done));
}

void Port::to_room_raw(RoomId room, std::string_view data_json, std::uint64_t order,
                       std::function<void(bool)> done) const {
    const auto frame = sio::make_frame(sio::encode_event(
        kNamespace, "room_message", "[" + router_->message_json(0, type_json(), data_json) + "]"));
    router_->broadcast(Router::Out::room_message, room, frame, 0, order, std::move(done));
}

void Port::relay_to_room(RoomId room, UserId from, const json& data, bool include_sender, std::uint64_t order,
                         std::function<void(bool)> done) const {
    relay_to_room_raw(room, from, dump(data), include_sender, order, std::move(done));
}

void Port::relay_to_room_raw(RoomId room, UserId from, std::string_view data_json, bool include_sender,
                             std::uint64_t order, std::function<void(bool)> done) const {
    const auto frame = sio::make_frame(sio::encode_event(
        kNamespace, "room_message", "[" + router_->message_json(from, type_json(), data_json) + "]"));
    const auto* sender = router_->member_by_user(from);
    router_->broadcast(Router::Out::room_message, room, frame, include_sender || !sender ? 0 : sender->session, order,
                       std::move(done));
}

void Port::user_message(UserId to, UserId from, const json& data) const {
    if (!reachable(to)) return;  // before dumping `data`
    user_message_raw(to, from, dump(data));
}

void Port::user_message_raw(UserId to, UserId from, std::string_view data_json) const {
    if (!reachable(to)) return;
    router_->send_user(Router::Out::user_message, to, sio::make_frame(sio::encode_event(
                               kNamespace, "user_message", "[" + router_->message_json(from, type_json(), data_json) + "]")));
}

void Port::ok(const Request& r) const { router_->ack(r, R"({"ok":true})"); }

void Port::fail(const Request& r, ErrorCode code, std::string_view message) const {
    router_->fail(r, code, message);
}

std::string Port::type_json() const {
    std::string out;
    util::append_json_string(out, type_);
    return out;
}

JoinHold Port::hold_join(UserId joiner) const {
    const auto it = router_->pending_joins_.find(router_->joining_);
    if (it == router_->pending_joins_.end() || it->second.request.user != joiner) return 0;
    ++it->second.holds;
    return it->first;
}

void Port::release_join(JoinHold hold) const {
    if (hold) router_->release_join(hold);
}

std::optional<User> Port::user(UserId id) const { return router_->user(id); }
std::optional<RoomId> Port::room_of(UserId id) const { return router_->room_of(id); }
std::vector<User> Port::members(RoomId room) const { return router_->members(room); }
sio::Time Port::now() const { return router_->now(); }

}  // namespace compeit::ca
