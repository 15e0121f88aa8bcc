// The Connection Agent (CA-1..CA-13): users, rooms and the routing of
// messages between clients and server agents, on the `/connection_agent`
// namespace of a sio::Engine. Sans I/O like the engine: time comes in with
// every callback, frames go out through the engine.
//
// Room broadcasts are encoded once and the same Frame is shared by every
// recipient.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "compeit/ca/agent.hpp"
#include "compeit/ca/types.hpp"
#include "compeit/sio/engine.hpp"

namespace compeit::ca {

class Router : public sio::Application {
public:
    explicit Router(Limits limits = {});

    // The engine this router speaks through; it must serve kNamespace.
    void attach(sio::Engine& engine);
    // Registers a server agent under `type` (unique). The router does not own it.
    bool register_agent(const std::string& type, ServerAgent& agent);
    // What the last-resort barrier caught: an exception out of router or
    // agent code (a bug; validation should make it unreachable). The request
    // gets request_error `internal`, the session goes on, and the host logs this.
    struct Fault {
        std::string_view event;  // the client's event, or "join"/"leave" for membership callbacks
        std::string_view type;   // the agent's type; empty for the router itself
        UserId user = 0;
        std::string_view what;
    };
    void on_fault(std::function<void(const Fault&)> handler) { on_fault_ = std::move(handler); }
    // The verified identity of a session (token mode), before its namespace
    // connect: its name, rooms and capabilities then come from it.
    void identify(sio::SessionId session, Identity identity);
    // Keeps Port::now() current between client events (the server's timer calls this).
    void advance(sio::Time now) { now_ = now; }

    // sio::Application
    void on_namespace_connect(sio::SessionId, std::string_view endpoint, std::string_view query,
                              sio::Time now) override;
    void on_packet(sio::SessionId, const sio::Packet&, sio::Time now) override;
    void on_namespace_disconnect(sio::SessionId, std::string_view endpoint, sio::CloseReason,
                                 sio::Time now) override;

    // Introspection for agents, tests and logs.
    std::optional<User> user(UserId id) const;
    std::optional<RoomId> room_of(UserId id) const;
    std::vector<User> members(RoomId room) const;
    std::size_t user_count() const { return members_.size(); }
    // Rooms with their member counts, ascending, after room `after` (-1: from
    // the first), at most `limit` of them (operators' listing).
    std::vector<std::pair<RoomId, std::size_t>> rooms(RoomId after, std::size_t limit) const;

    // Operators' actions. Ends the user's session (the client gets `0::`);
    // false when no such user is connected.
    bool kick(UserId user, sio::Time now);
    // Every member leaves the room (room_left to each, user_left to the
    // others, as for leave_room); the number of members it had.
    std::size_t close_room(RoomId room);
    std::size_t room_count() const { return rooms_.size(); }
    sio::Time now() const { return now_; }
    const Limits& limits() const { return limits_; }

private:
    friend class Port;

    struct Member {
        User user;
        sio::SessionId session = 0;
        std::optional<RoomId> room;
        RateLimiter rate;
        std::optional<std::set<RoomId>> allowed_rooms;  // token mode: the token's rooms
    };
    struct Room {
        std::vector<sio::SessionId> sessions;  // in join order
    };

    Limits limits_;
    sio::Engine* engine_ = nullptr;
    sio::Time now_{};
    UserId next_user_ = 1;
    std::unordered_map<sio::SessionId, Member> members_;
    std::unordered_map<UserId, sio::SessionId> sessions_by_user_;
    std::unordered_map<RoomId, Room> rooms_;
    std::map<std::string, ServerAgent*, std::less<>> agents_;
    std::function<void(const Fault&)> on_fault_;
    std::unordered_map<sio::SessionId, Identity> identities_;  // token mode: each session's, until it ends

    // join_room acks waiting for the agents' holds (Port::hold_join), with
    // the room_joined object they carry; the router holds each while its
    // agents are told (joining_).
    struct PendingJoin {
        Request request;
        std::string reply;
        unsigned holds = 0;
    };
    std::unordered_map<JoinHold, PendingJoin> pending_joins_;
    JoinHold next_join_ = 1, joining_ = 0;
    void release_join(JoinHold hold);

    // Runs f behind the barrier; false when it threw (reported as a Fault).
    template <class F>
    bool guarded(std::string_view event, std::string_view type, UserId user, F&& f);
    void membership(bool joined, const User& user, RoomId room);
    Member& add_member(sio::SessionId s, std::string_view query);

    Member* member(sio::SessionId s);
    Member* member_by_user(UserId id);
    ServerAgent* agent(std::string_view type) const;

    struct Envelope;
    std::optional<Envelope> envelope(const Request& req, std::string_view arg);
    void dispatch(Member& m, Request& req, std::string_view arg);
    void join_room(Member& m, const Request& req, std::string_view arg);
    void reply_joined(const Request& req, const User& user, RoomId room, bool again);
    void leave_room(Member& m, const Request& req);
    void server_message(Member& m, const Request& req, std::string_view arg);
    void room_message(Member& m, const Request& req, std::string_view arg);
    void leave_current(Member& m);

    // Output.
    void emit(sio::SessionId s, std::string_view name, const std::string& arg_json);
    void broadcast(RoomId room, const sio::Frame& frame, sio::SessionId skip);
    void ack(const Request& r, const std::string& arg_json);
    void fail(const Request& r, ErrorCode code, std::string_view message);
    // {"from":..,"type":..,"data":..} from JSON texts.
    std::string message_json(UserId from, std::string_view type_json, std::string_view data_json) const;
};

}  // namespace compeit::ca
