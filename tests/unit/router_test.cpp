// The Connection Agent (PROTOCOL.md CA-1..CA-13) through a real Engine and
// Router: clients are websocket sessions on a FakeHost, and every check reads
// the frames a session received.
#include <catch2/catch.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ca_net.hpp"
#include "compeit/ca/router.hpp"
#include "compeit/util/utf.hpp"

using namespace compeit;
using namespace compeit::test;
using ca::json;
using namespace std::chrono_literals;

namespace {

// A server agent for the tests: answers server_message with
// server_message {type:"echo", data:{echo:<data>}}, can take room messages
// over, and logs membership changes.
class EchoAgent : public ca::ServerAgent {
public:
    std::optional<ca::Port> port;
    bool take_room_messages = false;
    std::vector<std::string> log;

    void attached(ca::Port p) override { port = p; }
    void on_server_message(const ca::Request& r, const ca::User& from, json& data) override {
        log.push_back("server_message from " + std::to_string(from.id));
        if (data.is_object() && data.value("refuse", false))
            return port->fail(r, ca::ErrorCode::forbidden, "refused by the test agent");
        port->to_user(from.id, json{{"echo", data}});
        port->ok(r);
    }
    bool on_room_message(const ca::Request& r, const ca::User& from, ca::RoomId room, json& data) override {
        if (!take_room_messages) return false;
        data["stamped"] = true;
        port->relay_to_room(room, from.id, data, true);
        port->ok(r);
        return true;
    }
    void on_join(const ca::User& u, ca::RoomId room) override {
        log.push_back("join " + std::to_string(u.id) + " " + std::to_string(room));
    }
    void on_leave(const ca::User& u, ca::RoomId room) override {
        log.push_back("leave " + std::to_string(u.id) + " " + std::to_string(room));
    }
};

using Names = std::vector<std::string>;

json room_json(ca::RoomId room, std::vector<json> users) { return json{{"room", room}, {"users", users}}; }

}  // namespace

// --- CA-1 connect -------------------------------------------------------------

TEST_CASE("CA-1 connected follows 1::/connection_agent", "[ca][connect]") {
    Net net;
    const SessionId s = net.open("name=Alice");
    net.send(s, "1::/connection_agent");
    const auto& rx = net.inbox(s);
    REQUIRE(rx.size() == 3);
    CHECK(rx[0].raw == "1::");
    CHECK(rx[1].raw == "1::/connection_agent");
    CHECK(rx[2].name == "connected");
    CHECK(rx[2].arg["user"]["name"] == "Alice");
    CHECK(rx[2].arg["user"]["id"].get<ca::UserId>() > 0);
}

TEST_CASE("CA-1 the user's name", "[ca][connect]") {
    Net net;
    SECTION("from the handshake query") { CHECK(net.connect("name=Alice").name == "Alice"); }
    SECTION("from the handshake query among others, percent-decoded") {
        CHECK(net.connect("t=1&name=Al%20ice+B&x=2").name == "Al ice B");
    }
    SECTION("from the connect packet's query") { CHECK(net.connect("", "name=Bob").name == "Bob"); }
    SECTION("the connect packet wins over the handshake") { CHECK(net.connect("name=Alice", "name=Bob").name == "Bob"); }
    SECTION("default: user<id>") {
        const Client c = net.connect();
        CHECK(c.name == "user" + std::to_string(c.user));
        const Client d = net.connect("name=");
        CHECK(d.name == "user" + std::to_string(d.user));
    }
    SECTION("not UTF-8: the default name") {
        const Client c = net.connect("name=%FF%FE");
        CHECK(c.name == "user" + std::to_string(c.user));
    }
    SECTION("truncated to max_name_chars code points") {
        std::string long_name;
        for (int i = 0; i < 150; ++i) long_name += "%C3%A9";  // é
        const Client c = net.connect("name=" + long_name);
        CHECK(utf::code_points(c.name) == 100);
        CHECK(utf::valid_utf8(c.name));
    }
}

TEST_CASE("CA-1 user ids are positive, unique and never reused", "[ca][connect]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    CHECK(a.user > 0);
    CHECK(b.user > 0);
    CHECK(a.user != b.user);
    net.engine.on_transport_closed(a.session, net.now);
    net.engine.flush(net.now);
    const Client c = net.connect();
    CHECK(c.user != a.user);
    CHECK(c.user != b.user);
    CHECK(net.router.user_count() == 2);
    CHECK_FALSE(net.router.user(a.user).has_value());
    REQUIRE(net.router.user(c.user).has_value());
    CHECK(net.router.user(c.user)->name == c.name);
}

TEST_CASE("CA-1 a second connect on the same session keeps the user", "[ca][connect]") {
    Net net;
    const Client a = net.connect("name=Alice");
    net.send(a.session, "1::/connection_agent");
    const auto again = net.events(a, "connected");
    REQUIRE(again.size() == 1);
    CHECK(again[0]["user"] == user_json(a));
    CHECK(net.router.user_count() == 1);
}

