// kms::KurentoBackend over a kms::Session wired in memory to a tiny
// in-process stand-in for KMS (answers, live-object registry, injected
// errors, held answers, dropped connections).
#include <catch2/catch.hpp>

#include <map>
#include <optional>

#include "compeit/kms/kurento_backend.hpp"
#include "compeit/kms/wire.hpp"
#include "media_events.hpp"

using namespace compeit;
using kms::json;
using std::chrono::milliseconds;

namespace {

struct MiniKms {
    kms::Session session;
    std::map<std::string, json> objects;  // id -> {type, pipeline, source, ...}
    std::vector<json> requests;
    std::vector<json> held;
    bool hold = false;
    struct Fail {
        std::string method, key, message;
        int skip = 0;  // matching requests let through first
    };
    std::vector<Fail> fails;
    std::map<std::string, std::string> subscriptions;  // object -> event type
    int serial = 0;

    void open() {
        session.on_open(milliseconds(0));
        pump();
    }
    void pump() {
        for (int guard = 0; guard < 10000; ++guard) {
            auto frames = session.take_frames();
            if (frames.empty()) return;
            for (const auto& f : frames) {
                json req = json::parse(f);
                requests.push_back(req);
                if (hold && req["method"] != "ping") held.push_back(req);
                else answer(req);
            }
        }
        FAIL("session keeps sending");
    }
    void release_held() {
        hold = false;
        auto h = std::move(held);
        held.clear();
        for (auto& r : h) answer(r);
        pump();
    }
    std::size_t count(const std::string& type) const {
        std::size_t n = 0;
        for (const auto& [id, o] : objects) n += o["type"] == type;
        return n;
    }
    std::string first(const std::string& type) const {
        for (const auto& [id, o] : objects)
            if (o["type"] == type) return id;
        return {};
    }
    std::vector<json> seen(const std::string& method, const std::string& op = "") const {
        std::vector<json> out;
        for (const auto& r : requests)
            if (r["method"] == method && (op.empty() || r["params"].value("operation", "") == op)) out.push_back(r);
        return out;
    }

