// The Kurento Agent (KU-1..KU-7): the server agent and the C++ client
// signalling state machine, wired in memory with fake browsers; in mesh mode,
// and in sfu mode with stand-in media servers (one that answers late, one that
// makes the offers of receiving connections itself, as Janus does).
#include <catch2/catch.hpp>

#include <algorithm>

#include "compeit/agents/kurento_agent.hpp"
#include "wire.hpp"

using namespace compeit;
using namespace compeit::test;
using ca::json;

namespace {

struct MeshRoom : Wire {
    agents::MeshBackend backend;
    agents::KurentoAgent kurento{backend, json::array({{{"urls", "stun:stun.test:3478"}}})};
    MeshRoom() { router.register_agent("kurento", kurento); }

};

const auto& events = Wire::events;

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// A raw kurento request from `p`, bypassing the client agent (to test the server's checks).
json raw(Wire& w, Wire::Peer& p, const json& data) {
    const auto id = p.client->send_server("kurento", data.dump());
    w.pump();
    for (const auto& o : p.seen)
        if (o.kind == Kind::ack && o.request == id) return util::parse_json(o.payload);
    FAIL("no ack");
    return {};
}

}  // namespace

TEST_CASE("KU-1: a joiner gets the config and the stream list", "[kurento]") {
    MeshRoom w;
    auto& a = w.joined("A");
    a.kurento->publish(true, false);
    w.pump();
    auto& b = w.joined("B");
    const auto config = events(b, "media_config");
    REQUIRE(config.size() == 1);
    CHECK(config[0]["mode"] == "mesh");
    CHECK(config[0]["iceServers"][0]["urls"] == "stun:stun.test:3478");
    const auto streams = events(b, "streams");
    REQUIRE_FALSE(streams.empty());
    REQUIRE(streams.back()["streams"].size() == 1);
    CHECK(streams.back()["streams"][0] == json{{"user", a.client->user()->id}, {"audio", true}, {"video", false}, {"filter", nullptr}});
    CHECK_FALSE(config[0].contains("offerer"));  // the subscriber offers
}

TEST_CASE("KU-2..KU-4: mesh publish, subscribe through the publisher, ICE to the right peer", "[kurento]") {
    MeshRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    auto& c = w.joined("C");
    a.kurento->publish(true, true);
    w.pump();
    CHECK(w.kurento.publishes(1, a.client->user()->id));
    CHECK(events(a, "published").size() == 1);

    const std::string aid = std::to_string(a.client->user()->id);
    const std::string bid = std::to_string(b.client->user()->id);
    const std::string cid = std::to_string(c.client->user()->id);
    // B and C subscribed on stream_added: each offered, A answered each on its own connection.
    for (auto* sub : {&b, &c}) {
        const std::string sid = std::to_string(sub->client->user()->id);
        CHECK(has(sub->browser.created, "sub:" + aid));
        CHECK(has(a.browser.created, "pub:" + sid));
        CHECK(std::count(a.browser.remote_sdp.begin(), a.browser.remote_sdp.end(),
                         std::pair<std::string, std::string>("pub:" + sid, "offer " + sub->name + " sub:" + aid)) == 1);
        CHECK(std::count(sub->browser.remote_sdp.begin(), sub->browser.remote_sdp.end(),
                         std::pair<std::string, std::string>("sub:" + aid, "answer A pub:" + sid)) == 1);
        CHECK(w.kurento.subscribed(1, sub->client->user()->id, a.client->user()->id));
    }

    // A's candidate for its connection to B reaches B only, on B's connection for A's stream.
    a.kurento->report("candidate", "pub:" + bid, R"({"candidate":{"candidate":"cand-a-b","sdpMid":"0"}})");
    w.pump();
    REQUIRE(b.browser.candidates_added.size() == 1);
    CHECK(b.browser.candidates_added[0].first == "sub:" + aid);
    CHECK(util::parse_json(b.browser.candidates_added[0].second)["candidate"] == "cand-a-b");
    CHECK(c.browser.candidates_added.empty());
    // And B's candidate reaches A's connection to B.
    b.kurento->report("candidate", "sub:" + aid, R"({"candidate":{"candidate":"cand-b-a"}})");
    w.pump();
    REQUIRE(a.browser.candidates_added.size() == 1);
    CHECK(a.browser.candidates_added[0].first == "pub:" + bid);
    (void)cid;
}