TEST_CASE("An identified session keeps its token's name, rooms and caps, also across namespace reconnects", "[ca][identity]") {
    Net net;
    const SessionId s = net.open("name=Mallory");
    net.router.identify(s, ca::Identity{"u-7", std::string("Ada"), std::set<ca::RoomId>{7}, ca::Capabilities::none()});
    auto connect = [&] {
        net.send(s, "1::/connection_agent:?name=server");
        const auto connected = net.events(s, "connected");
        REQUIRE(connected.size() == 1);
        net.clear(s);
        return connected[0]["user"];
    };
    const json user = connect();
    CHECK(user["name"] == "Ada");
    const Client c{s, user["id"].get<ca::UserId>(), "Ada"};
    net.join(c, 8);
    CHECK(net.the_error(c)["code"] == "forbidden");
    net.clear(s);
    // Leaving the namespace and connecting it again must not shed the limits.
    net.send(s, "0::/connection_agent");
    net.clear(s);
    const json again = connect();
    CHECK(again["name"] == "Ada");
    const Client c2{s, again["id"].get<ca::UserId>(), "Ada"};
    net.join(c2, 8);
    CHECK(net.the_error(c2)["code"] == "forbidden");
    net.clear(s);
    net.join(c2, 7);
    CHECK(net.events(c2, "room_joined").size() == 1);
}

// --- CA-2, CA-3 rooms -----------------------------------------------------------

TEST_CASE("CA-2 join_room: room_joined to the joiner, user_joined to the others", "[ca][rooms]") {
    Net net;
    const Client a = net.connect("name=A");
    const Client b = net.connect("name=B");
    const Client c = net.connect("name=C");

    net.join(a, 5);
    CHECK(net.events(a, "room_joined") == std::vector<json>{room_json(5, {user_json(a)})});
    net.clear_all();

    net.join(b, 5);
    CHECK(net.events(b, "room_joined") == std::vector<json>{room_json(5, {user_json(a), user_json(b)})});
    CHECK(net.events(b, "user_joined").empty());
    CHECK(net.events(a, "user_joined") == std::vector<json>{json{{"room", 5}, {"user", user_json(b)}}});
    CHECK(net.inbox(c.session).empty());
    CHECK(net.router.room_of(b.user) == std::optional<ca::RoomId>(5));
    CHECK(net.router.members(5).size() == 2);
}

TEST_CASE("CA-2 joining the room one is in changes nothing", "[ca][rooms]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 1);
    net.join(b, 1);
    net.clear_all();
    net.join(b, 1);
    CHECK(net.events(b, "room_joined") == std::vector<json>{room_json(1, {user_json(a), user_json(b)})});
    CHECK(net.inbox(a.session).empty());
    CHECK(net.router.members(1).size() == 2);
}

TEST_CASE("CA-2 room ids: 0 up to 2^53-1", "[ca][rooms]") {
    Net net;
    const Client a = net.connect();
    net.join(a, 0);
    CHECK(net.events(a, "room_joined").size() == 1);
    net.clear_all();
    net.join(a, ca::kMaxRoomId);
    CHECK(net.events(a, "room_joined") == std::vector<json>{room_json(ca::kMaxRoomId, {user_json(a)})});
}

TEST_CASE("CA-3 leave_room: room_left to the leaver, user_left to the others", "[ca][rooms]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 5);
    net.join(b, 5);
    net.clear_all();

    net.emit(b, "leave_room", json());
    CHECK(net.events(b, "room_left") == std::vector<json>{json{{"room", 5}}});
    CHECK(net.events(a, "user_left") == std::vector<json>{json{{"room", 5}, {"user", user_json(b)}}});
    CHECK(net.events(b, "user_left").empty());
    CHECK_FALSE(net.router.room_of(b.user).has_value());
    CHECK(net.router.members(5).size() == 1);

    SECTION("the last one out removes the room") {
        net.emit(a, "leave_room", json::array());
        CHECK(net.events(a, "room_left").size() == 1);
        CHECK(net.router.room_count() == 0);
    }
}

// --- CA-4 .. CA-6 messages ---------------------------------------------------------

TEST_CASE("CA-4 server_message goes to the registered agent and it replies", "[ca][agent]") {
    Net net;
    EchoAgent agent;
    REQUIRE(net.router.register_agent("echo", agent));
    CHECK_FALSE(net.router.register_agent("echo", agent));  // types are unique
    const Client a = net.connect();
    const Client b = net.connect();

    net.request(a, "server_message", {{"type", "echo"}, {"data", {{"x", 1}}}}, "4");
    CHECK(agent.log == Names{"server_message from " + std::to_string(a.user)});
    CHECK(net.events(a, "server_message") ==
          std::vector<json>{json{{"type", "echo"}, {"data", {{"echo", {{"x", 1}}}}}}});
    CHECK(net.acks(a, "4") == std::vector<json>{json::array({{{"ok", true}}})});
    CHECK(net.inbox(b.session).empty());
}

