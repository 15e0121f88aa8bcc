#include "compeit/agents/kurento_agent.hpp"

#include <type_traits>
#include <variant>
#include <vector>

namespace compeit::agents {

using ca::ErrorCode;
using ca::json;


KurentoAgent::KurentoAgent(MediaBackend& backend, json ice_servers)
    : backend_(backend), ice_servers_(std::move(ice_servers)) {}

void KurentoAgent::attached(ca::Port port) {
    port_.emplace(std::move(port));
    // The media server's candidates go to the browser they belong to (sfu).
    backend_.on_candidate = [this](ca::UserId to, ca::UserId owner, json candidate) {
        port_->to_user(to, json{{"action", "ice_candidate"}, {"user", owner}, {"candidate", std::move(candidate)}});
    };
    backend_.on_room_lost = [this](ca::RoomId room) { room_lost(room); };
    backend_.on_stream_lost = [this](ca::RoomId room, ca::UserId user) {
        const auto it = rooms_.find(room);
        if (it == rooms_.end() || !it->second.streams.count(user)) return backend_.unpublish(room, user);
        drop_publication(room, it->second, user);  // tells the room, the publisher included
    };
}

void KurentoAgent::room_lost(ca::RoomId room) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    std::vector<ca::UserId> publishers;
    for (const auto& [user, s] : it->second.streams) publishers.push_back(user);
    rooms_.erase(it);
    for (const auto user : publishers) port_->to_room(room, json{{"action", "stream_removed"}, {"user", user}});
}

json KurentoAgent::stream_json(ca::UserId user, const Stream& s) {
    json out{{"user", user}, {"audio", s.audio}, {"video", s.video}, {"filter", s.filter.empty() ? json() : json(s.filter)}};
    if (s.recording) out["recording"] = true;  // an extension of KU-1's stream: absent while not recording
    return out;
}

bool KurentoAgent::publishes(ca::RoomId room, ca::UserId user) const {
    const auto it = rooms_.find(room);
    return it != rooms_.end() && it->second.streams.count(user);
}

bool KurentoAgent::subscribed(ca::RoomId room, ca::UserId subscriber, ca::UserId publisher) const {
    const auto it = rooms_.find(room);
    return it != rooms_.end() && it->second.links.count({subscriber, publisher});
}

// --- membership (KU-1, KU-5) --------------------------------------------------

void KurentoAgent::on_join(const ca::User& user, ca::RoomId room) {
    json config{{"action", "config"}, {"mode", backend_.mode()}, {"iceServers", ice_servers_}};
    if (backend_.server_offers()) config["offerer"] = "server";  // an extension of KU-1: absent, the subscriber offers
    port_->to_user(user.id, std::move(config));
    json streams = json::array();
    if (const auto it = rooms_.find(room); it != rooms_.end())
        for (const auto& [publisher, s] : it->second.streams) streams.push_back(stream_json(publisher, s));
    port_->to_user(user.id, json{{"action", "streams"}, {"streams", std::move(streams)}});
}

void KurentoAgent::on_leave(const ca::User& user, ca::RoomId room) { release(room, user.id); }

void KurentoAgent::release(ca::RoomId room, ca::UserId user) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    RoomMedia& media = it->second;
    drop_publication(room, media, user);
    // What the user received: its publishers close their side.
    for (auto link = media.links.begin(); link != media.links.end();) {
        if (link->first == user) {
            backend_.unsubscribe(room, user, link->second);
            if (backend_.peer_to_peer()) port_->to_user(link->second, json{{"action", "unsubscribed"}, {"user", user}});
            link = media.links.erase(link);
        } else {
            ++link;
        }
    }
    for (auto link = media.pending.begin(); link != media.pending.end();)
        link = link->first == user ? media.pending.erase(link) : std::next(link);
    media.publishing.erase(user);
    if (media.streams.empty() && media.links.empty() && media.pending.empty() && media.publishing.empty()) {
        backend_.release_room(room);
        rooms_.erase(it);
    }
}

void KurentoAgent::drop_publication(ca::RoomId room, RoomMedia& media, ca::UserId user) {
    if (!media.streams.erase(user)) return;
    for (auto link = media.links.begin(); link != media.links.end();)
        link = link->second == user ? media.links.erase(link) : std::next(link);
    for (auto link = media.pending.begin(); link != media.pending.end();)
        link = link->second == user ? media.pending.erase(link) : std::next(link);
    backend_.unpublish(room, user);
    port_->to_room(room, json{{"action", "stream_removed"}, {"user", user}});
}

// --- requests -------------------------------------------------------------------