TEST_CASE("KU-4: candidates that arrive before the remote description wait for it", "[kurento]") {
    MeshRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    a.kurento->publish(true, true);
    // Deliver nothing yet: B must first learn of the stream. Instead, feed B's
    // client a candidate for a connection that has no remote description.
    w.pump();
    const std::string aid = std::to_string(a.client->user()->id);
    // Tear B's connection down and recreate it by hand, without remote_set.
    b.kurento->on_room_message(0, json{{"action", "stream_removed"}, {"user", a.client->user()->id}}.dump());
    b.kurento->on_room_message(0, json{{"action", "stream_added"}, {"stream", {{"user", a.client->user()->id}, {"audio", true}, {"video", true}, {"filter", nullptr}}}}.dump());
    // The new sub:A connection offered; before the answer, a candidate arrives.
    b.kurento->on_server_message(json{{"action", "ice_candidate"}, {"user", a.client->user()->id}, {"peer", a.client->user()->id}, {"candidate", {{"candidate", "early"}}}}.dump());
    const auto before = b.browser.candidates_added.size();
    b.kurento->report("remote_set", "sub:" + aid, "{}");
    for (auto& o : b.client->take_outputs()) w.perform(b, std::move(o));
    REQUIRE(b.browser.candidates_added.size() == before + 1);
    CHECK(util::parse_json(b.browser.candidates_added.back().second)["candidate"] == "early");
}

TEST_CASE("KU-5/KU-6: mute flags, unpublish, leave and disconnect release everything", "[kurento]") {
    MeshRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    a.kurento->publish(true, true);
    b.kurento->publish(true, true);
    w.pump();
    const std::string aid = std::to_string(a.client->user()->id);
    const std::string bid = std::to_string(b.client->user()->id);

    a.kurento->update(false, true);
    w.pump();
    const auto streams = events(b, "streams").back()["streams"];
    const auto it = std::find_if(streams.begin(), streams.end(), [&](const json& s) { return s["user"] == a.client->user()->id; });
    REQUIRE(it != streams.end());
    CHECK((*it)["audio"] == false);

    a.kurento->unpublish();
    w.pump();
    CHECK_FALSE(w.kurento.publishes(1, a.client->user()->id));
    CHECK(has(b.browser.closed, "sub:" + aid));
    CHECK(has(a.browser.closed, "pub:" + bid));

    // B leaves: A's connection receiving B closes, the server forgets the room.
    b.client->leave_room();
    w.pump();
    CHECK(has(a.browser.closed, "sub:" + bid));
    CHECK_FALSE(w.kurento.subscribed(1, a.client->user()->id, b.client->user()->id));
    CHECK(w.kurento.room_count() == 0);  // nobody publishes or receives any more: the room's media is released
}

TEST_CASE("KU-3: a failed receiving connection is tried again, twice per announced stream", "[kurento]") {
    MeshRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    a.kurento->publish(true, true);
    w.pump();
    const std::string key = "sub:" + std::to_string(a.client->user()->id);
    const auto made = [&] { return std::count(b.browser.created.begin(), b.browser.created.end(), key); };
    REQUIRE(made() == 1);
    for (int attempt = 2; attempt <= 3; ++attempt) {
        b.kurento->report("failed", key, "{}");
        w.pump();
        CHECK(made() == attempt);  // offered again, answered again by A
        CHECK(w.kurento.subscribed(1, b.client->user()->id, a.client->user()->id));
    }
    b.kurento->report("failed", key, "{}");
    w.pump();
    CHECK(made() == 3);  // no more
    CHECK(has(b.browser.closed, key));
    const auto failed = events(b, "receive_failed");
    REQUIRE(failed.size() == 1);
    CHECK(failed[0]["user"] == a.client->user()->id);
    // A new announcement of the stream (A publishes again) starts afresh.
    a.kurento->unpublish();
    a.kurento->publish(true, true);
    w.pump();
    CHECK(made() == 4);
}

