// One node of a cluster, sans I/O: the ClusterLink the router talks to,
// spoken as Redis commands. native/ owns the one Redis connection (RESP3,
// `HELLO 3`: commands pipelined, subscriptions on the same socket), writes
// what take_commands() returns and feeds every value it decodes to
// on_value(), which tells replies (FIFO) from pushes; time comes in with
// tick(). One connection, not two, because the sending node's FCALL reply and
// its own message's push then arrive in one read (bench/PROFILE.md §5).
//
// What lives in Redis (all keys under "compeit:"):
//   r:<room>:log                 the room's capped log (a stream); its entry ids, 0-<seq>, number the room's messages
//   r:<room>:m, r:<room>:u       members (sorted by join sequence) and their user JSON
//   r:<room>                     the room's channel: one publish per message
//   users                        user id -> node;  n:<node>:users  user id -> room ("" for none)
//   nodes, n:<node>:alive        the registered nodes; each one's liveness key (TTL)
//   n:<node>                     the node's channel: messages for its users
//   epoch                        a random value set once: tells a Redis restart from a network blip
// The functions (library "compeit", FUNCTION LOAD) do each room change
// atomically: sequence number, log entry and publish in one step, so every
// node sees one order per room.
//
// A room message on its channel is "<seq> <origin node> <skip session> <order>\n<frame bytes>".
// Its log entry holds the same without "<seq> " (the entry's id is 0-<seq>).
// A message for a user on a node channel is "<user id>\n<frame bytes>".
// A message for the room-owned agents of a node (ca::RoomOwners) is
// "@<scope>\n<message>" on the same channel.
//   own:<scope>:<room>           a room's owner for a scope (agent type): node, run, record (TTL)
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "compeit/ca/cluster_link.hpp"
#include "compeit/ca/room_owners.hpp"
#include "compeit/cluster/resp.hpp"

namespace compeit::cluster {

struct NodeConfig {
    std::string name;                    // unique among the nodes
    std::size_t max_room_users = 256;    // cluster-wide
    std::size_t log_length = 2000;       // entries kept per room log for filling gaps
    sio::Time alive_ttl{3000};           // a node not heard of for this long is reaped
    sio::Time alive_every{1000};         // how often the liveness key is refreshed and others checked
    std::size_t id_block = 1000;         // user ids taken at once from the id source
    std::size_t max_held = 4096;         // frames held per room while a gap is filled or a join completes
    sio::Time chat_wait{2000};           // how long a chat frame waits for an earlier one before skipping it
    std::size_t max_pending = 100'000;   // commands awaiting replies before requests are refused
};

// The Lua library loaded into Redis on every connect (FUNCTION LOAD REPLACE).
std::string_view functions_library();

class Node final : public ca::ClusterLink, public ca::RoomOwners {
public:
    struct Host {
        // A frame for a session of this node.
        std::function<void(sio::SessionId, const sio::Frame&)> deliver;
        // Commands or subscriber bytes are waiting: write them this loop turn.
        std::function<void()> output;
        // The id source should be asked for a block (add_ids when it answers).
        std::function<void()> need_ids;
        // A user of a dead node (or of this node's previous run) left a room:
        // the agents hear of it here, once in the whole cluster.
        std::function<void(const ca::User&, ca::RoomId)> reaped_leave;
        // Members of this room here cannot be given the room's order any more
        // (a gap the log no longer covers, or this node was reaped while
        // cut off): end these sessions, with the reason.
        std::function<void(const std::vector<sio::SessionId>&, std::string_view reason)> drop;
        // For the log.
        std::function<void(std::string_view)> note;
    };

    Node(NodeConfig config, Host host);

    void add_ids(ca::UserId first, std::size_t count);

    // The connection. connected(): it is up (a fresh socket); the node
    // switches it to RESP3, loads its functions, registers (reaping its own
    // previous run the first time) and subscribes again. disconnected(): it
    // dropped; every command waiting for a reply fails, and nothing is sent
    // until connected.
    void connected(sio::Time now);
    void disconnected();
    // Commands and (un)subscriptions, in the order the node made them.
    std::string take_commands();
    // What the decoder read: a push (`>`) goes to on_push, anything else is
    // the reply to the oldest command waiting (on_reply).
    void on_value(resp::Value v);
    void on_reply(resp::Value v);
    void on_push(resp::Value v);  // a RESP3 push, or an array shaped like one (tests)
    void tick(sio::Time now);

    // ClusterLink
    std::optional<ca::UserId> allocate_user() override;
    void user_online(const ca::User& user, sio::SessionId session) override;
    void user_offline(const ca::User& user) override;
    void join(ca::RoomId room, sio::SessionId session, const ca::User& user, sio::Frame joined_frame,
              std::function<void(Joined)> done) override;
    void leave(ca::RoomId room, sio::SessionId session, const ca::User& user, sio::Frame left_frame) override;
    void publish(ca::RoomId room, sio::Frame frame, sio::SessionId skip, std::uint64_t order,
                 std::function<void(bool)> done) override;
    void to_user(ca::UserId user, sio::Frame frame, std::function<void(bool)> done) override;
    void locate(ca::UserId user, std::function<void(bool)> done) override;
    void members(ca::RoomId room, std::function<void(Joined)> done) override;
    bool available() const override { return state_ == State::ready && settling_ == 0; }

