// The Connection Agent (CA-1..CA-13): users, rooms and the routing of
// messages between clients and server agents, on the `/connection_agent`
// namespace of a sio::Engine. Sans I/O like the engine: time comes in with
// every callback, frames go out through the engine.
//
// Room broadcasts are encoded once and the same Frame is shared by every
// recipient.
//
// Session resume (docs/protocol.md §8), when the host enables it: a client
// that asks (`?resume=1` on its namespace connect) gets a token in
// `connected`; the events sent to it are counted and the last ones kept, as
// references to the frames already encoded (a broadcast's one frame is
// shared by the room's members' replays). When its transport is lost the
// member is parked (it stays in its room, nobody is told); a new session
// that presents the token and the count it received (`seen`) takes the
// member over and gets what it did not read, in order. Per session rather
// than per room because a member also gets user and server messages, and a
// room's buffer would not say what one member read. A parked member whose
// replay no longer holds what it may not have read, or whose time is up,
// leaves as any other (user_left).
#pragma once

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "compeit/ca/agent.hpp"
#include "compeit/ca/cluster_link.hpp"
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
    // Removes `type` if `agent` holds it (an agent link that went away): its
    // server_messages get unknown_type again. Not from inside an agent callback.
    bool unregister_agent(const std::string& type, const ServerAgent& agent);
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
    // Cluster mode: rooms and users span processes through this link (see
    // cluster_link.hpp); null (the default) keeps everything in this process.
    // Set before the first session. Then user(), room_of() and members() see
    // this process's users only; room_joined lists the members on every node.
    void link(ClusterLink* link) { link_ = link; }
    // A user of another node (gone) left `room`: the agents hear of it.
    void reaped_leave(const User& user, RoomId room) { membership(false, user, room); }
    // Keeps Port::now() current between client events (the server's timer calls this).
    void advance(sio::Time now) { now_ = now; }

    // Session resume: off until enabled; not with a cluster link (the link
    // delivers to sessions itself, so nothing could be counted or replayed).
    struct ResumeConfig {
        std::size_t buffer = 0;                 // events kept per session for replay; 0: resume off
        std::size_t buffer_bytes = 1u << 20;    // ...and at most these bytes of them
        sio::Time timeout{60'000};              // how long a lost session waits for its client
    };
    // `random(n)`: n bytes from the host's cryptographic source; `equal`: a
    // comparison of secrets in constant time.
    void enable_resume(ResumeConfig config, std::function<std::string(std::size_t)> random,
                       std::function<bool(std::string_view, std::string_view)> equal);
    bool resume_enabled() const { return resume_.buffer > 0 && random_ && equal_ && !link_; }
    // Parked sessions whose time is up, or whose replay overflowed, leave.
    void tick(sio::Time now);
    std::size_t parked_count() const { return parked_.size(); }
    static constexpr std::size_t kResumeSecretBytes = 16;

    // sio::Application
    void on_namespace_connect(sio::SessionId, std::string_view endpoint, std::string_view query,
                              sio::Time now) override;
    void on_packet(sio::SessionId, const sio::Packet&, sio::Time now) override;
    void on_namespace_disconnect(sio::SessionId, std::string_view endpoint, sio::CloseReason,
                                 sio::Time now) override;

    // Introspection for agents, tests and logs.
    std::optional<User> user(UserId id) const;
    std::optional<RoomId> room_of(UserId id) const;
    // The user a session connected as (nullopt before its namespace connect).
    std::optional<UserId> user_of(sio::SessionId session) const;
    std::vector<User> members(RoomId room) const;
    // The room's members wherever they are connected: this process's, or in
    // cluster mode every node's (asked of the cluster). done: a JSON array of
    // users in join order as text, or nullopt when the cluster cannot say.
    // May call done before returning.
    void members_everywhere(RoomId room, std::function<void(std::optional<std::string>)> done) const;
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

    // Counters for the host's metrics: plain integers bumped where things
    // happen, read at scrape time; arrays indexed by enums, so a message
    // costs no allocation and no lookup by name.
    enum class In : std::uint8_t { join_room, leave_room, server_message, user_message, room_message, other };
    static constexpr std::size_t kInCount = static_cast<std::size_t>(In::other) + 1;
    enum class Out : std::uint8_t {
        connected, room_joined, room_left, user_joined, user_left,
        room_message, user_message, server_message, request_error, ack };
    static constexpr std::size_t kOutCount = static_cast<std::size_t>(Out::ack) + 1;
    static std::string_view event_name(In e);
    static std::string_view event_name(Out e);  // the socket.io event name ("ack" for acks)
    struct AgentCount {
        std::string type;            // a registered agent type
        std::uint64_t messages = 0;  // server, user and room messages of that type
    };
    struct Stats {
        std::array<std::uint64_t, kInCount> in{};    // client events, by name (user_message: a server_message with `to`)
        std::array<std::uint64_t, kOutCount> out{};  // messages made for clients; a broadcast counts once
        std::array<std::uint64_t, kErrorCodeCount> errors{};  // request_error answers, by code
        std::vector<AgentCount> agents;  // in registration order, at most kMaxAgentStats (the last "other")
        std::uint64_t unrouted = 0;      // messages of a type no agent serves (relayed as sent, or refused)
        std::uint64_t resumed = 0;        // sessions resumed: same user, room, and what was missed
        std::uint64_t resume_missed = 0;  // resumes refused (unknown or used token, too much missed)
    };
    static constexpr std::size_t kMaxAgentStats = 32;
    const Stats& stats() const { return stats_; }

private:
    friend class Port;

    // A resumable member's replay: the events sent to it since `connected`.
    struct Replay {
        std::string secret;                // the current token's random part (single use)
        std::deque<sio::Frame> frames;     // the last ones sent: events sent-frames.size() .. sent-1
        std::size_t bytes = 0;
        std::uint64_t sent = 0;            // events sent since `connected`
        bool parked = false;               // the transport is gone; waiting for the client
        std::uint64_t sent_at_park = 0;
        sio::Time deadline{};
        bool overflowed = false;           // parked, and lost an event its client never got
        std::uint64_t first() const { return sent - frames.size(); }
    };
    struct Member {
        User user;
        sio::SessionId session = 0;
        std::optional<RoomId> room;
        RateLimiter rate;
        std::optional<std::set<RoomId>> allowed_rooms;  // token mode: the token's rooms
        // Cluster mode: a join in flight; the session's later packets wait
        // for it, in order (at most kMaxQueued).
        bool joining = false;
        std::deque<sio::Packet> queued;
        std::unique_ptr<Replay> replay = {};  // resumable sessions only
    };
    static constexpr std::size_t kMaxQueued = 64;
    struct Room {
        std::vector<sio::SessionId> sessions;  // in join order
    };

    Limits limits_;
    sio::Engine* engine_ = nullptr;
    ClusterLink* link_ = nullptr;
    sio::Time now_{};
    UserId next_user_ = 1;
    std::unordered_map<sio::SessionId, Member> members_;
    std::unordered_map<UserId, sio::SessionId> sessions_by_user_;
    std::unordered_map<RoomId, Room> rooms_;
    struct Registered {
        ServerAgent* agent;
        std::size_t slot;  // in stats_.agents
    };
    std::map<std::string, Registered, std::less<>> agents_;
    std::size_t agent_slot(const std::string& type);
    Stats stats_;
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
    Member& add_member(sio::SessionId s, std::string_view query, UserId id);
    void remove_member(Member& m);

    // Session resume.
    ResumeConfig resume_;
    std::function<std::string(std::size_t)> random_;
    std::function<bool(std::string_view, std::string_view)> equal_;
    std::unordered_set<sio::SessionId> parked_;
    std::size_t resumable_ = 0;  // members with a replay (connected or parked)
    // A new token for `m` (its old one stops working); empty when the random source failed.
    std::string new_token(Member& m);
    // Takes the member of `token` over for session `s`; false: missed.
    bool resume(sio::SessionId s, std::string_view token, std::string_view seen, sio::Time now);
    void park(Member& m, sio::Time now);
    // Keeps `frame` in m's replay when it has one; false when m is parked (not to be sent).
    bool record(Member& m, const sio::Frame& frame);
    // Every event to a session goes through here (counted and kept for resumable ones).
    void deliver(sio::SessionId s, const sio::Frame& frame);

    Member* member(sio::SessionId s);
    Member* member_by_user(UserId id);
    ServerAgent* agent(std::string_view type) const;

    struct Envelope;
    std::optional<Envelope> envelope(const Request& req, std::string_view arg);
    void dispatch(Member& m, Request& req, std::string_view arg);
    void join_room(Member& m, const Request& req, std::string_view arg);
    void join_cluster(Member& m, const Request& req, RoomId room, bool again);
    void joined_cluster(sio::SessionId s, const Request& req, const User& user, RoomId room, bool again,
                        ClusterLink::Joined j);
    void handle(Member& m, const sio::Packet& p);
    void user_message_cluster(const Request& req, const User& from, UserId to, std::string type,
                              std::string type_json, std::string data);
    // users_json: the members on every node (cluster mode); empty: this process's.
    void reply_joined(const Request& req, const User& user, RoomId room, bool again, std::string_view users_json = {});
    void leave_room(Member& m, const Request& req);
    void server_message(Member& m, const Request& req, std::string_view arg);
    void room_message(Member& m, const Request& req, std::string_view arg);
    void leave_current(Member& m);

    // Output.
    void emit(sio::SessionId s, Out event, const std::string& arg_json);
    // To the room's members but `skip`; through the cluster when linked
    // (`order`: the chat history's sequence in the room, 0 none).
    void broadcast(Out event, RoomId room, const sio::Frame& frame, sio::SessionId skip, std::uint64_t order = 0,
                   std::function<void(bool)> done = {});
    // To one user here, or on another node when linked.
    void send_user(Out event, UserId to, const sio::Frame& frame);
    void ack(const Request& r, const std::string& arg_json);
    void fail(const Request& r, ErrorCode code, std::string_view message);
    // {"from":..,"type":..,"data":..} from JSON texts.
    std::string message_json(UserId from, std::string_view type_json, std::string_view data_json) const;
};

}  // namespace compeit::ca
