#include "compeit/ca/link_agent.hpp"

#include <algorithm>

#include "compeit/util/json_guard.hpp"

namespace compeit::ca {
namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json with_ref(json frame, const json& ref) {
    if (!ref.is_null()) frame["ref"] = ref;
    return frame;
}

// A member list as the router or the cluster gives it: [{id, name}, ...].
bool valid_users(const json& users) {
    if (!users.is_array()) return false;
    return std::all_of(users.begin(), users.end(), [](const json& u) {
        return u.is_object() && u.contains("id") && u["id"].is_number_unsigned() && u.contains("name") &&
               u["name"].is_string();
    });
}

}  // namespace

// One registered type: the Router's ServerAgent, forwarding to the link.
// Membership reaches the link once, through its first handler.
class LinkAgent::Handler final : public ServerAgent {
public:
    Handler(LinkAgent& link, std::string type, bool first, bool takes_room, bool takes_user)
        : link_(link), type_(std::move(type)), first_(first), takes_room_(takes_room), takes_user_(takes_user) {}
    const std::string& type() const { return type_; }
    const Port* port() const { return port_ ? &*port_ : nullptr; }

    void attached(Port port) override { port_ = std::move(port); }
    // The client's `data` goes to the link as the text it sent (validated
    // by the router): never parsed and encoded again on the way.
    bool wants_text() const override { return true; }
    void on_server_message_text(const Request& r, const User& from, std::string_view data) override {
        link_.request(type_, r, from, std::nullopt, port_->room_of(from.id), data);
    }
    bool on_user_message_text(const Request& r, const User& from, UserId to, std::string_view data) override {
        if (!takes_user_) return false;
        link_.request(type_, r, from, to, port_->room_of(from.id), data);
        return true;
    }
    bool on_room_message_text(const Request& r, const User& from, RoomId room, std::string_view data) override {
        if (!takes_room_) return false;
        link_.request(type_, r, from, std::nullopt, room, data);
        return true;
    }
    // ServerAgent's one required handler; the router calls it only when
    // wants_text() is false, so never here.
    void on_server_message(const Request& r, const User& from, json& data) override {
        on_server_message_text(r, from, dump(data));
    }
    void on_join(const User& u, RoomId room) override {
        if (first_) link_.membership("join", u, room);
    }
    void on_leave(const User& u, RoomId room) override {
        if (first_) link_.membership("leave", u, room);
    }

private:
    LinkAgent& link_;
    std::string type_;
    bool first_, takes_room_, takes_user_;
    std::optional<Port> port_;
};

LinkAgent::LinkAgent(Router& router, Config config, Send send)
    : router_(router),
      config_(std::move(config)),
      send_(std::move(send)),
      rate_(config_.rate, config_.burst),
      errors_(config_.errors_per_second, config_.error_burst) {}

LinkAgent::~LinkAgent() { close(); }

void LinkAgent::close() {
    if (closed_) return;
    closed_ = true;
    for (auto& [id, p] : pending_)
        if (const Port* port = port_for(p.type, nullptr)) port->fail(p.request, ErrorCode::unavailable, "the agent went away");
    pending_.clear();
    for (const auto& h : handlers_) router_.unregister_agent(h->type(), *h);
    handlers_.clear();
    types_.clear();
}

// --- from the agent ---------------------------------------------------------

void LinkAgent::on_frame(std::string_view text, sio::Time now) {
    if (closed_ || misbehaving_) return;  // a misbehaving link is being closed: what it sent since is not acted on
    now_ = now;
    if (!rate_.take(now.count())) return error("rate_limited", "too many frames", nullptr);
    auto frame = link::decode(text, config_.max_frame, router_.limits().max_data_bytes);
    if (!frame) return error(frame.error().code, frame.error().message, frame.error().ref);
    apply(*frame);
}

void LinkAgent::apply(link::Frame& frame) {
    const json& ref = frame.ref;
    if (handlers_.empty() && !std::holds_alternative<link::Register>(frame.op))
        return error("not_registered", "register a type first", ref);
    std::visit([&](auto& op) { handle(op, ref); }, frame.op);
}

