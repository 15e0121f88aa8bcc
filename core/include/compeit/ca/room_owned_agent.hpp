// A server agent whose per-room state lives on one node of a cluster (the
// Kurento Agent's streams and media-server objects): registered in cluster
// mode under the inner agent's type, in its place. Single-process servers
// register the inner agent itself; nothing here runs for them.
//
// Every call about a room (a request of a member, a join, a leave, a
// rejoin) goes as a message (kind, room, user, request fields, data) to the
// room's owner (RoomOwners::route, which claims the room when no live node
// has it), this node included: the owner runs all of a room's calls in one
// order, the cluster's. There the inner agent runs it; the answers (ack,
// request_error) reach the user on its node (the Request is marked
// `remote`), as does everything the agent sends (Port::to_user, to_room).
// A join's ack waits on the user's node until the owner says the joiner's
// initial state went out (a "joined" message on the same channel, so after
// that state). When the cluster is unreachable, the request fails with
// `unavailable`; nothing is queued.
// A node that claims a room from a dead owner first lets the inner agent
// clean up after it (OwnedRoomState::take_over, with what the dead owner
// recorded); the owner records the room's state whenever it changes.
//
// Messages from other nodes are hostile input: parsed and validated here
// (parse_forwarded), bounded in size; calls in flight and held joins are
// bounded too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "compeit/ca/agent.hpp"
#include "compeit/ca/room_owners.hpp"

namespace compeit::ca {

// One message between nodes about a room-owned agent, validated.
struct Forwarded {
    enum class Kind : std::uint8_t { request, join, leave, rejoin, joined, claim };
    Kind kind = Kind::request;
    std::string from;   // the node that sent it (where "joined" goes)
    RoomId room = 0;
    User user;          // with its capabilities: the owner checks them
    std::uint64_t hold = 0;  // join, rejoin, joined: the held ack's number on `from`
    std::uint32_t hops = 0;  // times routed again by a node that found it did not own the room
    // request:
    std::string event;
    std::string ack_id;
    std::string type;
    json data;
    // claim (written by the cluster, RoomOwners::route): whose room this node took, what it recorded.
    std::string previous;
    std::string record;
};
inline constexpr std::size_t kMaxForwardedBytes = 256 * 1024;  // above the router's max_data_bytes default
// nullopt: not a valid message (too large, not JSON, a field missing or out of range).
std::optional<Forwarded> parse_forwarded(std::string_view text);
std::string encode_forwarded(const Forwarded& f);

class RoomOwnedAgent final : public ServerAgent {
public:
    struct Config {
        std::size_t max_in_flight = 1024;  // calls waiting for the cluster's answer (route)
        std::size_t max_held = 4096;       // join acks held for a remote owner
        std::size_t max_owned = 100'000;   // rooms remembered as claimed by this process (beyond: routed again)
        std::uint32_t max_hops = 2;        // a forwarded call routed again at most this often
        // A held ack is released anyway after this (the owner died with the
        // join in hand): the client gets its ack, without media state.
        sio::Time hold_timeout{2'000};
    };
    // `state` may be null (an agent with nothing to clean up after a dead owner).
    RoomOwnedAgent(std::string type, ServerAgent& inner, OwnedRoomState* state, RoomOwners& owners,
                   Config config);
    RoomOwnedAgent(std::string type, ServerAgent& inner, OwnedRoomState* state, RoomOwners& owners)
        : RoomOwnedAgent(std::move(type), inner, state, owners, Config{}) {}

    void attached(Port port) override;
    void on_server_message(const Request& r, const User& from, json& data) override;
    // Room and user messages the inner agent takes over run where the sender is.
    bool on_user_message(const Request& r, const User& from, UserId to, json& data) override {
        return inner_.on_user_message(r, from, to, data);
    }
    bool on_room_message(const Request& r, const User& from, RoomId room, json& data) override {
        return inner_.on_room_message(r, from, room, data);
    }
    void on_join(const User& user, RoomId room) override;
    void on_leave(const User& user, RoomId room) override;
    void on_rejoin(const User& user, RoomId room) override;

    // Releases held join acks whose owner never answered.
    void tick(sio::Time now);

    // A message from another node (RoomOwners::listen delivers here).
    void on_message(std::string_view text);

    std::size_t in_flight() const { return in_flight_; }
    std::size_t held() const { return held_.size(); }
    std::uint64_t rejected() const { return rejected_; }

private:
    struct Held {
        JoinHold hold = 0;
        sio::Time since{};
    };

    std::string type_;
    ServerAgent& inner_;
    OwnedRoomState* state_;
    RoomOwners& owners_;
    Config config_;
    std::optional<Port> port_;
    std::size_t in_flight_ = 0;
    std::map<std::uint64_t, Held> held_;  // by number, sent with the forwarded join
    std::uint64_t next_hold_ = 1;
    std::unordered_map<RoomId, std::string> recorded_;  // what this node last recorded per room
    // Rooms this process claimed (route said `here`). A forwarded call for
    // another room means the claim is not this process's (an earlier run of
    // this node made it, or Redis forgot it): it is routed again, which
    // claims the room (taking it over) or finds its real owner.
    std::unordered_set<RoomId> owned_;
    std::uint64_t rejected_ = 0;

    // Sends `f` to its room's owner (this node included); `unavailable` when it could not.
    void route(const Forwarded& f, std::function<void()> unavailable);
    void membership(Forwarded::Kind kind, const User& user, RoomId room);
    void run(const Forwarded& f);
    void changed(RoomId room);
    void release(std::uint64_t number);
    template <class F>
    void guarded(F&& f);
};

}  // namespace compeit::ca
