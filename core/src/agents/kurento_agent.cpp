#include "compeit/agents/kurento_agent.hpp"

#include "compeit/util/json_guard.hpp"

#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace compeit::agents {

using ca::ErrorCode;
using ca::json;


KurentoAgent::KurentoAgent(MediaBackend& backend, json ice_servers)
    : backend_(backend), ice_servers_(std::move(ice_servers)) {}

KurentoAgent::~KurentoAgent() { backend_.set_events(nullptr); }

void KurentoAgent::attached(ca::Port port) {
    port_.emplace(std::move(port));
    backend_.set_events(this);
}

// The media server's candidates go to the browser they belong to (sfu).
void KurentoAgent::media_candidate(ca::UserId to, const StreamKey& stream, json candidate) {
    port_->to_user(to, about(json{{"action", "ice_candidate"}, {"candidate", std::move(candidate)}}, stream));
}

void KurentoAgent::media_stream_lost(ca::RoomId room, const StreamKey& stream) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end() || !it->second.streams.count(stream)) return backend_.unpublish(room, stream);
    drop_publication(room, it->second, stream);  // tells the room, the publisher included
}

void KurentoAgent::media_room_lost(ca::RoomId room) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    std::vector<StreamKey> published;
    for (const auto& [key, s] : it->second.streams) published.push_back(key);
    rooms_.erase(it);
    for (const auto& key : published) port_->to_room(room, about(json{{"action", "stream_removed"}}, key));
    changed(room);
}

// A refusal about a stream that is not there: as it always read for the
// camera, naming the `stream` field for any other.
std::string KurentoAgent::named(const StreamKey& key, std::string camera_message) {
    if (key.camera()) return camera_message;
    return "stream: no stream \"" + key.name + "\" here for this (" + camera_message + ")";
}

json KurentoAgent::about(json message, const StreamKey& key) {
    message["user"] = key.user;
    if (!key.camera()) message["stream"] = key.name;  // absent: the camera, as clients that name no stream know it
    return message;
}

json KurentoAgent::stream_json(const StreamKey& key, const Stream& s) {
    json out = about(json{{"audio", s.audio}, {"video", s.video}, {"filter", s.filter.empty() ? json() : json(s.filter)}}, key);
    if (s.recording) out["recording"] = true;  // an extension of KU-1's stream: absent while not recording
    return out;
}

std::size_t KurentoAgent::RoomMedia::streams_of(ca::UserId user) const {
    std::size_t n = 0;
    for (const auto& [key, s] : streams) n += key.user == user;
    for (const auto& key : publishing) n += key.user == user && !streams.count(key);
    return n;
}

bool KurentoAgent::publishes(ca::RoomId room, const StreamKey& stream) const {
    const auto it = rooms_.find(room);
    return it != rooms_.end() && it->second.streams.count(stream);
}

bool KurentoAgent::subscribed(ca::RoomId room, ca::UserId subscriber, const StreamKey& stream) const {
    const auto it = rooms_.find(room);
    return it != rooms_.end() && it->second.links.count({subscriber, stream});
}

// --- membership (KU-1, KU-5) --------------------------------------------------

std::optional<ca::RoomId> KurentoAgent::room_of_user(ca::UserId user) const {
    const auto it = where_.find(user);
    if (it == where_.end()) return std::nullopt;
    return it->second;
}

void KurentoAgent::on_join(const ca::User& user, ca::RoomId room) {
    where_[user.id] = room;
    json config{{"action", "config"}, {"mode", backend_.mode()}, {"iceServers", ice_servers_}};
    if (backend_.server_offers()) config["offerer"] = "server";  // an extension of KU-1: absent, the subscriber offers
    port_->to_user(user.id, std::move(config));
    json streams = json::array();
    if (const auto it = rooms_.find(room); it != rooms_.end())
        for (const auto& [key, s] : it->second.streams) streams.push_back(stream_json(key, s));
    port_->to_user(user.id, json{{"action", "streams"}, {"streams", std::move(streams)}});
}

void KurentoAgent::on_leave(const ca::User& user, ca::RoomId room) {
    release(room, user.id);
    if (const auto it = where_.find(user.id); it != where_.end() && it->second == room) where_.erase(it);
}

