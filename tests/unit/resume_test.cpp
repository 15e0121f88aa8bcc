// Session resume (docs/protocol.md §8) end to end in memory: client cores and
// the server's Engine + Router wired together (wire.hpp). A "dying websocket"
// is one whose frames the server wrote and the client never read.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "compeit/agents/kurento_agent.hpp"
#include "compeit/ca/router.hpp"
#include "compeit/sio/packet.hpp"
#include "compeit/util/json_guard.hpp"
#include "wire.hpp"

using namespace compeit;
using namespace compeit::test;
using namespace std::chrono_literals;
using ca::json;

namespace {

// Deterministic "random" secrets for the tests (the server uses OpenSSL).
std::string counter_bytes(std::size_t n) {
    static std::uint64_t c = 0;
    std::string out(n, 's');
    ++c;
    for (std::size_t i = 0; i < 8 && i < n; ++i) out[i] = static_cast<char>((c >> (8 * i)) & 0xFF);
    return out;
}

bool plain_equal(std::string_view a, std::string_view b) { return a == b; }

struct ResumeWire : Wire {
    explicit ResumeWire(std::size_t buffer = 64, sio::Time timeout = 10s) {
        router.enable_resume({buffer, 1u << 20, timeout}, counter_bytes, plain_equal);
    }

    // A client with a JavaScript-style agent of type "game", connected and in room 1.
    Peer& game_player(const std::string& name) {
        auto& p = add(name);
        REQUIRE(p.client->register_agent("game", nullptr));
        p.client->connect(now);
        pump();
        p.client->join_room(1);
        pump();
        return p;
    }

    // The peer's websocket dies: what the server wrote and the client had not
    // read is lost; the server notices (transport closed) unless `half_open`.
    void kill(Peer& p, bool half_open = false) {
        engine.flush(now);
        host.take_frames(p.session);
        if (!half_open) engine.on_transport_closed(p.session, now);
        p.session = 0;
        p.client->on_ws_close(now);
        pump();
    }

    // Time passes until the peer's reconnect attempt has run its course.
    void reconnect(Peer& p) {
        now += 600ms;  // past the first backoff delay (at most 500 ms)
        p.client->tick(now);
        pump();
    }

    // The data of every agent output of `type` the peer got, in order.
    static std::vector<json> got(const Peer& p, const std::string& type = "game") {
        std::vector<json> out;
        for (const auto& o : p.seen)
            if (o.kind == Kind::agent && o.text == type) out.push_back(util::parse_json(o.payload));
        return out;
    }

    // A raw session (no client core) that connects the namespace with `query`; the `connected` argument.
    json raw_connect(const std::string& query, sio::SessionId* out = nullptr) {
        const auto hs = engine.handshake(now, test_random(), "name=raw", "127.0.0.1");
        REQUIRE(engine.open_websocket(hs.id, now));
        engine.on_ws_text(hs.id, "1::/connection_agent" + (query.empty() ? "" : ":?" + query), now);
        engine.flush(now);
        if (out) *out = hs.id;
        for (const auto& f : host.take_frames(hs.id)) {
            const auto p = sio::decode(f);
            if (p && p->type == sio::PacketType::event) {
                const json ev = util::parse_json(p->data);
                if (ev["name"] == "connected") return ev["args"][0];
            }
        }
        FAIL("no connected");
        return {};
    }
};

std::vector<std::string> states_of(const Wire::Peer& p) {
    std::vector<std::string> out;
    for (const auto& s : Wire::events(p, "state")) out.push_back(s["state"].get<std::string>() + "/" + s["reason"].get<std::string>());
    return out;
}

}  // namespace

