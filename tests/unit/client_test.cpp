// The client core (ca::Client, agents::ChatClient) natively: the same code
// that is compiled to WebAssembly. Clients and the server's Engine + Router
// are wired together in memory (no sockets): client ws_send outputs feed the
// engine, the engine's ws_write frames feed the client.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>

#include "compeit/agents/chat_client.hpp"
#include "compeit/ca/client.hpp"
#include "compeit/ca/router.hpp"
#include "compeit/util/json_guard.hpp"
#include "wire.hpp"

using namespace compeit;
using namespace compeit::test;
using namespace std::chrono_literals;
using ca::json;

namespace {

json payload(const ca::Output& o) { return util::parse_json(o.payload); }

const ca::Output* find(const Wire::Peer& p, Kind kind, const std::string& text = {}) {
    for (auto it = p.seen.rbegin(); it != p.seen.rend(); ++it)
        if (it->kind == kind && (text.empty() || it->text == text)) return &*it;
    return nullptr;
}

const ca::Output* ack_of(const Wire::Peer& p, std::uint64_t id) {
    for (const auto& o : p.seen)
        if (o.kind == Kind::ack && o.request == id) return &o;
    return nullptr;
}

}  // namespace

TEST_CASE("client: handshake, websocket and namespace connect end in `connected`", "[client]") {
    Wire w;
    auto& a = w.add("Ada Lovelace");
    a.client->connect(w.now);
    auto first = a.client->take_outputs();
    REQUIRE(first.size() == 2);  // state {connecting}, then the handshake
    CHECK(first[0].text == "state");
    first.erase(first.begin());
    CHECK(first[0].kind == Kind::http_get);
    CHECK(first[0].text.rfind("http://server:1/socket.io/1/?name=Ada%20Lovelace&t=", 0) == 0);
    w.perform(a, first[0]);
    w.pump();
    CHECK(a.client->state() == ca::Client::State::connected);
    REQUIRE(a.client->user());
    CHECK(a.client->user()->name == "Ada Lovelace");
    const auto* c = find(a, Kind::event, "connected");
    REQUIRE(c);
    CHECK(payload(*c)["user"]["id"] == a.client->user()->id);
}

TEST_CASE("client: requests are settled by acks, with errors as {error}", "[client]") {
    Wire w;
    auto& a = w.add("A");
    auto& b = w.add("B");
    a.client->connect(w.now);
    b.client->connect(w.now);
    w.pump();

    const auto join = a.client->join_room(5);
    w.pump();
    const auto* ack = ack_of(a, join);
    REQUIRE(ack);
    CHECK(payload(*ack)["room"] == 5);
    CHECK(a.client->room() == std::optional<ca::RoomId>(5));

    const auto bad = a.client->join_room(-1);
    const auto nobody = a.client->send_user(999, "x", "{}");
    const auto not_json = a.client->send_room("x", "{oops");
    w.pump();
    CHECK(payload(*ack_of(a, bad))["error"]["code"] == "bad_request");
    CHECK(payload(*ack_of(a, nobody))["error"]["code"] == "unknown_user");
    CHECK(payload(*ack_of(a, not_json))["error"]["code"] == "bad_request");
    CHECK(a.client->room() == std::optional<ca::RoomId>(5));

    ca::Client offline(ca::ClientConfig{"http://x:1", "z"});
    const auto id = offline.join_room(1);
    const auto outs = offline.take_outputs();
    REQUIRE(outs.size() == 1);  // nothing goes on the wire, the request fails at once
    CHECK(outs[0].kind == Kind::ack);
    CHECK(outs[0].request == id);
    CHECK(util::parse_json(outs[0].payload)["error"]["code"] == "not_connected");
}