TEST_CASE("KU-5: a publisher's transport loss removes its stream for everyone", "[kurento]") {
    MeshRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    a.kurento->publish(true, true);
    w.pump();
    w.engine.on_transport_closed(a.session, w.now);
    w.pump();
    const std::string aid = std::to_string(a.client->user()->id);
    CHECK(has(b.browser.closed, "sub:" + aid));
    CHECK(events(b, "streams").back()["streams"].empty());
    CHECK(w.kurento.room_count() == 0);
}

TEST_CASE("KU rejoin: joining the room one is in resets one's media, and publishing again works", "[kurento]") {
    MeshRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    a.kurento->publish(true, true);
    b.kurento->publish(true, true);
    w.pump();
    const ca::UserId aid = a.client->user()->id, bid = b.client->user()->id;
    REQUIRE(w.kurento.publishes(1, aid));
    REQUIRE(w.kurento.subscribed(1, bid, aid));

    // A asks for its room again (a page that lost track, or a resumed session
    // whose connections died): its client closed everything on room_joined.
    a.client->join_room(1);
    w.pump();
    CHECK_FALSE(w.kurento.publishes(1, aid));
    CHECK_FALSE(w.kurento.subscribed(1, bid, aid));
    CHECK(has(b.browser.closed, "sub:" + std::to_string(aid)));
    const auto streams = events(a, "streams").back()["streams"];
    REQUIRE(streams.size() == 1);  // B's only: A's own went
    CHECK(streams[0]["user"] == bid);
    CHECK(w.kurento.subscribed(1, aid, bid));  // A receives B again

    a.kurento->publish(true, true);  // refused as "already publishing" before the reset
    w.pump();
    CHECK(w.kurento.publishes(1, aid));
    CHECK(events(a, "media_error").empty());
    CHECK(w.kurento.subscribed(1, bid, aid));
}

TEST_CASE("KU bad input: request_error, nothing else disturbed", "[kurento]") {
    MeshRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    auto& lone = w.add("Lone");
    lone.client->connect(w.now);
    w.pump();
    const auto a_id = a.client->user()->id;
    CHECK(raw(w, b, {{"action", "subscribe"}, {"user", a_id}, {"sdp", "x"}})["error"]["code"] == "bad_request");
    CHECK(raw(w, a, {{"action", "subscribe_answer"}, {"user", b.client->user()->id}, {"sdp", "x"}})["error"]["code"] == "bad_request");
    CHECK(raw(w, a, {{"action", "ice_candidate"}, {"user", a_id}, {"peer", b.client->user()->id}, {"candidate", {}}})["error"]["code"] == "bad_request");
    CHECK(raw(w, a, {{"action", "dance"}})["error"]["code"] == "bad_request");
    CHECK(raw(w, a, {{"action", "publish"}, {"audio", "yes"}})["error"]["code"] == "bad_request");
    CHECK(raw(w, lone, {{"action", "publish"}})["error"]["code"] == "not_in_room");
    CHECK(raw(w, a, {{"action", "publish"}, {"sdp", nullptr}})["ok"] == true);
    CHECK(raw(w, a, {{"action", "publish"}, {"sdp", nullptr}})["error"]["code"] == "bad_request");  // twice
    CHECK(raw(w, a, {{"action", "set_filter"}, {"filter", "grayscale"}})["error"]["code"] == "not_supported");
    CHECK(raw(w, a, {{"action", "record_start"}})["error"]["code"] == "not_supported");
    CHECK(w.kurento.publishes(1, a_id));
}

