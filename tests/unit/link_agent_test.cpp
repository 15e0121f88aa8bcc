// The agent link's core (ca::LinkAgent, ca::link::decode): an external agent
// as frames, wired to a real Engine and Router in memory.
#include <catch2/catch.hpp>

#include "ca_net.hpp"
#include "compeit/ca/link_agent.hpp"

using namespace compeit;
using namespace compeit::test;
using ca::json;

namespace {

// One link: what the agent received, decoded.
struct Link {
    std::vector<json> rx;
    std::vector<std::string> texts;  // the same frames as sent
    ca::LinkAgent agent;
    Link(Net& net, ca::LinkAgent::Config config = {})
        : agent(net.router, std::move(config), [this](std::string f) {
              rx.push_back(json::parse(f));
              texts.push_back(std::move(f));
          }) {}
    void send(Net& net, const json& frame) { agent.on_frame(frame.dump(), net.now); }
    void raw(Net& net, std::string_view text) { agent.on_frame(text, net.now); }
    // Frames of `op` received so far (and forgets them).
    std::vector<json> take(std::string_view op) {
        std::vector<json> out, rest;
        for (auto& f : rx) (f.value("op", "") == op ? out : rest).push_back(f);
        rx = std::move(rest);
        return out;
    }
    json one(std::string_view op) {
        auto got = take(op);
        INFO("op " << op);
        REQUIRE(got.size() == 1);
        return got[0];
    }
};

json reg(std::vector<std::string> types, std::vector<std::string> takes = {}) {
    json f{{"op", "register"}, {"types", types}};
    if (!takes.empty()) f["takes"] = takes;
    return f;
}

}  // namespace

TEST_CASE("link: a request reaches the agent and its answer the user, once", "[link]") {
    Net net;
    Link link(net);
    link.send(net, reg({"poll"}));
    CHECK(link.one("registered")["types"] == json::array({"poll"}));
    const Client a = net.connect();
    net.join(a, 7);
    net.clear_all();

    net.request(a, "server_message", {{"type", "poll"}, {"data", {{"action", "open"}}}}, "1");
    const json req = link.one("request");
    CHECK(req["type"] == "poll");
    CHECK(req["event"] == "server_message");
    CHECK(req["user"] == user_json(a));
    CHECK(req["room"] == 7);
    CHECK(req["data"] == json{{"action", "open"}});
    CHECK(net.acks(a, "1").empty());  // not yet answered

    link.send(net, {{"op", "ok"}, {"id", req["id"]}, {"data", {{"opened", true}}}});
    net.engine.flush(net.now);
    CHECK(net.events(a, "server_message") == std::vector<json>{json{{"type", "poll"}, {"data", {{"opened", true}}}}});
    CHECK(net.acks(a, "1") == std::vector<json>{json::array({{{"ok", true}}})});
    CHECK(link.agent.pending() == 0);

    link.send(net, {{"op", "ok"}, {"id", req["id"]}, {"ref", "again"}});  // answered already
    const json err = link.one("error");
    CHECK(err["code"] == "unknown_request");
    CHECK(err["ref"] == "again");
}

TEST_CASE("link: a request's data reaches the agent as the client wrote it, never parsed and re-encoded", "[link]") {
    Net net;
    Link link(net, {});
    link.send(net, reg({"poll"}, {"room_message"}));
    const Client a = net.connect();
    net.join(a, 7);
    // Key order and 1.50 would not survive a parse and a dump (a, then 1.5).
    const std::string data = R"({"b":[1.50,"\u00e9"],"a":{}})";
    for (const char* event : {"server_message", "room_message"}) {
        link.texts.clear();
        net.send(a.session, std::string("5::") + std::string(ca::kNamespace) + R"(:{"name":")" + event +
                                R"(","args":[{"type":"poll","data":)" + data + "}]}");
        INFO(event);
        REQUIRE(link.texts.size() == 1);
        const std::string& frame = link.texts[0];
        CHECK(frame.size() > data.size());
        CHECK(frame.substr(frame.size() - data.size() - 8) == R"("data":)" + data + "}");
    }
}

TEST_CASE("link: fail answers request_error with the agent's code", "[link]") {
    Net net;
    Link link(net);
    link.send(net, reg({"poll"}));
    const Client a = net.connect();
    net.request(a, "server_message", {{"type", "poll"}, {"data", nullptr}}, "2");
    const json req = link.one("request");
    CHECK(req["room"].is_null());
    link.send(net, {{"op", "fail"}, {"id", req["id"]}, {"code", "bad_request"}, {"message", "no such poll"}});
    net.engine.flush(net.now);
    const json e = net.the_error(a);
    CHECK(e["code"] == "bad_request");
    CHECK(e["message"] == "no such poll");

    link.send(net, {{"op", "fail"}, {"id", 99}, {"code", "teapot"}});
    CHECK(link.one("error")["code"] == "bad_request");
}