TEST_CASE("client: a request_error goes to the application only when no request waits for it", "[client]") {
    Wire w;
    auto& a = w.add("A");
    a.client->connect(w.now);
    w.pump();
    auto request_errors = [&] { return Wire::events(a, "request_error"); };
    // From the server, straight into the client (no pump: a request sent
    // since stays pending, its packet taken here and never delivered).
    auto inject = [&](const std::string& error) {
        a.client->on_ws_message("5::/connection_agent:{\"name\":\"request_error\",\"args\":[" + error + "]}", w.now);
        for (auto& o : a.client->take_outputs())
            if (o.kind == Kind::event) a.seen.push_back(std::move(o));
    };

    // Failed requests: each is settled by its ack, none is reported twice.
    const auto t1 = a.client->send_server("t1", "{}");
    const auto t2 = a.client->send_server("t2", "{}");
    const auto leave = a.client->leave_room();
    w.pump();
    CHECK(payload(*ack_of(a, t1))["error"]["code"] == "unknown_type");
    CHECK(payload(*ack_of(a, t2))["error"]["code"] == "unknown_type");
    CHECK(payload(*ack_of(a, leave))["error"]["code"] == "not_in_room");
    CHECK(request_errors().empty());

    // One nobody waits for is the application's.
    inject(R"({"event":"join_room","code":"rate_limited","message":"m"})");
    REQUIRE(request_errors().size() == 1);
    CHECK(request_errors()[0]["code"] == "rate_limited");

    // Matched by event and type, each pending request at most once.
    a.client->send_server("t3", "{}");  // pending: not pumped
    inject(R"({"event":"server_message","type":"other","code":"forbidden","message":"m"})");
    CHECK(request_errors().size() == 2);  // not t3's
    inject(R"({"event":"server_message","type":"t3","code":"forbidden","message":"m"})");
    CHECK(request_errors().size() == 2);  // t3's: its ack will say
    inject(R"({"event":"server_message","type":"t3","code":"forbidden","message":"m"})");
    CHECK(request_errors().size() == 3);  // t3 already has one
}

TEST_CASE("client: agents registered from the host get room and user messages as raw JSON", "[client]") {
    Wire w;
    auto& a = w.add("A");
    auto& b = w.add("B");
    REQUIRE(a.client->register_agent("game", nullptr));
    REQUIRE(b.client->register_agent("game", nullptr));
    CHECK_FALSE(b.client->register_agent("game", nullptr));
    a.client->connect(w.now);
    b.client->connect(w.now);
    w.pump();
    a.client->join_room(7);
    b.client->join_room(7);
    w.pump();

    a.client->send_room("game", R"({"move":"e4","deep":{"x":[1,2,{"y":"\"q\""}]}})");
    a.client->send_user(b.client->user()->id, "game", "[1,2,3]");
    a.client->send_room("other", "1");  // a type B has no agent for: not delivered
    w.pump();
    std::vector<const ca::Output*> got;
    for (const auto& o : b.seen)
        if (o.kind == Kind::agent) got.push_back(&o);
    REQUIRE(got.size() == 2);
    CHECK(got[0]->text == "game");
    CHECK(got[0]->channel == "room");
    CHECK(got[0]->from == a.client->user()->id);
    CHECK(payload(*got[0]) == json::parse(R"({"move":"e4","deep":{"x":[1,2,{"y":"\"q\""}]}})"));
    CHECK(got[1]->channel == "user");
    CHECK(payload(*got[1]) == json::array({1, 2, 3}));
    CHECK(find(a, Kind::agent) == nullptr);  // room_message does not come back to the sender
}

TEST_CASE("client: membership events and the C++ chat client", "[client][chat]") {
    Wire w;
    auto& a = w.add("A");
    auto& b = w.add("B");
    a.client->connect(w.now);
    b.client->connect(w.now);
    w.pump();
    a.client->join_room(3);
    w.pump();
    b.client->join_room(3);
    w.pump();
    const auto* joined = find(a, Kind::event, "user_joined");
    REQUIRE(joined);
    CHECK(payload(*joined)["user"]["name"] == "B");

    // Without a chat server agent the room relays chat messages as-is (CA-9);
    // the chat client keeps only messages of its room with an id, in id order.
    const std::string m2 = R"({"id":2,"room":3,"ts":1,"user":{"id":1,"name":"A"},"text":"second"})";
    const std::string m1 = R"({"id":1,"room":3,"ts":1,"user":{"id":1,"name":"A"},"text":"first"})";
    a.client->send_room("chat", m2);
    a.client->send_room("chat", m1);
    a.client->send_room("chat", m1);  // a duplicate
    a.client->send_room("chat", R"({"id":9,"room":4,"text":"other room"})");
    w.pump();
    REQUIRE(b.chat->messages().size() == 2);
    CHECK(util::parse_json(b.chat->messages().begin()->second)["text"] == "first");
    int chat_events = 0;
    for (const auto& o : b.seen) chat_events += o.kind == Kind::event && o.text == "chat_message";
    CHECK(chat_events == 2);

    b.client->leave_room();
    w.pump();
    CHECK(b.chat->messages().empty());
    CHECK(b.client->room() == std::nullopt);
}