    void reply(const json& req, json result) {
        if (!result.is_object()) result = json{{"value", result}};
        if (req["method"] != "ping") result["sessionId"] = "S";
        session.on_message(json{{"jsonrpc", "2.0"}, {"id", req["id"]}, {"result", result}}.dump());
    }
    void error(const json& req, const std::string& message) {
        session.on_message(json{{"jsonrpc", "2.0"}, {"id", req["id"]}, {"error", {{"code", 40000}, {"message", message}}}}.dump());
    }
    void answer(const json& req) {
        const std::string method = req["method"];
        const json& p = req["params"];
        const std::string key = p.value("operation", p.value("type", ""));
        for (auto it = fails.begin(); it != fails.end(); ++it)
            if (it->method == method && (it->key.empty() || it->key == key)) {
                if (it->skip-- > 0) break;
                const std::string message = it->message;
                fails.erase(it);
                return error(req, message);
            }
        if (method == "ping") return reply(req, "pong");
        if (method == "create") {
            const std::string type = p["type"];
            const json& ctor = p["constructorParams"];
            std::string id = std::to_string(++serial) + "_kurento." + type;
            json o{{"type", type}, {"source", ""}};
            if (type != "MediaPipeline") {
                const std::string pipeline = ctor.value("mediaPipeline", "");
                if (!objects.count(pipeline)) return error(req, "no pipeline");
                id = pipeline + "/" + id;
                o["pipeline"] = pipeline;
            }
            if (ctor.contains("command")) o["command"] = ctor["command"];
            if (ctor.contains("uri")) o["uri"] = ctor["uri"];
            objects[id] = o;
            return reply(req, id);
        }
        const std::string object = p.value("object", "");
        if (!objects.count(object)) return error(req, "Object '" + object + "' not found");
        if (method == "release") {
            for (auto it = objects.begin(); it != objects.end();)
                it = it->first == object || it->second.value("pipeline", "") == object ? objects.erase(it) : std::next(it);
            return reply(req, json::object());
        }
        if (method == "subscribe") {
            subscriptions[object] = p["type"];
            return reply(req, "sub-" + object);
        }
        const std::string op = p["operation"];
        const json& args = p["operationParams"];
        if (op == "processOffer") return reply(req, "v=0 answer to " + args["offer"].get<std::string>());
        if (op == "connect") {
            objects[args["sink"].get<std::string>()]["source"] = object;
            return reply(req, json::object());
        }
        if (op == "addIceCandidate") {
            objects[object]["candidates"].push_back(args["candidate"]["candidate"]);
            return reply(req, json::object());
        }
        if (op == "record" || op == "stop") {
            objects[object]["state"] = op;
            return reply(req, json::object());
        }
        if (op == "gatherCandidates") {
            reply(req, json::object());
            if (subscriptions.count(object)) raise_candidate(object);
            return;
        }
        error(req, "unknown operation " + op);
    }
    void raise_candidate(const std::string& object) {
        json data{{"source", object},
                  {"candidate", {{"__module__", "kurento"}, {"__type__", "IceCandidate"}, {"candidate", "candidate:kms " + object},
                                 {"sdpMid", "0"}, {"sdpMLineIndex", 0}}}};
        session.on_message(json{{"jsonrpc", "2.0"}, {"method", "onEvent"},
                                {"params", {{"value", {{"data", data}, {"object", object}, {"type", "IceCandidateFound"}}}}}}
                               .dump());
    }
};

struct Rig {
    MiniKms kms;
    kms::KurentoBackend backend{kms.session, kms::BackendConfig{"file:///rec", [] { return std::int64_t{1700000000000}; }}};
    std::vector<std::tuple<ca::UserId, agents::StreamKey, json>> candidates;  // (to, stream, candidate)
    test::MediaEventsProbe events{backend};
    Rig() {
        events.candidate = [this](ca::UserId to, const agents::StreamKey& s, json c) { candidates.emplace_back(to, s, c); };
        kms.open();
    }
    using Outcome = std::optional<Expected<std::optional<std::string>, agents::MediaError>>;
    agents::MediaDone into(Outcome& out) {
        return [&out](Expected<std::optional<std::string>, agents::MediaError> r) { out.emplace(std::move(r)); };
    }
    Outcome publish(ca::RoomId room, ca::UserId user) {
        Outcome out;
        backend.publish(room, user, "v=0 offer", into(out));
        kms.pump();
        return out;
    }
    Outcome subscribe(ca::RoomId room, ca::UserId sub, ca::UserId pub) {
        Outcome out;
        backend.subscribe(room, sub, pub, "v=0 recv", into(out));
        kms.pump();
        return out;
    }
    Outcome op(std::function<void(agents::MediaDone)> f) {
        Outcome out;
        f(into(out));
        kms.pump();
        return out;
    }
};

const json kCandidate{{"candidate", "candidate:browser"}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}};

}  // namespace

TEST_CASE("kms backend: publish makes a pipeline and an endpoint, answers, then trickles KMS candidates", "[kms]") {
    Rig w;
    CHECK(w.backend.mode() == "sfu");
    CHECK_FALSE(w.backend.peer_to_peer());
    // the browser's candidate may come before the endpoint exists: queued
    Rig::Outcome out;
    w.backend.publish(1, 7, "v=0 offer", w.into(out));
    w.backend.add_candidate(1, 7, 7, kCandidate);
    w.kms.pump();
    REQUIRE(out);
    REQUIRE(*out);
    CHECK(**out == std::optional<std::string>("v=0 answer to v=0 offer"));
    CHECK(w.kms.count("MediaPipeline") == 1);
    const std::string ep = w.kms.first("WebRtcEndpoint");
    REQUIRE(!ep.empty());
    CHECK(w.kms.objects[ep]["candidates"] == json::array({"candidate:browser"}));
    const auto sub = w.kms.seen("subscribe");
    REQUIRE(sub.size() == 1);
    CHECK(sub[0]["params"]["type"] == "IceCandidateFound");
    REQUIRE(w.candidates.size() == 1);
    CHECK(std::get<0>(w.candidates[0]) == 7);
    CHECK(std::get<1>(w.candidates[0]) == 7);
    CHECK(std::get<2>(w.candidates[0]) == json{{"candidate", "candidate:kms " + ep}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}});
    // later candidates go straight through
    w.backend.add_candidate(1, 7, 7, json{{"candidate", "candidate:later"}});
    w.backend.add_candidate(1, 7, 7, json{{"candidate", ""}});  // end of candidates: nothing to send
    w.kms.pump();
    CHECK(w.kms.objects[ep]["candidates"].size() == 2);

    Rig::Outcome dup = w.publish(1, 7);
    REQUIRE(dup);
    CHECK((!*dup && dup->error().code == ca::ErrorCode::bad_request));

    w.backend.unpublish(1, 7);
    w.kms.pump();
    CHECK(w.kms.objects.empty());
    CHECK(w.backend.room_count() == 0);
}

