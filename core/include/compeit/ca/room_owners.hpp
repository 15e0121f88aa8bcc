// Rooms whose agent state one node keeps (cluster mode). An agent such as
// the Kurento Agent holds per-room state (who publishes, who receives whom,
// the media server's objects) that cannot be split between processes: one
// node owns the room for that agent, the others forward to it. This is the
// seam the owning logic (ca::RoomOwnedAgent) talks to; cluster::Node
// implements it with Redis, tests with a map.
//
// Ownership: the owner of (scope, room) is the node that claimed it, as long
// as that node's liveness key (a TTL refreshed by the node) lives; when it
// does not (the node died, or this is a new run of it), the next node that
// routes a call for the room claims it, atomically, and is told whose room it
// took over and what that owner recorded for a successor.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "compeit/ca/types.hpp"

namespace compeit::ca {

class RoomOwners {
public:
    virtual ~RoomOwners() = default;

    // Sends `message` to the owner of (scope, room), claiming the room for
    // this node when no live node owns it. Every call for a room reaches its
    // owner through the owner's node channel, this node's own calls too, so
    // the owner runs them all in one order (the cluster's). A node that
    // claims a room hears that first, on the same channel:
    //   {"k":"claim","from":<node>,"room":<room>,"previous":<owner it took the
    //    room from, or "">,"record":<what that owner recorded>}
    // `again`: this node got `message` as owner but did not claim the room in
    // this run (see RoomOwnedAgent); when the claim is its own after all, it
    // hears the claim again. done(false): nothing was sent (the cluster is
    // unreachable, or the owner does not listen: dying, or cut off).
    virtual void route(std::string_view scope, RoomId room, std::string message, bool again,
                       std::function<void(bool)> done) = 0;
    // A message for `scope`'s handler on one node (the answer to a forwarded call).
    virtual void to_node(std::string_view scope, std::string_view node, std::string message) = 0;
    // The owner's state for a successor (small; empty: nothing to clean up).
    // Ignored when this node no longer owns the room.
    virtual void record(std::string_view scope, RoomId room, std::string record) = 0;
    // Messages for `scope` sent to this node by others (route, to_node): hostile
    // input for the handler to validate.
    virtual void listen(std::string_view scope, std::function<void(std::string_view message)> handler) = 0;
    virtual const std::string& node_name() const = 0;
};

// An agent whose per-room state a successor must clean up after its owner died.
class OwnedRoomState {
public:
    // The room's state as a successor needs it (small JSON; empty: none).
    virtual std::string room_record(RoomId room) const = 0;
    // This node took `room` over from a dead owner that recorded `record`
    // (outside input): tell the room what is gone, release what is left.
    virtual void take_over(RoomId room, std::string_view record) = 0;
    // `user` is a member of `room` (a request of it came from its node, whose
    // router knows): a node that took the room over learns its members so.
    virtual void member_seen(UserId user, RoomId room) = 0;
    // Called with the room whenever room_record(room) may have changed.
    virtual void watch_rooms(std::function<void(RoomId)> changed) = 0;

protected:
    ~OwnedRoomState() = default;
};

}  // namespace compeit::ca