TEST_CASE("resume: a lost websocket resumes: same user and room, what was missed once and in order, nobody told",
          "[resume]") {
    ResumeWire w;
    auto& a = w.game_player("A");
    auto& b = w.joined("B");
    auto& c = w.joined("C");
    const auto id = a.client->user()->id;
    REQUIRE(w.events(a, "connected")[0]["resume"].is_string());

    b.client->send_room("game", R"({"n":1})");
    const auto bad = a.client->join_room(-1);  // a request_error: not counted on either side
    w.pump();
    // Its ack reports it (the request_error itself is the request's, not the application's).
    bool refused = false;
    for (const auto& o : a.seen)
        if (o.kind == Kind::ack && o.request == bad) refused = util::parse_json(o.payload)["error"]["code"] == "bad_request";
    REQUIRE(refused);
    REQUIRE(w.events(a, "request_error").empty());
    b.client->send_room("game", R"({"n":2})");
    c.client->send_user(id, "game", R"({"u":1})");
    w.pump();  // the server has written these; A reads them
    b.client->send_room("game", R"({"n":3})");
    c.client->send_user(id, "game", R"({"u":2})");
    w.kill(a);  // n:3 and u:2 were written to the dying socket, never read
    b.client->send_room("game", R"({"n":4})");
    c.client->send_user(id, "game", R"({"u":3})");
    b.client->send_room("game", R"({"n":5})");
    w.pump();
    CHECK(w.router.parked_count() == 1);
    w.reconnect(a);

    CHECK(a.client->state() == ca::Client::State::connected);
    CHECK(a.client->user()->id == id);
    CHECK(a.client->room() == std::optional<ca::RoomId>(1));
    const std::vector<json> expected = {json{{"n", 1}}, json{{"u", 1}}, json{{"n", 2}}, json{{"n", 3}},
                                        json{{"u", 2}}, json{{"n", 4}}, json{{"u", 3}}, json{{"n", 5}}};
    // n:1 arrives before u:1 and n:2 only by the order of sending; compare as the wire delivered.
    auto got = ResumeWire::got(a);
    std::vector<json> rooms, users;
    for (auto& g : got) (g.contains("n") ? rooms : users).push_back(g);
    CHECK(rooms == std::vector<json>{json{{"n", 1}}, json{{"n", 2}}, json{{"n", 3}}, json{{"n", 4}}, json{{"n", 5}}});
    CHECK(users == std::vector<json>{json{{"u", 1}}, json{{"u", 2}}, json{{"u", 3}}});
    CHECK(got.size() == expected.size());

    const auto re = w.events(a, "reconnected");
    REQUIRE(re.size() == 1);
    CHECK(re[0]["resumed"] == true);
    CHECK(re[0]["user"]["id"] == id);
    CHECK(re[0]["resume"].is_string());
    CHECK(re[0]["resume"] != w.events(a, "connected")[0]["resume"]);  // a new token each time
    CHECK(states_of(a).back() == "connected/resumed");
    CHECK(w.events(a, "room_joined").size() == 1);  // no rejoin: the server kept the room
    for (auto* other : {&b, &c}) {
        CHECK(w.events(*other, "user_left").empty());
        CHECK(w.events(*other, "user_joined").size() == (other == &b ? 1u : 0u));  // C joined, nobody else
    }
    CHECK(w.router.members(1).size() == 3);
    CHECK(w.router.parked_count() == 0);
    CHECK(w.router.stats().resumed == 1);

    // The resumed session goes on as before, and can resume again.
    b.client->send_room("game", R"({"n":6})");
    w.pump();
    CHECK(ResumeWire::got(a).back() == json{{"n", 6}});
    w.kill(a);
    b.client->send_room("game", R"({"n":7})");
    w.pump();
    w.reconnect(a);
    CHECK(ResumeWire::got(a).back() == json{{"n", 7}});
    CHECK(ResumeWire::got(a).size() == 10);
    CHECK(w.router.stats().resumed == 2);
    CHECK(w.events(b, "user_left").empty());
}