KurentoAgent::RoomMedia* KurentoAgent::room_of(const ca::Request& r, const ca::User& from) {
    const auto room = port_->room_of(from.id);
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
            else if constexpr (std::is_same_v<T, kurento::Unpublish>) unpublish(r, from);
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
    if (media->streams.count(from.id)) return port_->fail(r, ErrorCode::bad_request, "already publishing");
    if (!backend_.peer_to_peer() && !p.sdp)
        return port_->fail(r, ErrorCode::bad_request, "sdp: publish needs an SDP offer in sfu mode");
    const ca::RoomId room = *port_->room_of(from.id);
    Stream s{p.audio, p.video, {}, false};
    media->publishing.insert(from.id);  // the browser's candidates are welcome from now on
    backend_.publish(room, from.id, p.sdp.value_or(""), [this, r, room, user = from.id, s](auto answer) {
        if (const auto it = rooms_.find(room); it != rooms_.end()) it->second.publishing.erase(user);
        if (!answer) return port_->fail(r, answer.error().code, answer.error().message);
        if (port_->room_of(user) != room) return backend_.unpublish(room, user);  // left meanwhile
        rooms_[room].streams[user] = s;
        port_->to_user(user, json{{"action", "published"}, {"sdp", *answer ? json(**answer) : json()}});
        port_->to_room(room, json{{"action", "stream_added"}, {"stream", stream_json(user, s)}});
        port_->ok(r);
    });
}

