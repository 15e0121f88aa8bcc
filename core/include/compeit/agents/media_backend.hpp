// The media side of the Kurento Agent, behind one interface so the agent and
// the client protocol stay the same whatever carries the media:
//   mesh  browsers connect peer to peer; the agent only relays signalling
//   sfu   streams go through a media server (Kurento, Janus), which answers
//         offers and trickles its own ICE candidates
// Who offers a receiving connection depends on the media server: the
// subscriber's browser (mesh, Kurento), or the media server itself (Janus'
// VideoRoom only offers to subscribers): server_offers() tells, and then
// subscribe() yields the server's offer and answer() takes the browser's.
// Operations are asynchronous (a media server answers later) and report
// failures as request_error codes with the media server's reason (KU-7).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "compeit/ca/types.hpp"
#include "compeit/util/expected.hpp"

namespace compeit::agents {

struct MediaError {
    ca::ErrorCode code = ca::ErrorCode::unavailable;
    std::string message;
};

// An SDP answer (or nothing), or why not.
using MediaDone = std::function<void(Expected<std::optional<std::string>, MediaError>)>;

class MediaBackend {
public:
    virtual ~MediaBackend() = default;

    virtual std::string_view mode() const = 0;  // "mesh" or "sfu"
    // True when browsers connect to each other (the agent relays offers,
    // answers and candidates between them); false when a media server is the
    // other end of every peer connection.
    virtual bool peer_to_peer() const = 0;

    // Media-server operations (peer_to_peer() == false). The mesh backend
    // answers not_supported where an operation needs a media server.
    virtual void publish(ca::RoomId room, ca::UserId user, const std::string& offer, MediaDone done) = 0;
    // `offer` is the subscriber's offer (done gets the answer), or empty when
    // server_offers() (done gets the media server's offer).
    virtual void subscribe(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher, const std::string& offer,
                           MediaDone done) = 0;
    // True when the media server makes the offer of every receiving connection.
    virtual bool server_offers() const { return false; }
    // The subscriber's answer to the media server's offer (server_offers()).
    virtual void answer(ca::RoomId, ca::UserId, ca::UserId, const std::string&, MediaDone done) {
        done(unexpected(MediaError{ca::ErrorCode::not_supported, "the subscriber makes the offer here"}));
    }
    // A candidate from `user`'s browser for its connection about `stream_owner`'s stream.
    virtual void add_candidate(ca::RoomId room, ca::UserId user, ca::UserId stream_owner, const ca::json& candidate) = 0;
    virtual void set_filter(ca::RoomId room, ca::UserId user, const std::string& filter, MediaDone done) = 0;
    virtual void record(ca::RoomId room, ca::UserId user, bool start, MediaDone done) = 0;
    // Releases; never fail from the caller's point of view.
    virtual void unpublish(ca::RoomId room, ca::UserId user) = 0;
    virtual void unsubscribe(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher) = 0;
    virtual void release_room(ca::RoomId room) = 0;

    // The media server's own candidates for the connection of `to` about
    // `stream_owner`'s stream; set by the agent.
    std::function<void(ca::UserId to, ca::UserId stream_owner, ca::json candidate)> on_candidate;
    // The media server lost everything of `room` (e.g. its connection
    // dropped): the agent removes the room's streams and connections.
    std::function<void(ca::RoomId room)> on_room_lost;
    // One published stream died on the media server (e.g. the publisher's
    // connection to it failed): the agent removes it from the room.
    std::function<void(ca::RoomId room, ca::UserId user)> on_stream_lost;
};

// Peer to peer: nothing to do here but say so.
class MeshBackend final : public MediaBackend {
public:
    std::string_view mode() const override { return "mesh"; }
    bool peer_to_peer() const override { return true; }
    void publish(ca::RoomId, ca::UserId, const std::string&, MediaDone done) override {
        done(std::optional<std::string>());  // no answer: the browsers negotiate among themselves
    }
    void subscribe(ca::RoomId, ca::UserId, ca::UserId, const std::string&, MediaDone done) override {
        done(unexpected(MediaError{ca::ErrorCode::not_supported, "mesh mode relays offers to the publisher"}));
    }
    void add_candidate(ca::RoomId, ca::UserId, ca::UserId, const ca::json&) override {}
    void set_filter(ca::RoomId, ca::UserId, const std::string&, MediaDone done) override {
        done(unexpected(MediaError{ca::ErrorCode::not_supported, "filters need a media server (sfu mode)"}));
    }
    void record(ca::RoomId, ca::UserId, bool, MediaDone done) override {
        done(unexpected(MediaError{ca::ErrorCode::not_supported, "recording needs a media server (sfu mode)"}));
    }
    void unpublish(ca::RoomId, ca::UserId) override {}
    void unsubscribe(ca::RoomId, ca::UserId, ca::UserId) override {}
    void release_room(ca::RoomId) override {}
};

}  // namespace compeit::agents