namespace {

// An SFU stand-in that answers only when told to, to look inside the gap
// between an offer and its answer.
struct SlowSfu final : agents::MediaBackend {
    std::vector<agents::MediaDone> waiting;
    std::vector<std::pair<ca::UserId, json>> candidates;
    std::string_view mode() const override { return "sfu"; }
    bool peer_to_peer() const override { return false; }
    void publish(ca::RoomId, const agents::StreamKey&, const std::string&, agents::MediaDone done) override { waiting.push_back(std::move(done)); }
    void subscribe(ca::RoomId, ca::UserId, const agents::StreamKey&, const std::string&, agents::MediaDone done) override {
        waiting.push_back(std::move(done));
    }
    void add_candidate(ca::RoomId, ca::UserId user, const agents::StreamKey&, const json& c) override { candidates.emplace_back(user, c); }
    void set_filter(ca::RoomId, const agents::StreamKey&, const std::string&, agents::MediaDone done) override { done(std::optional<std::string>()); }
    void record(ca::RoomId, const agents::StreamKey&, bool, agents::MediaDone done) override { done(std::optional<std::string>()); }
    void unpublish(ca::RoomId, const agents::StreamKey&) override {}
    void unsubscribe(ca::RoomId, ca::UserId, const agents::StreamKey&) override {}
    void release_room(ca::RoomId) override {}
    void lose_room(ca::RoomId room) { room_lost(room); }
};

}  // namespace

TEST_CASE("KU-4 sfu: candidates trickled before the media server answers are accepted", "[kurento]") {
    Wire w;
    SlowSfu sfu;
    agents::KurentoAgent kurento{sfu};
    w.router.register_agent("kurento", kurento);
    auto& a = w.add("A");
    a.client->connect(w.now);
    w.pump();
    a.client->join_room(1);
    w.pump();
    const auto me = a.client->user()->id;
    a.client->send_server("kurento", json{{"action", "publish"}, {"sdp", "offer"}, {"audio", true}, {"video", true}}.dump());
    w.pump();
    REQUIRE(sfu.waiting.size() == 1);
    const auto id = a.client->send_server("kurento", json{{"action", "ice_candidate"}, {"user", me}, {"candidate", {{"candidate", "early"}}}}.dump());
    w.pump();
    const ca::Output* ack = nullptr;
    for (const auto& o : a.seen)
        if (o.kind == Kind::ack && o.request == id) ack = &o;
    REQUIRE(ack);
    CHECK(util::parse_json(ack->payload)["ok"] == true);
    REQUIRE(sfu.candidates.size() == 1);
    CHECK(sfu.candidates[0].second["candidate"] == "early");

    // The media server loses the room: its streams are removed for everyone.
    sfu.waiting[0](std::optional<std::string>("answer"));
    w.pump();
    CHECK(kurento.publishes(1, me));
    sfu.lose_room(1);
    w.pump();
    CHECK_FALSE(kurento.publishes(1, me));
    bool removed = false;
    for (const auto& o : a.seen)
        removed |= o.kind == Kind::event && o.text == "streams" && util::parse_json(o.payload)["streams"].empty();
    CHECK(removed);
}

namespace {

// A media server that makes the offers of receiving connections itself (as
// Janus' VideoRoom does) and answers at once; it keeps what it was given.
struct OfferingSfu final : agents::MediaBackend {
    std::vector<std::tuple<ca::UserId, agents::StreamKey, std::string>> answers;  // (subscriber, stream, sdp)
    std::vector<std::pair<ca::UserId, agents::StreamKey>> candidates;             // (from, stream)
    bool refuse_answers = false;
    std::string_view mode() const override { return "sfu"; }
    bool peer_to_peer() const override { return false; }
    bool server_offers() const override { return true; }
    void publish(ca::RoomId, const agents::StreamKey& s, const std::string&, agents::MediaDone done) override {
        done(std::optional<std::string>("sfu-answer-" + std::to_string(s.user) + (s.camera() ? "" : "-" + s.name)));
    }
    void subscribe(ca::RoomId, ca::UserId, const agents::StreamKey& s, const std::string& offer, agents::MediaDone done) override {
        CHECK(offer.empty());
        done(std::optional<std::string>("sfu-offer-of-" + std::to_string(s.user) + (s.camera() ? "" : "-" + s.name)));
    }
    void answer(ca::RoomId, ca::UserId subscriber, const agents::StreamKey& publisher, const std::string& sdp, agents::MediaDone done) override {
        if (refuse_answers) return done(unexpected(agents::MediaError{ca::ErrorCode::bad_request, "Janus error 465: bad SDP"}));
        answers.emplace_back(subscriber, publisher, sdp);
        done(std::optional<std::string>());
    }
    void add_candidate(ca::RoomId, ca::UserId user, const agents::StreamKey& owner, const json&) override { candidates.emplace_back(user, owner); }
    void set_filter(ca::RoomId, const agents::StreamKey&, const std::string&, agents::MediaDone done) override {
        done(unexpected(agents::MediaError{ca::ErrorCode::not_supported, "no filters"}));
    }
    void record(ca::RoomId, const agents::StreamKey&, bool, agents::MediaDone done) override { done(std::optional<std::string>()); }
    void unpublish(ca::RoomId, const agents::StreamKey&) override {}
    void unsubscribe(ca::RoomId, ca::UserId, const agents::StreamKey&) override {}
    void release_room(ca::RoomId) override {}
    void lose_room(ca::RoomId room) { room_lost(room); }
    void lose_stream(ca::RoomId room, const agents::StreamKey& s) { stream_lost(room, s); }
};

struct OfferingRoom : Wire {
    OfferingSfu backend;
    agents::KurentoAgent kurento{backend};
    OfferingRoom() { router.register_agent("kurento", kurento); }
};

}  // namespace