TEST_CASE("CA-5 room_message reaches the others in the room, not the sender", "[ca][messages]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    const Client c = net.connect();
    const Client d = net.connect();
    net.join(a, 5);
    net.join(b, 5);
    net.join(c, 5);
    net.join(d, 6);
    net.clear_all();

    net.request(a, "room_message", {{"type", "note"}, {"data", {{"t", "hi"}}}});
    const json expected{{"from", a.user}, {"type", "note"}, {"data", {{"t", "hi"}}}};
    CHECK(net.events(b, "room_message") == std::vector<json>{expected});
    CHECK(net.events(c, "room_message") == std::vector<json>{expected});
    CHECK(net.inbox(a.session).empty());
    CHECK(net.inbox(d.session).empty());
    // The broadcast is one encoded frame for every recipient.
    CHECK(net.inbox(b.session)[0].raw == net.inbox(c.session)[0].raw);
}

TEST_CASE("CA-6 server_message with `to` is a user_message to that user", "[ca][messages]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    const Client c = net.connect();
    net.join(a, 5);
    net.join(b, 6);
    net.clear_all();
    const json data{{"t", "psst"}};

    SECTION("to a user in another room") {
        net.request(a, "server_message", {{"to", b.user}, {"type", "note"}, {"data", data}}, "1");
        CHECK(net.events(b, "user_message") == std::vector<json>{json{{"from", a.user}, {"type", "note"}, {"data", data}}});
    }
    SECTION("to a user in no room") {
        net.request(a, "server_message", {{"to", c.user}, {"type", "note"}, {"data", data}}, "1");
        CHECK(net.events(c, "user_message") == std::vector<json>{json{{"from", a.user}, {"type", "note"}, {"data", data}}});
        CHECK(net.inbox(b.session).empty());
    }
    CHECK(net.event_names(a).empty());
    CHECK(net.acks(a, "1") == std::vector<json>{json::array({{{"ok", true}}})});
}

// --- CA-7, CA-8 leaving ------------------------------------------------------------------

TEST_CASE("CA-7 joining another room leaves the first", "[ca][rooms]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    const Client c = net.connect();
    net.join(a, 5);
    net.join(b, 5);
    net.join(c, 6);
    net.clear_all();

    net.join(a, 6);
    CHECK(net.event_names(a) == Names{"room_left", "room_joined"});
    CHECK(net.events(a, "room_left") == std::vector<json>{json{{"room", 5}}});
    CHECK(net.events(a, "room_joined") == std::vector<json>{room_json(6, {user_json(c), user_json(a)})});
    CHECK(net.events(b, "user_left") == std::vector<json>{json{{"room", 5}, {"user", user_json(a)}}});
    CHECK(net.events(c, "user_joined") == std::vector<json>{json{{"room", 6}, {"user", user_json(a)}}});
    CHECK(net.router.members(5).size() == 1);
    CHECK(net.router.room_of(a.user) == std::optional<ca::RoomId>(6));
}

TEST_CASE("CA-8 every way of going away gives exactly one user_left", "[ca][rooms]") {
    sio::EngineConfig config;
    config.heartbeat_interval = 10s;
    config.heartbeat_timeout = 20s;
    Net net({}, config);
    EchoAgent agent;
    net.router.register_agent("echo", agent);
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 5);
    net.join(b, 5);
    net.clear_all();
    agent.log.clear();

    SECTION("transport close") {
        net.engine.on_transport_closed(a.session, net.now);
        net.engine.flush(net.now);
        CHECK_FALSE(net.engine.alive(a.session));
    }
    SECTION("heartbeat timeout") {
        net.now = 10s;
        net.engine.tick(net.now);
        net.engine.flush(net.now);
        net.send(b.session, "2::");  // b answers, a does not
        net.now = 30s;
        net.engine.tick(net.now);
        net.engine.flush(net.now);
        CHECK_FALSE(net.engine.alive(a.session));
        CHECK(net.engine.alive(b.session));
    }
    SECTION("0::/connection_agent, then the transport closes too") {
        net.send(a.session, "0::/connection_agent");
        CHECK(net.engine.alive(a.session));
        CHECK(net.events(a, "room_left").size() == 1);
        net.engine.on_transport_closed(a.session, net.now);
        net.engine.flush(net.now);
    }
    SECTION("0::") {
        net.send(a.session, "0::");
        CHECK_FALSE(net.engine.alive(a.session));
    }

    CHECK(net.events(b, "user_left") == std::vector<json>{json{{"room", 5}, {"user", user_json(a)}}});
    CHECK(agent.log == Names{"leave " + std::to_string(a.user) + " 5"});
    CHECK_FALSE(net.router.user(a.user).has_value());
    CHECK(net.router.members(5).size() == 1);
    // And nothing more later.
    net.now += 1s;
    net.engine.tick(net.now);
    net.engine.flush(net.now);
    CHECK(net.events(b, "user_left").size() == 1);
}

