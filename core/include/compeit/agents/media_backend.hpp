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
// A published stream is one concept in every mode: a StreamKey, the user and
// the stream's name ("camera" unless the client names another, e.g.
// "screen"); a user may publish several at once.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "compeit/ca/types.hpp"
#include "compeit/util/expected.hpp"

namespace compeit::agents {

inline constexpr std::string_view kCameraStream = "camera";  // the name of a stream that has none

// One published stream: whose, and which of theirs. Implicitly made from a
// user id alone: that user's camera, the one stream of clients that name none.
struct StreamKey {
    ca::UserId user = 0;
    std::string name{kCameraStream};

    StreamKey() = default;
    StreamKey(ca::UserId u, std::string n = std::string(kCameraStream)) : user(u), name(std::move(n)) {}  // NOLINT
    bool camera() const { return name == kCameraStream; }
    // Written out: the WASM toolchain's std::string has no operator<=> to default to.
    friend bool operator==(const StreamKey& a, const StreamKey& b) { return a.user == b.user && a.name == b.name; }
    friend bool operator<(const StreamKey& a, const StreamKey& b) {
        return a.user != b.user ? a.user < b.user : a.name < b.name;
    }
};

struct MediaError {
    ca::ErrorCode code = ca::ErrorCode::unavailable;
    std::string message;
};

// What every step of a media-server operation says when its stream, its
// subscription or its room went while the media server was busy.
inline MediaError media_gone() { return MediaError{ca::ErrorCode::unavailable, "the stream went away meanwhile"}; }

// What a media server does on its own, told to the agent (the one listener).
class MediaEvents {
public:
    // The media server's candidate for `to`'s connection about `stream`.
    virtual void media_candidate(ca::UserId to, const StreamKey& stream, ca::json candidate) = 0;
    // The media server lost everything of `room` (e.g. its connection
    // dropped): the agent removes the room's streams and connections.
    virtual void media_room_lost(ca::RoomId room) = 0;
    // One published stream died on the media server (e.g. the publisher's
    // connection to it failed): the agent removes it from the room.
    virtual void media_stream_lost(ca::RoomId room, const StreamKey& stream) = 0;

protected:
    ~MediaEvents() = default;
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

    // The agent that hears of the media server's own events; it outlives the backend's use.
    void set_events(MediaEvents* events) { events_ = events; }

    // Media-server operations (peer_to_peer() == false). The mesh backend
    // answers not_supported where an operation needs a media server.
    virtual void publish(ca::RoomId room, const StreamKey& stream, const std::string& offer, MediaDone done) = 0;
    // `offer` is the subscriber's offer (done gets the answer), or empty when
    // server_offers() (done gets the media server's offer).
    virtual void subscribe(ca::RoomId room, ca::UserId subscriber, const StreamKey& stream, const std::string& offer,
                           MediaDone done) = 0;
    // True when the media server makes the offer of every receiving connection.
    virtual bool server_offers() const { return false; }
    // The subscriber's answer to the media server's offer (server_offers()).
    virtual void answer(ca::RoomId, ca::UserId, const StreamKey&, const std::string&, MediaDone done) {
        done(unexpected(MediaError{ca::ErrorCode::not_supported, "the subscriber makes the offer here"}));
    }
    // A candidate from `user`'s browser for its connection about `stream`
    // (its own stream when user == stream.user, a subscription otherwise).
    virtual void add_candidate(ca::RoomId room, ca::UserId user, const StreamKey& stream, const ca::json& candidate) = 0;
    virtual void set_filter(ca::RoomId room, const StreamKey& stream, const std::string& filter, MediaDone done) = 0;
    virtual void record(ca::RoomId room, const StreamKey& stream, bool start, MediaDone done) = 0;
    // Releases; never fail from the caller's point of view.
    virtual void unpublish(ca::RoomId room, const StreamKey& stream) = 0;
    virtual void unsubscribe(ca::RoomId room, ca::UserId subscriber, const StreamKey& stream) = 0;
    virtual void release_room(ca::RoomId room) = 0;
    // Cluster mode: what of `room` is on the media server for a successor to
    // release if this process dies (e.g. the pipeline's id; empty: nothing),
    // and the successor's release of what a dead owner recorded.
    virtual std::string leftover(ca::RoomId) const { return {}; }
    virtual void release_leftover(ca::RoomId, std::string_view /*leftover*/) {}

protected:
    void candidate_found(ca::UserId to, const StreamKey& stream, ca::json candidate) {
        if (events_) events_->media_candidate(to, stream, std::move(candidate));
    }
    void room_lost(ca::RoomId room) {
        if (events_) events_->media_room_lost(room);
    }
    void stream_lost(ca::RoomId room, const StreamKey& stream) {
        if (events_) events_->media_stream_lost(room, stream);
    }

private:
    MediaEvents* events_ = nullptr;
};

// Peer to peer: nothing to do here but say so.
class MeshBackend final : public MediaBackend {
public:
    std::string_view mode() const override { return "mesh"; }
    bool peer_to_peer() const override { return true; }
    void publish(ca::RoomId, const StreamKey&, const std::string&, MediaDone done) override {
        done(std::optional<std::string>());  // no answer: the browsers negotiate among themselves
    }
    void subscribe(ca::RoomId, ca::UserId, const StreamKey&, const std::string&, MediaDone done) override {
        done(unexpected(MediaError{ca::ErrorCode::not_supported, "mesh mode relays offers to the publisher"}));
    }
    void add_candidate(ca::RoomId, ca::UserId, const StreamKey&, const ca::json&) override {}
    void set_filter(ca::RoomId, const StreamKey&, const std::string&, MediaDone done) override {
        done(unexpected(MediaError{ca::ErrorCode::not_supported, "filters need a media server (sfu mode)"}));
    }
    void record(ca::RoomId, const StreamKey&, bool, MediaDone done) override {
        done(unexpected(MediaError{ca::ErrorCode::not_supported, "recording needs a media server (sfu mode)"}));
    }
    void unpublish(ca::RoomId, const StreamKey&) override {}
    void unsubscribe(ca::RoomId, ca::UserId, const StreamKey&) override {}
    void release_room(ca::RoomId) override {}
};

}  // namespace compeit::agents
