// janus::Session and janus::JanusBackend wired in memory to a tiny stand-in
// for Janus (a FAKE: it answers create/attach/message/trickle/keepalive the
// way Janus 1.1.2 does, acks asynchronous plugin requests before their event,
// and can hold answers, inject errors and drop the connection).
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "compeit/janus/janus_backend.hpp"
#include "media_events.hpp"

using namespace compeit;
using janus::json;
using std::chrono::milliseconds;

namespace {

struct FakeJanus {
    janus::Session session;
    std::vector<json> requests;
    std::set<std::uint64_t> handles, rooms;
    std::map<std::string, json> fail_request;  // videoroom request -> error {code, reason}
    bool async_ack = true;
    bool hold = false;
    std::vector<json> held;
    std::uint64_t next = 1000;

    void open() {
        session.on_open(milliseconds(0));
        pump();
    }
    void pump() {
        for (int guard = 0; guard < 1000; ++guard) {
            auto frames = session.take_frames();
            if (frames.empty()) return;
            for (const auto& f : frames) {
                json req = json::parse(f);
                requests.push_back(req);
                if (hold && req["janus"] != "create") held.push_back(req);
                else answer(req);
            }
        }
        FAIL("session keeps sending");
    }
    void reply(json msg) { session.on_message(msg.dump()); }
    void answer(const json& req) {
        const std::string kind = req["janus"];
        json base{{"transaction", req["transaction"]}};
        if (kind == "create") return reply({{"janus", "success"}, {"transaction", req["transaction"]}, {"data", {{"id", 77}}}});
        REQUIRE(req["session_id"] == 77);
        if (kind == "keepalive" || kind == "trickle")
            return reply({{"janus", "ack"}, {"session_id", 77}, {"transaction", req["transaction"]}});
        if (kind == "attach") {
            CHECK(req["plugin"] == "janus.plugin.videoroom");
            handles.insert(++next);
            return reply({{"janus", "success"}, {"transaction", req["transaction"]}, {"data", {{"id", next}}}});
        }
        if (kind == "detach") {
            handles.erase(req["handle_id"].get<std::uint64_t>());
            return reply({{"janus", "success"}, {"transaction", req["transaction"]}});
        }
        REQUIRE(kind == "message");
        REQUIRE(handles.count(req["handle_id"].get<std::uint64_t>()));
        const json& body = req["body"];
        const std::string what = body["request"];
        auto plugin = [&](const char* type, json data, json jsep = nullptr) {
            data["videoroom"] = type;
            json m{{"janus", type == std::string("created") || type == std::string("destroyed") ? "success" : "event"},
                   {"transaction", req["transaction"]}, {"sender", req["handle_id"]},
                   {"plugindata", {{"plugin", "janus.plugin.videoroom"}, {"data", data}}}};
            if (!jsep.is_null()) m["jsep"] = jsep;
            return m;
        };
        const bool sync = what == "create" || what == "destroy";
        if (!sync && async_ack) reply({{"janus", "ack"}, {"transaction", req["transaction"]}});
        if (const auto f = fail_request.find(what); f != fail_request.end()) {
            json m = plugin("event", {{"error_code", f->second["code"]}, {"error", f->second["reason"]}});
            if (sync) m["janus"] = "success";
            return reply(m);
        }
        if (what == "create") {
            const auto room = body["room"].get<std::uint64_t>();
            if (!rooms.insert(room).second)
                return reply([&] { json m = plugin("event", {{"error_code", 427}, {"error", "Room exists"}}); m["janus"] = "success"; return m; }());
            return reply(plugin("created", {{"room", room}}));
        }
        if (what == "destroy") {
            rooms.erase(body["room"].get<std::uint64_t>());
            return reply(plugin("destroyed", {{"room", body["room"]}}));
        }
        if (what == "join" && body["ptype"] == "subscriber") {
            CHECK(rooms.count(body["room"].get<std::uint64_t>()));
            REQUIRE(body["streams"].is_array());
            const auto feed = body["streams"][0]["feed"].get<std::uint64_t>();
            return reply(plugin("attached", {{"room", body["room"]}},
                                json{{"type", "offer"}, {"sdp", "OFFER-OF-FEED:" + std::to_string(feed)}}));
        }
        if (what == "join") {
            CHECK(body["ptype"] == "publisher");
            CHECK(rooms.count(body["room"].get<std::uint64_t>()));
            return reply(plugin("joined", {{"room", body["room"]}, {"id", 500 + next}}));  // Janus picks the feed id
        }
        if (what == "start") {
            REQUIRE(req.contains("jsep"));
            CHECK(req["jsep"]["type"] == "answer");
            return reply(plugin("event", {{"started", "ok"}}));
        }
        if (what == "configure") {
            if (req.contains("jsep")) {
                CHECK(req["jsep"]["type"] == "offer");
                return reply(plugin("event", {{"configured", "ok"}}, json{{"type", "answer"}, {"sdp", "ANSWER:" + req["jsep"]["sdp"].get<std::string>()}}));
            }
            return reply(plugin("event", {{"configured", "ok"}}));
        }
        FAIL("unexpected videoroom request " << what);
    }
    // The browser's connection of `handle` is up (Janus tells the session).
    void webrtcup(std::uint64_t handle) { reply({{"janus", "webrtcup"}, {"session_id", 77}, {"sender", handle}}); pump(); }
    void release_held() {
        hold = false;
        for (auto& r : std::exchange(held, {})) answer(r);
        pump();
    }
    std::size_t count(const std::string& kind, const std::string& request = "") const {
        std::size_t n = 0;
        for (const auto& r : requests)
            n += r["janus"] == kind && (request.empty() || (r.contains("body") && r["body"]["request"] == request));
        return n;
    }
    json last(const std::string& kind, const std::string& request = "") const {
        for (auto it = requests.rbegin(); it != requests.rend(); ++it)
            if ((*it)["janus"] == kind && (request.empty() || (*it)["body"]["request"] == request)) return *it;
        return nullptr;
    }
};

struct Outcome {
    std::optional<Expected<std::optional<std::string>, agents::MediaError>> value;
    agents::MediaDone done() {
        return [this](auto r) { value = std::move(r); };
    }
};

}  // namespace