// --- CA-9 agents and relays ------------------------------------------------------------------

TEST_CASE("CA-9 a room_message of an unknown type is relayed as-is", "[ca][agent]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 1);
    net.join(b, 1);
    net.clear_all();
    const json data{{"strokes", json::array({1, 2, 3})}, {"nested", {{"deep", nullptr}}}};
    net.request(a, "room_message", {{"type", "whiteboard"}, {"data", data}}, "9");
    CHECK(net.events(b, "room_message") == std::vector<json>{json{{"from", a.user}, {"type", "whiteboard"}, {"data", data}}});
    CHECK(net.acks(a, "9") == std::vector<json>{json::array({{{"ok", true}}})});
}

TEST_CASE("CA-9 a registered agent may take a room_message over", "[ca][agent]") {
    Net net;
    EchoAgent agent;
    net.router.register_agent("echo", agent);
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 1);
    net.join(b, 1);
    net.clear_all();

    SECTION("taken over: stamped and delivered to everyone, sender included") {
        agent.take_room_messages = true;
        net.request(a, "room_message", {{"type", "echo"}, {"data", {{"t", "x"}}}}, "2");
        const json expected{{"from", a.user}, {"type", "echo"}, {"data", {{"t", "x"}, {"stamped", true}}}};
        CHECK(net.events(a, "room_message") == std::vector<json>{expected});
        CHECK(net.events(b, "room_message") == std::vector<json>{expected});
        CHECK(net.acks(a, "2") == std::vector<json>{json::array({{{"ok", true}}})});
    }
    SECTION("declined: relayed by the router") {
        net.request(a, "room_message", {{"type", "echo"}, {"data", {{"t", "x"}}}});
        CHECK(net.events(b, "room_message") ==
              std::vector<json>{json{{"from", a.user}, {"type", "echo"}, {"data", {{"t", "x"}}}}});
        CHECK(net.events(a, "room_message").empty());
    }
}

TEST_CASE("agents hear about joins and leaves and can use their port", "[ca][agent]") {
    Net net;
    EchoAgent agent;
    net.router.register_agent("echo", agent);
    REQUIRE(agent.port.has_value());
    CHECK(agent.port->type() == "echo");
    const Client a = net.connect("name=A");
    const Client b = net.connect("name=B");
    net.join(a, 3);
    net.join(b, 3);
    CHECK(agent.log == Names{"join " + std::to_string(a.user) + " 3", "join " + std::to_string(b.user) + " 3"});
    CHECK(agent.port->members(3).size() == 2);
    CHECK(agent.port->room_of(b.user) == std::optional<ca::RoomId>(3));
    CHECK(agent.port->user(a.user)->name == "A");
    net.clear_all();

    agent.port->to_room(3, {{"announce", 1}});
    net.engine.flush(net.now);
    const json from_server{{"from", 0}, {"type", "echo"}, {"data", {{"announce", 1}}}};
    CHECK(net.events(a, "room_message") == std::vector<json>{from_server});
    CHECK(net.events(b, "room_message") == std::vector<json>{from_server});

    agent.port->user_message(b.user, a.user, {{"p", 2}});
    net.engine.flush(net.now);
    CHECK(net.events(b, "user_message") ==
          std::vector<json>{json{{"from", a.user}, {"type", "echo"}, {"data", {{"p", 2}}}}});
}

// --- CA-10 errors ----------------------------------------------------------------------------

TEST_CASE("CA-10 bad_request", "[ca][errors]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(b, 1);
    net.clear_all();

    auto check_bad = [&](const std::string& event) {
        const json e = net.the_error(a);
        CHECK(e["event"] == event);
        CHECK(e["code"] == "bad_request");
        CHECK(e["message"].is_string());
        CHECK_FALSE(e["message"].get<std::string>().empty());
        CHECK_FALSE(net.router.room_of(a.user).has_value());
        CHECK(net.inbox(b.session).empty());
    };
    SECTION("join_room without arguments") {
        net.emit(a, "join_room", json());
        check_bad("join_room");
    }
    SECTION("join_room with a string room") {
        net.request(a, "join_room", {{"room", "1"}});
        check_bad("join_room");
    }
    SECTION("join_room with a fractional room") {
        net.request(a, "join_room", {{"room", 1.5}});
        check_bad("join_room");
    }
    SECTION("join_room with a negative room") {
        net.request(a, "join_room", {{"room", -1}});
        check_bad("join_room");
    }
    SECTION("join_room with a room over 2^53-1") {
        net.request(a, "join_room", {{"room", ca::kMaxRoomId + 1}});
        check_bad("join_room");
    }
    SECTION("server_message without type") {
        net.request(a, "server_message", {{"data", 1}});
        check_bad("server_message");
    }
    SECTION("server_message with an empty type") {
        net.request(a, "server_message", {{"type", ""}, {"data", 1}});
        check_bad("server_message");
    }
    SECTION("server_message with a non-integer to") {
        net.request(a, "server_message", {{"to", "2"}, {"type", "note"}, {"data", 1}});
        check_bad("server_message");
    }
    SECTION("room_message with a numeric type") {
        net.request(a, "room_message", {{"type", 7}, {"data", 1}});
        check_bad("room_message");
    }
    SECTION("an unknown event") {
        net.request(a, "fly", {{"to", "the moon"}});
        check_bad("fly");
    }
    SECTION("a message packet instead of an event") {
        net.send(a.session, "3::/connection_agent:hello");
        check_bad("message");
    }
    SECTION("event data that is not an event object") {
        net.send(a.session, "5::/connection_agent:[1,2]");
        CHECK(net.the_error(a)["code"] == "bad_request");
    }
    SECTION("event data that is not JSON") {
        net.send(a.session, "5::/connection_agent:{bad json");
        CHECK(net.the_error(a)["code"] == "bad_request");
    }
    SECTION("an event without a name") {
        net.send(a.session, "5::/connection_agent:{\"args\":[]}");
        CHECK(net.the_error(a)["code"] == "bad_request");
    }
}