void KurentoAgent::release(ca::RoomId room, ca::UserId user) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    RoomMedia& media = it->second;
    std::vector<StreamKey> own;
    for (const auto& [key, s] : media.streams)
        if (key.user == user) own.push_back(key);
    for (const auto& key : own) drop_publication(room, media, key);
    // What the user received: its publishers close their side.
    for (auto link = media.links.begin(); link != media.links.end();) {
        if (link->first == user) {
            backend_.unsubscribe(room, user, link->second);
            if (backend_.peer_to_peer())
                port_->to_user(link->second.user, about(json{{"action", "unsubscribed"}}, StreamKey(user, link->second.name)));
            link = media.links.erase(link);
        } else {
            ++link;
        }
    }
    for (auto link = media.pending.begin(); link != media.pending.end();)
        link = link->first == user ? media.pending.erase(link) : std::next(link);
    for (auto key = media.publishing.begin(); key != media.publishing.end();)
        key = key->user == user ? media.publishing.erase(key) : std::next(key);
    if (media.streams.empty() && media.links.empty() && media.pending.empty() && media.publishing.empty()) {
        backend_.release_room(room);
        rooms_.erase(it);
        changed(room);
    }
}

void KurentoAgent::drop_publication(ca::RoomId room, RoomMedia& media, const StreamKey& key) {
    if (!media.streams.erase(key)) return;
    for (auto link = media.links.begin(); link != media.links.end();)
        link = link->second == key ? media.links.erase(link) : std::next(link);
    for (auto link = media.pending.begin(); link != media.pending.end();)
        link = link->second == key ? media.pending.erase(link) : std::next(link);
    backend_.unpublish(room, key);
    port_->to_room(room, about(json{{"action", "stream_removed"}}, key));
    changed(room);
}

// --- requests -------------------------------------------------------------------

KurentoAgent::RoomMedia* KurentoAgent::room_of(const ca::Request& r, const ca::User& from) {
    const auto room = room_of_user(from.id);
    if (!room) {
        port_->fail(r, ErrorCode::not_in_room, "media needs a room: join one first");
        return nullptr;
    }
    return &rooms_[*room];
}

void KurentoAgent::on_server_message(const ca::Request& r, const ca::User& from, json& data) {
    auto request = kurento::parse_request(data);
    if (!request) return port_->fail(r, ErrorCode::bad_request, request.error());
    // Capabilities (all of them in open mode; a token's `caps` otherwise).
    if (std::holds_alternative<kurento::Publish>(*request) && !from.caps.publish)
        return port_->fail(r, ErrorCode::forbidden, "the access token does not allow publishing (publish)");
    if (std::holds_alternative<kurento::SetFilter>(*request) && !from.caps.filter)
        return port_->fail(r, ErrorCode::forbidden, "the access token does not allow filters (filter)");
    if (std::holds_alternative<kurento::Record>(*request) && !from.caps.record)
        return port_->fail(r, ErrorCode::forbidden, "the access token does not allow recording (record)");
    std::visit(
        [&](const auto& q) {
            using T = std::decay_t<decltype(q)>;
            if constexpr (std::is_same_v<T, kurento::Publish>) publish(r, from, q);
            else if constexpr (std::is_same_v<T, kurento::Subscribe>) subscribe(r, from, q);
            else if constexpr (std::is_same_v<T, kurento::SubscribeAnswer>) subscribe_answer(r, from, q);
            else if constexpr (std::is_same_v<T, kurento::Answer>) answer(r, from, q);
            else if constexpr (std::is_same_v<T, kurento::IceCandidate>) ice_candidate(r, from, q);
            else if constexpr (std::is_same_v<T, kurento::Unpublish>) unpublish(r, from, q);
            else if constexpr (std::is_same_v<T, kurento::Unsubscribe>) unsubscribe(r, from, q);
            else if constexpr (std::is_same_v<T, kurento::UpdateStream>) update_stream(r, from, q);
            else if constexpr (std::is_same_v<T, kurento::SetFilter>) set_filter(r, from, q);
            else record(r, from, q);
        },
        *request);
}