TEST_CASE("kms backend: a subscriber's endpoint is fed from the publisher's; both released", "[kms]") {
    Rig w;
    REQUIRE(*w.publish(1, 7));
    const std::string pub = w.kms.first("WebRtcEndpoint");
    auto out = w.subscribe(1, 8, 7);
    REQUIRE(out);
    REQUIRE(*out);
    std::string sub;
    for (const auto& [id, o] : w.kms.objects)
        if (o["type"] == "WebRtcEndpoint" && id != pub) sub = id;
    CHECK(w.kms.objects[sub]["source"] == pub);
    REQUIRE(w.candidates.size() == 2);
    CHECK(std::get<0>(w.candidates[1]) == 8);
    CHECK(std::get<1>(w.candidates[1]) == 7);
    w.backend.add_candidate(1, 8, 7, kCandidate);
    w.kms.pump();
    CHECK(w.kms.objects[sub]["candidates"].size() == 1);
    CHECK_FALSE(w.kms.objects[pub].contains("candidates"));
    // subscribing to someone who does not publish here
    auto none = w.subscribe(1, 8, 99);
    CHECK((none && !*none));
    w.backend.unsubscribe(1, 8, 7);
    w.kms.pump();
    CHECK_FALSE(w.kms.objects.count(sub));
    CHECK(w.kms.objects.count(pub));
    w.subscribe(1, 8, 7);
    w.backend.unpublish(1, 7);  // takes its subscribers along
    w.kms.pump();
    CHECK(w.kms.objects.empty());
}

TEST_CASE("kms backend: a KMS error at any step fails with its message and leaves nothing (KU-7)", "[kms]") {
    for (const auto& [method, key] : std::vector<std::pair<std::string, std::string>>{
             {"create", "MediaPipeline"}, {"create", "WebRtcEndpoint"}, {"subscribe", ""}, {"invoke", "processOffer"},
             {"invoke", "gatherCandidates"}}) {
        Rig w;
        w.kms.fails.push_back({method, key, "boom in " + key});
        auto out = w.publish(1, 7);
        REQUIRE(out);
        REQUIRE_FALSE(*out);
        CHECK(out->error().code == ca::ErrorCode::unavailable);
        CHECK(out->error().message.find("boom in " + key) != std::string::npos);
        CHECK(w.kms.objects.empty());
        CHECK(w.backend.room_count() == 0);
        CHECK(*w.publish(1, 7));  // and the next try works
    }
    Rig w;
    REQUIRE(*w.publish(1, 7));
    w.kms.fails.push_back({"invoke", "connect", "no connect"});
    auto out = w.subscribe(1, 8, 7);
    REQUIRE((out && !*out));
    CHECK(w.kms.count("WebRtcEndpoint") == 1);
}