TEST_CASE("CA-10 not_in_room", "[ca][errors]") {
    Net net;
    const Client a = net.connect();
    SECTION("leave_room") {
        net.emit(a, "leave_room", json());
        const json e = net.the_error(a);
        CHECK(e["event"] == "leave_room");
        CHECK(e["code"] == "not_in_room");
    }
    SECTION("room_message") {
        net.request(a, "room_message", {{"type", "note"}, {"data", 1}});
        const json e = net.the_error(a);
        CHECK(e["event"] == "room_message");
        CHECK(e["code"] == "not_in_room");
    }
}

TEST_CASE("CA-10 unknown_user", "[ca][errors]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    net.send(b.session, "0::/connection_agent");  // b is gone
    net.request(a, "server_message", {{"to", b.user}, {"type", "note"}, {"data", 1}});
    CHECK(net.the_error(a)["code"] == "unknown_user");
    net.clear(a.session);
    net.request(a, "server_message", {{"to", 999999}, {"type", "note"}, {"data", 1}});
    CHECK(net.the_error(a)["code"] == "unknown_user");
}

TEST_CASE("CA-10 unknown_type", "[ca][errors]") {
    Net net;
    const Client a = net.connect();
    net.request(a, "server_message", {{"type", "nobody"}, {"data", 1}});
    const json e = net.the_error(a);
    CHECK(e["event"] == "server_message");
    CHECK(e["code"] == "unknown_type");
}

TEST_CASE("CA-10 request_error names the agent type of a server_message or room_message", "[ca][errors]") {
    Net net;
    const Client a = net.connect();
    SECTION("server_message") {
        net.request(a, "server_message", {{"type", "nobody"}, {"data", 1}});
        const json e = net.the_error(a);
        CHECK(e["type"] == "nobody");
        CHECK(e["event"] == "server_message");
    }
    SECTION("room_message outside a room") {
        net.request(a, "room_message", {{"type", "chat"}, {"data", {{"text", "x"}}}});
        const json e = net.the_error(a);
        CHECK(e["code"] == "not_in_room");
        CHECK(e["type"] == "chat");
    }
    SECTION("no type when there is none to name") {
        net.request(a, "server_message", {{"type", 5}, {"data", 1}});
        CHECK_FALSE(net.the_error(a).contains("type"));
        net.clear(a.session);
        net.emit(a, "leave_room", json());
        CHECK_FALSE(net.the_error(a).contains("type"));
    }
}

TEST_CASE("CA-10 room_full", "[ca][errors]") {
    ca::Limits limits;
    limits.max_room_users = 2;
    Net net(limits);
    const Client a = net.connect();
    const Client b = net.connect();
    const Client c = net.connect();
    net.join(a, 1);
    net.join(b, 1);
    net.join(c, 2);
    net.clear_all();

    net.join(c, 1);
    const json e = net.the_error(c);
    CHECK(e["event"] == "join_room");
    CHECK(e["code"] == "room_full");
    // Nothing changed: c is still in room 2, nobody heard anything.
    CHECK(net.router.room_of(c.user) == std::optional<ca::RoomId>(2));
    CHECK(net.event_names(c) == Names{"request_error"});
    CHECK(net.inbox(a.session).empty());
    CHECK(net.router.members(1).size() == 2);
}

TEST_CASE("CA-10 room_full when there are too many rooms", "[ca][errors]") {
    ca::Limits limits;
    limits.max_rooms = 1;
    Net net(limits);
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 1);
    net.join(b, 2);
    CHECK(net.the_error(b)["code"] == "room_full");
    CHECK(net.router.room_count() == 1);
}