TEST_CASE("link: a type is held by one agent; closing the link frees it", "[link]") {
    Net net;
    auto first = std::make_unique<Link>(net);
    first->send(net, reg({"poll"}));
    first->one("registered");
    Link second(net);
    second.send(net, reg({"other", "poll"}));  // all or nothing
    CHECK(second.one("error")["code"] == "type_taken");
    CHECK(second.agent.types().empty());

    const Client a = net.connect();
    net.request(a, "server_message", {{"type", "poll"}, {"data", 1}}, "3");
    first->one("request");
    first.reset();  // the link went away: its pending request fails, its type is gone
    net.engine.flush(net.now);
    CHECK(net.the_error(a)["code"] == "unavailable");
    net.clear(a.session);
    net.request(a, "server_message", {{"type", "poll"}, {"data", 1}}, "4");
    CHECK(net.the_error(a)["code"] == "unknown_type");

    second.send(net, reg({"poll"}));  // and another may take it
    CHECK(second.one("registered")["types"] == json::array({"poll"}));
}

TEST_CASE("link: a type the credential does not list is refused", "[link]") {
    Net net;
    ca::LinkAgent::Config config;
    config.allowed_types = std::set<std::string>{"poll"};
    Link link(net, config);
    link.send(net, reg({"quiz"}));
    CHECK(link.one("error")["code"] == "forbidden");
    link.send(net, reg({"poll"}));
    link.one("registered");
}