TEST_CASE("client: a lost connection settles pending requests, backs off, reconnects and rejoins", "[client]") {
    Wire w;
    auto& a = w.add("A");
    a.client->connect(w.now);
    w.pump();
    a.client->join_room(11);
    w.pump();
    const auto pending = a.client->join_room(12);  // in flight when the server goes away
    w.drop_all();
    w.pump();
    CHECK(payload(*ack_of(a, pending))["error"]["code"] == "disconnected");
    CHECK(find(a, Kind::event, "disconnect"));
    const auto* r = find(a, Kind::event, "reconnecting");
    REQUIRE(r);
    const auto delay = sio::Time(payload(*r)["delay"].get<std::int64_t>());
    CHECK(delay >= 250ms);  // 500 ms less up to half of it (jitter 0.5)
    CHECK(delay <= 500ms);
    CHECK(a.client->state() == ca::Client::State::reconnecting);

    w.now += delay - 1ms;
    a.client->tick(w.now);
    w.pump();
    CHECK(a.client->state() == ca::Client::State::reconnecting);
    w.now += 1ms;
    a.client->tick(w.now);
    w.pump();
    CHECK(a.client->state() == ca::Client::State::connected);
    CHECK(find(a, Kind::event, "reconnected"));
    CHECK(a.client->room() == std::optional<ca::RoomId>(11));
    CHECK(w.router.members(11).size() == 1);
}

TEST_CASE("client: heartbeats are answered, and silence past the heartbeat timeout is a lost connection", "[client]") {
    ca::Client c(ca::ClientConfig{"http://x:1", "z"});
    sio::Time now{0};
    c.connect(now);
    c.on_http(200, "sid:0.5:60:websocket", now);
    c.on_ws_open(now);
    c.on_ws_message("1::", now);
    c.on_ws_message(R"(5::/connection_agent:{"name":"connected","args":[{"user":{"id":1,"name":"z"}}]})", now);
    REQUIRE(c.state() == ca::Client::State::connected);
    c.take_outputs();
    c.on_ws_message("2::", now + 400ms);
    auto outs = c.take_outputs();
    REQUIRE(outs.size() == 1);
    CHECK(outs[0].text == "2::");
    c.tick(now + 800ms);  // 400 ms after the last packet: still fine
    CHECK(c.state() == ca::Client::State::connected);
    c.tick(now + 901ms);
    CHECK(c.state() == ca::Client::State::reconnecting);
}

TEST_CASE("client: `0::` from the server means booted: no reconnect", "[client]") {
    ca::Client c(ca::ClientConfig{"http://x:1", "z"});
    sio::Time now{0};
    c.connect(now);
    c.on_http(200, "sid:60:60:websocket", now);
    c.on_ws_open(now);
    c.on_ws_message("1::", now);
    c.on_ws_message(R"(5::/connection_agent:{"name":"connected","args":[{"user":{"id":1,"name":"z"}}]})", now);
    c.on_ws_message("0::", now);
    CHECK(c.state() == ca::Client::State::closed);
}

TEST_CASE("client: garbage from the server is ignored", "[client]") {
    ca::Client c(ca::ClientConfig{"http://x:1", "z"});
    sio::Time now{0};
    c.connect(now);
    c.on_http(200, "sid:60:60:websocket", now);
    c.on_ws_open(now);
    c.on_ws_message("1::", now);
    c.on_ws_message(R"(5::/connection_agent:{"name":"connected","args":[{"user":{"id":1,"name":"z"}}]})", now);
    c.take_outputs();
    for (const char* junk : {"", "x", "9::", "5::/connection_agent:{", "5::/connection_agent:[1]",
                             "5::/connection_agent:{\"name\":1}", "6::/connection_agent:x+[1]",
                             "5::/connection_agent:{\"name\":\"room_message\",\"args\":[{\"type\":7}]}"})
        c.on_ws_message(junk, now);
    for (const auto& o : c.take_outputs()) CHECK((o.kind == Kind::event && o.text != "connected"));
    CHECK(c.state() == ca::Client::State::connected);
}

// --- connection states, the first connect, backoff and options -----------------

namespace {

// A bare client brought to `connected` by hand (no server), outputs drained.
void bring_up(ca::Client& c, sio::Time now, const std::string& connected = R"({"user":{"id":1,"name":"z"}})") {
    if (c.state() == ca::Client::State::idle || c.state() == ca::Client::State::closed) c.connect(now);
    c.on_http(200, "sid:60:60:websocket", now);
    c.on_ws_open(now);
    c.on_ws_message("1::", now);
    c.on_ws_message(R"(5::/connection_agent:{"name":"connected","args":[)" + connected + "]}", now);
    REQUIRE(c.state() == ca::Client::State::connected);
}

// The `state` events among `outs`.
std::vector<json> states(const std::vector<ca::Output>& outs) {
    std::vector<json> v;
    for (const auto& o : outs)
        if (o.kind == Kind::event && o.text == "state") v.push_back(util::parse_json(o.payload));
    return v;
}

}  // namespace