TEST_CASE("CA-10 too_large", "[ca][errors]") {
    ca::Limits limits;
    limits.max_data_bytes = 16;
    Net net(limits);
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 1);
    net.join(b, 1);
    net.clear_all();
    const std::string big(20, 'x');

    SECTION("room_message") {
        net.request(a, "room_message", {{"type", "note"}, {"data", big}});
        CHECK(net.the_error(a)["code"] == "too_large");
        CHECK(net.inbox(b.session).empty());
    }
    SECTION("server_message to a user") {
        net.request(a, "server_message", {{"to", b.user}, {"type", "note"}, {"data", big}});
        CHECK(net.the_error(a)["code"] == "too_large");
        CHECK(net.inbox(b.session).empty());
    }
    SECTION("just under the limit passes") {
        net.request(a, "room_message", {{"type", "note"}, {"data", std::string(14, 'x')}});  // 16 bytes as JSON
        CHECK(net.events(a, "request_error").empty());
        CHECK(net.events(b, "room_message").size() == 1);
    }
}

TEST_CASE("CA-10 rate_limited", "[ca][errors]") {
    ca::Limits limits;
    limits.rate_per_second = 1;
    limits.rate_burst = 3;
    Net net(limits);
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 1);  // 1 of the burst
    net.join(b, 1);
    net.clear_all();

    net.request(a, "room_message", {{"type", "note"}, {"data", 1}});
    net.request(a, "room_message", {{"type", "note"}, {"data", 2}});
    CHECK(net.events(a, "request_error").empty());
    net.request(a, "room_message", {{"type", "note"}, {"data", 3}}, "5");
    const json e = net.the_error(a);
    CHECK(e["event"] == "room_message");
    CHECK(e["code"] == "rate_limited");
    CHECK(net.events(b, "room_message").size() == 2);
    CHECK(net.acks(a, "5").size() == 1);

    // Tokens come back with time.
    net.now += 1000ms;
    net.clear_all();
    net.request(a, "room_message", {{"type", "note"}, {"data", 4}});
    CHECK(net.events(a, "request_error").empty());
    CHECK(net.events(b, "room_message").size() == 1);
}

// --- CA-11 acks ------------------------------------------------------------------------------

TEST_CASE("CA-11 a request with an ack id gets its ack", "[ca][acks]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(b, 1);
    net.clear_all();

    SECTION("the reply object: room_joined") {
        net.request(a, "join_room", {{"room", 1}}, "1");
        const auto joined = net.events(a, "room_joined");
        REQUIRE(joined.size() == 1);  // the reply event is still sent
        CHECK(net.acks(a, "1") == std::vector<json>{json::array({joined[0]})});
        const auto& rx = net.inbox(a.session);
        REQUIRE(rx.size() == 2);
        CHECK(rx[1].raw.rfind("6::/connection_agent:1+[", 0) == 0);
    }
    SECTION("the reply object: room_left") {
        net.emit(b, "leave_room", json(), "12");
        CHECK(net.acks(b, "12") == std::vector<json>{json::array({{{"room", 1}}})});
        CHECK(net.events(b, "room_left").size() == 1);
    }
    SECTION("{ok:true} when there is no reply event") {
        net.request(b, "room_message", {{"type", "note"}, {"data", 1}}, "3");
        CHECK(net.acks(b, "3") == std::vector<json>{json::array({{{"ok", true}}})});
    }
    SECTION("{error:{code,message}} on failure, with the request_error") {
        net.emit(a, "leave_room", json(), "007");
        const json e = net.the_error(a);
        CHECK(net.acks(a, "007") ==
              std::vector<json>{json::array({{{"error", {{"code", "not_in_room"}, {"message", e["message"]}}}}})});
    }
    SECTION("an agent's refusal") {
        EchoAgent agent;
        net.router.register_agent("echo", agent);
        net.request(a, "server_message", {{"type", "echo"}, {"data", {{"refuse", true}}}}, "8");
        CHECK(net.the_error(a)["code"] == "forbidden");
        REQUIRE(net.acks(a, "8").size() == 1);
        CHECK(net.acks(a, "8")[0][0]["error"]["code"] == "forbidden");
    }
    SECTION("without '+' the engine acks at once and the router adds nothing") {
        net.send(a.session, "5:4:/connection_agent:{\"name\":\"join_room\",\"args\":[{\"room\":1}]}");
        const auto& rx = net.inbox(a.session);
        REQUIRE(rx.size() == 2);
        CHECK(rx[0].raw == "6::/connection_agent:4");
        CHECK(rx[1].name == "room_joined");
    }
    SECTION("no ack id, no ack") {
        net.request(a, "join_room", {{"room", 1}});
        for (const Rx& r : net.inbox(a.session)) CHECK(r.type != sio::PacketType::ack);
    }
}

// --- CA-12 order ------------------------------------------------------------------------------