void KurentoAgent::publish(const ca::Request& r, const ca::User& from, const kurento::Publish& p) {
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    const StreamKey key(from.id, p.stream);
    if (media->streams.count(key) || media->publishing.count(key))
        return port_->fail(r, ErrorCode::bad_request, "already publishing");
    if (media->streams_of(from.id) >= kurento::kMaxStreamsPerUser)
        return port_->fail(r, ErrorCode::bad_request,
                           "stream: at most " + std::to_string(kurento::kMaxStreamsPerUser) + " streams per user");
    if (!backend_.peer_to_peer() && !p.sdp)
        return port_->fail(r, ErrorCode::bad_request, "sdp: publish needs an SDP offer in sfu mode");
    const ca::RoomId room = *room_of_user(from.id);
    Stream s{p.audio, p.video, {}, false};
    media->publishing.insert(key);  // the browser's candidates are welcome from now on
    backend_.publish(room, key, p.sdp.value_or(""), [this, r, room, key, s](auto answer) {
        if (const auto it = rooms_.find(room); it != rooms_.end()) it->second.publishing.erase(key);
        if (!answer) return port_->fail(r, answer.error().code, answer.error().message);
        if (room_of_user(key.user) != room) return backend_.unpublish(room, key);  // left meanwhile
        rooms_[room].streams[key] = s;
        changed(room);
        json published{{"action", "published"}, {"sdp", *answer ? json(**answer) : json()}};
        if (!key.camera()) published["stream"] = key.name;
        port_->to_user(key.user, std::move(published));
        port_->to_room(room, json{{"action", "stream_added"}, {"stream", stream_json(key, s)}});
        port_->ok(r);
    });
}

void KurentoAgent::subscribe(const ca::Request& r, const ca::User& from, const kurento::Subscribe& q) {
    if (backend_.server_offers() && q.sdp)
        return port_->fail(r, ErrorCode::bad_request, "sdp: the media server makes the offer here: subscribe with {user} only");
    if (!backend_.server_offers() && !q.sdp) return port_->fail(r, ErrorCode::bad_request, "sdp must be a string");
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    const StreamKey key(q.user, q.stream);
    if (!media->streams.count(key))
        return port_->fail(r, ErrorCode::bad_request,
                           key.camera() ? "user: that user does not publish in this room"
                                        : "stream: that user does not publish that stream in this room");
    const ca::RoomId room = *room_of_user(from.id);
    media->links.erase({from.id, key});
    media->pending.insert({from.id, key});  // the browser's candidates are welcome from now on
    if (backend_.peer_to_peer()) {  // KU-3 mesh: the publisher answers
        port_->to_user(q.user, about(json{{"action", "subscribe_request"}, {"sdp", *q.sdp}}, StreamKey(from.id, q.stream)));
        return port_->ok(r);
    }
    backend_.subscribe(room, from.id, key, q.sdp.value_or(""), [this, r, room, subscriber = from.id, key](auto sdp) {
        if (const auto it = rooms_.find(room); it != rooms_.end()) it->second.pending.erase({subscriber, key});
        if (!sdp) return port_->fail(r, sdp.error().code, sdp.error().message);
        const auto it = rooms_.find(room);
        if (it == rooms_.end() || !it->second.streams.count(key) || room_of_user(subscriber) != room)
            return backend_.unsubscribe(room, subscriber, key);  // gone meanwhile
        it->second.links.insert({subscriber, key});
        // The media server's answer, or (server_offers) its offer for the browser to answer.
        json subscribed = about(json{{"action", "subscribed"}, {"sdp", *sdp ? json(**sdp) : json()}}, key);
        if (backend_.server_offers()) subscribed["type"] = "offer";  // absent: an answer (KU-3)
        port_->to_user(subscriber, std::move(subscribed));
        port_->ok(r);
    });
}

void KurentoAgent::subscribe_answer(const ca::Request& r, const ca::User& from, const kurento::SubscribeAnswer& a) {
    if (!backend_.peer_to_peer())
        return port_->fail(r, ErrorCode::not_supported, "the media server answers subscriptions in sfu mode");
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    const StreamKey key(from.id, a.stream);
    if (!media->pending.erase({a.user, key}))
        return port_->fail(r, ErrorCode::bad_request, named(key, "user: no subscribe request from that user is waiting"));
    media->links.insert({a.user, key});
    port_->to_user(a.user, about(json{{"action", "subscribed"}, {"sdp", a.sdp}}, key));
    port_->ok(r);
}