TEST_CASE("janus session: create, transactions, ack then event, errors") {
    FakeJanus j;
    REQUIRE_FALSE(j.session.is_ready());
    std::optional<Expected<janus::HandleId, janus::Error>> early;
    j.session.on_open(milliseconds(0));
    j.session.attach("janus.plugin.videoroom", [&](auto r) { early = r; });  // held until the session exists
    REQUIRE(j.session.take_frames().size() == 1);
    j.requests.clear();
    j.reply({{"janus", "success"}, {"transaction", "t1"}, {"data", {{"id", 77}}}});
    REQUIRE(j.session.is_ready());
    REQUIRE(j.session.session_id() == 77);
    j.pump();
    REQUIRE(early);
    REQUIRE(early->has_value());
    const auto handle = **early;

    std::optional<janus::Result> got;
    j.async_ack = true;
    j.session.message(handle, json{{"request", "join"}, {"ptype", "publisher"}, {"room", 1}}, nullptr, [&](auto r) { got = r; });
    const auto frames = j.session.take_frames();
    REQUIRE(frames.size() == 1);
    const json req = json::parse(frames[0]);
    CHECK(req["janus"] == "message");
    CHECK(req["session_id"] == 77);
    CHECK(req["handle_id"] == handle);
    CHECK(req["transaction"].is_string());
    j.reply({{"janus", "ack"}, {"transaction", req["transaction"]}});
    CHECK_FALSE(got);  // an ack is not the answer to a plugin message
    j.reply({{"janus", "event"}, {"transaction", req["transaction"]}, {"sender", handle},
             {"plugindata", {{"plugin", "janus.plugin.videoroom"}, {"data", {{"error_code", 426}, {"error", "No such room (1)"}}}}}});
    REQUIRE(got);
    REQUIRE_FALSE(got->has_value());
    CHECK(got->error().code == 426);
    CHECK(got->error().reason == "No such room (1)");

    // A core error (bad SDP) maps to bad_request with Janus' reason.
    got.reset();
    j.session.message(handle, json{{"request", "configure"}}, json{{"type", "offer"}, {"sdp", "x"}}, [&](auto r) { got = r; });
    const json req2 = json::parse(j.session.take_frames().at(0));
    j.reply({{"janus", "error"}, {"transaction", req2["transaction"]}, {"error", {{"code", 465}, {"reason", "JSEP error: invalid SDP"}}}});
    REQUIRE(got);
    const auto me = janus::to_media_error(got->error());
    CHECK(me.code == ca::ErrorCode::bad_request);
    CHECK(me.message == "Janus error 465: JSEP error: invalid SDP");

    j.session.on_message("not json");
    j.session.on_message(R"({"no":"janus"})");
    CHECK(j.session.malformed() == 2);
    j.session.on_message(R"({"janus":"ack","transaction":"unknown"})");  // late answers are ignored
    CHECK(j.session.malformed() == 2);
}