void KurentoAgent::subscribe(const ca::Request& r, const ca::User& from, const kurento::Subscribe& q) {
    if (backend_.server_offers() && q.sdp)
        return port_->fail(r, ErrorCode::bad_request, "sdp: the media server makes the offer here: subscribe with {user} only");
    if (!backend_.server_offers() && !q.sdp) return port_->fail(r, ErrorCode::bad_request, "sdp must be a string");
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    if (!media->streams.count(q.user))
        return port_->fail(r, ErrorCode::bad_request, "user: that user does not publish in this room");
    const ca::RoomId room = *port_->room_of(from.id);
    media->links.erase({from.id, q.user});
    media->pending.insert({from.id, q.user});  // the browser's candidates are welcome from now on
    if (backend_.peer_to_peer()) {  // KU-3 mesh: the publisher answers
        port_->to_user(q.user, json{{"action", "subscribe_request"}, {"user", from.id}, {"sdp", *q.sdp}});
        return port_->ok(r);
    }
    backend_.subscribe(room, from.id, q.user, q.sdp.value_or(""),
                       [this, r, room, subscriber = from.id, pub = q.user](auto sdp) {
                           if (const auto it = rooms_.find(room); it != rooms_.end())
                               it->second.pending.erase({subscriber, pub});
                           if (!sdp) return port_->fail(r, sdp.error().code, sdp.error().message);
                           const auto it = rooms_.find(room);
                           if (it == rooms_.end() || !it->second.streams.count(pub) ||
                               port_->room_of(subscriber) != room)
                               return backend_.unsubscribe(room, subscriber, pub);  // gone meanwhile
                           it->second.links.insert({subscriber, pub});
                           // The media server's answer, or (server_offers) its offer for the browser to answer.
                           json subscribed{{"action", "subscribed"}, {"user", pub}, {"sdp", *sdp ? json(**sdp) : json()}};
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
    if (!media->pending.erase({a.user, from.id}))
        return port_->fail(r, ErrorCode::bad_request, "user: no subscribe request from that user is waiting");
    media->links.insert({a.user, from.id});
    port_->to_user(a.user, json{{"action", "subscribed"}, {"user", from.id}, {"sdp", a.sdp}});
    port_->ok(r);
}

// The subscriber's answer to the media server's offer (server_offers()).
void KurentoAgent::answer(const ca::Request& r, const ca::User& from, const kurento::Answer& a) {
    if (!backend_.server_offers())
        return port_->fail(r, ErrorCode::not_supported, "the subscriber makes the offer here: nothing to answer");
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    if (!media->links.count({from.id, a.user}))
        return port_->fail(r, ErrorCode::bad_request, "user: no offer for that user's stream is waiting");
    const ca::RoomId room = *port_->room_of(from.id);
    backend_.answer(room, from.id, a.user, a.sdp, [this, r, room, subscriber = from.id, pub = a.user](auto done) {
        if (done) return port_->ok(r);
        // The media server refused it: the connection is gone.
        if (const auto it = rooms_.find(room); it != rooms_.end()) it->second.links.erase({subscriber, pub});
        port_->fail(r, done.error().code, done.error().message);
    });
}

void KurentoAgent::ice_candidate(const ca::Request& r, const ca::User& from, const kurento::IceCandidate& c) {
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    const ca::RoomId room = *port_->room_of(from.id);
    if (!backend_.peer_to_peer()) {
        // Browsers trickle candidates before the answer: an operation under way counts.
        const bool known = (c.user == from.id && (media->streams.count(from.id) || media->publishing.count(from.id))) ||
                           media->links.count({from.id, c.user}) || media->pending.count({from.id, c.user});
        if (!known) return port_->fail(r, ErrorCode::bad_request, "user: no media connection for that user's stream");
        backend_.add_candidate(room, from.id, c.user, kurento::to_json(c.candidate));
        return port_->ok(r);
    }
    // KU-4 mesh: relay to the other end, with `peer` rewritten to the sender.
    if (!c.peer) return port_->fail(r, ErrorCode::bad_request, "peer must be a user id in mesh mode");
    const ca::UserId peer = *c.peer;
    auto connected = [&](ca::UserId subscriber, ca::UserId publisher) {
        return media->links.count({subscriber, publisher}) || media->pending.count({subscriber, publisher});
    };
    const bool ok = (c.user == from.id && connected(peer, from.id)) || (c.user == peer && connected(from.id, peer));
    if (!ok) return port_->fail(r, ErrorCode::bad_request, "peer: no peer connection with that user");
    port_->to_user(peer, json{{"action", "ice_candidate"}, {"user", c.user}, {"peer", from.id},
                              {"candidate", kurento::to_json(c.candidate)}});
    port_->ok(r);
}

void KurentoAgent::unpublish(const ca::Request& r, const ca::User& from) {
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    if (!media->streams.count(from.id)) return port_->fail(r, ErrorCode::bad_request, "not publishing");
    drop_publication(*port_->room_of(from.id), *media, from.id);
    port_->ok(r);
}

void KurentoAgent::unsubscribe(const ca::Request& r, const ca::User& from, const kurento::Unsubscribe& u) {
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    const bool had = media->links.erase({from.id, u.user}) + media->pending.erase({from.id, u.user});
    if (!had) return port_->fail(r, ErrorCode::bad_request, "user: not subscribed to that user");
    backend_.unsubscribe(*port_->room_of(from.id), from.id, u.user);
    if (backend_.peer_to_peer()) port_->to_user(u.user, json{{"action", "unsubscribed"}, {"user", from.id}});
    port_->ok(r);
}

void KurentoAgent::update_stream(const ca::Request& r, const ca::User& from, const kurento::UpdateStream& u) {
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    const auto it = media->streams.find(from.id);
    if (it == media->streams.end()) return port_->fail(r, ErrorCode::bad_request, "not publishing");
    it->second.audio = u.audio.value_or(it->second.audio);
    it->second.video = u.video.value_or(it->second.video);
    port_->to_room(*port_->room_of(from.id),
                   json{{"action", "stream_updated"}, {"stream", stream_json(from.id, it->second)}});
    port_->ok(r);
}

void KurentoAgent::set_filter(const ca::Request& r, const ca::User& from, const kurento::SetFilter& f) {
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    if (!media->streams.count(from.id)) return port_->fail(r, ErrorCode::bad_request, "not publishing");
    const ca::RoomId room = *port_->room_of(from.id);
    backend_.set_filter(room, from.id, f.filter,
                        stream_change(r, room, from.id, [filter = f.filter](Stream& s) { s.filter = filter; }));
}

void KurentoAgent::record(const ca::Request& r, const ca::User& from, const kurento::Record& rec) {
    RoomMedia* media = room_of(r, from);
    if (!media) return;
    if (!media->streams.count(from.id)) return port_->fail(r, ErrorCode::bad_request, "not publishing");
    const ca::RoomId room = *port_->room_of(from.id);
    backend_.record(room, from.id, rec.start,
                    stream_change(r, room, from.id, [start = rec.start](Stream& s) { s.recording = start; }));
}

// Once the media server has done it: the stream changes and the room hears of it.
MediaDone KurentoAgent::stream_change(const ca::Request& r, ca::RoomId room, ca::UserId user,
                                      std::function<void(Stream&)> change) {
    return [this, r, room, user, change = std::move(change)](auto result) {
        if (!result) return port_->fail(r, result.error().code, result.error().message);
        const auto it = rooms_.find(room);
        if (it == rooms_.end()) return;
        const auto s = it->second.streams.find(user);
        if (s == it->second.streams.end()) return;
        change(s->second);
        port_->to_room(room, json{{"action", "stream_updated"}, {"stream", stream_json(user, s->second)}});
        port_->ok(r);
    };
}

}  // namespace compeit::agents
