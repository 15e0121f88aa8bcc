// compeit::sio::Engine, the session state machine, driven through a fake
// TransportHost and Application with time passed in (reference §1-§5).
#include <catch2/catch.hpp>

#include <regex>
#include <string>
#include <vector>

#include "compeit/sio/engine.hpp"
#include "compeit/util/utf.hpp"
#include "compeit/util/base64url.hpp"
#include "fake_host.hpp"
#include "sio_print.hpp"

using namespace compeit::sio;
using compeit::test::AppCall;
using compeit::test::FakeApp;
using compeit::test::FakeHost;
using compeit::test::test_random;
using namespace std::chrono_literals;

namespace Catch {
template <>
struct StringMaker<CloseReason> {
    static std::string convert(CloseReason r) { return std::string(to_string(r)); }
};
}  // namespace Catch

namespace {

using Strings = std::vector<std::string>;
const std::string M = "\xEF\xBF\xBD";
const std::string kNs = "/connection_agent";

std::string framed(const std::string& packet) {
    return M + std::to_string(compeit::utf::utf16_length(packet)) + M + packet;
}

// An engine wired to the fakes, serving /connection_agent.
struct Rig {
    FakeHost host;
    FakeApp app;
    Engine engine;

    explicit Rig(EngineConfig config = {}) : engine(std::move(config), host, app) { engine.add_namespace(kNs); }

    SessionId handshake(Time now = 0ms, std::string_view query = {}) {
        return engine.handshake(now, test_random(), query, "127.0.0.1").id;
    }
    // A session with an open websocket, its `1::` already taken.
    SessionId websocket(Time now = 0ms) {
        const SessionId id = handshake(now);
        REQUIRE(engine.open_websocket(id, now));
        REQUIRE(host.take_frames(id) == Strings{"1::"});
        return id;
    }
    // A polling session whose first GET got `1::`.
    SessionId polling(Time now = 0ms) {
        const SessionId id = handshake(now);
        const auto r = engine.on_poll(id, Transport::xhr_polling, now);
        REQUIRE(r);
        REQUIRE(r->respond);
        REQUIRE(r->body == "1::");
        return id;
    }
    // A frame from the client, then the flush the host would schedule.
    void ws(SessionId id, std::string_view text, Time now = 0ms) {
        engine.on_ws_text(id, text, now);
        engine.flush(now);
    }
    void post(SessionId id, std::string_view body, Time now = 0ms) {
        engine.on_post(id, Transport::xhr_polling, body, now);
        engine.flush(now);
    }
    void tick(Time now) {
        engine.tick(now);
        engine.flush(now);
    }
    // The reasons of the disconnect calls for `id`, as "endpoint=reason".
    Strings disconnects(SessionId id) const {
        Strings out;
        for (const auto& c : app.of_kind(AppCall::kDisconnect))
            if (c.session == id) out.push_back(c.endpoint + "=" + std::string(to_string(c.reason)));
        return out;
    }
};

std::string reason_entry(const std::string& endpoint, CloseReason r) {
    return endpoint + "=" + std::string(to_string(r));
}

}  // namespace

// --- handshake -------------------------------------------------------------

TEST_CASE("handshake body is sid:heartbeat:close:transports", "[engine][handshake]") {
    Rig rig;
    const auto h = rig.engine.handshake(0ms, test_random(), "name=Alice&t=1", "127.0.0.1");
    CHECK(std::regex_match(h.body, std::regex("^[A-Za-z0-9_-]{22}:60:60:websocket,xhr-polling,jsonp-polling$")));
    CHECK(h.body.substr(0, 23) == h.sid + ":");
    CHECK(h.id != 0);
    CHECK(rig.engine.find(h.sid, "127.0.0.1") == h.id);
    CHECK(rig.engine.alive(h.id));
    CHECK(rig.engine.query(h.id) == "name=Alice&t=1");
    // A handshake alone opens nothing and tells the application nothing.
    CHECK(rig.app.calls.empty());
    CHECK(rig.host.ws_frames.empty());
}

TEST_CASE("handshake fields follow the configuration", "[engine][handshake]") {
    EngineConfig c;
    c.heartbeat_timeout = 5s;
    c.close_timeout = 7s;
    c.transports = {Transport::xhr_polling, Transport::websocket};
    Rig rig(c);
    const auto h = rig.engine.handshake(0ms, test_random(), "", "127.0.0.1");
    CHECK(h.body == h.sid + ":5:7:xhr-polling,websocket");
    CHECK(rig.engine.is_transport_allowed(Transport::websocket));
    CHECK_FALSE(rig.engine.is_transport_allowed(Transport::jsonp_polling));
}