TEST_CASE("KU-3 sfu, the media server offers: subscribe {user} brings its offer, the browser answers", "[kurento]") {
    OfferingRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    CHECK(events(b, "media_config").back()["offerer"] == "server");
    const auto aid = a.client->user()->id, bid = b.client->user()->id;
    a.kurento->publish(true, true);
    w.pump();
    CHECK(w.kurento.publishes(1, aid));
    CHECK(std::count(a.browser.remote_sdp.begin(), a.browser.remote_sdp.end(),
                     std::pair<std::string, std::string>("pub", "sfu-answer-" + std::to_string(aid))) == 1);

    // B's receiving connection does not offer: it takes the media server's offer and answers it.
    const std::string key = "sub:" + std::to_string(aid);
    const auto ops = events(b, "rtc");  // the rtc requests B's client made, in order
    const auto create = std::find_if(ops.begin(), ops.end(), [&](const json& op) { return op["op"] == "create" && op["pc"] == key; });
    REQUIRE(create != ops.end());
    CHECK((*create)["kind"] == "recv");
    CHECK((*create)["offers"] == false);
    CHECK(std::none_of(ops.begin(), ops.end(), [&](const json& op) { return op["op"] == "offer" && op["pc"] == key; }));
    CHECK(std::count(b.browser.remote_sdp.begin(), b.browser.remote_sdp.end(),
                     std::pair<std::string, std::string>(key, "sfu-offer-of-" + std::to_string(aid))) == 1);
    REQUIRE(w.backend.answers.size() == 1);
    CHECK(w.backend.answers[0] == std::make_tuple(bid, agents::StreamKey(aid), std::string("answer B ") + key));
    CHECK(w.kurento.subscribed(1, bid, aid));

    // B's candidates for that connection go to the media server, about A's stream.
    b.kurento->report("candidate", key, R"({"candidate":{"candidate":"cand-b"}})");
    w.pump();
    REQUIRE(w.backend.candidates.size() == 1);
    CHECK(w.backend.candidates[0] == std::make_pair(bid, agents::StreamKey(aid)));

    // The raw protocol: an offer from the subscriber is refused here; an answer needs an offer.
    CHECK(raw(w, b, {{"action", "subscribe"}, {"user", aid}, {"sdp", "offer"}})["error"]["code"] == "bad_request");
    CHECK(raw(w, a, {{"action", "answer"}, {"user", bid}, {"sdp", "x"}})["error"]["code"] == "bad_request");

    // Recording shows on the stream; a filter is the backend's to refuse.
    a.kurento->record(true);
    w.pump();
    const auto streams = events(b, "streams").back()["streams"];
    REQUIRE(streams.size() == 1);
    CHECK(streams[0]["recording"] == true);
    a.kurento->set_filter("edgedetect");
    w.pump();
    CHECK(events(a, "media_error").back()["code"] == "not_supported");
}