TEST_CASE("CA-12 a sender's messages arrive in the order sent", "[ca][order]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    const Client c = net.connect();
    net.join(a, 1);
    net.join(b, 1);
    net.clear_all();
    for (int i = 0; i < 100; ++i) {
        net.now += 1ms;
        net.request(a, "room_message", {{"type", "seq"}, {"data", i}});
        net.request(a, "server_message", {{"to", c.user}, {"type", "seq"}, {"data", i}});
    }
    const auto room = net.events(b, "room_message");
    const auto direct = net.events(c, "user_message");
    REQUIRE(room.size() == 100);
    REQUIRE(direct.size() == 100);
    for (int i = 0; i < 100; ++i) {
        CHECK(room[static_cast<std::size_t>(i)]["data"] == i);
        CHECK(direct[static_cast<std::size_t>(i)]["data"] == i);
    }
}

TEST_CASE("CA-12 messages sent in one burst arrive in order", "[ca][order]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 1);
    net.join(b, 1);
    net.clear_all();
    // Several packets before the host flushes.
    for (int i = 0; i < 100; ++i)
        net.engine.on_ws_text(a.session,
                              "5::/connection_agent:{\"name\":\"room_message\",\"args\":[{\"type\":\"seq\",\"data\":" +
                                  std::to_string(i) + "}]}",
                              net.now);
    net.engine.flush(net.now);
    const auto room = net.events(b, "room_message");
    REQUIRE(room.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(room[static_cast<std::size_t>(i)]["data"] == i);
}

// --- CA-13 and hostile input ----------------------------------------------------------------

TEST_CASE("CA-13 reserved event names are refused with bad_request", "[ca][errors]") {
    Net net;
    const Client a = net.connect();
    net.join(a, 1);
    for (const char* name : {"connect", "connecting", "disconnect", "connect_failed", "error", "message",
                             "reconnect", "reconnecting", "reconnect_failed", "newListener"}) {
        INFO("event " << name);
        net.clear(a.session);
        net.request(a, name, {{"room", 2}});
        const json e = net.the_error(a);
        CHECK(e["event"] == name);
        CHECK(e["code"] == "bad_request");
        // Refused as reserved, not merely as an unknown event.
        CHECK(e["message"].get<std::string>().find("reserved") != std::string::npos);
    }
    CHECK(net.router.room_of(a.user) == std::optional<ca::RoomId>(1));
}

TEST_CASE("deeply nested JSON is refused, not parsed", "[ca][errors]") {
    Net net;
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 1);
    net.join(b, 1);
    net.clear_all();

    SECTION("10000 '[' in the arguments") {
        net.send(a.session, "5:1+:/connection_agent:{\"name\":\"room_message\",\"args\":" + std::string(10000, '[') +
                                std::string(10000, ']') + "}");
        CHECK(net.the_error(a)["code"] == "bad_request");
        CHECK(net.acks(a, "1").size() == 1);
    }
    SECTION("10000 '[' with no closing brackets") {
        net.send(a.session, "5::/connection_agent:" + std::string(10000, '['));
        net.send(a.session, "5::/connection_agent:" + std::string(10000, '{'));
        CHECK(net.events(a, "request_error").size() == 2);
    }
    SECTION("brackets inside strings do not count") {
        const std::string text(10000, '[');
        net.request(a, "room_message", {{"type", "note"}, {"data", text}});
        CHECK(net.events(a, "request_error").empty());
        REQUIRE(net.events(b, "room_message").size() == 1);
        CHECK(net.events(b, "room_message")[0]["data"] == text);
    }
    CHECK(net.engine.alive(a.session));
    CHECK(net.inbox(b.session).size() <= 1);
}

TEST_CASE("events on the root namespace carry nothing (TR-6)", "[ca]") {
    Net net;
    const Client a = net.connect();
    net.send(a.session, "5:::{\"name\":\"join_room\",\"args\":[{\"room\":1}]}");
    net.send(a.session, "5:1+::{\"name\":\"join_room\",\"args\":[{\"room\":1}]}");
    CHECK(net.inbox(a.session).empty());
    CHECK_FALSE(net.router.room_of(a.user).has_value());
}

TEST_CASE("arguments that are not an array are wrapped, as socket.io 0.9 does", "[ca]") {
    Net net;
    const Client a = net.connect();
    net.send(a.session, "5::/connection_agent:{\"name\":\"join_room\",\"args\":{\"room\":4}}");
    CHECK(net.events(a, "room_joined") == std::vector<json>{room_json(4, {user_json(a)})});
}

TEST_CASE("a request from a session that has not connected the namespace is dropped", "[ca]") {
    Net net;
    const SessionId s = net.open();
    net.clear(s);
    net.send(s, "5::/connection_agent:{\"name\":\"join_room\",\"args\":[{\"room\":1}]}");
    CHECK(net.inbox(s).empty());
    CHECK(net.router.room_count() == 0);
}

// --- join_room's ack after the room's state (CA-11, CH-4, KU-1) ---------------------------