TEST_CASE("sub-second timeouts are advertised with decimals, never as 0", "[engine][handshake]") {
    auto fields = [](Time heartbeat, Time close) {
        EngineConfig c;
        c.heartbeat_timeout = heartbeat;
        c.close_timeout = close;
        c.transports = {Transport::websocket};
        Rig rig(c);
        const auto h = rig.engine.handshake(0ms, test_random(), "", "127.0.0.1");
        return h.body.substr(h.sid.size());
    };
    CHECK(fields(600ms, 1500ms) == ":0.6:1.5:websocket");
    CHECK(fields(250ms, 5ms) == ":0.25:0.005:websocket");
    CHECK(fields(60s, 2s) == ":60:2:websocket");
}

TEST_CASE("a sid is the caller's 128 random bits and nothing else", "[engine][handshake]") {
    Rig rig;
    const std::string random = test_random();
    const auto a = rig.engine.handshake(0ms, random, "", "127.0.0.1");
    REQUIRE(a);
    CHECK(a.sid == compeit::util::base64url_encode(random));
    // A repeat of a live sid, or too few bytes, means the random source is
    // broken: refused, never patched up with a counter.
    const auto again = rig.engine.handshake(0ms, random, "", "127.0.0.1");
    CHECK_FALSE(again);
    CHECK(again.refused == Engine::Refusal::bad_random);
    const auto short_random = rig.engine.handshake(0ms, "fifteen bytes!!", "", "127.0.0.1");
    CHECK(short_random.refused == Engine::Refusal::bad_random);
    CHECK(rig.engine.session_count() == 1);
}

TEST_CASE("a sid presented from another address is unknown there", "[engine][handshake]") {
    Rig rig;
    const auto h = rig.engine.handshake(0ms, test_random(), "", "10.0.0.1");
    CHECK(rig.engine.find(h.sid, "10.0.0.1") == h.id);
    CHECK(rig.engine.find(h.sid, "10.0.0.2") == 0);
    CHECK(rig.engine.find(h.sid, "") == 0);
    EngineConfig unbound;
    unbound.bind_sid_to_peer = false;
    Rig open(unbound);
    const auto u = open.engine.handshake(0ms, test_random(), "", "10.0.0.1");
    CHECK(open.engine.find(u.sid, "10.0.0.2") == u.id);
}