TEST_CASE("KU-7 sfu, the media server offers: a refused answer closes the connection; a lost room unpublishes", "[kurento]") {
    OfferingRoom w;
    w.backend.refuse_answers = true;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    const auto aid = a.client->user()->id;
    a.kurento->publish(true, true);
    w.pump();
    const std::string key = "sub:" + std::to_string(aid);
    CHECK(has(b.browser.closed, key));
    CHECK_FALSE(w.kurento.subscribed(1, b.client->user()->id, aid));
    const auto errors = events(b, "media_error");
    REQUIRE_FALSE(errors.empty());
    CHECK(errors.back()["action"] == "answer");
    CHECK(errors.back()["message"] == "Janus error 465: bad SDP");

    // The media server loses one stream: the room is told, and so is its publisher's client.
    b.kurento->publish(true, true);
    w.pump();
    const auto bid = b.client->user()->id;
    REQUIRE(w.kurento.publishes(1, bid));
    w.backend.lose_stream(1, bid);
    w.pump();
    CHECK_FALSE(w.kurento.publishes(1, bid));
    CHECK(events(b, "unpublished").size() == 1);
    CHECK(w.kurento.publishes(1, aid));
    const auto after = events(a, "streams").back()["streams"];
    CHECK(std::none_of(after.begin(), after.end(), [&](const json& s) { return s["user"] == bid; }));

    // The media server loses the room: A's own stream is gone, and A's client says so.
    CHECK(events(a, "unpublished").empty());
    w.backend.lose_room(1);
    w.pump();
    CHECK(events(a, "unpublished").size() == 1);
    CHECK(has(a.browser.closed, "pub"));
    CHECK_FALSE(a.kurento->publishing());
    // Recording without a stream is refused by the client itself.
    a.kurento->record(true);
    w.pump();
    REQUIRE_FALSE(events(a, "media_error").empty());
    CHECK(events(a, "media_error").back()["action"] == "record_start");
}

TEST_CASE("KU stream names, mesh: a camera and a screen per user, received as two connections each", "[kurento]") {
    MeshRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    const auto aid = a.client->user()->id;
    const std::string as = std::to_string(aid), bs = std::to_string(b.client->user()->id);
    a.kurento->publish(true, true);
    a.kurento->publish(false, true, "screen");
    w.pump();
    CHECK(w.kurento.publishes(1, aid));
    CHECK(w.kurento.publishes(1, agents::StreamKey(aid, "screen")));
    CHECK(a.kurento->publishing("screen"));
    // The camera's object stays as clients that know one stream know it; the screen names itself.
    const auto streams = events(b, "streams").back()["streams"];
    REQUIRE(streams.size() == 2);
    CHECK(streams[0] == json{{"user", aid}, {"audio", true}, {"video", true}, {"filter", nullptr}});
    CHECK(streams[1] == json{{"user", aid}, {"stream", "screen"}, {"audio", false}, {"video", true}, {"filter", nullptr}});
    // One connection per (user, stream) on both ends, the camera's under its old key.
    CHECK(has(b.browser.created, "sub:" + as));
    CHECK(has(b.browser.created, "sub:" + as + "/screen"));
    CHECK(has(a.browser.created, "pub:" + bs));
    CHECK(has(a.browser.created, "pub:" + bs + "/screen"));
    CHECK(w.kurento.subscribed(1, b.client->user()->id, agents::StreamKey(aid, "screen")));
    CHECK(std::count(b.browser.remote_sdp.begin(), b.browser.remote_sdp.end(),
                     std::pair<std::string, std::string>("sub:" + as + "/screen", "answer A pub:" + bs + "/screen")) == 1);
    // Candidates stay on their stream's connection.
    a.kurento->report("candidate", "pub:" + bs + "/screen", R"({"candidate":{"candidate":"cand-screen"}})");
    w.pump();
    REQUIRE_FALSE(b.browser.candidates_added.empty());
    CHECK(b.browser.candidates_added.back().first == "sub:" + as + "/screen");

    // Stopping the screen removes that stream only; the camera keeps going.
    a.kurento->unpublish("screen");
    w.pump();
    CHECK_FALSE(w.kurento.publishes(1, agents::StreamKey(aid, "screen")));
    CHECK(w.kurento.publishes(1, aid));
    CHECK(has(b.browser.closed, "sub:" + as + "/screen"));
    CHECK_FALSE(has(b.browser.closed, "sub:" + as));
    CHECK(has(a.browser.closed, "pub:" + bs + "/screen"));
    CHECK(events(b, "streams").back()["streams"].size() == 1);
    // Leaving takes the rest.
    a.client->leave_room();
    w.pump();
    CHECK(w.kurento.room_count() == 0);
}

