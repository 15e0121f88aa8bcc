// The `kurento` media backend: the Kurento Agent's media operations as
// Kurento Media Server objects, over a kms::Session.
//   room               a MediaPipeline, made on the first publish, released
//                      with the last publisher
//   published stream   a WebRtcEndpoint answering the browser's offer; an
//                      optional filter element and RecorderEndpoint after it
//   subscription       a WebRtcEndpoint fed from the publisher's endpoint
//                      (or from its filter when it has one)
// State lives in the shared agents::MediaRooms table, keyed by StreamKey, as
// in the Janus backend. Every operation is a chain of KMS requests. Each step
// finds its entry again (a Ref, by serial number), so a stream, user or room
// that goes meanwhile makes the chain release what it made and fail; a
// failing step releases everything the operation made (KU-7). A lost KMS
// connection fails what is pending (unavailable) and forgets every object;
// the ids go to an orphan list that is released when the connection is back.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "compeit/agents/media_rooms.hpp"
#include "compeit/kms/session.hpp"

namespace compeit::kms {

struct BackendConfig {
    // Where recordings go, as a URI prefix KMS understands (file:///dir).
    std::string record_uri = "file:///tmp";
    // Wall-clock milliseconds since the Unix epoch, for recording names.
    std::function<std::int64_t()> wall_ms = [] { return std::int64_t{0}; };
};

class KurentoBackend final : public agents::MediaBackend {
public:
    KurentoBackend(Session& session, BackendConfig config);
    ~KurentoBackend() override;

    std::string_view mode() const override { return "sfu"; }
    bool peer_to_peer() const override { return false; }

    void publish(ca::RoomId room, const agents::StreamKey& stream, const std::string& offer,
                 agents::MediaDone done) override;
    void subscribe(ca::RoomId room, ca::UserId subscriber, const agents::StreamKey& stream, const std::string& offer,
                   agents::MediaDone done) override;
    void add_candidate(ca::RoomId room, ca::UserId user, const agents::StreamKey& stream,
                       const ca::json& candidate) override;
    void set_filter(ca::RoomId room, const agents::StreamKey& stream, const std::string& filter,
                    agents::MediaDone done) override;
    void record(ca::RoomId room, const agents::StreamKey& stream, bool start, agents::MediaDone done) override;
    void unpublish(ca::RoomId room, const agents::StreamKey& stream) override;
    void unsubscribe(ca::RoomId room, ca::UserId subscriber, const agents::StreamKey& stream) override;
    void release_room(ca::RoomId room) override;
    // Cluster mode: the room's pipeline id; a successor releases a dead
    // owner's pipeline (KMS releases its elements with it).
    std::string leftover(ca::RoomId room) const override { return pipeline_of(room); }
    void release_leftover(ca::RoomId room, std::string_view pipeline) override;

    // Introspection for tests.
    std::size_t room_count() const { return rooms_.size(); }
    std::size_t orphan_count() const { return orphans_.size(); }
    std::string pipeline_of(ca::RoomId room) const;

    struct Endpoint {
        std::string id;                // empty until KMS made it
        bool negotiated = false;       // processOffer done: browser candidates go straight on
        bool ready = false;            // the answer went out: KMS candidates go straight on
        std::vector<json> browser_candidates;
        std::vector<json> kms_candidates;
    };
    struct Pub {
        std::uint64_t serial = 0;
        Endpoint ep;
        std::string filter;            // filter element, or empty
        std::string recorder;          // RecorderEndpoint while recording
        bool busy = false;             // a filter or recording change is under way
    };
    struct Sub {
        std::uint64_t serial = 0;
        Endpoint ep;
    };
    // The one release path (MediaRooms::erase_*): what KMS holds for an entry goes.
    void release(Pub& p);
    void release(Sub& s) { drop_endpoint(s.ep); }

private:
    using Answer = Expected<std::string, agents::MediaError>;
    using AnswerDone = std::function<void(Answer)>;
    using Rooms = agents::MediaRooms<Pub, Sub>;
    // Finds an endpoint again after an asynchronous step; null once it is gone.
    using Locate = std::function<Endpoint*()>;
    // One endpoint being made: the steps of make_endpoint pass it along.
    struct Job {
        Locate locate;
        std::string offer;
        std::function<std::string()> source;  // what feeds it (subscriptions), null for a publisher
        ca::UserId to = 0;                     // whose browser is at the other end
        agents::StreamKey stream;              // the stream it carries
        AnswerDone done;
        std::string id;                        // the endpoint, once made
        std::string answer;                    // KMS's SDP answer, once processed
    };
    using JobPtr = std::shared_ptr<Job>;

    Session& session_;
    BackendConfig config_;
    Rooms rooms_;
    std::set<std::string> orphans_;

    Pub* ready_pub(ca::RoomId room, const agents::StreamKey& stream);
    static std::string source_of(const Pub& p) { return p.filter.empty() ? p.ep.id : p.filter; }
    Locate locate(agents::PubRef ref);
    Locate locate(agents::SubRef ref);

    void with_pipeline(ca::RoomId room, AnswerDone cont);
    // create WebRtcEndpoint -> subscribe IceCandidateFound -> processOffer ->
    // [connect from the source] -> gatherCandidates; then the answer goes out.
    void make_endpoint(const std::string& pipeline, JobPtr job);
    void endpoint_made(JobPtr job, Result made);
    void offer_endpoint(JobPtr job);
    void endpoint_offered(JobPtr job, Result answer);
    void finish_endpoint(JobPtr job);
    void fail_endpoint(const Job& job, const RpcError& e);
    void on_kms_candidate(const Locate& locate, ca::UserId to, const agents::StreamKey& stream, const json& data);
    void drop_endpoint(Endpoint& ep);
    void maybe_reap(ca::RoomId room);
    // Fire and forget; an id KMS could not be told about becomes an orphan.
    void release(const std::string& id);
    void on_connected();
    void on_lost();
    // Filters and recording (kurento_backend_ops.cpp).
    // Connects `source` to each sink in turn; a sink that `alive` no longer
    // knows (released meanwhile) is skipped.
    void connect_all(std::string source, std::vector<std::string> sinks, std::function<bool(const std::string&)> alive,
                     std::function<void(Expected<bool, RpcError>)> done);
    // The endpoints fed from `ref`'s stream (subscriptions, then the recorder).
    std::vector<std::string> sinks_of(const agents::PubRef& ref);
    void switch_filter(agents::PubRef ref, std::string old_filter, std::string new_filter, agents::MediaDone done);
};

}  // namespace compeit::kms