// The subscriber's answer to the media server's offer (server_offers()).
void KurentoAgent::answer(const ca::Request& r, const ca::User& from, const kurento::Answer& a) {
    if (!backend_.server_offers())
        return port_->fail(r, ErrorCode::not_supported, "the subscriber makes the offer here: nothing to answer");
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    const StreamKey key(a.user, a.stream);
    if (!media->links.count({from.id, key}))
        return port_->fail(r, ErrorCode::bad_request, named(key, "user: no offer for that user's stream is waiting"));
    const ca::RoomId room = *room_of_user(from.id);
    backend_.answer(room, from.id, key, a.sdp, [this, r, room, subscriber = from.id, key](auto done) {
        if (done) return port_->ok(r);
        // The media server refused it: the connection is gone.
        if (const auto it = rooms_.find(room); it != rooms_.end()) it->second.links.erase({subscriber, key});
        port_->fail(r, done.error().code, done.error().message);
    });
}

void KurentoAgent::ice_candidate(const ca::Request& r, const ca::User& from, const kurento::IceCandidate& c) {
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    const ca::RoomId room = *room_of_user(from.id);
    const StreamKey key(c.user, c.stream);
    if (!backend_.peer_to_peer()) {
        // Browsers trickle candidates before the answer: an operation under way counts.
        const bool known = (c.user == from.id && (media->streams.count(key) || media->publishing.count(key))) ||
                           media->links.count({from.id, key}) || media->pending.count({from.id, key});
        if (!known) return port_->fail(r, ErrorCode::bad_request, named(key, "user: no media connection for that user's stream"));
        backend_.add_candidate(room, from.id, key, kurento::to_json(c.candidate));
        return port_->ok(r);
    }
    // KU-4 mesh: relay to the other end, with `peer` rewritten to the sender.
    if (!c.peer) return port_->fail(r, ErrorCode::bad_request, "peer must be a user id in mesh mode");
    const ca::UserId peer = *c.peer;
    auto connected = [&](ca::UserId subscriber) {
        return media->links.count({subscriber, key}) || media->pending.count({subscriber, key});
    };
    const bool ok = (c.user == from.id && connected(peer)) || (c.user == peer && connected(from.id));
    if (!ok) return port_->fail(r, ErrorCode::bad_request, named(key, "peer: no peer connection with that user"));
    json relayed = about(json{{"action", "ice_candidate"}, {"peer", from.id}, {"candidate", kurento::to_json(c.candidate)}}, key);
    port_->to_user(peer, std::move(relayed));
    port_->ok(r);
}

void KurentoAgent::unpublish(const ca::Request& r, const ca::User& from, const kurento::Unpublish& u) {
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    const StreamKey key(from.id, u.stream);
    if (!media->streams.count(key)) return port_->fail(r, ErrorCode::bad_request, named(key, "not publishing"));
    drop_publication(*room_of_user(from.id), *media, key);
    port_->ok(r);
}

void KurentoAgent::unsubscribe(const ca::Request& r, const ca::User& from, const kurento::Unsubscribe& u) {
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    const StreamKey key(u.user, u.stream);
    const bool had = media->links.erase({from.id, key}) + media->pending.erase({from.id, key});
    if (!had) return port_->fail(r, ErrorCode::bad_request, named(key, "user: not subscribed to that user"));
    backend_.unsubscribe(*room_of_user(from.id), from.id, key);
    if (backend_.peer_to_peer())
        port_->to_user(u.user, about(json{{"action", "unsubscribed"}}, StreamKey(from.id, u.stream)));
    port_->ok(r);
}

KurentoAgent::Stream* KurentoAgent::own_stream(const ca::Request& r, const ca::User& from, const std::string& name) {
    RoomMedia* media = room_of(r, from);
    if (!media) return nullptr;
    const auto it = media->streams.find(StreamKey(from.id, name));
    if (it == media->streams.end()) {
        port_->fail(r, ErrorCode::bad_request, named(StreamKey(from.id, name), "not publishing"));
        return nullptr;
    }
    return &it->second;
}