TEST_CASE("KU stream names: the boundary refuses bad names and a fifth stream, naming the field", "[kurento]") {
    MeshRoom w;
    auto& a = w.joined("A");
    for (const json& bad : {json("Screen"), json(""), json("a b"), json(std::string(33, 'x')), json(7), json("é")}) {
        const auto r = raw(w, a, {{"action", "publish"}, {"sdp", nullptr}, {"stream", bad}});
        CHECK(r["error"]["code"] == "bad_request");
        CHECK(r["error"]["message"].get<std::string>().rfind("stream", 0) == 0);
    }
    // The same check on every action that names a stream.
    for (const char* action : {"unpublish", "update_stream", "record_start", "subscribe", "unsubscribe"}) {
        const auto r = raw(w, a, {{"action", action}, {"user", 1}, {"sdp", "x"}, {"filter", ""}, {"stream", "UP"}});
        CHECK(r["error"]["code"] == "bad_request");
        CHECK(r["error"]["message"].get<std::string>().rfind("stream", 0) == 0);
    }
    for (const char* name : {"camera", "screen", "s-2", "deck_3"})
        CHECK(raw(w, a, {{"action", "publish"}, {"sdp", nullptr}, {"stream", name}})["ok"] == true);
    const auto fifth = raw(w, a, {{"action", "publish"}, {"sdp", nullptr}, {"stream", "five"}});
    CHECK(fifth["error"]["code"] == "bad_request");
    CHECK(fifth["error"]["message"] == "stream: at most 4 streams per user");
    // A stream that is not published cannot be received.
    auto& b = w.joined("B");
    const auto none = raw(w, b, {{"action", "subscribe"}, {"user", a.client->user()->id}, {"stream", "five"}, {"sdp", "x"}});
    CHECK(none["error"]["message"] == "stream: that user does not publish that stream in this room");
    // The client agent refuses a bad name itself.
    a.kurento->publish(true, true, "No!");
    w.pump();
    CHECK(events(a, "media_error").back()["code"] == "bad_request");
}

TEST_CASE("KU stream names, sfu where the media server offers: each stream its own subscription", "[kurento]") {
    OfferingRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    const auto aid = a.client->user()->id, bid = b.client->user()->id;
    a.kurento->publish(true, true);
    a.kurento->publish(false, true, "screen");
    w.pump();
    CHECK(has(a.browser.created, "pub"));
    CHECK(has(a.browser.created, "pub/screen"));
    CHECK(std::count(a.browser.remote_sdp.begin(), a.browser.remote_sdp.end(),
                     std::pair<std::string, std::string>("pub/screen", "sfu-answer-" + std::to_string(aid) + "-screen")) == 1);
    const std::string key = "sub:" + std::to_string(aid) + "/screen";
    CHECK(std::count(b.browser.remote_sdp.begin(), b.browser.remote_sdp.end(),
                     std::pair<std::string, std::string>(key, "sfu-offer-of-" + std::to_string(aid) + "-screen")) == 1);
    CHECK(w.kurento.subscribed(1, bid, agents::StreamKey(aid, "screen")));
    CHECK(w.kurento.subscribed(1, bid, aid));
    // The media server loses the screen: only it goes, and A's client hears which.
    w.backend.lose_stream(1, agents::StreamKey(aid, "screen"));
    w.pump();
    CHECK(events(a, "unpublished").back()["stream"] == "screen");
    CHECK(has(a.browser.closed, "pub/screen"));
    CHECK_FALSE(has(a.browser.closed, "pub"));
    CHECK(a.kurento->publishing());
    CHECK_FALSE(a.kurento->publishing("screen"));
    CHECK(has(b.browser.closed, key));
}