namespace {

// Sends the joiner its "state" on joining and on joining again; with `hold`
// it holds the join's ack back until the test releases it (as an agent that
// reads a store does).
class StateAgent : public ca::ServerAgent {
public:
    std::optional<ca::Port> port;
    bool hold = false;
    std::vector<ca::JoinHold> holds;
    std::vector<std::string> log;

    void attached(ca::Port p) override { port = p; }
    void on_server_message(const ca::Request& r, const ca::User&, json&) override { port->ok(r); }
    void on_join(const ca::User& u, ca::RoomId room) override { state("join", u, room); }
    void on_rejoin(const ca::User& u, ca::RoomId room) override { state("rejoin", u, room); }

private:
    void state(const std::string& why, const ca::User& u, ca::RoomId room) {
        log.push_back(why + " " + std::to_string(u.id));
        port->to_user(u.id, json{{"state", room}});
        if (hold) holds.push_back(port->hold_join(u.id));
    }
};

// Where in `c`'s inbox the first packet matching pred is; -1 when none.
template <class Pred>
long position(Net& net, const Client& c, Pred pred) {
    const auto& rx = net.inbox(c.session);
    for (std::size_t i = 0; i < rx.size(); ++i)
        if (pred(rx[i])) return static_cast<long>(i);
    return -1;
}

long ack_at(Net& net, const Client& c, const std::string& id) {
    return position(net, c, [&](const Rx& r) { return r.type == sio::PacketType::ack && r.ack_id == id; });
}

long event_at(Net& net, const Client& c, const std::string& name) {
    return position(net, c, [&](const Rx& r) { return r.type == sio::PacketType::event && r.name == name; });
}

}  // namespace

TEST_CASE("CA-11 join_room's ack comes after what the agents send the joiner", "[ca][acks]") {
    Net net;
    StateAgent agent;
    net.router.register_agent("state", agent);
    const Client a = net.connect();
    net.request(a, "join_room", {{"room", 3}}, "1");
    CHECK(net.event_names(a) == Names{"room_joined", "server_message"});
    const long state = event_at(net, a, "server_message");
    CHECK(ack_at(net, a, "1") > state);
    CHECK(net.acks(a, "1") == std::vector<json>{json::array({room_json(3, {user_json(a)})})});
}

TEST_CASE("CA-11 an agent's hold keeps join_room's ack back until it is released", "[ca][acks]") {
    Net net;
    StateAgent first, second;
    first.hold = second.hold = true;
    net.router.register_agent("first", first);
    net.router.register_agent("second", second);
    const Client a = net.connect();
    net.request(a, "join_room", {{"room", 3}}, "1");
    REQUIRE(first.holds.size() == 1);
    REQUIRE(second.holds.size() == 1);
    CHECK(first.holds[0] != 0);
    CHECK(net.events(a, "room_joined").size() == 1);
    CHECK(net.acks(a, "1").empty());

    first.port->release_join(first.holds[0]);
    net.engine.flush(net.now);
    CHECK(net.acks(a, "1").empty());  // the second agent still holds it
    second.port->release_join(second.holds[0]);
    net.engine.flush(net.now);
    CHECK(net.acks(a, "1").size() == 1);
    second.port->release_join(second.holds[0]);  // once released, a hold is gone
    net.engine.flush(net.now);
    CHECK(net.acks(a, "1").size() == 1);

    SECTION("a join without an ack id holds nothing") {
        net.join(a, 4);
        CHECK(first.holds.back() == 0);
        first.port->release_join(0);
        second.port->release_join(second.holds.back());
    }
    SECTION("a hold only stands for its joiner, during its join") {
        CHECK(first.port->hold_join(a.user) == 0);
    }
    SECTION("released after the joiner left: nothing is sent, nothing breaks") {
        net.request(a, "join_room", {{"room", 5}}, "2");
        net.engine.disconnect(a.session, sio::CloseReason::forced, net.now);
        first.port->release_join(first.holds.back());
        second.port->release_join(second.holds.back());
        net.engine.flush(net.now);
        CHECK(net.router.user_count() == 0);
    }
}

TEST_CASE("CA-2 joining the room one is in sends its state again and tells nobody", "[ca][rooms]") {
    Net net;
    StateAgent agent;
    net.router.register_agent("state", agent);
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 1);
    net.join(b, 1);
    net.clear_all();
    agent.log.clear();

    net.request(b, "join_room", {{"room", 1}}, "9");
    CHECK(agent.log == std::vector<std::string>{"rejoin " + std::to_string(b.user)});
    CHECK(net.event_names(b) == Names{"room_joined", "server_message"});
    CHECK(ack_at(net, b, "9") > event_at(net, b, "server_message"));
    CHECK(net.acks(b, "9") == std::vector<json>{json::array({room_json(1, {user_json(a), user_json(b)})})});
    CHECK(net.inbox(a.session).empty());
    CHECK(net.router.members(1).size() == 2);
}