TEST_CASE("resume: a half-open old transport is taken over, and nobody is told", "[resume]") {
    ResumeWire w;
    auto& a = w.game_player("A");
    auto& b = w.joined("B");
    const auto old = a.session;
    b.client->send_room("game", R"({"n":1})");
    w.kill(a, true);  // the server still thinks A is there
    b.client->send_room("game", R"({"n":2})");
    w.pump();
    w.reconnect(a);
    CHECK(ResumeWire::got(a) == std::vector<json>{json{{"n", 1}}, json{{"n", 2}}});
    CHECK_FALSE(w.engine.alive(old));  // the old session was ended
    CHECK(w.events(b, "user_left").empty());
    CHECK(w.router.members(1).size() == 2);
}

TEST_CASE("resume: a parked session that overflows its buffer leaves; the client is told `missed` and rejoins",
          "[resume]") {
    ResumeWire w(3);
    auto& a = w.add("A");
    a.client->connect(w.now);
    w.pump();
    a.client->join_room(1);
    w.pump();
    auto& b = w.joined("B");
    const auto id = a.client->user()->id;
    w.kill(a);
    for (int i = 0; i < 3; ++i) b.client->send_room("game", "{}");
    w.pump();
    w.router.tick(w.now);
    w.pump();
    CHECK(w.events(b, "user_left").empty());  // 3 kept: still resumable
    b.client->send_room("game", "{}");
    w.pump();
    w.router.tick(w.now);
    w.pump();
    REQUIRE(w.events(b, "user_left").size() == 1);  // the 4th could not be kept: A leaves, once
    CHECK(w.events(b, "user_left")[0]["user"]["id"] == id);
    CHECK(w.router.parked_count() == 0);

    w.reconnect(a);
    CHECK(a.client->state() == ca::Client::State::connected);
    CHECK(a.client->user()->id != id);
    const auto re = w.events(a, "reconnected");
    REQUIRE(re.size() == 1);
    CHECK(re[0]["missed"] == true);
    CHECK(re[0]["resume"].is_string());  // a fresh token for the fresh session
    CHECK(states_of(a).back() == "connected/resume_missed");
    w.pump();
    CHECK(a.client->room() == std::optional<ca::RoomId>(1));  // rejoined
    CHECK(w.events(b, "user_joined").size() == 1);
    CHECK(w.router.stats().resume_missed == 1);
}

TEST_CASE("resume: a parked session leaves when its time is up", "[resume]") {
    ResumeWire w(64, 5s);
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    w.kill(a);
    w.now += 4900ms;
    w.router.tick(w.now);
    CHECK(w.events(b, "user_left").empty());
    CHECK(w.router.user_count() == 2);  // a parked user counts
    w.now += 100ms;
    w.router.tick(w.now);
    w.pump();
    CHECK(w.events(b, "user_left").size() == 1);
    CHECK(w.router.user_count() == 1);
}

TEST_CASE("resume: a parked user counts toward the room's limit, and a kick makes it leave", "[resume]") {
    ResumeWire w;
    w.router = ca::Router(ca::Limits{.max_room_users = 2});
    w.router.attach(w.engine);
    w.router.enable_resume({64, 1u << 20, 10s}, counter_bytes, plain_equal);
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    const auto id = a.client->user()->id;
    w.kill(a);
    auto& c = w.add("C");
    c.client->connect(w.now);
    w.pump();
    const auto join = c.client->join_room(1);
    w.pump();
    bool full = false;
    for (const auto& o : c.seen)
        if (o.kind == Kind::ack && o.request == join) full = util::parse_json(o.payload)["error"]["code"] == "room_full";
    CHECK(full);
    CHECK(w.router.kick(id, w.now));
    w.pump();
    CHECK(w.events(b, "user_left").size() == 1);
    CHECK(w.router.parked_count() == 0);
}

