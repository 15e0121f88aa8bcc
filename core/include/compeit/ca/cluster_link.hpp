// The seam between the Connection Agent and the rest of a cluster. Without a
// link (one process) the router is the whole directory: its own sessions are
// every user and every room member, and a broadcast is a loop over them. With
// one (cluster mode, cluster::Node), what crosses processes goes through here:
// user ids unique across the cluster, joins checked against the room's
// members everywhere, one publish per room message, messages to users on
// other nodes. The link delivers to this process's sessions itself, in the
// room's one order.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "compeit/ca/types.hpp"
#include "compeit/sio/payload.hpp"
#include "compeit/sio/engine.hpp"

namespace compeit::ca {

class ClusterLink {
public:
    virtual ~ClusterLink() = default;

    // A user id no other node has given or will give; nullopt when none is
    // at hand (the cluster's id source is unreachable).
    virtual std::optional<UserId> allocate_user() = 0;
    // The user is connected here / is gone (the directory of users).
    virtual void user_online(const User& user, sio::SessionId session) = 0;
    virtual void user_offline(const User& user) = 0;

    // Joins `session` to `room` if the room has room for it cluster-wide;
    // `joined_frame` (user_joined) goes to the room's other members, in the
    // room's order. done: the members (a JSON array, join order, the joiner
    // last), or the refusal (room_full, unavailable).
    struct Joined {
        std::optional<ErrorCode> error;
        std::string users_json;
    };
    virtual void join(RoomId room, sio::SessionId session, const User& user, sio::Frame joined_frame,
                      std::function<void(Joined)> done) = 0;
    // The session left the room; `left_frame` (user_left) goes to the others.
    virtual void leave(RoomId room, sio::SessionId session, const User& user, sio::Frame left_frame) = 0;
    // One frame to every member of the room on every node but `skip` (a
    // session of this node; 0: none). `order` > 0 is the chat history's
    // sequence number in the room: receivers release such frames in that
    // order. done (may be empty): whether the cluster took it.
    virtual void publish(RoomId room, sio::Frame frame, sio::SessionId skip, std::uint64_t order,
                         std::function<void(bool)> done) = 0;
    // One frame to a user on another node. done (may be empty): false when
    // no node has the user (or the cluster is unreachable: see available()).
    virtual void to_user(UserId user, sio::Frame frame, std::function<void(bool)> done) = 0;
    // The room's members on every node (a JSON array, join order), as in Joined.
    virtual void members(RoomId room, std::function<void(Joined)> done) = 0;
    // Whether a user is connected to some node, without sending anything.
    virtual void locate(UserId user, std::function<void(bool)> done) = 0;
    // Whether requests that need the cluster can be served now.
    virtual bool available() const = 0;
};

}  // namespace compeit::ca