void LinkAgent::handle(const link::Register& r, const json& ref) {
    if (types_.size() + r.types.size() > config_.max_types)
        return error("too_many", "at most " + std::to_string(config_.max_types) + " types per link", ref);
    for (const auto& t : r.types)
        if (config_.allowed_types && !config_.allowed_types->count(t))
            return error("forbidden", "the credential does not allow type " + dump(json(t)), ref);
    // All of the frame's types, or none of them.
    const std::size_t before = handlers_.size();
    for (const auto& t : r.types) {
        auto h = std::make_unique<Handler>(*this, t, handlers_.empty(), r.takes_room, r.takes_user);
        if (!router_.register_agent(t, *h)) {
            while (handlers_.size() > before) {
                router_.unregister_agent(handlers_.back()->type(), *handlers_.back());
                handlers_.pop_back();
                types_.pop_back();
            }
            return error("type_taken", "type " + dump(json(t)) + " has an agent already", ref);
        }
        handlers_.push_back(std::move(h));
        types_.push_back(t);
    }
    emit(with_ref({{"op", "registered"}, {"types", types_}}, ref));
}

void LinkAgent::handle(const link::Watch& w, const json& ref) {
    if (w.watch) {
        std::size_t added = 0;
        for (RoomId r : w.rooms) added += !watched_.count(r);
        if (watched_.size() + added > config_.max_rooms)
            return error("too_many", "at most " + std::to_string(config_.max_rooms) + " watched rooms", ref);
        watched_.insert(w.rooms.begin(), w.rooms.end());
    } else {
        for (RoomId r : w.rooms) watched_.erase(r);
    }
    emit(with_ref({{"op", "watching"}, {"rooms", watched_}}, ref));
}

void LinkAgent::handle(link::Answer& a, const json& ref) {
    const auto it = pending_.find(a.id);
    if (it == pending_.end())
        return error("unknown_request", "no pending request " + std::to_string(a.id) + " (unknown, answered or expired)",
                     ref);
    const Pending p = std::move(it->second);
    pending_.erase(it);
    const Port* port = port_for(p.type, ref);
    if (!port) return;
    if (a.code) return port->fail(p.request, *a.code, a.message.empty() ? to_string(*a.code) : a.message);
    if (a.data) port->to_user(p.request.user, *a.data);
    port->ok(p.request);
}

void LinkAgent::handle(const link::ToUser& t, const json& ref) {
    const Port* port = port_for(t.type, ref);
    if (!port) return;
    if (!user_in_scope(t.to)) return error("forbidden", "user " + std::to_string(t.to) + " is not in this agent's scope", ref);
    port->to_user(t.to, t.data);
}

void LinkAgent::handle(const link::ToRoom& t, const json& ref) {
    const Port* port = port_for(t.type, ref);
    if (!port) return;
    if (!room_in_scope(t.room)) return error("forbidden", "room " + std::to_string(t.room) + " is not watched", ref);
    port->to_room(t.room, t.data);
}

void LinkAgent::handle(const link::Relay& t, const json& ref) {
    const Port* port = port_for(t.type, ref);
    if (!port) return;
    if (!room_in_scope(t.room)) return error("forbidden", "room " + std::to_string(t.room) + " is not watched", ref);
    if (port->room_of(t.from) != t.room)
        return error("forbidden", "user " + std::to_string(t.from) + " is not in room " + std::to_string(t.room), ref);
    port->relay_to_room(t.room, t.from, t.data, t.include_sender);
}

void LinkAgent::handle(const link::UserMessage& t, const json& ref) {
    const Port* port = port_for(t.type, ref);
    if (!port) return;
    for (UserId u : {t.to, t.from})
        if (!user_in_scope(u)) return error("forbidden", "user " + std::to_string(u) + " is not in this agent's scope", ref);
    port->user_message(t.to, t.from, t.data);
}