TEST_CASE("kms backend: a stream that goes while its publish is under way leaves nothing", "[kms]") {
    Rig w;
    w.kms.hold = true;
    Rig::Outcome out;
    w.backend.publish(1, 7, "v=0 offer", w.into(out));
    w.kms.pump();
    w.backend.unpublish(1, 7);  // the user left before KMS answered
    w.kms.release_held();
    for (int i = 0; i < 10 && !w.kms.held.empty(); ++i) w.kms.release_held();
    REQUIRE(out);
    CHECK_FALSE(*out);
    CHECK(w.kms.objects.empty());
    CHECK(w.backend.room_count() == 0);

    // the same halfway through: the endpoint exists, processOffer pending
    Rig v;
    REQUIRE(*v.publish(1, 1));  // keeps the pipeline alive
    Rig::Outcome second;
    v.backend.publish(1, 2, "v=0 offer", v.into(second));
    v.kms.hold = true;
    v.kms.pump();                                     // create WebRtcEndpoint held
    v.kms.hold = false;
    auto held = std::move(v.kms.held);
    v.kms.held.clear();
    v.kms.answer(held[0]);                            // endpoint made; subscribe goes out
    v.backend.unpublish(1, 2);
    v.kms.pump();
    REQUIRE(second);
    CHECK_FALSE(*second);
    CHECK(v.kms.count("WebRtcEndpoint") == 1);
}

TEST_CASE("kms backend: filters go between publisher and subscribers; recording", "[kms]") {
    Rig w;
    REQUIRE(*w.publish(1, 7));
    const std::string pub = w.kms.first("WebRtcEndpoint");
    REQUIRE(*w.subscribe(1, 8, 7));
    std::string sub;
    for (const auto& [id, o] : w.kms.objects)
        if (o["type"] == "WebRtcEndpoint" && id != pub) sub = id;

    REQUIRE(*w.op([&](auto done) { w.backend.set_filter(1, 7, "videoflip method=vertical-flip", done); }));
    const std::string gst = w.kms.first("GStreamerFilter");
    CHECK(w.kms.objects[gst]["command"] == "videoflip method=vertical-flip");
    CHECK(w.kms.objects[gst]["source"] == pub);
    CHECK(w.kms.objects[sub]["source"] == gst);

    REQUIRE(*w.op([&](auto done) { w.backend.record(1, 7, true, done); }));
    const std::string rec = w.kms.first("RecorderEndpoint");
    CHECK(w.kms.objects[rec]["uri"] == "file:///rec/1-7-1700000000000.webm");
    CHECK(w.kms.objects[rec]["source"] == gst);
    CHECK(w.kms.objects[rec]["state"] == "record");

    // a failed switch keeps the old filter feeding everyone
    w.kms.fails.push_back({"create", "FaceOverlayFilter", "no face"});
    auto failed = w.op([&](auto done) { w.backend.set_filter(1, 7, "FaceOverlayFilter", done); });
    REQUIRE((failed && !*failed));
    CHECK(failed->error().message.find("no face") != std::string::npos);
    CHECK(w.kms.count("FaceOverlayFilter") == 0);
    CHECK(w.kms.objects[sub]["source"] == gst);

    REQUIRE(*w.op([&](auto done) { w.backend.set_filter(1, 7, "FaceOverlayFilter", done); }));
    const std::string face = w.kms.first("FaceOverlayFilter");
    CHECK(w.kms.count("GStreamerFilter") == 0);
    CHECK(w.kms.objects[sub]["source"] == face);
    CHECK(w.kms.objects[rec]["source"] == face);

    // a later connect fails halfway: everything back on the old filter, the new one released
    // (connects: publisher -> filter, filter -> recorder, filter -> subscriber: the third fails)
    w.kms.fails.push_back({"invoke", "connect", "link down", 2});
    auto half = w.op([&](auto done) { w.backend.set_filter(1, 7, "ZBarFilter", done); });
    REQUIRE((half && !*half));
    CHECK(half->error().message.find("link down") != std::string::npos);
    CHECK(w.kms.count("ZBarFilter") == 0);
    CHECK(w.kms.objects[sub]["source"] == face);
    CHECK(w.kms.objects[rec]["source"] == face);

    REQUIRE(*w.op([&](auto done) { w.backend.set_filter(1, 7, "", done); }));
    CHECK(w.kms.count("FaceOverlayFilter") == 0);
    CHECK(w.kms.objects[sub]["source"] == pub);
    CHECK(w.kms.objects[rec]["source"] == pub);

    REQUIRE(*w.op([&](auto done) { w.backend.record(1, 7, false, done); }));
    CHECK(w.kms.count("RecorderEndpoint") == 0);
    auto again = w.op([&](auto done) { w.backend.record(1, 7, false, done); });
    CHECK((again && !*again && again->error().code == ca::ErrorCode::bad_request));
    auto nobody = w.op([&](auto done) { w.backend.set_filter(1, 9, "ZBarFilter", done); });
    CHECK((nobody && !*nobody && nobody->error().code == ca::ErrorCode::bad_request));

    REQUIRE(*w.op([&](auto done) { w.backend.record(1, 7, true, done); }));
    w.backend.release_room(1);
    w.kms.pump();
    CHECK(w.kms.objects.empty());
}