TEST_CASE("unused handshakes are capped globally and per address; their query is bounded", "[engine][handshake]") {
    EngineConfig c;
    c.max_pending_handshakes = 5;
    c.max_pending_per_peer = 3;
    c.max_query_bytes = 10;
    Rig rig(c);
    std::vector<SessionId> a;
    for (int i = 0; i < 3; ++i) a.push_back(rig.engine.handshake(0ms, test_random(), "", "a").id);
    CHECK(rig.engine.handshake(0ms, test_random(), "", "a").refused == Engine::Refusal::too_many_from_peer);
    CHECK(rig.engine.handshake(0ms, test_random(), "", "b"));
    CHECK(rig.engine.handshake(0ms, test_random(), "", "b"));
    CHECK(rig.engine.handshake(0ms, test_random(), "", "c").refused == Engine::Refusal::too_many_pending);
    CHECK(rig.engine.pending_handshakes() == 5);
    // Opening a session frees its place; so does expiry.
    REQUIRE(rig.engine.open_websocket(a[0], 0ms));
    CHECK(rig.engine.pending_handshakes() == 4);
    CHECK(rig.engine.handshake(0ms, test_random(), "", "a"));
    rig.tick(31'000ms);
    CHECK(rig.engine.pending_handshakes() == 0);
    CHECK(rig.engine.session_count() == 1);
    for (int i = 0; i < 3; ++i) CHECK(rig.engine.handshake(31'000ms, test_random(), "", "a"));
    CHECK(rig.engine.handshake(31'000ms, test_random(), "0123456789a", "d").refused ==
          Engine::Refusal::query_too_long);
    CHECK(rig.engine.handshake(31'000ms, test_random(), "0123456789", "d"));
}

TEST_CASE("transport names", "[engine]") {
    CHECK(parse_transport("websocket") == Transport::websocket);
    CHECK(parse_transport("xhr-polling") == Transport::xhr_polling);
    CHECK(parse_transport("jsonp-polling") == Transport::jsonp_polling);
    CHECK_FALSE(parse_transport("htmlfile").has_value());
    CHECK_FALSE(parse_transport("").has_value());
    for (auto t : {Transport::websocket, Transport::xhr_polling, Transport::jsonp_polling})
        CHECK(parse_transport(transport_name(t)) == t);
}

TEST_CASE("an unknown sid is refused with 7:::1+0", "[engine]") {
    Rig rig;
    CHECK(rig.engine.find("NOPE", "127.0.0.1") == 0);
    CHECK(rig.engine.find("", "127.0.0.1") == 0);
    CHECK(rig.engine.refusal(0) == "7:::1+0");
    CHECK_FALSE(rig.engine.open_websocket(0, 0ms));
    CHECK_FALSE(rig.engine.on_poll(0, Transport::xhr_polling, 0ms).has_value());
    rig.engine.on_post(0, Transport::xhr_polling, "5:::{\"name\":\"echo\"}", 0ms);  // dropped
    rig.engine.on_ws_text(12345, "2::", 0ms);
    rig.engine.on_transport_closed(12345, 0ms);
    CHECK(rig.app.calls.empty());
}

TEST_CASE("a handshake never used expires after handshake_timeout", "[engine][timers]") {
    Rig rig;
    const auto h = rig.engine.handshake(1000ms, test_random(), "", "127.0.0.1");
    rig.tick(30'999ms);
    CHECK(rig.engine.alive(h.id));
    rig.tick(31'000ms);
    CHECK_FALSE(rig.engine.alive(h.id));
    CHECK(rig.engine.find(h.sid, "127.0.0.1") == 0);
    CHECK(rig.engine.refusal(h.id) == "7:::1+0");
    CHECK(rig.host.times_ended(h.id) == 1);
    CHECK(rig.disconnects(h.id) == Strings{reason_entry("", CloseReason::handshake_timeout)});
}

// --- websocket ---------------------------------------------------------------

TEST_CASE("open_websocket sends 1:: first", "[engine][ws]") {
    Rig rig;
    const SessionId id = rig.handshake();
    REQUIRE(rig.engine.open_websocket(id, 0ms));
    CHECK(rig.host.take_frames(id) == Strings{"1::"});
    // Server packets follow it.
    rig.engine.send(id, Packet{PacketType::message, {}, false, "", "hello"});
    rig.engine.flush(0ms);
    CHECK(rig.host.take_frames(id) == Strings{"3:::hello"});
}

TEST_CASE("a websocket session refuses a second transport with 7:::0", "[engine][ws]") {
    Rig rig;
    const SessionId id = rig.websocket();
    CHECK_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 0ms).has_value());
    CHECK_FALSE(rig.engine.open_websocket(id, 0ms));
    CHECK(rig.engine.refusal(id) == "7:::0");
    CHECK(rig.engine.alive(id));
    // A POST to a websocket session is ignored.
    rig.post(id, "1::" + kNs);
    CHECK(rig.app.calls.empty());
    CHECK(rig.host.take_frames(id).empty());
}

TEST_CASE("heartbeats on a websocket", "[engine][ws][timers]") {
    EngineConfig c;
    c.heartbeat_interval = 25s;
    c.heartbeat_timeout = 60s;
    Rig rig(c);
    const SessionId id = rig.websocket(1000ms);

    rig.tick(25'999ms);
    CHECK(rig.host.take_frames(id).empty());
    rig.tick(26'000ms);
    CHECK(rig.host.take_frames(id) == Strings{"2::"});

    SECTION("no answer: heartbeat timeout, no 0::") {
        rig.tick(60'000ms);
        CHECK(rig.host.take_frames(id).empty());  // one 2:: per interval, not per tick
        rig.tick(85'999ms);
        CHECK(rig.engine.alive(id));
        rig.tick(86'000ms);
        CHECK_FALSE(rig.engine.alive(id));
        CHECK(rig.host.times_ended(id) == 1);
        CHECK(rig.host.take_frames(id).empty());
        CHECK(rig.disconnects(id) == Strings{reason_entry("", CloseReason::heartbeat_timeout)});
    }
    SECTION("answered: kept alive, next heartbeat an interval after the answer") {
        rig.ws(id, "2::", 30'000ms);
        rig.tick(86'000ms);
        CHECK(rig.engine.alive(id));
        CHECK(rig.host.take_frames(id) == Strings{"2::"});  // due at 55 s
        rig.ws(id, "2::", 86'000ms);
        rig.tick(110'999ms);
        CHECK(rig.host.take_frames(id).empty());
        rig.tick(111'000ms);
        CHECK(rig.host.take_frames(id) == Strings{"2::"});
        CHECK(rig.engine.alive(id));
    }
    SECTION("other traffic does not count as an answer (HB2)") {
        rig.ws(id, "1::" + kNs, 30'000ms);
        rig.ws(id, "5::" + kNs + ":{\"name\":\"x\"}", 80'000ms);
        rig.ws(id, "8::", 85'000ms);
        rig.tick(86'000ms);
        CHECK_FALSE(rig.engine.alive(id));
        CHECK(rig.disconnects(id) == Strings{reason_entry(kNs, CloseReason::heartbeat_timeout),
                                             reason_entry("", CloseReason::heartbeat_timeout)});
    }
}

TEST_CASE("a lost websocket ends the session without 0::", "[engine][ws]") {
    Rig rig;
    const SessionId id = rig.websocket();
    rig.ws(id, "1::" + kNs);
    rig.host.take_frames(id);
    rig.engine.on_transport_closed(id, 5ms);
    CHECK_FALSE(rig.engine.alive(id));
    CHECK(rig.host.times_ended(id) == 1);
    CHECK(rig.host.take_frames(id).empty());
    CHECK(rig.disconnects(id) == Strings{reason_entry(kNs, CloseReason::transport_closed),
                                         reason_entry("", CloseReason::transport_closed)});
    // Gone for good.
    CHECK(rig.engine.refusal(id) == "7:::1+0");
    rig.engine.on_transport_closed(id, 6ms);
    CHECK(rig.host.times_ended(id) == 1);
}

// --- namespaces and packets ---------------------------------------------------

TEST_CASE("namespace connect is echoed, then the application hears of it", "[engine][ns]") {
    Rig rig;
    const SessionId id = rig.websocket();
    rig.ws(id, "1::" + kNs);
    CHECK(rig.host.take_frames(id) == Strings{"1::" + kNs});
    const auto connects = rig.app.of_kind(AppCall::kConnect);
    REQUIRE(connects.size() == 1);
    CHECK(connects[0].session == id);
    CHECK(connects[0].endpoint == kNs);
    CHECK(connects[0].query.empty());

    SECTION("with a query in the data field") {
        rig.ws(id, "1::" + kNs + ":?name=Alice");
        CHECK(rig.host.take_frames(id) == Strings{"1::" + kNs});
        const auto again = rig.app.of_kind(AppCall::kConnect);
        REQUIRE(again.size() == 2);
        CHECK(again[1].query == "name=Alice");
    }
}

TEST_CASE("an unknown namespace gets 7::/ns:2 and the connection goes on", "[engine][ns]") {
    Rig rig;
    const SessionId id = rig.websocket();
    rig.ws(id, "1::/other");
    CHECK(rig.host.take_frames(id) == Strings{"7::/other:2"});
    CHECK(rig.app.calls.empty());
    rig.ws(id, "1::/connection_agent?x=1");  // the query glued to the endpoint (P20)
    CHECK(rig.host.take_frames(id) == Strings{"7::/connection_agent?x=1:2"});
    rig.ws(id, "1::" + kNs);
    CHECK(rig.host.take_frames(id) == Strings{"1::" + kNs});
    CHECK(rig.engine.alive(id));
}

TEST_CASE("packets reach the application only on connected namespaces", "[engine][ns]") {
    Rig rig;
    const SessionId id = rig.websocket();
    rig.ws(id, "5::" + kNs + ":{\"name\":\"early\"}");  // not connected yet: dropped
    CHECK(rig.app.of_kind(AppCall::kPacket).empty());
    rig.ws(id, "1::" + kNs);
    rig.ws(id, "5::" + kNs + ":{\"name\":\"late\"}");
    rig.ws(id, "3:::root message");
    const auto packets = rig.app.of_kind(AppCall::kPacket);
    REQUIRE(packets.size() == 2);
    CHECK(packets[0].packet == Packet{PacketType::event, {}, false, kNs, "{\"name\":\"late\"}"});
    CHECK(packets[1].packet == Packet{PacketType::message, {}, false, "", "root message"});
}

TEST_CASE("an id without '+' is acked before the packet is dispatched", "[engine][ack]") {
    Rig rig;
    const SessionId id = rig.websocket();
    rig.ws(id, "1::" + kNs);
    rig.host.take_frames(id);
    rig.app.reply_through = &rig.engine;

    SECTION("event with an id: 6::<ns>:<id>, then what the handler sent") {
        rig.ws(id, "5:7:" + kNs + ":{\"name\":\"echo\",\"args\":[\"x\"]}");
        CHECK(rig.host.take_frames(id) == Strings{"6::" + kNs + ":7", "3::" + kNs + ":reply"});
        REQUIRE(rig.app.of_kind(AppCall::kPacket).size() == 1);
        CHECK(rig.app.of_kind(AppCall::kPacket)[0].packet.id == "7");
    }
    SECTION("message on the root, id kept verbatim (P12, P50)") {
        rig.ws(id, "3:007::hi");
        CHECK(rig.host.take_frames(id) == Strings{"6:::007", "3:::reply"});
    }
    SECTION("with '+' the application acks, the engine does not") {
        rig.ws(id, "5:7+:" + kNs + ":{\"name\":\"echo\"}");
        CHECK(rig.host.take_frames(id) == Strings{"3::" + kNs + ":reply"});
        REQUIRE(rig.app.of_kind(AppCall::kPacket).size() == 1);
        CHECK(rig.app.of_kind(AppCall::kPacket)[0].packet.data_ack);
    }
    SECTION("no id, no ack") {
        rig.ws(id, "5::" + kNs + ":{\"name\":\"echo\"}");
        CHECK(rig.host.take_frames(id) == Strings{"3::" + kNs + ":reply"});
    }
    SECTION("acks from the client are not acked") {
        rig.ws(id, "6::" + kNs + ":1+[\"a\"]");
        CHECK(rig.host.take_frames(id) == Strings{"3::" + kNs + ":reply"});
        REQUIRE(rig.app.of_kind(AppCall::kPacket).size() == 1);
        CHECK(rig.app.of_kind(AppCall::kPacket)[0].packet.type == PacketType::ack);
    }
}

TEST_CASE("heartbeats, noops and errors from the client are not dispatched", "[engine]") {
    Rig rig;
    const SessionId id = rig.websocket();
    for (const char* p : {"2::", "8::", "7:::1+0", "7:::", "1::"}) rig.ws(id, p);
    CHECK(rig.app.calls.empty());
    CHECK(rig.host.take_frames(id).empty());
    CHECK(rig.engine.alive(id));
}

TEST_CASE("0::/ns leaves that namespace only", "[engine][ns]") {
    Rig rig;
    const SessionId id = rig.websocket();
    rig.ws(id, "1::" + kNs);
    rig.host.take_frames(id);
    rig.ws(id, "0::" + kNs, 9ms);
    CHECK(rig.engine.alive(id));
    CHECK(rig.disconnects(id) == Strings{reason_entry(kNs, CloseReason::namespace_left)});
    CHECK(rig.app.of_kind(AppCall::kDisconnect)[0].now == 9ms);
    // Later packets on it are dropped; a second 0::/ns reports nothing.
    rig.ws(id, "5::" + kNs + ":{\"name\":\"x\"}");
    rig.ws(id, "0::" + kNs);
    CHECK(rig.app.of_kind(AppCall::kPacket).empty());
    CHECK(rig.app.of_kind(AppCall::kDisconnect).size() == 1);
    // The session end does not report the namespace again.
    rig.engine.on_transport_closed(id, 10ms);
    CHECK(rig.disconnects(id) == Strings{reason_entry(kNs, CloseReason::namespace_left),
                                         reason_entry("", CloseReason::transport_closed)});
}

TEST_CASE("0:: from the client: 0:: back, session ended as booted", "[engine]") {
    Rig rig;
    const SessionId id = rig.websocket();
    rig.ws(id, "1::" + kNs);
    rig.host.take_frames(id);
    rig.ws(id, "0::");
    CHECK(rig.host.take_frames(id) == Strings{"0::"});
    CHECK_FALSE(rig.engine.alive(id));
    CHECK(rig.host.times_ended(id) == 1);
    CHECK(rig.disconnects(id) == Strings{reason_entry(kNs, CloseReason::booted), reason_entry("", CloseReason::booted)});
}

TEST_CASE("Engine::disconnect says 0:: and ends the session", "[engine]") {
    Rig rig;
    const SessionId id = rig.websocket();
    rig.engine.send(id, Packet{PacketType::message, {}, false, "", "last"});
    rig.engine.disconnect(id, CloseReason::server, 0ms);
    CHECK(rig.host.take_frames(id) == Strings{"3:::last", "0::"});
    CHECK(rig.host.times_ended(id) == 1);
    rig.engine.flush(0ms);  // the session it had queued is gone: nothing happens
    CHECK(rig.host.take_frames(id).empty());
}

TEST_CASE("malformed packets: ignored, but many in a row close the session", "[engine][garbage]") {
    EngineConfig c;
    c.max_bad_packets = 5;
    Rig rig(c);
    const SessionId id = rig.websocket();
    const Strings garbage{"", "hello", "9::", "10::", "x:1::", "5:abc::{}", "5:+::x", "3:::\xFF"};

    SECTION("a good packet resets the count") {
        for (int round = 0; round < 10; ++round) {
            for (int i = 0; i < 5; ++i) rig.ws(id, garbage[static_cast<std::size_t>((round + i) % 8)]);
            rig.ws(id, "2::");
        }
        CHECK(rig.engine.alive(id));
        CHECK(rig.host.take_frames(id).empty());
    }
    SECTION("more than the limit in a row closes with 0::") {
        for (std::size_t i = 0; i < 5; ++i) rig.ws(id, garbage[i]);
        CHECK(rig.engine.alive(id));
        rig.ws(id, garbage[5]);
        CHECK_FALSE(rig.engine.alive(id));
        CHECK(rig.host.take_frames(id) == Strings{"0::"});
        CHECK(rig.disconnects(id) == Strings{reason_entry("", CloseReason::garbage)});
    }
}

TEST_CASE("the default garbage limit closes a session that keeps sending junk", "[engine][garbage]") {
    Rig rig;
    const SessionId id = rig.websocket();
    for (int i = 0; i < 1000 && rig.engine.alive(id); ++i) rig.ws(id, "junk");
    CHECK_FALSE(rig.engine.alive(id));
    CHECK(rig.disconnects(id) == Strings{reason_entry("", CloseReason::garbage)});
}

// --- polling -----------------------------------------------------------------

TEST_CASE("the first poll answers 1::, the next one is held", "[engine][polling]") {
    Rig rig;
    const SessionId id = rig.polling();
    const auto r = rig.engine.on_poll(id, Transport::xhr_polling, 10ms);
    REQUIRE(r);
    CHECK_FALSE(r->respond);
    CHECK_FALSE(r->release_previous);
    CHECK(rig.host.take_polls(id).empty());
}

TEST_CASE("a held poll is answered at the flush after a packet", "[engine][polling]") {
    Rig rig;
    const SessionId id = rig.polling();
    REQUIRE_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 10ms)->respond);

    SECTION("one packet travels bare") {
        rig.engine.send(id, Packet{PacketType::message, {}, false, "", "a"});
        CHECK(rig.host.take_polls(id).empty());  // not before the flush
        rig.engine.flush(11ms);
        CHECK(rig.host.take_polls(id) == Strings{"3:::a"});
    }
    SECTION("several packets are coalesced into one framed payload") {
        const int before = rig.host.flush_requests;
        rig.engine.send(id, Packet{PacketType::message, {}, false, "", "a"});
        rig.engine.send(id, Packet{PacketType::message, {}, false, "", "\xF0\x9F\x98\x80"});
        rig.engine.send(id, Packet{PacketType::noop, {}, false, "", ""});
        CHECK(rig.host.flush_requests == before + 1);  // once per flush cycle
        rig.engine.flush(11ms);
        CHECK(rig.host.take_polls(id) == Strings{framed("3:::a") + framed("3:::\xF0\x9F\x98\x80") + framed("8::")});
    }
}

TEST_CASE("a held poll is answered 8:: after the polling duration", "[engine][polling][timers]") {
    EngineConfig c;
    c.polling_duration = 20s;
    Rig rig(c);
    const SessionId id = rig.polling();
    REQUIRE_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 1000ms)->respond);
    rig.tick(20'999ms);
    CHECK(rig.host.take_polls(id).empty());
    rig.tick(21'000ms);
    CHECK(rig.host.take_polls(id) == Strings{"8::"});
    CHECK(rig.engine.alive(id));
}

TEST_CASE("a polling client that does not come back is ended after the close timeout", "[engine][polling][timers]") {
    EngineConfig c;
    c.close_timeout = 60s;
    Rig rig(c);
    const SessionId id = rig.polling(0ms);
    rig.post(id, "1::" + kNs, 100ms);
    rig.tick(59'999ms);
    CHECK(rig.engine.alive(id));
    rig.tick(60'000ms);
    CHECK_FALSE(rig.engine.alive(id));
    CHECK(rig.host.times_ended(id) == 1);
    CHECK(rig.disconnects(id) == Strings{reason_entry(kNs, CloseReason::close_timeout),
                                         reason_entry("", CloseReason::close_timeout)});
    // The next GET is refused as not handshaken (B2).
    CHECK_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 61s).has_value());
    CHECK(rig.engine.refusal(id) == "7:::1+0");
}

TEST_CASE("a held poll keeps the session; the close timer restarts when it is answered", "[engine][polling][timers]") {
    EngineConfig c;
    c.close_timeout = 10s;
    c.polling_duration = 20s;
    Rig rig(c);
    const SessionId id = rig.polling(0ms);
    REQUIRE_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 1s)->respond);
    rig.tick(15s);
    CHECK(rig.engine.alive(id));  // held: no close timeout
    rig.tick(21s);
    CHECK(rig.host.take_polls(id) == Strings{"8::"});
    rig.tick(30'999ms);
    CHECK(rig.engine.alive(id));
    rig.tick(31s);
    CHECK_FALSE(rig.engine.alive(id));
}

TEST_CASE("an aborted poll starts the close timer", "[engine][polling][timers]") {
    EngineConfig c;
    c.close_timeout = 10s;
    Rig rig(c);
    const SessionId id = rig.polling(0ms);
    REQUIRE_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 1s)->respond);
    rig.engine.on_poll_aborted(id, 5s);
    rig.engine.send(id, Packet{PacketType::message, {}, false, "", "kept"});
    rig.engine.flush(5s);
    CHECK(rig.host.take_polls(id).empty());  // nobody to answer
    rig.tick(14'999ms);
    CHECK(rig.engine.alive(id));
    SECTION("coming back in time gets the buffered packet") {
        const auto r = rig.engine.on_poll(id, Transport::xhr_polling, 14'999ms);
        REQUIRE(r);
        CHECK(r->respond);
        CHECK(r->body == "3:::kept");
    }
    SECTION("not coming back ends it") {
        rig.tick(15s);
        CHECK_FALSE(rig.engine.alive(id));
    }
}

TEST_CASE("packets between polls are buffered in order for the next poll", "[engine][polling]") {
    Rig rig;
    const SessionId id = rig.polling();
    for (int i = 0; i < 5; ++i) {
        rig.engine.send(id, Packet{PacketType::message, {}, false, "", "m" + std::to_string(i)});
        rig.engine.flush(std::chrono::milliseconds(i));
    }
    CHECK(rig.host.take_polls(id).empty());
    const auto r = rig.engine.on_poll(id, Transport::xhr_polling, 100ms);
    REQUIRE(r);
    CHECK(r->respond);
    CHECK(r->body == framed("3:::m0") + framed("3:::m1") + framed("3:::m2") + framed("3:::m3") + framed("3:::m4"));
    // Delivered once: the next poll is held.
    CHECK_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 200ms)->respond);
}

TEST_CASE("a second concurrent poll releases the first", "[engine][polling]") {
    Rig rig;
    const SessionId id = rig.polling();
    REQUIRE_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 1ms)->respond);
    const auto r = rig.engine.on_poll(id, Transport::xhr_polling, 2ms);
    REQUIRE(r);
    CHECK(r->release_previous);
    CHECK_FALSE(r->respond);
}

TEST_CASE("a POST with a framed payload processes every packet", "[engine][polling]") {
    Rig rig;
    const SessionId id = rig.polling();
    rig.app.reply_through = &rig.engine;
    const std::string ev = "5:1:" + kNs + ":{\"name\":\"echo\",\"args\":[\"\xF0\x9F\x98\x80\"]}";
    rig.post(id, framed("1::" + kNs) + framed(ev) + framed("3:::root"));
    REQUIRE(rig.app.calls.size() == 3);
    CHECK(rig.app.calls[0].kind == AppCall::kConnect);
    CHECK(rig.app.calls[1].kind == AppCall::kPacket);
    CHECK(encode(rig.app.calls[1].packet) == ev);
    CHECK(rig.app.calls[2].packet.data == "root");
    // Nothing is held, so the answers wait for the next GET, in order.
    const auto r = rig.engine.on_poll(id, Transport::xhr_polling, 1ms);
    REQUIRE(r);
    CHECK(r->body == framed("1::" + kNs) + framed("6::" + kNs + ":1") + framed("3::" + kNs + ":reply") +
                         framed("3:::reply"));
}

TEST_CASE("a POST stops at 0:: and a bad payload is dropped whole", "[engine][polling]") {
    Rig rig;
    const SessionId id = rig.polling();
    SECTION("0:: in the middle") {
        rig.post(id, framed("1::" + kNs) + framed("0::") + framed("3:::after"));
        CHECK_FALSE(rig.engine.alive(id));
        CHECK(rig.app.of_kind(AppCall::kPacket).empty());
    }
    SECTION("bad framing") {
        rig.post(id, M + "x" + M + "3:::a");
        CHECK(rig.app.calls.empty());
        CHECK(rig.engine.alive(id));
    }
    SECTION("0:: while a GET is held: the GET gets 0:: (X7)") {
        REQUIRE_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 1ms)->respond);
        rig.post(id, "0::", 2ms);
        CHECK(rig.host.take_polls(id) == Strings{"0::"});
        CHECK_FALSE(rig.engine.alive(id));
    }
}

TEST_CASE("malformed POST payloads many times in a row close the session", "[engine][polling][garbage]") {
    EngineConfig c;
    c.max_bad_packets = 5;
    Rig rig(c);
    const SessionId id = rig.polling();
    for (int i = 0; i < 20 && rig.engine.alive(id); ++i) rig.post(id, M + "x" + M + "3:::a");
    CHECK_FALSE(rig.engine.alive(id));
    CHECK(rig.disconnects(id) == Strings{reason_entry("", CloseReason::garbage)});
}

TEST_CASE("a POST before the first GET: 1:: still comes first (X9, fixed)", "[engine][polling]") {
    Rig rig;
    const SessionId id = rig.handshake();
    rig.post(id, "3:5::early");
    const auto r = rig.engine.on_poll(id, Transport::xhr_polling, 1ms);
    REQUIRE(r);
    CHECK(r->respond);
    CHECK(r->body == framed("1::") + framed("6:::5"));
    REQUIRE(rig.app.of_kind(AppCall::kPacket).size() == 1);
}

TEST_CASE("a polling session refuses other transports with 7:::0", "[engine][polling]") {
    Rig rig;
    const SessionId id = rig.polling();
    CHECK_FALSE(rig.engine.open_websocket(id, 0ms));
    CHECK_FALSE(rig.engine.on_poll(id, Transport::jsonp_polling, 0ms).has_value());
    CHECK(rig.engine.refusal(id) == "7:::0");
    CHECK(rig.engine.alive(id));
    // Websocket text for it is ignored.
    rig.ws(id, "1::" + kNs);
    CHECK(rig.app.calls.empty());
}

TEST_CASE("a polling session takes POSTs only from the transport it opened with", "[engine][polling]") {
    Rig rig;
    const SessionId id = rig.polling();
    rig.engine.on_post(id, Transport::jsonp_polling, "1::" + kNs, 0ms);
    rig.engine.on_post(id, Transport::websocket, "1::" + kNs, 0ms);
    CHECK(rig.app.calls.empty());
    rig.post(id, "1::" + kNs);
    CHECK(rig.app.of_kind(AppCall::kConnect).size() == 1);
}

TEST_CASE("jsonp-polling works like xhr-polling", "[engine][polling]") {
    Rig rig;
    const SessionId id = rig.handshake();
    const auto r = rig.engine.on_poll(id, Transport::jsonp_polling, 0ms);
    REQUIRE(r);
    CHECK(r->body == "1::");
    CHECK_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 0ms).has_value());
}

TEST_CASE("polling clients get no heartbeats", "[engine][polling][timers]") {
    EngineConfig c;
    c.heartbeat_interval = 1s;
    c.polling_duration = 100s;
    Rig rig(c);
    const SessionId id = rig.polling();
    REQUIRE_FALSE(rig.engine.on_poll(id, Transport::xhr_polling, 0ms)->respond);
    rig.tick(5s);
    CHECK(rig.host.take_polls(id).empty());
    CHECK(rig.engine.alive(id));
}

TEST_CASE("a polling client that never reads is ended when its buffer overflows", "[engine][polling]") {
    EngineConfig c;
    c.max_buffered_bytes = 100;
    Rig rig(c);
    const SessionId id = rig.polling();
    for (int i = 0; i < 20 && rig.engine.alive(id); ++i) {
        rig.engine.send(id, Packet{PacketType::message, {}, false, "", std::string(10, 'x')});
        rig.engine.flush(1ms);
    }
    CHECK_FALSE(rig.engine.alive(id));
    CHECK(rig.disconnects(id) == Strings{reason_entry("", CloseReason::overflow)});
}

TEST_CASE("schedule_flush is asked once per cycle, whatever the number of sessions", "[engine]") {
    Rig rig;
    const SessionId a = rig.websocket();
    const SessionId b = rig.websocket();
    const int before = rig.host.flush_requests;
    rig.engine.send(a, Packet{PacketType::noop, {}, false, "", ""});
    rig.engine.send(b, Packet{PacketType::noop, {}, false, "", ""});
    rig.engine.send(a, Packet{PacketType::noop, {}, false, "", ""});
    CHECK(rig.host.flush_requests == before + 1);
    CHECK(rig.host.take_frames(a).empty());
    rig.engine.flush(0ms);
    CHECK(rig.host.take_frames(a) == Strings{"8::", "8::"});
    CHECK(rig.host.take_frames(b) == Strings{"8::"});
    rig.engine.send(b, Packet{PacketType::noop, {}, false, "", ""});
    CHECK(rig.host.flush_requests == before + 2);
}

TEST_CASE("close reasons have names", "[engine]") {
    for (auto r : {CloseReason::namespace_left, CloseReason::booted, CloseReason::server, CloseReason::forced,
                   CloseReason::transport_closed, CloseReason::heartbeat_timeout, CloseReason::close_timeout,
                   CloseReason::handshake_timeout, CloseReason::overflow, CloseReason::garbage})
        CHECK_FALSE(to_string(r).empty());
}
