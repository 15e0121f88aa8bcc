// The counters behind /metrics (sio::Engine::Stats, ca::Router::Stats): each
// checked exactly against what a few clients did on a real Engine and Router.
#include <catch2/catch.hpp>

#include <string>

#include "ca_net.hpp"

using namespace compeit;
using namespace compeit::test;
using namespace std::chrono_literals;

namespace {

constexpr auto kWs = static_cast<std::size_t>(sio::Transport::websocket);
constexpr auto kXhr = static_cast<std::size_t>(sio::Transport::xhr_polling);

std::uint64_t in(const ca::Router& r, ca::Router::In e) { return r.stats().in[static_cast<std::size_t>(e)]; }
std::uint64_t out(const ca::Router& r, ca::Router::Out e) { return r.stats().out[static_cast<std::size_t>(e)]; }
std::uint64_t errors(const ca::Router& r, ca::ErrorCode c) { return r.stats().errors[static_cast<std::size_t>(c)]; }

// Takes every server_message; counts them.
class CountingAgent : public ca::ServerAgent {
public:
    int seen = 0;
    void attached(ca::Port) override {}
    void on_server_message(const ca::Request&, const ca::User&, ca::json&) override { ++seen; }
};

}  // namespace

TEST_CASE("engine stats: sessions opened and closed, by transport and reason", "[stats][engine]") {
    Net net;
    const auto a = net.open();
    const auto b = net.open();
    CHECK(net.engine.stats().opened[kWs] == 2);
    CHECK(net.engine.sessions_by_transport()[kWs] == 2);
    CHECK(net.engine.sessions_by_transport()[kXhr] == 0);

    net.send(a, "0::");  // the client leaves
    const auto& closed = net.engine.stats().closed;
    CHECK(closed[kWs][static_cast<std::size_t>(sio::CloseReason::booted)] == 1);
    CHECK(net.engine.sessions_by_transport()[kWs] == 1);

    net.engine.on_transport_closed(b, net.now);
    CHECK(closed[kWs][static_cast<std::size_t>(sio::CloseReason::transport_closed)] == 1);

    // Handshaken, never opened: counted under "no transport".
    REQUIRE(net.engine.handshake(net.now, test_random(), "", "127.0.0.1"));
    net.engine.tick(net.now + 31'000ms);
    CHECK(closed[sio::kTransportCount][static_cast<std::size_t>(sio::CloseReason::handshake_timeout)] == 1);
    CHECK(net.engine.stats().opened[kWs] == 2);
}

TEST_CASE("engine stats: handshake refusals by reason", "[stats][engine]") {
    sio::EngineConfig config;
    config.max_pending_per_peer = 1;
    Net net({}, config);
    REQUIRE(net.engine.handshake(net.now, test_random(), "", "10.0.0.1"));
    CHECK_FALSE(net.engine.handshake(net.now, test_random(), "", "10.0.0.1"));
    CHECK_FALSE(net.engine.handshake(net.now, test_random(), std::string(5000, 'q'), "10.0.0.2"));
    CHECK_FALSE(net.engine.handshake(net.now, "short", "", "10.0.0.3"));
    using R = sio::Engine::Refusal;
    const auto& refused = net.engine.stats().refused;
    CHECK(refused[static_cast<std::size_t>(R::too_many_from_peer)] == 1);
    CHECK(refused[static_cast<std::size_t>(R::query_too_long)] == 1);
    CHECK(refused[static_cast<std::size_t>(R::bad_random)] == 1);
    CHECK(refused[static_cast<std::size_t>(R::too_many_pending)] == 0);
}

TEST_CASE("engine stats: bytes in and out, deliveries", "[stats][engine]") {
    Net net;
    const auto s = net.open();
    const auto out_before = net.engine.stats().bytes_out[kWs];
    CHECK(out_before == std::string("1::").size());  // the connect packet
    const std::string packet = "1::/connection_agent";
    net.send(s, packet);
    CHECK(net.engine.stats().bytes_in[kWs] == packet.size());
    std::size_t written = 0;
    for (const auto& f : net.host.ws_frames[s]) written += f.size();
    CHECK(net.engine.stats().bytes_out[kWs] == written);
    // `connected`; the engine's own packets (1::, the namespace's echo) are not deliveries.
    CHECK(net.engine.stats().deliveries == 1);
}

TEST_CASE("router stats: a room message counts once in and out, once per member delivered", "[stats][ca]") {
    Net net;
    const auto a = net.connect(), b = net.connect(), c = net.connect();
    for (const auto& cl : {a, b, c}) net.join(cl, 7);
    CHECK(in(net.router, ca::Router::In::join_room) == 3);
    CHECK(out(net.router, ca::Router::Out::room_joined) == 3);
    CHECK(out(net.router, ca::Router::Out::user_joined) == 3);  // made once per join, even for an empty room

    const auto deliveries = net.engine.stats().deliveries;
    net.request(a, "room_message", {{"type", "note"}, {"data", "hi"}}, "1");
    CHECK(in(net.router, ca::Router::In::room_message) == 1);
    CHECK(out(net.router, ca::Router::Out::room_message) == 1);
    CHECK(out(net.router, ca::Router::Out::ack) == 1);
    CHECK(net.engine.stats().deliveries == deliveries + 2 + 1);  // b and c, and a's ack
    CHECK(net.router.stats().unrouted == 1);  // "note" is no agent's type
}

TEST_CASE("router stats: server and user messages, by agent type", "[stats][ca]") {
    Net net;
    CountingAgent agent;
    REQUIRE(net.router.register_agent("counting", agent));
    const auto a = net.connect(), b = net.connect();
    net.request(a, "server_message", {{"type", "counting"}, {"data", 1}});
    net.request(a, "server_message", {{"type", "counting"}, {"data", 2}});
    net.request(a, "server_message", {{"type", "nobody"}, {"data", 3}});
    net.request(a, "server_message", {{"type", "direct"}, {"data", 4}, {"to", b.user}});
    REQUIRE(agent.seen == 2);
    REQUIRE(net.router.stats().agents.size() == 1);
    CHECK(net.router.stats().agents[0].type == "counting");
    CHECK(net.router.stats().agents[0].messages == 2);
    CHECK(net.router.stats().unrouted == 2);
    CHECK(in(net.router, ca::Router::In::server_message) == 3);
    CHECK(in(net.router, ca::Router::In::user_message) == 1);
    CHECK(out(net.router, ca::Router::Out::user_message) == 1);
    CHECK(errors(net.router, ca::ErrorCode::unknown_type) == 1);
}

TEST_CASE("router stats: request errors by code, rate limiting, other events", "[stats][ca]") {
    ca::Limits limits;
    limits.rate_per_second = 0.001;
    limits.rate_burst = 2;
    Net net(limits);
    const auto a = net.connect();
    net.request(a, "leave_room", {});                 // not in a room
    net.request(a, "no_such_event", {});              // unknown event
    net.send(a.session, "3::/connection_agent:hi");  // a message, not an event
    net.request(a, "join_room", {{"room", 1}});       // over the burst
    CHECK(errors(net.router, ca::ErrorCode::not_in_room) == 1);
    CHECK(errors(net.router, ca::ErrorCode::bad_request) == 2);
    CHECK(errors(net.router, ca::ErrorCode::rate_limited) == 1);
    CHECK(in(net.router, ca::Router::In::leave_room) == 1);
    CHECK(in(net.router, ca::Router::In::join_room) == 1);
    CHECK(in(net.router, ca::Router::In::other) == 2);
    CHECK(out(net.router, ca::Router::Out::request_error) == 4);
    CHECK(net.router.room_count() == 0);
}