TEST_CASE("client: every state change is a `state` event with its reason", "[client][state]") {
    ca::ClientConfig cfg{"http://x:1", "z"};
    cfg.max_attempts = 2;
    cfg.seed = 7;
    ca::Client c(cfg);
    sio::Time now{0};
    c.connect(now);
    auto s = states(c.take_outputs());
    REQUIRE(s.size() == 1);
    CHECK(s[0] == json{{"state", "connecting"}, {"reason", "connect"}});

    bring_up(c, now);
    s = states(c.take_outputs());
    REQUIRE(s.size() == 1);
    CHECK(s[0] == json{{"state", "connected"}, {"reason", "connected"}});

    c.on_ws_close(now);  // lost: reconnecting, attempt 1
    s = states(c.take_outputs());
    REQUIRE(s.size() == 1);
    CHECK(s[0]["state"] == "reconnecting");
    CHECK(s[0]["reason"] == "transport_closed");
    CHECK(s[0]["attempt"] == 1);
    now += 20s;
    c.tick(now);  // the attempt: a handshake, still `reconnecting` (no new state)
    CHECK(states(c.take_outputs()).empty());
    c.on_http(503, "down", now);
    s = states(c.take_outputs());
    REQUIRE(s.size() == 1);
    CHECK(s[0]["state"] == "reconnecting");
    CHECK(s[0]["reason"] == "handshake_failed");
    CHECK(s[0]["attempt"] == 2);
    now += 20s;
    c.tick(now);
    now += 11s;  // the connect timeout passes with no answer
    c.tick(now);
    const auto outs = c.take_outputs();
    s = states(outs);
    REQUIRE(s.size() == 1);
    CHECK(s[0] == json{{"state", "disconnected"}, {"reason", "retries_exhausted"}});
    CHECK(std::any_of(outs.begin(), outs.end(), [](const auto& o) { return o.text == "reconnect_failed"; }));
    CHECK(c.state() == ca::Client::State::closed);

    // A new connect() that comes up, then disconnect().
    bring_up(c, now);
    c.take_outputs();
    c.disconnect();
    s = states(c.take_outputs());
    REQUIRE(s.size() == 1);
    CHECK(s[0] == json{{"state", "disconnected"}, {"reason", "client_disconnect"}});

    // `0::` from the server: no retry.
    bring_up(c, now);
    c.take_outputs();
    c.on_ws_message("0::", now);
    s = states(c.take_outputs());
    REQUIRE(s.size() == 1);
    CHECK(s[0] == json{{"state", "disconnected"}, {"reason", "server_disconnect"}});

    // Heartbeat silence while connected.
    bring_up(c, now);
    c.take_outputs();
    c.tick(now + 61s);
    s = states(c.take_outputs());
    REQUIRE(s.size() == 1);
    CHECK(s[0]["reason"] == "heartbeat_timeout");
}

TEST_CASE("client: a first connect that fails stops, however long tick() runs", "[client][state]") {
    struct Case {
        const char* what;
        std::function<void(ca::Client&, sio::Time)> fail;
        const char* reason;
    };
    const std::vector<Case> cases = {
        {"handshake refused", [](ca::Client& c, sio::Time t) { c.on_http(401, "unauthorized", t); }, "handshake_failed"},
        {"no server", [](ca::Client& c, sio::Time t) { c.on_http(0, "", t); }, "handshake_failed"},
        {"socket closed before connected",
         [](ca::Client& c, sio::Time t) {
             c.on_http(200, "sid:60:60:websocket", t);
             c.on_ws_open(t);
             c.on_ws_close(t);
         },
         "transport_closed"},
        {"connect timeout", [](ca::Client& c, sio::Time t) { c.tick(t + 10s); }, "connect_timeout"},
    };
    for (const auto& k : cases) {
        SECTION(k.what) {
            ca::Client c(ca::ClientConfig{"http://x:1", "z"});
            sio::Time now{0};
            c.connect(now);
            c.take_outputs();
            k.fail(c, now);
            const auto outs = c.take_outputs();
            const auto s = states(outs);
            REQUIRE(s.size() == 1);
            CHECK(s[0]["state"] == "disconnected");
            CHECK(s[0]["reason"] == k.reason);
            if (std::string(k.reason) == "handshake_failed") CHECK(s[0].contains("status"));
            for (const auto& o : outs) CHECK((o.kind != Kind::event || o.text == "state"));  // no error, no reconnecting
            CHECK(c.state() == ca::Client::State::closed);
            for (int i = 0; i < 36'000; ++i) {  // an hour of ticks
                now += 100ms;
                c.tick(now);
            }
            CHECK(c.take_outputs().empty());
        }
    }
}

