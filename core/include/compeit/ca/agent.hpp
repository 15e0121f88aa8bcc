// Server agents: the registry's unit. An agent registers under a `type`
// (`chat`, `kurento`, ...) and from then on receives the messages of that
// type and the room membership changes, and gets a Port with the means to
// answer requests, message one user, and post to a room. The router has no
// special case for any agent: chat and kurento plug in exactly like this.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compeit/ca/types.hpp"
#include "compeit/sio/engine.hpp"

namespace compeit::ca {

class Router;

// A client request as an agent sees it. A plain value: an agent may keep it
// and answer later (for example once a write is durable); if the client is
// gone by then, the answer is dropped.
struct Request {
    sio::SessionId session = 0;
    UserId user = 0;
    std::string event;   // "server_message", "room_message", ...
    std::string ack_id;  // empty: the client asked for no ack
    // The agent type of a server_message or room_message ("" otherwise, or
    // when unreadable): request_error carries it so a client can tell which
    // of its pending requests failed (docs/protocol.md 2.1).
    std::string type = {};
    // Cluster mode: a request of a user on another node, forwarded to this
    // node's agent (ca::RoomOwnedAgent); `session` is not one of this
    // process's, so the answers go to the user through the cluster.
    bool remote = false;
};

// A join_room's ack held back by an agent (Port::hold_join); 0 holds nothing.
using JoinHold = std::uint64_t;

class Port {
public:
    Port(Router& router, std::string type) : router_(&router), type_(std::move(type)) {}
    const std::string& type() const { return type_; }

    // server_message {type, data} to one user.
    void to_user(UserId to, const json& data) const;
    // The same with `data` already encoded as JSON text.
    void to_user_raw(UserId to, std::string_view data_json) const;
    // room_message {from:0, type, data} to every member of the room. `order`
    // > 0: the chat history's sequence number of this message in the room; in
    // a cluster, receivers release such messages in that order.
    // done (optional): whether it went out (in a cluster: whether the cluster
    // took it; false while Redis is unreachable).
    void to_room(RoomId room, const json& data, std::uint64_t order = 0, std::function<void(bool)> done = {}) const;
    // room_message {from, type, data} to the members, the sender too when include_sender.
    void relay_to_room(RoomId room, UserId from, const json& data, bool include_sender, std::uint64_t order = 0,
                       std::function<void(bool)> done = {}) const;
    // user_message {from, type, data} to one user.
    void user_message(UserId to, UserId from, const json& data) const;
    // The three above with `data` already encoded as JSON text (valid JSON:
    // it goes into the frame as it is).
    void to_room_raw(RoomId room, std::string_view data_json, std::uint64_t order = 0,
                     std::function<void(bool)> done = {}) const;
    void relay_to_room_raw(RoomId room, UserId from, std::string_view data_json, bool include_sender,
                           std::uint64_t order = 0, std::function<void(bool)> done = {}) const;
    void user_message_raw(UserId to, UserId from, std::string_view data_json) const;

    // Answers a request: ack {ok:true} (when asked for), or request_error + ack {error}.
    void ok(const Request& r) const;
    void fail(const Request& r, ErrorCode code, std::string_view message) const;

    // The ack of a join_room comes after what the agents send the joiner on
    // joining (history, media config, streams), so a client can read that
    // state in its ack callback. An agent that sends part of it later (after
    // a store read) holds the ack from on_join / on_rejoin and releases the
    // hold once that part is sent, or has failed.
    JoinHold hold_join(UserId joiner) const;
    void release_join(JoinHold hold) const;

    std::optional<User> user(UserId id) const;
    std::optional<RoomId> room_of(UserId id) const;
    std::vector<User> members(RoomId room) const;
    sio::Time now() const;

private:
    Router* router_;
    std::string type_;
    std::string type_json() const;
    bool reachable(UserId to) const;
};

class ServerAgent {
public:
    virtual ~ServerAgent() = default;
    // Called once, when the agent is registered.
    virtual void attached(Port port) = 0;
    // server_message {type, data} without `to`: the agent must answer the
    // request (port.ok / port.fail), now or later.
    virtual void on_server_message(const Request& r, const User& from, json& data) = 0;
    // server_message {to, type, data}. Return false to let the router deliver
    // it as user_message; true when the agent took it over (and answers r).
    virtual bool on_user_message(const Request&, const User&, UserId /*to*/, json& /*data*/) { return false; }
    // room_message {type, data}. Return false to let the router relay it to
    // the others as-is; true when the agent took it over (and answers r).
    virtual bool on_room_message(const Request&, const User&, RoomId, json& /*data*/) { return false; }
    // An agent that only forwards `data` elsewhere (an agent link) takes it as
    // the JSON text the client sent, already validated, and the router does
    // not parse it: wants_text() true routes the three messages above to
    // these instead (same meaning, same return values).
    virtual bool wants_text() const { return false; }
    virtual void on_server_message_text(const Request&, const User&, std::string_view /*data_json*/) {}
    virtual bool on_user_message_text(const Request&, const User&, UserId, std::string_view) { return false; }
    virtual bool on_room_message_text(const Request&, const User&, RoomId, std::string_view) { return false; }
    // Membership: called after room_joined / before-or-after the leave is announced.
    virtual void on_join(const User&, RoomId) {}
    virtual void on_leave(const User&, RoomId) {}
    // join_room of the room the user is already in: room_joined is sent again,
    // and the agent sends the joiner the room's state again (what on_join
    // sends it), announcing nothing to the others.
    virtual void on_rejoin(const User&, RoomId) {}
};

}  // namespace compeit::ca