TEST_CASE("link: an unanswered request gets unavailable after the timeout", "[link]") {
    Net net;
    ca::LinkAgent::Config config;
    config.timeout = sio::Time{5'000};
    Link link(net, config);
    link.send(net, reg({"slow"}));
    const Client a = net.connect();
    net.request(a, "server_message", {{"type", "slow"}, {"data", 1}}, "5");
    const json req = link.one("request");
    net.now = sio::Time{4'999};
    link.agent.tick(net.now);
    CHECK(link.agent.pending() == 1);
    net.now = sio::Time{5'000};
    link.agent.tick(net.now);
    net.engine.flush(net.now);
    CHECK(link.agent.pending() == 0);
    CHECK(net.the_error(a)["code"] == "unavailable");
    CHECK(link.one("expired")["id"] == req["id"]);
    link.send(net, {{"op", "ok"}, {"id", req["id"]}});  // too late
    CHECK(link.one("error")["code"] == "unknown_request");
}

TEST_CASE("link: the pending table is bounded", "[link]") {
    Net net;
    ca::LinkAgent::Config config;
    config.max_pending = 2;
    Link link(net, config);
    link.send(net, reg({"slow"}));
    const Client a = net.connect();
    for (int i = 0; i < 3; ++i) net.request(a, "server_message", {{"type", "slow"}, {"data", i}});
    CHECK(link.take("request").size() == 2);
    CHECK(net.the_error(a)["code"] == "unavailable");
}

TEST_CASE("link: malformed frames get errors, never a crash", "[link]") {
    Net net;
    Link link(net);
    link.raw(net, "{\"op\":\"watch\"");  // before registering, and broken
    CHECK(link.one("error")["code"] == "bad_json");
    link.send(net, {{"op", "watch"}, {"rooms", {1}}});
    CHECK(link.one("error")["code"] == "not_registered");
    link.send(net, reg({"t"}));
    link.one("registered");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"not json", "bad_json"},
        {"[1,2]", "bad_request"},
        {"{}", "bad_request"},
        {R"({"op":5})", "bad_request"},
        {R"({"op":"dance","ref":1})", "unknown_op"},
        {R"({"op":"ok","id":"x"})", "bad_request"},
        {R"({"op":"ok","id":-1})", "bad_request"},
        {R"({"op":"to_room","room":1.5,"data":1})", "bad_request"},
        {R"({"op":"to_room","room":1})", "bad_request"},  // no data
        {R"({"op":"to_user","to":"1","data":1})", "bad_request"},
        {R"({"op":"to_user","type":"nope","to":1,"data":1})", "not_registered"},
        {R"({"op":"register","types":[]})", "bad_request"},
        {R"({"op":"register","types":["x"],"takes":["everything"]})", "bad_request"},
        {R"({"op":"watch","rooms":[-1]})", "bad_request"},
        {std::string(300'000, ' '), "too_large"},
        {std::string(100, '[') + std::string(100, ']'), "bad_json"},
    };
    for (const auto& [text, code] : cases) {
        INFO(text.substr(0, 60));
        link.raw(net, text);
        CHECK(link.one("error")["code"] == code);
    }
    json big{{"op", "to_room"}, {"room", 1}, {"data", std::string(70'000, 'x')}};
    link.send(net, big);
    CHECK(link.one("error")["code"] == "too_large");
    CHECK_FALSE(link.agent.misbehaving());
}

TEST_CASE("link: a flood of bad frames ends in misbehaving", "[link]") {
    Net net;
    Link link(net);
    for (int i = 0; i < 200; ++i) link.raw(net, "x");
    CHECK(link.agent.misbehaving());
    CHECK(link.take("error").size() == 101);  // the budget, then one last word
}

TEST_CASE("link: scope: only watched rooms, their members and requesters", "[link]") {
    Net net;
    Link link(net);
    link.send(net, reg({"poll"}));
    const Client a = net.connect();
    const Client b = net.connect();
    const Client c = net.connect();
    net.join(a, 1);
    net.join(b, 1);
    net.join(c, 2);
    link.rx.clear();
    net.clear_all();

    link.send(net, {{"op", "to_room"}, {"room", 1}, {"data", 1}});
    CHECK(link.one("error")["code"] == "forbidden");
    link.send(net, {{"op", "to_user"}, {"to", c.user}, {"data", 1}});
    CHECK(link.one("error")["code"] == "forbidden");
    link.send(net, {{"op", "members"}, {"room", 2}});
    CHECK(link.one("error")["code"] == "forbidden");
    net.engine.flush(net.now);
    CHECK(net.inbox(a.session).empty());
    CHECK(net.inbox(c.session).empty());

    link.send(net, {{"op", "watch"}, {"rooms", {1}}});
    CHECK(link.one("watching")["rooms"] == json::array({1}));
    link.send(net, {{"op", "to_room"}, {"room", 1}, {"data", {{"n", 1}}}});
    link.send(net, {{"op", "relay"}, {"room", 1}, {"from", a.user}, {"data", 2}});
    link.send(net, {{"op", "relay"}, {"room", 1}, {"from", c.user}, {"data", 3}});  // c is elsewhere
    CHECK(link.one("error")["code"] == "forbidden");
    link.send(net, {{"op", "user_message"}, {"to", b.user}, {"from", a.user}, {"data", 4}});
    link.send(net, {{"op", "members"}, {"room", 1}, {"ref", 9}});
    const json members = link.one("members");
    CHECK(members["users"] == json::array({user_json(a), user_json(b)}));
    CHECK(members["ref"] == 9);
    net.engine.flush(net.now);
    CHECK(net.events(b, "room_message") ==
          std::vector<json>{json{{"from", 0}, {"type", "poll"}, {"data", {{"n", 1}}}},
                            json{{"from", a.user}, {"type", "poll"}, {"data", 2}}});
    CHECK(net.events(a, "room_message").size() == 1);  // the relay skips its sender
    CHECK(net.events(b, "user_message") == std::vector<json>{json{{"from", a.user}, {"type", "poll"}, {"data", 4}}});

    // A user with a request pending is in scope, and so is its room, until answered.
    net.request(c, "server_message", {{"type", "poll"}, {"data", 0}});
    const json req = link.one("request");
    link.send(net, {{"op", "to_user"}, {"to", c.user}, {"data", 5}});
    link.send(net, {{"op", "to_room"}, {"room", 2}, {"data", 6}});
    CHECK(link.take("error").empty());
    link.send(net, {{"op", "ok"}, {"id", req["id"]}});
    link.send(net, {{"op", "to_room"}, {"room", 2}, {"data", 7}});
    CHECK(link.one("error")["code"] == "forbidden");
}

TEST_CASE("link: joins and leaves of watched rooms; taken room messages", "[link]") {
    Net net;
    Link link(net);
    link.send(net, reg({"vote", "tally"}, {"room_message"}));
    link.send(net, {{"op", "watch"}, {"rooms", {3}}});
    link.rx.clear();
    const Client a = net.connect();
    const Client b = net.connect();
    net.join(a, 3);
    net.join(b, 4);  // not watched
    const json join = link.one("join");  // once, though two types are registered
    CHECK(join == json{{"op", "join"}, {"room", 3}, {"user", user_json(a)}});
    CHECK(link.take("join").empty());
    net.clear_all();

    net.request(a, "room_message", {{"type", "vote"}, {"data", {{"x", 1}}}}, "6");
    const json req = link.one("request");
    CHECK(req["event"] == "room_message");
    CHECK(req["room"] == 3);
    link.send(net, {{"op", "ok"}, {"id", req["id"]}});
    net.engine.flush(net.now);
    CHECK(net.acks(a, "6") == std::vector<json>{json::array({{{"ok", true}}})});
    net.request(a, "server_message", {{"to", b.user}, {"type", "vote"}, {"data", 1}});  // user messages are not taken
    CHECK(link.take("request").empty());
    CHECK(net.events(b, "user_message").size() == 1);

    net.emit(a, "leave_room", json::array());
    CHECK(link.one("leave") == json{{"op", "leave"}, {"room", 3}, {"user", user_json(a)}});
}

TEST_CASE("link: decode round trips every op", "[link]") {
    const auto ok = [](std::string_view text) {
        auto f = ca::link::decode(text, 1 << 20, 1 << 16);
        INFO(text);
        REQUIRE(f.has_value());
        return std::move(f->op);
    };
    CHECK(std::get<ca::link::Register>(ok(R"({"op":"register","types":["a","b"],"takes":["user_message"]})")).takes_user);
    CHECK(std::get<ca::link::Watch>(ok(R"({"op":"unwatch","rooms":[1,2]})")).rooms.size() == 2);
    CHECK(std::get<ca::link::Answer>(ok(R"({"op":"fail","id":3,"code":"forbidden"})")).code == ca::ErrorCode::forbidden);
    CHECK(std::get<ca::link::ToUser>(ok(R"({"op":"to_user","to":3,"data":null})")).to == 3);
    CHECK(std::get<ca::link::Relay>(ok(R"({"op":"relay","room":0,"from":1,"data":[],"include_sender":true})")).include_sender);
    CHECK(std::get<ca::link::UserMessage>(ok(R"({"op":"user_message","to":3,"from":4,"data":{}})")).from == 4);
    CHECK(std::get<ca::link::Members>(ok(R"( {"op":"members","room":9} )")).room == 9);
}

namespace {

// A cluster whose member lists answer when the test says: what the link does
// with a late answer, a hostile one, and one that comes after it closed.
struct LateMembers final : ca::ClusterLink {
    std::vector<std::function<void(Joined)>> waiting;
    std::optional<ca::UserId> allocate_user() override { return std::nullopt; }
    void user_online(const ca::User&, sio::SessionId) override {}
    void user_offline(const ca::User&) override {}
    void join(ca::RoomId, sio::SessionId, const ca::User&, sio::Frame, std::function<void(Joined)> done) override {
        done(Joined{ca::ErrorCode::unavailable, {}});
    }
    void leave(ca::RoomId, sio::SessionId, const ca::User&, sio::Frame) override {}
    void publish(ca::RoomId, sio::Frame, sio::SessionId, std::uint64_t, std::function<void(bool)> done) override {
        if (done) done(false);
    }
    void to_user(ca::UserId, sio::Frame, std::function<void(bool)> done) override {
        if (done) done(false);
    }
    void members(ca::RoomId, std::function<void(Joined)> done) override { waiting.push_back(std::move(done)); }
    void locate(ca::UserId, std::function<void(bool)> done) override { done(false); }
    bool available() const override { return true; }
};

}  // namespace

TEST_CASE("link: in a cluster, members is the cluster's list, checked, and dropped after the link went",
          "[link][cluster]") {
    Net net;
    LateMembers cluster;
    net.router.link(&cluster);
    auto link = std::make_unique<Link>(net);
    link->send(net, reg({"roster"}));
    link->send(net, {{"op", "watch"}, {"rooms", {5}}});
    link->rx.clear();

    link->send(net, {{"op", "members"}, {"room", 5}, {"ref", "a"}});
    CHECK(link->rx.empty());  // asked of the cluster: no answer yet
    REQUIRE(cluster.waiting.size() == 1);
    cluster.waiting[0]({std::nullopt, R"([{"id":3,"name":"Ada"},{"id":9,"name":"Bo"}])"});
    const json m = link->one("members");
    CHECK(m["ref"] == "a");
    CHECK(m["users"] == json::parse(R"([{"id":3,"name":"Ada"},{"id":9,"name":"Bo"}])"));

    // What Redis returns is outside input: anything but a user list is an error.
    for (const char* bad : {"not json", R"({"id":1})", R"([{"id":-1,"name":"x"}])", R"([{"id":1}])", "[[[[[[1]]]]]]"}) {
        link->send(net, {{"op", "members"}, {"room", 5}});
        cluster.waiting.back()({std::nullopt, bad});
        INFO(bad);
        CHECK(link->one("error")["code"] == "unavailable");
    }
    link->send(net, {{"op", "members"}, {"room", 5}});
    cluster.waiting.back()({ca::ErrorCode::unavailable, {}});
    CHECK(link->one("error")["code"] == "unavailable");

    // The link goes before the cluster answers: the answer is dropped.
    link->send(net, {{"op", "members"}, {"room", 5}});
    auto late = std::move(cluster.waiting.back());
    link.reset();
    late({std::nullopt, R"([{"id":3,"name":"Ada"}])"});
}