TEST_CASE("kms backend: connection loss fails what is pending; the objects are released on reconnect", "[kms]") {
    Rig w;
    REQUIRE(*w.publish(1, 7));
    REQUIRE(*w.subscribe(1, 8, 7));
    REQUIRE(*w.publish(2, 9));
    w.kms.hold = true;
    Rig::Outcome pending;
    w.backend.subscribe(2, 10, 9, "v=0 recv", w.into(pending));
    w.kms.pump();
    const auto live = w.kms.objects.size();
    CHECK(live == 5);  // 2 pipelines, 3 endpoints (the pending one not made yet)

    w.kms.session.on_closed("eof");
    REQUIRE(pending);
    REQUIRE_FALSE(*pending);
    CHECK(pending->error().code == ca::ErrorCode::unavailable);
    CHECK(w.backend.room_count() == 0);
    CHECK(w.backend.orphan_count() == 2);
    // while down: releases are remembered, operations fail
    w.backend.unpublish(1, 7);
    auto down = w.publish(3, 11);
    CHECK((down && !*down && down->error().code == ca::ErrorCode::unavailable));

    w.kms.hold = false;
    w.kms.held.clear();
    w.kms.open();  // KMS kept the objects: the backend releases them
    CHECK(w.kms.objects.empty());
    CHECK(w.backend.orphan_count() == 0);
    CHECK(*w.publish(1, 7));
}

TEST_CASE("kms wire: filters, candidates and errors", "[kms]") {
    auto none = kms::filter_spec("");
    REQUIRE(none);
    CHECK_FALSE(*none);
    CHECK_FALSE(*kms::filter_spec("none"));
    auto face = kms::filter_spec("FaceOverlayFilter");
    REQUIRE((face && *face));
    CHECK((*face)->type == "FaceOverlayFilter");
    auto gst = kms::filter_spec("videoflip method=horizontal-flip");
    REQUIRE((gst && *gst));
    CHECK((*gst)->type == "GStreamerFilter");
    CHECK((*gst)->params == json{{"command", "videoflip method=horizontal-flip"}});
    CHECK_FALSE(kms::filter_spec("a\nb"));
    CHECK_FALSE(kms::filter_spec(std::string(2000, 'x')));

    CHECK_FALSE(kms::to_kms_candidate(json()));
    CHECK_FALSE(kms::to_kms_candidate(json{{"candidate", ""}}));
    CHECK_FALSE(kms::to_kms_candidate(json{{"candidate", 5}}));
    CHECK(*kms::to_kms_candidate(json{{"candidate", "c"}, {"sdpMid", "1"}, {"sdpMLineIndex", 1}}) ==
          json{{"__module__", "kurento"}, {"__type__", "IceCandidate"}, {"candidate", "c"}, {"sdpMid", "1"}, {"sdpMLineIndex", 1}});
    CHECK_FALSE(kms::to_browser_candidate(json{{"candidate", "flat"}}));
    CHECK(*kms::to_browser_candidate(json{{"candidate", {{"candidate", "c"}}}}) ==
          json{{"candidate", "c"}, {"sdpMid", nullptr}, {"sdpMLineIndex", nullptr}});

    const auto e = kms::to_media_error(kms::RpcError{40101, "Object 'x' not found", "MEDIA_OBJECT_NOT_FOUND", false});
    CHECK(e.code == ca::ErrorCode::unavailable);
    CHECK(e.message == "media server error: Object 'x' not found");
    CHECK(kms::to_media_error(kms::RpcError{0, "media server not connected", {}, true}).message == "media server not connected");
}