TEST_CASE("janus session: keepalive every 25 s, unanswered or timed out drops the connection") {
    FakeJanus j;
    j.open();
    CHECK(j.session.tick(milliseconds(24'000)));
    CHECK(j.session.take_frames().empty());
    CHECK(j.session.tick(milliseconds(25'000)));
    auto frames = j.session.take_frames();
    REQUIRE(frames.size() == 1);
    json ka = json::parse(frames[0]);
    CHECK(ka["janus"] == "keepalive");
    CHECK(ka["session_id"] == 77);
    j.reply({{"janus", "ack"}, {"session_id", 77}, {"transaction", ka["transaction"]}});
    CHECK(j.session.tick(milliseconds(49'000)));
    CHECK(j.session.take_frames().empty());
    CHECK(j.session.tick(milliseconds(50'000)));
    REQUIRE(j.session.take_frames().size() == 1);  // not answered this time
    CHECK(j.session.tick(milliseconds(59'999)));
    CHECK_FALSE(j.session.tick(milliseconds(60'000)));

    FakeJanus k;
    k.open();
    k.reply({{"janus", "timeout"}, {"session_id", 77}});
    CHECK_FALSE(k.session.tick(milliseconds(1)));
}

TEST_CASE("janus session: requests fail when closed or when the connection drops") {
    FakeJanus j;
    std::optional<janus::Result> got;
    j.session.message(1, json::object(), nullptr, [&](auto r) { got = r; });
    REQUIRE(got);
    CHECK(got->error().disconnected);
    j.open();
    bool lost = false;
    j.session.on_lost = [&](const std::string&) { lost = true; };
    got.reset();
    j.session.message(1, json::object(), nullptr, [&](auto r) { got = r; });
    j.session.take_frames();
    j.session.on_closed("reset");
    REQUIRE(got);
    CHECK(got->error().disconnected);
    CHECK(lost);
    CHECK(j.session.pending() == 0);
}

TEST_CASE("janus backend: publish creates the room, joins, configures with the offer, trickles") {
    FakeJanus j;
    janus::BackendConfig cfg;
    cfg.record_dir = "/rec";
    cfg.wall_ms = [] { return std::int64_t{123}; };
    janus::JanusBackend b(j.session, cfg);
    std::vector<std::pair<ca::UserId, json>> mine;
    test::MediaEventsProbe events(b);
    events.candidate = [&](ca::UserId to, const agents::StreamKey& owner, json c) { mine.push_back({to, c}); CHECK(owner.user == to); };
    j.open();

    Outcome out;
    j.hold = true;
    b.publish(7, 1, "OFFER", out.done());
    // The browser's candidates may come before the answer.
    b.add_candidate(7, 1, 1, json{{"candidate", "candidate:1 1 udp 1 10.0.0.1 5000 typ host"}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}});
    j.pump();
    j.release_held();
    REQUIRE(out.value);
    REQUIRE(out.value->has_value());
    CHECK(**out.value == std::optional<std::string>("ANSWER:OFFER"));
    CHECK(j.rooms.count(1'000'007));
    const json create = j.last("message", "create");
    CHECK(create["body"]["room"] == 1'000'007);
    const json join = j.last("message", "join");
    CHECK(join["body"]["ptype"] == "publisher");
    const json trickle = j.last("trickle");
    REQUIRE(trickle.is_object());
    CHECK(trickle["candidate"]["candidate"] == "candidate:1 1 udp 1 10.0.0.1 5000 typ host");
    CHECK(trickle["handle_id"] == b.handle_of(7, 1));
    CHECK(j.handles.size() == 1);  // the room-management handle is detached

    // Janus' own trickled candidate goes to the publisher; the end-of-candidates one does not.
    j.reply({{"janus", "trickle"}, {"session_id", 77}, {"sender", b.handle_of(7, 1)},
             {"candidate", {{"candidate", "candidate:2 1 udp 1 10.0.0.2 6000 typ host"}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}}}});
    j.reply({{"janus", "trickle"}, {"session_id", 77}, {"sender", b.handle_of(7, 1)}, {"candidate", {{"completed", true}}}});
    REQUIRE(mine.size() == 1);
    CHECK(mine[0].first == 1);
    b.add_candidate(7, 1, 1, json{{"candidate", ""}});
    j.pump();
    CHECK(j.last("trickle")["candidate"] == json{{"completed", true}});

    // Recording through the configure request.
    Outcome rec;
    b.record(7, 1, true, rec.done());
    j.pump();
    REQUIRE(rec.value);
    CHECK(rec.value->has_value());
    const json conf = j.last("message", "configure");
    CHECK(conf["body"]["record"] == true);
    CHECK(conf["body"]["filename"] == "/rec/compeit-room7-user1-123");
    Outcome stop;
    b.record(7, 1, false, stop.done());
    j.pump();
    CHECK(j.last("message", "configure")["body"]["record"] == false);
    CHECK_FALSE(j.last("message", "configure")["body"].contains("filename"));

    // A second publisher reuses the room.
    Outcome second;
    b.publish(7, 2, "OFFER2", second.done());
    j.pump();
    REQUIRE(second.value);
    CHECK(second.value->has_value());
    CHECK(j.count("message", "create") == 1);

    b.unpublish(7, 1);
    j.pump();
    CHECK(j.handles.size() == 1);
    b.release_room(7);
    j.pump();
    CHECK(j.handles.empty());
    CHECK(j.rooms.empty());
    CHECK(b.room_count() == 0);
}

TEST_CASE("janus backend: an existing room is fine; Janus errors reach the caller (KU-7)") {
    FakeJanus j;
    janus::JanusBackend b(j.session, {});
    j.open();
    j.rooms.insert(1'000'003);  // left by an earlier session
    j.fail_request["configure"] = json{{"code", 437}, {"reason", "Invalid SDP"}};
    Outcome out;
    b.publish(3, 1, "garbage", out.done());
    j.pump();
    REQUIRE(out.value);
    REQUIRE_FALSE(out.value->has_value());
    CHECK(out.value->error().code == ca::ErrorCode::bad_request);
    CHECK(out.value->error().message == "Janus error 437: Invalid SDP");
    CHECK(j.handles.empty());  // the failed publisher's handle is detached
    CHECK(b.handle_of(3, 1) == 0);

    j.fail_request.clear();
    j.fail_request["join"] = json{{"code", 432}, {"reason", "Maximum number of publishers (1) reached"}};
    Outcome full;
    b.publish(3, 2, "OFFER", full.done());
    j.pump();
    REQUIRE(full.value);
    CHECK(full.value->error().code == ca::ErrorCode::room_full);

    Outcome sub, nobody, filt;
    b.subscribe(3, 2, 1, "OFFER", sub.done());  // Janus offers, never the subscriber
    b.subscribe(3, 2, 9, "", nobody.done());
    b.set_filter(3, 1, "x", filt.done());
    CHECK(sub.value->error().code == ca::ErrorCode::bad_request);
    CHECK(nobody.value->error().code == ca::ErrorCode::unavailable);
    CHECK(filt.value->error().code == ca::ErrorCode::not_supported);
}

TEST_CASE("janus backend: subscribing: Janus offers the feed, the browser answers with start, candidates both ways") {
    FakeJanus j;
    janus::JanusBackend b(j.session, {});
    REQUIRE(b.server_offers());
    std::vector<std::tuple<ca::UserId, agents::StreamKey, json>> theirs;
    test::MediaEventsProbe events(b);
    events.candidate = [&](ca::UserId to, const agents::StreamKey& owner, json c) { theirs.emplace_back(to, owner, c); };
    j.open();
    Outcome pub;
    b.publish(8, 1, "OFFER", pub.done());
    j.pump();
    REQUIRE(pub.value->has_value());
    const auto feed = 500 + b.handle_of(8, 1);  // the id the fake Janus gave the publisher when it joined

    // User 2 receives user 1: Janus' offer is for user 1's feed, which Janus has
    // once user 1's browser is connected ("No such feed" before).
    Outcome offered;
    const std::size_t joins = j.count("message", "join");
    b.subscribe(8, 2, 1, "", offered.done());
    j.pump();
    CHECK_FALSE(offered.value);
    CHECK(j.count("message", "join") == joins);
    j.webrtcup(b.handle_of(8, 1));
    REQUIRE(offered.value);
    REQUIRE(offered.value->has_value());
    const std::string offer = ***offered.value;
    CHECK(offer == "OFFER-OF-FEED:" + std::to_string(feed));
    const json join = j.last("message", "join");
    CHECK(join["body"]["ptype"] == "subscriber");
    CHECK(join["body"]["room"] == 1'000'008);
    const auto sub_handle = b.subscription_of(8, 2, 1);
    CHECK(sub_handle != 0);
    CHECK(sub_handle != b.handle_of(8, 1));

    // The browser's candidates wait for its answer; then they follow it.
    const std::size_t trickles = j.count("trickle");
    b.add_candidate(8, 2, 1, json{{"candidate", "candidate:9 1 udp 1 10.0.0.9 9000 typ host"}, {"sdpMid", "0"}});
    j.pump();
    CHECK(j.count("trickle") == trickles);
    Outcome started;
    b.answer(8, 2, 1, "ANSWER", started.done());
    j.pump();
    REQUIRE(started.value);
    CHECK(started.value->has_value());
    const json start = j.last("message", "start");
    CHECK(start["handle_id"] == sub_handle);
    CHECK(start["jsep"]["sdp"] == "ANSWER");
    CHECK(j.count("trickle") == trickles + 1);
    CHECK(j.last("trickle")["handle_id"] == sub_handle);
    Outcome twice;
    b.answer(8, 2, 1, "ANSWER", twice.done());
    CHECK(twice.value->error().code == ca::ErrorCode::bad_request);

    // Janus' candidates for the subscription go to the subscriber, about the publisher's stream.
    j.reply({{"janus", "trickle"}, {"session_id", 77}, {"sender", sub_handle},
             {"candidate", {{"candidate", "candidate:3 1 udp 1 10.0.0.3 7000 typ host"}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}}}});
    REQUIRE(theirs.size() == 1);
    CHECK(std::get<0>(theirs[0]) == 2);
    CHECK(std::get<1>(theirs[0]) == 1);

    // Unsubscribing detaches the subscriber's handle; unpublishing takes the others with it.
    b.unsubscribe(8, 2, 1);
    j.pump();
    CHECK_FALSE(j.handles.count(sub_handle));
    CHECK(b.subscription_of(8, 2, 1) == 0);
    Outcome again, third;
    b.subscribe(8, 2, 1, "", again.done());  // the publisher is still connected: no waiting
    b.subscribe(8, 3, 1, "", third.done());
    j.pump();
    REQUIRE(again.value->has_value());
    REQUIRE(third.value->has_value());
    CHECK(j.handles.size() == 3);
    b.unpublish(8, 1);
    j.pump();
    CHECK(j.handles.empty());
    CHECK(b.subscription_of(8, 3, 1) == 0);
}

TEST_CASE("janus backend: subscriptions waiting for a publisher's connection fail when it goes") {
    FakeJanus j;
    janus::JanusBackend b(j.session, {});
    j.open();
    Outcome pub, unpublished, lost;
    b.publish(6, 1, "OFFER", pub.done());
    j.pump();
    REQUIRE(pub.value->has_value());
    b.subscribe(6, 2, 1, "", unpublished.done());
    b.unpublish(6, 1);
    j.pump();
    REQUIRE(unpublished.value);
    CHECK(unpublished.value->error().code == ca::ErrorCode::unavailable);
    CHECK(b.subscription_of(6, 2, 1) == 0);

    Outcome again;
    b.publish(6, 1, "OFFER", again.done());
    j.pump();
    b.subscribe(6, 3, 1, "", lost.done());
    j.session.on_closed("reset");  // Janus goes before the publisher's browser connects
    REQUIRE(lost.value);
    CHECK(lost.value->error().code == ca::ErrorCode::unavailable);
}

TEST_CASE("janus backend: Janus hanging up on a publisher's connection loses that stream") {
    FakeJanus j;
    janus::JanusBackend b(j.session, {});
    std::vector<std::pair<ca::RoomId, agents::StreamKey>> lost;
    test::MediaEventsProbe events(b);
    events.stream_lost = [&](ca::RoomId room, const agents::StreamKey& user) {
        lost.emplace_back(room, user);
        b.unpublish(room, user);  // as the agent does
    };
    j.open();
    Outcome pub;
    b.publish(5, 1, "OFFER", pub.done());
    j.pump();
    const auto handle = b.handle_of(5, 1);
    j.webrtcup(handle);
    j.reply({{"janus", "hangup"}, {"session_id", 77}, {"sender", handle}, {"reason", "ICE failed"}});
    j.pump();
    REQUIRE(lost.size() == 1);
    CHECK(lost[0] == std::make_pair(ca::RoomId{5}, agents::StreamKey(1)));
    CHECK(b.handle_of(5, 1) == 0);
    CHECK_FALSE(j.handles.count(handle));
}

TEST_CASE("janus backend: a refused answer detaches the subscription (KU-7)") {
    FakeJanus j;
    janus::JanusBackend b(j.session, {});
    j.open();
    Outcome pub, offered, started;
    b.publish(9, 1, "OFFER", pub.done());
    j.pump();
    j.webrtcup(b.handle_of(9, 1));
    b.subscribe(9, 2, 1, "", offered.done());
    j.pump();
    REQUIRE(offered.value->has_value());
    j.fail_request["start"] = json{{"code", 465}, {"reason", "Invalid SDP"}};
    b.answer(9, 2, 1, "not SDP", started.done());
    j.pump();
    REQUIRE(started.value);
    REQUIRE_FALSE(started.value->has_value());
    CHECK(started.value->error().code == ca::ErrorCode::bad_request);
    CHECK(b.subscription_of(9, 2, 1) == 0);
    CHECK(j.handles.size() == 1);  // only the publisher's
}

TEST_CASE("janus backend: losing Janus fails what is pending, loses the rooms, cleans up on reconnect") {
    FakeJanus j;
    janus::JanusBackend b(j.session, {});
    std::vector<ca::RoomId> lost;
    test::MediaEventsProbe events(b);
    events.room_lost = [&](ca::RoomId r) { lost.push_back(r); };
    j.open();
    Outcome done, pending;
    b.publish(4, 1, "OFFER", done.done());
    j.pump();
    REQUIRE(done.value->has_value());
    j.hold = true;
    b.publish(5, 2, "OFFER", pending.done());
    j.pump();
    j.session.on_closed("reset");
    REQUIRE(pending.value);
    CHECK(pending.value->error().code == ca::ErrorCode::unavailable);
    std::sort(lost.begin(), lost.end());
    CHECK(lost == std::vector<ca::RoomId>{4, 5});
    CHECK(b.room_count() == 0);
    CHECK(b.orphan_count() == 1);  // room 5's create never went out

    // Janus is back (a new session): the rooms left behind are destroyed.
    j.hold = false;
    j.held.clear();
    j.handles.clear();  // gone with the old Janus session
    j.open();
    j.pump();
    CHECK(b.orphan_count() == 0);
    CHECK(j.rooms.empty());
    CHECK(j.handles.empty());
    // And the room works again.
    Outcome again;
    b.publish(4, 1, "OFFER", again.done());
    j.pump();
    REQUIRE(again.value);
    CHECK(again.value->has_value());
}

TEST_CASE("janus backend: a camera and a screen of one user are two publishers, each received on its own; unpublishing one keeps the other") {
    FakeJanus j;
    janus::JanusBackend b(j.session, {});
    std::vector<std::tuple<ca::UserId, agents::StreamKey, json>> theirs;
    test::MediaEventsProbe events(b);
    events.candidate = [&](ca::UserId to, const agents::StreamKey& s, json c) { theirs.emplace_back(to, s, c); };
    j.open();
    const agents::StreamKey camera(1), screen(1, "screen");
    Outcome cam, scr;
    b.publish(8, camera, "OFFER", cam.done());
    b.publish(8, screen, "OFFER2", scr.done());
    j.pump();
    REQUIRE(cam.value->has_value());
    REQUIRE(scr.value->has_value());
    CHECK(**scr.value == std::optional<std::string>("ANSWER:OFFER2"));
    CHECK(b.handle_of(8, camera) != 0);
    CHECK(b.handle_of(8, screen) != 0);
    CHECK(b.handle_of(8, camera) != b.handle_of(8, screen));
    CHECK(j.last("message", "join")["body"]["display"] == "user 1 screen");
    CHECK(j.count("message", "create") == 1);  // one VideoRoom for the room

    j.webrtcup(b.handle_of(8, camera));
    j.webrtcup(b.handle_of(8, screen));
    Outcome sub_cam, sub_scr;
    b.subscribe(8, 2, camera, "", sub_cam.done());
    b.subscribe(8, 2, screen, "", sub_scr.done());
    j.pump();
    REQUIRE(sub_scr.value->has_value());
    CHECK(***sub_scr.value == "OFFER-OF-FEED:" + std::to_string(500 + b.handle_of(8, screen)));
    const auto screen_sub = b.subscription_of(8, 2, screen);
    CHECK(screen_sub != 0);
    CHECK(screen_sub != b.subscription_of(8, 2, camera));
    // Janus' candidate on the screen's subscription is about the screen.
    j.reply({{"janus", "trickle"}, {"session_id", 77}, {"sender", screen_sub},
             {"candidate", {{"candidate", "candidate:3 1 udp 1 10.0.0.3 7000 typ host"}, {"sdpMid", "0"}}}});
    REQUIRE(theirs.size() == 1);
    CHECK(std::get<1>(theirs[0]) == screen);

    // The screen goes with its subscription; the camera and its subscription stay.
    b.unpublish(8, screen);
    j.pump();
    CHECK(b.handle_of(8, screen) == 0);
    CHECK(b.subscription_of(8, 2, screen) == 0);
    CHECK_FALSE(j.handles.count(screen_sub));
    CHECK(b.handle_of(8, camera) != 0);
    CHECK(b.subscription_of(8, 2, camera) != 0);
    b.release_room(8);
    j.pump();
    CHECK(b.room_count() == 0);
}