void LinkAgent::handle(const link::Members& m, const json& ref) {
    if (!room_in_scope(m.room)) return error("forbidden", "room " + std::to_string(m.room) + " is not watched", ref);
    // In cluster mode the answer comes later, from Redis: the link may be
    // gone by then (life_), and the list is outside input until checked.
    router_.members_everywhere(m.room, [this, life = std::weak_ptr<int>(life_), room = m.room,
                                        ref](std::optional<std::string> users_text) {
        if (life.expired() || closed_) return;
        json users = users_text ? util::parse_json(*users_text, 4) : json(json::value_t::discarded);
        if (!valid_users(users)) return error("unavailable", "the cluster cannot list the room's members now", ref);
        emit(with_ref({{"op", "members"}, {"room", room}, {"users", std::move(users)}}, ref));
    });
}

// --- from the Router ----------------------------------------------------------

void LinkAgent::request(const std::string& type, const Request& r, const User& from, std::optional<UserId> to,
                        std::optional<RoomId> room, std::string_view data_json) {
    const Port* port = port_for(type, nullptr);
    if (closed_ || !port) return;
    if (pending_.size() >= config_.max_pending)
        return port->fail(r, ErrorCode::unavailable, "the agent has too many requests pending");
    const std::uint64_t id = next_id_++;
    pending_.emplace(id, Pending{r, type, room, router_.now() + config_.timeout});
    json frame{{"op", "request"}, {"id", id}, {"type", type}, {"event", r.event}, {"user", to_json(from)},
               {"room", room ? json(*room) : json()}};
    if (to) frame["to"] = *to;
    // `data` last, spliced in as the client's text: `{...,"data":<text>}`.
    std::string text = dump(frame);
    text.pop_back();
    text += R"(,"data":)";
    text += data_json.empty() ? std::string_view("null") : data_json;
    text += '}';
    send_(std::move(text));
}

void LinkAgent::membership(const char* op, const User& user, RoomId room) {
    if (closed_ || !watched_.count(room)) return;
    emit({{"op", op}, {"room", room}, {"user", to_json(user)}});
}

void LinkAgent::tick(sio::Time now) {
    now_ = now;
    // Ids grow and every deadline is the same timeout after its request, so
    // the map is in deadline order: the first request not yet due ends it.
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline > now) break;
        const Pending p = std::move(it->second);
        const std::uint64_t id = it->first;
        it = pending_.erase(it);
        if (const Port* port = port_for(p.type, nullptr))
            port->fail(p.request, ErrorCode::unavailable, "the agent did not answer in time");
        emit({{"op", "expired"}, {"id", id}});
    }
}

// --- scope and output ---------------------------------------------------------

// The port of one of the link's types; an empty type is the link's first.
const Port* LinkAgent::port_for(const std::string& type, const json& ref) {
    for (const auto& h : handlers_)
        if (type.empty() || h->type() == type) return h->port();
    if (!ref.is_null() || !type.empty()) error("not_registered", "type " + dump(json(type)) + " is not registered on this link", ref);
    return nullptr;
}

bool LinkAgent::room_in_scope(RoomId room) const {
    if (watched_.count(room)) return true;
    return std::any_of(pending_.begin(), pending_.end(), [&](const auto& p) { return p.second.room == room; });
}

bool LinkAgent::user_in_scope(UserId user) const {
    if (const auto room = router_.room_of(user); room && room_in_scope(*room)) return true;
    return std::any_of(pending_.begin(), pending_.end(), [&](const auto& p) { return p.second.request.user == user; });
}

// Every error costs from the budget; over it, the link is to be closed and says no more.
void LinkAgent::error(std::string_view code, std::string_view message, const json& ref) {
    if (misbehaving_) return;
    if (!errors_.take(now_.count())) {
        misbehaving_ = true;
        return send_(link::error_frame("misbehaving", "too many bad frames: closing the link", nullptr));
    }
    send_(link::error_frame(code, message, ref));
}

void LinkAgent::emit(const json& frame) { send_(dump(frame)); }

}  // namespace compeit::ca