    // RoomOwners (ca::RoomOwnedAgent): one owner node per room and scope.
    void route(std::string_view scope, ca::RoomId room, std::string message, bool again,
               std::function<void(bool)> done) override;
    void to_node(std::string_view scope, std::string_view node, std::string message) override;
    void record(std::string_view scope, ca::RoomId room, std::string record) override;
    void listen(std::string_view scope, std::function<void(std::string_view)> handler) override;
    const std::string& node_name() const override { return config_.name; }
    static constexpr std::size_t kMaxAgentMessage = 1u << 20;  // bytes; larger ones are dropped
    static constexpr std::int64_t kClaimTtlMs = 86'400'000;     // an idle room's claim is forgotten after a day

    // Introspection (tests, logs).
    std::size_t local_rooms() const { return rooms_.size(); }
    std::size_t pending_commands() const { return pending_.size(); }
    std::uint64_t gaps_filled() const { return gaps_filled_; }

private:
    using Reply = std::function<void(const resp::Value&)>;  // an error reply when the connection dropped

    struct Held {
        std::uint64_t seq = 0;
        sio::Frame frame;
        sio::SessionId skip = 0;
        std::uint64_t order = 0;
        bool local_origin = false;
    };
    struct Member {
        sio::SessionId session = 0;
        bool joined = false;      // false while the join is in flight
        std::uint64_t since = 0;  // the join's sequence number (0 after a Redis restart: from the start)
    };
    struct Room {
        std::vector<Member> members;
        bool subscribed = false;   // the subscription is confirmed
        bool subscribing = false;
        std::vector<std::function<void(bool)>> after_subscribe;  // false: the connection was lost first
        std::uint64_t next_seq = 0;  // 0: not known yet (the first message sets it)
        bool filling = false;        // XRANGE in flight for a gap
        std::deque<Held> held;       // live messages waiting behind a fill
        std::deque<Held> recent;     // delivered while a join was in flight: for the joiner when it completes
        std::uint64_t next_order = 0;              // chat order released next (0: not known)
        std::map<std::uint64_t, Held> chat_held;  // chat frames waiting for an earlier one
        sio::Time chat_since{};                    // when the oldest of them started waiting
    };
    enum class State { down, ready };

    NodeConfig config_;
    Host host_;
    State state_ = State::down;
    bool registered_once_ = false;
    std::size_t settling_ = 0;
    bool register_failed_ = false;  // after a connect: registration and room subscriptions still to come
    std::string epoch_;  // the Redis epoch this node registered in
    sio::Time now_{};
    sio::Time next_alive_{};
    std::string cmd_out_;
    std::deque<Reply> pending_;
    std::unordered_map<ca::RoomId, Room> rooms_;
    std::unordered_map<ca::UserId, sio::SessionId> users_;  // local users
    std::unordered_map<ca::UserId, std::optional<ca::RoomId>> user_rooms_;
    std::unordered_map<ca::UserId, std::string> user_json_;
    std::deque<std::pair<ca::UserId, std::size_t>> ids_;  // blocks: next id, how many left
    bool ids_requested_ = false;
    std::vector<std::pair<ca::RoomId, std::uint64_t>> unpublished_;  // chat orders whose publish failed (at most max_held)
    std::uint64_t gaps_filled_ = 0;
    std::string run_;  // this process's run (set on its first registration): its claims die with it
    std::map<std::string, std::function<void(std::string_view)>, std::less<>> listeners_;

    std::string key(std::string_view a, std::string_view b = {}, std::string_view c = {}) const;
    void command(std::vector<std::string> args, Reply reply);
    void subscriber_command(std::initializer_list<std::string_view> args);
    void wake();

    void register_node(bool fresh);
    void registered(const resp::Value& v, bool fresh);
    void reaped(const resp::Value& v, bool gone);
    void subscribe(ca::RoomId room, std::function<void(bool)> then);
    void unsubscribe_if_empty(ca::RoomId room);

    void on_room_message(ca::RoomId room, std::string_view body);
    void on_user_message(std::string_view body);
    void accept(ca::RoomId room, Room& r, Held h);
    void fill(ca::RoomId room, Room& r, std::uint64_t upto);
    void filled(ca::RoomId room, const resp::Value& v, std::uint64_t from, std::uint64_t upto);
    void release(Room& r, const Held& h);
    void release_chat(Room& r, const Held& h);
    void deliver(Room& r, const Held& h);
    void lose_room(ca::RoomId room, std::string_view reason);
    static std::optional<Held> parse_room_message(std::string_view body);
    void unpublished(ca::RoomId room, std::uint64_t order);
    std::string room_payload(sio::SessionId skip, std::uint64_t order, const sio::Frame& frame) const;
};

}  // namespace compeit::cluster
