// One external agent connection (the agent link, docs/agents.md) as server
// agents: the adapter between the Router's ServerAgent callbacks and JSON
// frames on the link. Sans I/O like the Router: frames come in through
// on_frame with the time, frames go out through the `send` callback, and
// tick(now) times out the requests the agent did not answer.
//
// What the agent sees and may do:
//  - It registers types; each becomes a ServerAgent in the Router, unless the
//    type is taken (by a C++ agent or another link: refused, `type_taken`).
//    It declares then whether it takes over room and user messages of its
//    types (a link cannot answer the Router's synchronous "take over?").
//  - server_message of its types (and the room/user messages it takes) reach
//    it as requests with ids; it answers each with ok or fail, once, within
//    the timeout (else the user gets `unavailable`).
//  - It watches rooms (join/leave of their members), and may post to a room
//    and message users only within its scope: the rooms it watches and the
//    rooms of its pending requests, their members, and the senders of its
//    pending requests. Anything else is refused on the link (`forbidden`).
// Every table is bounded (Config). When the link goes (close() or the
// destructor), its types are unregistered and pending requests fail.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "compeit/ca/agent.hpp"
#include "compeit/ca/link_frame.hpp"
#include "compeit/ca/router.hpp"

namespace compeit::ca {

class LinkAgent {
public:
    struct Config {
        sio::Time timeout{5'000};          // --agent-timeout
        std::size_t max_pending = 1024;    // unanswered requests
        std::size_t max_types = 8;
        std::size_t max_rooms = 1024;      // watched rooms
        std::size_t max_frame = 256 * 1024;  // one frame from the agent, bytes
        double rate = 1000, burst = 2000;  // frames per second from the agent
        double errors_per_second = 20, error_burst = 100;  // then the link is to be closed
        // The types this credential may register (an access token's `agent`
        // claim); nullopt: any (the agent secret).
        std::optional<std::set<std::string>> allowed_types;
    };
    using Send = std::function<void(std::string frame)>;

    LinkAgent(Router& router, Config config, Send send);
    ~LinkAgent();
    LinkAgent(const LinkAgent&) = delete;
    LinkAgent& operator=(const LinkAgent&) = delete;

    // One text frame from the agent.
    void on_frame(std::string_view text, sio::Time now);
    // Requests past their deadline get request_error unavailable.
    void tick(sio::Time now);
    // The link is gone: types unregistered, pending requests failed. Idempotent.
    void close();
    // The agent kept sending bad frames (over the error budget): the host
    // should close the link.
    bool misbehaving() const { return misbehaving_; }

    std::size_t pending() const { return pending_.size(); }
    const std::vector<std::string>& types() const { return types_; }

private:
    class Handler;
    struct Pending {
        Request request;
        std::string type;
        std::optional<RoomId> room;  // the sender's room when it asked
        sio::Time deadline{};
    };

    Router& router_;
    Config config_;
    Send send_;
    std::vector<std::string> types_;
    std::vector<std::unique_ptr<Handler>> handlers_;
    std::map<std::uint64_t, Pending> pending_;
    std::set<RoomId> watched_;
    std::uint64_t next_id_ = 1;
    RateLimiter rate_, errors_;
    sio::Time now_{};
    bool closed_ = false, misbehaving_ = false;
    // Answers that come back later (the cluster's member list) hold a weak
    // reference: expired, the link is gone and they are dropped.
    std::shared_ptr<int> life_ = std::make_shared<int>(0);

    void apply(link::Frame& frame);
    void handle(const link::Register& r, const json& ref);
    void handle(const link::Watch& w, const json& ref);
    void handle(link::Answer& a, const json& ref);
    void handle(const link::ToUser& t, const json& ref);
    void handle(const link::ToRoom& t, const json& ref);
    void handle(const link::Relay& t, const json& ref);
    void handle(const link::UserMessage& t, const json& ref);
    void handle(const link::Members& m, const json& ref);

    // Called by the handlers (the Router's callbacks).
    void request(const std::string& type, const Request& r, const User& from, std::optional<UserId> to,
                 std::optional<RoomId> room, std::string_view data_json);
    void membership(const char* op, const User& user, RoomId room);

    const Port* port_for(const std::string& type, const json& ref);
    bool room_in_scope(RoomId room) const;
    bool user_in_scope(UserId user) const;
    void error(std::string_view code, std::string_view message, const json& ref);
    void emit(const json& frame);
};

}  // namespace compeit::ca