TEST_CASE("client: backoff grows exponentially within its jitter bounds, from the seed", "[client][state]") {
    ca::ClientConfig cfg{"http://x:1", "z"};
    cfg.seed = 12345;
    ca::Client a(cfg), b(cfg);
    cfg.seed = 54321;
    ca::Client other(cfg);
    bool differs = false;
    for (unsigned n = 1; n <= 12; ++n) {
        const std::int64_t base = std::min<std::int64_t>(500LL << (n - 1), 10'000);
        const auto d = a.backoff(n);
        CHECK(d.count() >= base / 2);
        CHECK(d.count() <= base);
        CHECK(b.backoff(n) == d);  // same seed, same delays
        differs = differs || other.backoff(n) != d;
    }
    CHECK(differs);

    cfg.jitter = 0;
    ca::Client exact(cfg);
    std::vector<std::int64_t> delays;
    for (unsigned n = 1; n <= 7; ++n) delays.push_back(exact.backoff(n).count());
    CHECK(delays == std::vector<std::int64_t>{500, 1000, 2000, 4000, 8000, 10000, 10000});

    // Through the state machine: the `reconnecting` delays, within their bounds.
    cfg.jitter = 1;
    cfg.max_attempts = 4;
    ca::Client c(cfg);
    sio::Time now{0};
    bring_up(c, now);
    c.take_outputs();
    c.on_ws_close(now);
    std::vector<json> seen;
    for (int i = 0; i < 10 && c.state() != ca::Client::State::closed; ++i) {
        for (auto& s : states(c.take_outputs()))
            if (s["state"] == "reconnecting") seen.push_back(s);
        now += 20s;
        c.tick(now);
        c.on_http(503, "down", now);
    }
    REQUIRE(seen.size() == 4);
    for (std::size_t i = 0; i < seen.size(); ++i) {
        CHECK(seen[i]["attempt"] == i + 1);
        CHECK(seen[i]["delay"].get<std::int64_t>() <= (500LL << i));
    }
}

TEST_CASE("client: options from JSON are applied, clamped, or ignored", "[client][state]") {
    ca::ClientConfig cfg;
    CHECK(ca::apply_client_options(
        cfg, R"({"reconnect":false,"maxAttempts":3,"minDelay":100,"maxDelay":2000,"jitter":0.25,"resume":false,"seed":99,"other":{}})"));
    CHECK_FALSE(cfg.reconnect);
    CHECK(cfg.max_attempts == 3);
    CHECK(cfg.reconnect_delay == 100ms);
    CHECK(cfg.reconnect_delay_max == 2000ms);
    CHECK(cfg.jitter == 0.25);
    CHECK_FALSE(cfg.resume);
    CHECK(cfg.seed == 99);

    ca::ClientConfig d;
    CHECK(ca::apply_client_options(d, R"({"reconnect":"no","jitter":7,"minDelay":-5,"maxDelay":1e300,"seed":-1,"maxAttempts":null})"));
    CHECK(d.reconnect);               // wrong type: ignored
    CHECK(d.jitter == 1.0);           // clamped
    CHECK(d.reconnect_delay == 1ms);  // never 0: no tight loop
    CHECK(d.reconnect_delay_max == 3'600'000ms);
    CHECK(d.seed == 0);
    CHECK(d.max_attempts == 10);

    ca::ClientConfig e;
    e.reconnect_delay = 700ms;
    CHECK(ca::apply_client_options(e, R"({"maxDelay":10})"));
    CHECK(e.reconnect_delay_max == 700ms);  // never below the first delay
    for (const char* bad : {"", "[]", "{", "1", "null", "{\"a\":}"}) CHECK_FALSE(ca::apply_client_options(e, bad));

    ca::Client c(ca::ClientConfig{"http://x:1", "z"});
    CHECK(c.configure(R"({"resume":false})"));
    c.connect(sio::Time{0});
    c.on_http(200, "sid:60:60:websocket", sio::Time{0});
    c.on_ws_open(sio::Time{0});
    c.take_outputs();
    c.on_ws_message("1::", sio::Time{0});
    const auto outs = c.take_outputs();
    REQUIRE(outs.size() == 1);
    CHECK(outs[0].text == "1::/connection_agent");  // no resume query when resume is off
}