void KurentoAgent::update_stream(const ca::Request& r, const ca::User& from, const kurento::UpdateStream& u) {
    Stream* s = own_stream(r, from, u.stream);
    if (!s) return;
    s->audio = u.audio.value_or(s->audio);
    s->video = u.video.value_or(s->video);
    port_->to_room(*room_of_user(from.id),
                   json{{"action", "stream_updated"}, {"stream", stream_json(StreamKey(from.id, u.stream), *s)}});
    port_->ok(r);
}

void KurentoAgent::set_filter(const ca::Request& r, const ca::User& from, const kurento::SetFilter& f) {
    if (!own_stream(r, from, f.stream)) return;
    const ca::RoomId room = *room_of_user(from.id);
    const StreamKey key(from.id, f.stream);
    backend_.set_filter(room, key, f.filter, stream_change(r, room, key, [filter = f.filter](Stream& s) { s.filter = filter; }));
}

void KurentoAgent::record(const ca::Request& r, const ca::User& from, const kurento::Record& rec) {
    if (!own_stream(r, from, rec.stream)) return;
    const ca::RoomId room = *room_of_user(from.id);
    const StreamKey key(from.id, rec.stream);
    backend_.record(room, key, rec.start, stream_change(r, room, key, [start = rec.start](Stream& s) { s.recording = start; }));
}

// Once the media server has done it: the stream changes and the room hears of it.
MediaDone KurentoAgent::stream_change(const ca::Request& r, ca::RoomId room, StreamKey key,
                                      std::function<void(Stream&)> change) {
    return [this, r, room, key = std::move(key), change = std::move(change)](auto result) {
        if (!result) return port_->fail(r, result.error().code, result.error().message);
        const auto it = rooms_.find(room);
        if (it == rooms_.end()) return;
        const auto s = it->second.streams.find(key);
        if (s == it->second.streams.end()) return;
        change(s->second);
        port_->to_room(room, json{{"action", "stream_updated"}, {"stream", stream_json(key, s->second)}});
        port_->ok(r);
    };
}

// --- cluster mode (ca::RoomOwnedAgent) ------------------------------------------

void KurentoAgent::changed(ca::RoomId room) {
    if (watch_) watch_(room);
}

// [[user, stream name]...] and the media server's leftovers (e.g. the
// pipeline), at most kMaxRecorded streams: what a successor tells the room is
// gone and releases.
std::string KurentoAgent::room_record(ca::RoomId room) const {
    const auto it = rooms_.find(room);
    std::string media = backend_.leftover(room);
    if ((it == rooms_.end() || it->second.streams.empty()) && media.empty()) return {};
    json streams = json::array();
    if (it != rooms_.end())
        for (const auto& [key, s] : it->second.streams) {
            if (streams.size() >= kMaxRecorded) break;
            streams.push_back(json::array({key.user, key.name}));
        }
    json out{{"streams", std::move(streams)}};
    if (!media.empty()) out["media"] = std::move(media);
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

void KurentoAgent::take_over(ca::RoomId room, std::string_view record) {
    // What the dead owner wrote (Redis is outside input): what does not read
    // as a record is ignored, entry by entry.
    const json r = util::parse_json(record, 4);
    if (!r.is_object()) return;
    if (const auto streams = r.find("streams"); streams != r.end() && streams->is_array()) {
        std::size_t n = 0;
        for (const auto& e : *streams) {
            if (++n > kMaxRecorded) break;
            if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_string()) continue;
            const auto user = e[0].get<ca::UserId>();
            const auto& name = e[1].get_ref<const std::string&>();
            if (user <= 0 || name.empty() || name.size() > 64) continue;
            const StreamKey key(user, name);
            if (publishes(room, key)) continue;  // published again here since
            port_->to_room(room, about(json{{"action", "stream_removed"}}, key));
        }
    }
    if (const auto media = r.find("media"); media != r.end() && media->is_string() && media->size() <= 4096)
        backend_.release_leftover(room, media->get_ref<const std::string&>());
}
}  // namespace compeit::agents