TEST_CASE("resume: bad, used and malformed tokens are refused with `missed` and touch nobody", "[resume][hostile]") {
    ResumeWire w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    const auto id = a.client->user()->id;
    const std::string token = w.events(a, "connected")[0]["resume"];
    const std::string uid = std::to_string(id);
    const std::string wrong = uid + "." + std::string(token.size() - uid.size() - 1, 'A');
    for (const std::string& q : std::vector<std::string>{
             "resume=" + wrong + "&seen=0", "resume=&seen=0", "resume=x", "resume=" + uid + ".", "resume=." + token,
             "resume=99999999999999999999999.x&seen=0", "resume=-1.x&seen=0", "resume=" + token,  // no seen
             "resume=" + token + "&seen=-1", "resume=" + token + "&seen=1e3",
             "resume=" + token + "&seen=999999999999999999999999", "resume=%00&seen=0",
             "resume=" + token + "%00&seen=0"}) {
        INFO(q);
        const json c = w.raw_connect(q);
        CHECK(c["missed"] == true);
        CHECK(c["user"]["id"] != id);
        CHECK(c["resume"].is_string());
    }
    w.pump();
    CHECK(w.router.user(id));  // A is still there, in its room, and B heard nothing of it
    CHECK(w.router.room_of(id) == std::optional<ca::RoomId>(1));
    CHECK(w.events(b, "user_left").empty());

    // A token is single-use: after a resume, the old one is refused.
    w.kill(a);
    w.reconnect(a);
    REQUIRE(w.events(a, "reconnected").at(0)["resumed"] == true);
    const json again = w.raw_connect("resume=" + token + "&seen=0");
    CHECK(again["missed"] == true);
    CHECK(a.client->user()->id == id);
    CHECK(w.router.user(id));
}

TEST_CASE("resume: a client that does not ask gets `connected` as ever and leaves when its transport does",
          "[resume]") {
    ResumeWire w;
    auto& b = w.joined("B");
    sio::SessionId s = 0;
    const json c = w.raw_connect("", &s);
    CHECK(c == json{{"user", {{"id", c["user"]["id"]}, {"name", "raw"}}}});  // no resume, no missed
    w.engine.on_ws_text(s, R"(5:1+:/connection_agent:{"name":"join_room","args":[{"room":1}]})", w.now);
    w.pump();
    REQUIRE(w.events(b, "user_joined").size() == 1);
    w.engine.on_transport_closed(s, w.now);
    w.pump();
    CHECK(w.events(b, "user_left").size() == 1);
    CHECK(w.router.parked_count() == 0);

    // `1::/connection_agent:?resume=1` asks for a token; a resume query is ignored without resume enabled.
    CHECK(w.raw_connect("resume=1")["resume"].is_string());
    Wire plain;
    plain.add("X");
    CHECK_FALSE(plain.router.resume_enabled());
}

TEST_CASE("resume: a client that had media asks for its room again, so the server drops its dead connections",
          "[resume][kurento]") {
    ResumeWire w;
    agents::MeshBackend backend;
    agents::KurentoAgent kurento{backend};
    w.router.register_agent("kurento", kurento);
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    a.kurento->publish(true, true);
    w.pump();
    const auto aid = a.client->user()->id;
    REQUIRE(kurento.publishes(1, aid));
    REQUIRE(kurento.subscribed(1, b.client->user()->id, aid));

    w.kill(a);
    CHECK(kurento.publishes(1, aid));  // parked: the server still holds what died with the transport
    w.reconnect(a);
    REQUIRE(a.client->user()->id == aid);
    REQUIRE(w.events(a, "reconnected").back()["resumed"] == true);
    CHECK_FALSE(kurento.publishes(1, aid));  // the client asked for its room again: reset
    CHECK(w.events(b, "user_left").empty());  // nobody saw a leave
    CHECK(w.events(b, "streams").back()["streams"].empty());

    a.kurento->publish(true, true);  // as the app does on room_joined
    w.pump();
    CHECK(kurento.publishes(1, aid));
    CHECK(kurento.subscribed(1, b.client->user()->id, aid));
    CHECK(w.events(a, "media_error").empty());
}
