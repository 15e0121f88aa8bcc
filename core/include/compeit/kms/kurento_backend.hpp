// The `kurento` media backend: the Kurento Agent's media operations as
// Kurento Media Server objects, over a kms::Session.
//   room               a MediaPipeline, made on the first publish, released
//                      with the last publisher
//   published stream   a WebRtcEndpoint answering the browser's offer; an
//                      optional filter element and RecorderEndpoint after it
//   subscription       a WebRtcEndpoint fed from the publisher's endpoint
//                      (or from its filter when it has one)
// Every operation is a chain of KMS requests. Each step looks its stream up
// again (by serial numbers), so a stream, user or room that goes meanwhile
// makes the chain release what it made and fail; a failing step releases
// everything the operation made (KU-7). A lost KMS connection fails what is
// pending (unavailable) and forgets every object; the ids go to an orphan
// list that is released when the connection is back.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "compeit/agents/media_backend.hpp"
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

    void publish(ca::RoomId room, ca::UserId user, const std::string& offer, agents::MediaDone done) override;
    void subscribe(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher, const std::string& offer,
                   agents::MediaDone done) override;
    void add_candidate(ca::RoomId room, ca::UserId user, ca::UserId stream_owner, const ca::json& candidate) override;
    void set_filter(ca::RoomId room, ca::UserId user, const std::string& filter, agents::MediaDone done) override;
    void record(ca::RoomId room, ca::UserId user, bool start, agents::MediaDone done) override;
    void unpublish(ca::RoomId room, ca::UserId user) override;
    void unsubscribe(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher) override;
    void release_room(ca::RoomId room) override;

    // Introspection for tests.
    std::size_t room_count() const { return rooms_.size(); }
    std::size_t orphan_count() const { return orphans_.size(); }
    std::string pipeline_of(ca::RoomId room) const;

private:
    using Answer = Expected<std::string, agents::MediaError>;
    using AnswerDone = std::function<void(Answer)>;

    struct Endpoint {
        std::uint64_t serial = 0;
        std::string id;                // empty until KMS made it
        bool negotiated = false;       // processOffer done: browser candidates go straight on
        bool ready = false;            // the answer went out: KMS candidates go straight on
        std::vector<json> browser_candidates;
        std::vector<json> kms_candidates;
    };
    struct Publisher {
        Endpoint ep;
        std::string filter;            // filter element, or empty
        std::string recorder;          // RecorderEndpoint while recording
        bool busy = false;             // a filter or recording change is under way
        std::map<ca::UserId, Endpoint> subs;
    };
    struct Room {
        std::uint64_t serial = 0;
        std::string pipeline;
        bool creating = false;
        std::vector<AnswerDone> waiting;  // for the pipeline
        std::map<ca::UserId, Publisher> pubs;
    };
    // Finds an endpoint again after an asynchronous step; null once it is gone.
    using Locate = std::function<Endpoint*()>;

    Session& session_;
    BackendConfig config_;
    std::map<ca::RoomId, Room> rooms_;
    std::set<std::string> orphans_;
    std::uint64_t next_serial_ = 1;

    Room* find_room(ca::RoomId room, std::uint64_t serial);
    Publisher* find_pub(ca::RoomId room, ca::UserId user, std::uint64_t serial);
    Publisher* ready_pub(ca::RoomId room, ca::UserId user);
    Endpoint* find_sub(ca::RoomId room, ca::UserId publisher, ca::UserId subscriber, std::uint64_t serial);
    static std::string source_of(const Publisher& p) { return p.filter.empty() ? p.ep.id : p.filter; }

    void with_pipeline(ca::RoomId room, AnswerDone cont);
    void make_endpoint(const std::string& pipeline, Locate locate, const std::string& offer,
                       std::function<std::string()> source,
                       ca::UserId to, ca::UserId owner, AnswerDone done);
    void finish_endpoint(Locate locate, const std::string& answer, ca::UserId to, ca::UserId owner, AnswerDone done);
    void fail_endpoint(const Locate& locate, const RpcError& e, const AnswerDone& done);
    void drop_endpoint(Endpoint& ep);
    void drop_publisher(Publisher& p);
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
    void switch_filter(ca::RoomId room, ca::UserId user, std::uint64_t serial, std::string old_filter,
                       std::string new_filter, agents::MediaDone done);
};

}  // namespace compeit::kms
