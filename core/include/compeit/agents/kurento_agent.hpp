// The Kurento Agent, type "kurento" (KU-1..KU-7), on the server: who
// publishes which stream in each room, who receives whom, and the signalling
// between them. The media itself is the MediaBackend's business: in mesh mode
// the agent relays offers, answers and trickled candidates between browsers;
// with a media server the backend answers them. The client protocol is the
// same in both modes. A user may publish several streams (camera, screen, …):
// every table here is keyed by StreamKey (user, stream name), and a stream
// named "camera" is written without its name, as clients that name no
// stream know it.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "compeit/agents/kurento_requests.hpp"
#include "compeit/agents/media_backend.hpp"
#include "compeit/ca/agent.hpp"
#include "compeit/ca/room_owners.hpp"

namespace compeit::agents {

class KurentoAgent final : public ca::ServerAgent, public ca::OwnedRoomState, private MediaEvents {
public:
    static constexpr const char* kType = "kurento";

    // `ice_servers`: the RTCIceServer list clients get in their config (KU-1).
    KurentoAgent(MediaBackend& backend, ca::json ice_servers = ca::json::array());
    ~KurentoAgent();
    KurentoAgent(const KurentoAgent&) = delete;
    KurentoAgent& operator=(const KurentoAgent&) = delete;

    void attached(ca::Port port) override;
    void on_server_message(const ca::Request& r, const ca::User& from, ca::json& data) override;
    void on_join(const ca::User& user, ca::RoomId room) override;
    // Joining again resets the user's media: a client that asks for its room's
    // state again has lost its connections (the client agent closes them all
    // on room_joined; a resumed session's died with its transport), so what
    // the server holds for it goes (the room hears stream_removed) and the
    // joiner gets the config and the streams as on joining.
    void on_rejoin(const ca::User& user, ca::RoomId room) override {
        release(room, user.id);
        on_join(user, room);
    }
    void on_leave(const ca::User& user, ca::RoomId room) override;

    // Cluster mode (ca::RoomOwnedAgent): the streams of a room and the media
    // server's leftovers, for the node that takes the room over if this one dies.
    std::string room_record(ca::RoomId room) const override;
    void take_over(ca::RoomId room, std::string_view record) override;
    void watch_rooms(std::function<void(ca::RoomId)> changed) override { watch_ = std::move(changed); }
    void member_seen(ca::UserId user, ca::RoomId room) override { where_[user] = room; }
    static constexpr std::size_t kMaxRecorded = 512;  // streams recorded per room

    // Introspection for tests and logs.
    bool publishes(ca::RoomId room, const StreamKey& stream) const;
    bool subscribed(ca::RoomId room, ca::UserId subscriber, const StreamKey& stream) const;
    std::size_t room_count() const { return rooms_.size(); }

private:
    struct Stream {
        bool audio = true;
        bool video = true;
        std::string filter;
        bool recording = false;
    };
    using Link = std::pair<ca::UserId, StreamKey>;  // (subscriber, the stream it receives)
    struct RoomMedia {
        std::map<StreamKey, Stream> streams;
        std::set<Link> links;    // established receive connections
        std::set<Link> pending;  // offer relayed (mesh) or with the media server (sfu), answer awaited
        std::set<StreamKey> publishing;  // sfu: publish offer with the media server
        std::size_t streams_of(ca::UserId user) const;  // published or being published
    };

    MediaBackend& backend_;
    ca::json ice_servers_;
    std::optional<ca::Port> port_;
    std::unordered_map<ca::RoomId, RoomMedia> rooms_;
    // Who is in which room, as the membership callbacks said: in a cluster
    // the room's owner serves users of other nodes, which Port::room_of
    // does not know. As many entries as members of the rooms served here.
    std::unordered_map<ca::UserId, ca::RoomId> where_;
    std::function<void(ca::RoomId)> watch_;

    std::optional<ca::RoomId> room_of_user(ca::UserId user) const;
    void changed(ca::RoomId room);

    static ca::json stream_json(const StreamKey& key, const Stream& s);
    // `message` about `key`'s stream: {…, user, stream (unless camera)}.
    static ca::json about(ca::json message, const StreamKey& key);
    static std::string named(const StreamKey& key, std::string camera_message);
    RoomMedia* room_of(const ca::Request& r, const ca::User& from);
    void publish(const ca::Request& r, const ca::User& from, const kurento::Publish& p);
    void subscribe(const ca::Request& r, const ca::User& from, const kurento::Subscribe& s);
    void subscribe_answer(const ca::Request& r, const ca::User& from, const kurento::SubscribeAnswer& a);
    void answer(const ca::Request& r, const ca::User& from, const kurento::Answer& a);
    void ice_candidate(const ca::Request& r, const ca::User& from, const kurento::IceCandidate& c);
    void unpublish(const ca::Request& r, const ca::User& from, const kurento::Unpublish& u);
    void unsubscribe(const ca::Request& r, const ca::User& from, const kurento::Unsubscribe& u);
    void update_stream(const ca::Request& r, const ca::User& from, const kurento::UpdateStream& u);
    void set_filter(const ca::Request& r, const ca::User& from, const kurento::SetFilter& f);
    void record(const ca::Request& r, const ca::User& from, const kurento::Record& rec);
    // The completion of a set_filter or record operation on the media server.
    MediaDone stream_change(const ca::Request& r, ca::RoomId room, StreamKey key, std::function<void(Stream&)> change);
    // The caller's published stream of that name, or null after failing the request.
    Stream* own_stream(const ca::Request& r, const ca::User& from, const std::string& name);
    // Drops everything `user` published or received in `room`, telling those concerned.
    void release(ca::RoomId room, ca::UserId user);
    void drop_publication(ca::RoomId room, RoomMedia& media, const StreamKey& key);

    // MediaEvents: what the media server does on its own.
    void media_candidate(ca::UserId to, const StreamKey& stream, ca::json candidate) override;
    void media_room_lost(ca::RoomId room) override;  // its streams are gone for everyone
    void media_stream_lost(ca::RoomId room, const StreamKey& stream) override;
};

}  // namespace compeit::agents
