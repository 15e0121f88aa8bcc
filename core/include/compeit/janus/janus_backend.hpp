// The `janus` media backend: the Kurento Agent's media operations as Janus
// VideoRoom objects, over a janus::Session.
//   room               a VideoRoom (id room_offset + room), created on the
//                      first publish ("already exists" is fine: rooms outlive
//                      our Janus session), destroyed by release_room
//   published stream   a videoroom handle: join as publisher, then configure
//                      with the browser's offer; Janus' jsep is the answer
//   recording          configure {record, filename} on the publisher handle
//   subscription       a videoroom handle joined as subscriber to the
//                      publisher's feed, once the publisher's connection
//                      is up (Janus has no feed before: "No such feed"). Janus' VideoRoom makes the offer to
//                      subscribers itself ("Only publishers send offers"), so
//                      this backend server_offers(): subscribe yields Janus'
//                      offer, answer() sends the browser's answer with
//                      "start"
//   set_filter         not_supported (the VideoRoom does not touch media)
// State lives in the shared agents::MediaRooms table, keyed by StreamKey, as
// in the Kurento backend (a user may publish several streams: each is its
// own publisher handle, "user 7 screen" in the VideoRoom). Each asynchronous
// step finds its entry again (a Ref, by serial number), so a stream or room
// that goes meanwhile makes the chain detach what it made and fail. A failing step detaches the handle and reports Janus' reason (KU-7).
// A lost Janus connection takes the Janus session and its handles with it:
// pending operations fail (unavailable), every room is reported lost, and the
// VideoRooms left behind are destroyed once the connection is back.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "compeit/agents/media_rooms.hpp"
#include "compeit/janus/session.hpp"

namespace compeit::janus {

struct BackendConfig {
    std::uint64_t room_offset = 1'000'000;  // Janus room id = offset + COMPEIT room id
    std::string record_dir = "/tmp";         // a folder on Janus' host
    std::function<std::int64_t()> wall_ms = [] { return std::int64_t{0}; };
    int max_publishers = 100;
};

// Janus' error as a request_error (KU-7): bad input is bad_request, the rest
// is the media server's failure.
agents::MediaError to_media_error(const Error& e);
// A browser candidate (RTCIceCandidateInit) as Janus takes it; an empty or
// null candidate means "completed". Nullopt when unusable.
std::optional<json> to_janus_candidate(const json& browser);

class JanusBackend final : public agents::MediaBackend {
public:
    JanusBackend(Session& session, BackendConfig config);
    ~JanusBackend() override;

    std::string_view mode() const override { return "sfu"; }
    bool peer_to_peer() const override { return false; }

    void publish(ca::RoomId room, const agents::StreamKey& stream, const std::string& offer,
                 agents::MediaDone done) override;
    void subscribe(ca::RoomId room, ca::UserId subscriber, const agents::StreamKey& stream, const std::string& offer,
                   agents::MediaDone done) override;
    bool server_offers() const override { return true; }
    void answer(ca::RoomId room, ca::UserId subscriber, const agents::StreamKey& stream, const std::string& sdp,
                agents::MediaDone done) override;
    void add_candidate(ca::RoomId room, ca::UserId user, const agents::StreamKey& stream,
                       const ca::json& candidate) override;
    void set_filter(ca::RoomId room, const agents::StreamKey& stream, const std::string& filter,
                    agents::MediaDone done) override;
    void record(ca::RoomId room, const agents::StreamKey& stream, bool start, agents::MediaDone done) override;
    void unpublish(ca::RoomId room, const agents::StreamKey& stream) override;
    void unsubscribe(ca::RoomId room, ca::UserId subscriber, const agents::StreamKey& stream) override;
    void release_room(ca::RoomId room) override;

    // Introspection for tests.
    std::size_t room_count() const { return rooms_.size(); }
    std::size_t orphan_count() const { return orphans_.size(); }
    HandleId handle_of(ca::RoomId room, const agents::StreamKey& stream);
    HandleId subscription_of(ca::RoomId room, ca::UserId subscriber, const agents::StreamKey& stream);
    std::uint64_t janus_room(ca::RoomId room) const { return config_.room_offset + static_cast<std::uint64_t>(room); }

    struct Pub {
        std::uint64_t serial = 0;
        HandleId handle = 0;
        std::uint64_t feed = 0;  // Janus' id of the publisher in its VideoRoom
        bool offered = false;  // configure with the offer sent: browser candidates go straight on
        bool ready = false;    // the answer went out
        bool up = false;       // the browser's connection is up ("webrtcup"): Janus has the feed
        std::vector<std::function<void(bool up)>> waiting_up;  // subscriptions waiting for that (false: it went)
        bool busy = false;     // a recording change is under way
        std::vector<json> candidates;
    };
    // A receiving connection: Janus offers, the browser answers.
    struct Sub {
        std::uint64_t serial = 0;
        HandleId handle = 0;
        bool answered = false;  // "start" with the answer sent: browser candidates go straight on
        std::vector<json> candidates;
    };
    // The one release path (MediaRooms::erase_*): the handle is detached.
    void release(Pub& p);
    void release(Sub& s);

private:
    using Step = Expected<json, agents::MediaError>;
    using StepDone = std::function<void(Step)>;
    using Rooms = agents::MediaRooms<Pub, Sub>;

    Session& session_;
    BackendConfig config_;
    Rooms rooms_;
    std::set<std::uint64_t> orphans_;  // VideoRooms to destroy when Janus is back

    Pub* ready_pub(ca::RoomId room, const agents::StreamKey& stream);
    void with_room(ca::RoomId room, StepDone cont);
    void join_and_offer(agents::PubRef ref, const std::string& offer, StepDone done);
    void configure(agents::PubRef ref, const std::string& offer, StepDone done);
    void on_handle_event(const agents::PubRef& ref, const json& msg);
    void join_feed(agents::SubRef ref, std::uint64_t feed, agents::MediaDone done);
    void on_subscription_event(const agents::SubRef& ref, const json& msg);
    void destroy_room(std::uint64_t janus_room);
    void on_connected();
    void on_lost();
};

}  // namespace compeit::janus
