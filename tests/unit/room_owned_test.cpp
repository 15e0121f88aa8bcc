// ca::RoomOwnedAgent driven in memory: three nodes, each a real Engine,
// Router and KurentoAgent (mesh), joined by a fake cluster that plays Redis
// (directory, room delivery, node channels, room claims with liveness) with
// every step queued, so answers come later as they do over the network. The
// real Redis and its Lua run in tests/cluster/media.test.mjs.
#include <catch2/catch.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "ca_net.hpp"
#include "compeit/agents/kurento_agent.hpp"
#include "compeit/ca/room_owned_agent.hpp"
#include "compeit/util/json_guard.hpp"

using namespace compeit;
using namespace compeit::test;
using ca::json;

namespace {

struct FakeNode;

struct FakeCluster {
    bool up = true;
    std::deque<std::function<void()>> tasks;
    std::vector<FakeNode*> nodes;
    ca::UserId next_user = 100;
    struct Where {
        FakeNode* node;
        sio::SessionId session;
        ca::User user;
    };
    std::map<ca::UserId, Where> users;
    std::map<ca::RoomId, std::vector<ca::UserId>> rooms;  // join order
    struct Claim {
        FakeNode* node = nullptr;
        std::string record;
    };
    std::map<std::pair<std::string, ca::RoomId>, Claim> claims;

    void post(std::function<void()> f) { tasks.push_back(std::move(f)); }
    void pump();
    void send_to(ca::UserId to, const sio::Frame& f);
    std::string members_json(ca::RoomId room) {
        json out = json::array();
        for (auto id : rooms[room]) out.push_back(ca::to_json(users.at(id).user));
        return out.dump();
    }
};

struct FakeNode final : ca::ClusterLink, ca::RoomOwners {
    FakeCluster& c;
    std::string name;
    bool alive = true;
    Net net;
    agents::MeshBackend backend;
    agents::KurentoAgent kurento{backend};
    ca::RoomOwnedAgent owned;
    std::map<std::string, std::function<void(std::string_view)>, std::less<>> listeners;

    FakeNode(FakeCluster& cluster, std::string n)
        : c(cluster), name(std::move(n)), owned("kurento", kurento, &kurento, *this) {
        net.router.link(this);
        net.router.register_agent("kurento", owned);
        c.nodes.push_back(this);
    }

    // ClusterLink
    std::optional<ca::UserId> allocate_user() override { return c.next_user++; }
    void user_online(const ca::User& u, sio::SessionId s) override { c.users.insert_or_assign(u.id, FakeCluster::Where{this, s, u}); }
    void user_offline(const ca::User& u) override { c.users.erase(u.id); }
    void join(ca::RoomId room, sio::SessionId, const ca::User& user, sio::Frame frame,
              std::function<void(Joined)> done) override {
        c.post([this, room, user, frame, done] {
            for (auto id : c.rooms[room]) c.send_to(id, frame);
            c.rooms[room].push_back(user.id);
            done(Joined{std::nullopt, c.members_json(room)});
        });
    }
    void leave(ca::RoomId room, sio::SessionId, const ca::User& user, sio::Frame frame) override {
        c.post([this, room, user, frame] {
            auto& v = c.rooms[room];
            v.erase(std::remove(v.begin(), v.end(), user.id), v.end());
            for (auto id : v) c.send_to(id, frame);
        });
    }
    void publish(ca::RoomId room, sio::Frame frame, sio::SessionId skip, std::uint64_t,
                 std::function<void(bool)> done) override {
        if (!c.up) {
            if (done) done(false);
            return;
        }
        c.post([this, room, frame, skip, done] {
            for (auto id : c.rooms[room]) {
                const auto& w = c.users.at(id);
                if (!(w.node == this && w.session == skip)) c.send_to(id, frame);
            }
            if (done) done(true);
        });
    }
    void to_user(ca::UserId user, sio::Frame frame, std::function<void(bool)> done) override {
        c.post([this, user, frame, done] {
            const bool found = c.users.count(user);
            if (found) c.send_to(user, frame);
            if (done) done(found);
        });
    }
    void members(ca::RoomId room, std::function<void(Joined)> done) override {
        c.post([this, room, done] { done(Joined{std::nullopt, c.members_json(room)}); });
    }
    void locate(ca::UserId user, std::function<void(bool)> done) override {
        c.post([this, user, done] { done(c.users.count(user) > 0); });
    }
    bool available() const override { return c.up; }

    // RoomOwners: as compeit_route / compeit_record do it.
    void route(std::string_view scope, ca::RoomId room, std::string message, bool again,
               std::function<void(bool)> done) override {
        if (!c.up) return c.post([done] { done(false); });
        c.post([this, room, scope = std::string(scope), message, again, done] {
            auto& claim = c.claims[{scope, room}];
            FakeNode* to = claim.node;
            const bool mine = claim.node == this;
            const bool live = claim.node && claim.node != this && claim.node->alive;
            if ((!mine && !live) || (mine && again)) {  // claimed (or again), and the claimer hears it first
                const bool claimed = !mine;
                const std::string m = json{{"k", "claim"}, {"from", name}, {"room", room},
                                           {"previous", claimed && claim.node ? claim.node->name : ""},
                                           {"record", claimed ? claim.record : ""}}.dump();
                claim = FakeCluster::Claim{this, claimed ? std::string() : claim.record};
                to = this;
                c.post([to, scope, m] { to->deliver(scope, m); });
            }
            c.post([to, scope, message] { to->deliver(scope, message); });
            done(true);
        });
    }
    void to_node(std::string_view scope, std::string_view node, std::string message) override {
        c.post([this, scope = std::string(scope), node = std::string(node), message] {
            for (auto* n : c.nodes)
                if (n->name == node && n->alive) n->deliver(scope, message);
        });
    }
    void record(std::string_view scope, ca::RoomId room, std::string record) override {
        auto& claim = c.claims[{std::string(scope), room}];
        if (claim.node == this) claim.record = std::move(record);
    }
    void listen(std::string_view scope, std::function<void(std::string_view)> h) override {
        listeners[std::string(scope)] = std::move(h);
    }
    const std::string& node_name() const override { return name; }

    void deliver(const std::string& scope, const std::string& message) {
        if (!alive) return;
        if (const auto it = listeners.find(scope); it != listeners.end()) it->second(message);
    }
};

void FakeCluster::send_to(ca::UserId to, const sio::Frame& f) {
    const auto it = users.find(to);
    if (it == users.end() || !it->second.node->alive) return;
    it->second.node->net.engine.send(it->second.session, f);
}

void FakeCluster::pump() {
    while (!tasks.empty()) {
        auto t = std::move(tasks.front());
        tasks.pop_front();
        t();
    }
    for (auto* n : nodes)
        if (n->alive) n->net.engine.flush(n->net.now);
}

struct Three {
    FakeCluster c;
    std::unique_ptr<FakeNode> n1 = std::make_unique<FakeNode>(c, "n1"), n2 = std::make_unique<FakeNode>(c, "n2"),
                              n3 = std::make_unique<FakeNode>(c, "n3");

    Client join(FakeNode& n, ca::RoomId room) {
        Client cl = n.net.connect();
        n.net.request(cl, "join_room", {{"room", room}}, "1");
        c.pump();
        return cl;
    }
    // A kurento request with ack id `ack`.
    void media(FakeNode& n, const Client& cl, json data, std::string ack = "9") {
        n.net.request(cl, "server_message", {{"type", "kurento"}, {"data", std::move(data)}}, ack);
        c.pump();
    }
    // The kurento messages `cl` got (to it: server_message; to its room: room_message), by action.
    static std::vector<json> got(FakeNode& n, const Client& cl, const std::string& action) {
        std::vector<json> out;
        for (const Rx& r : n.net.inbox(cl.session))
            if (r.type == sio::PacketType::event && (r.name == "server_message" || r.name == "room_message") &&
                r.arg["type"] == "kurento" && r.arg["data"]["action"] == action)
                out.push_back(r.arg["data"]);
        return out;
    }
    // Kills a node: its users are reaped by `reaper` (each leaves its room once).
    void kill(FakeNode& dead, FakeNode& reaper) {
        dead.alive = false;
        std::vector<std::pair<ca::User, ca::RoomId>> gone;
        for (auto& [room, ids] : c.rooms)
            for (auto id : ids)
                if (c.users.at(id).node == &dead) gone.emplace_back(c.users.at(id).user, room);
        for (const auto& [u, room] : gone) {
            auto& v = c.rooms[room];
            v.erase(std::remove(v.begin(), v.end(), u.id), v.end());
            c.users.erase(u.id);
            reaper.net.router.reaped_leave(u, room);
        }
        c.pump();
    }
};

// The position of the first event or ack matching, in what `cl` received.
std::ptrdiff_t position(Net& net, const Client& cl, std::function<bool(const Rx&)> match) {
    const auto& box = net.inbox(cl.session);
    for (std::size_t i = 0; i < box.size(); ++i)
        if (match(box[i])) return static_cast<std::ptrdiff_t>(i);
    return -1;
}

}  // namespace

TEST_CASE("room-owned agent: the first node to act owns the room; a member elsewhere gets its state before its ack",
          "[cluster][kurento]") {
    Three t;
    const Client a = t.join(*t.n1, 7);
    CHECK(t.c.claims[{"kurento", 7}].node == t.n1.get());
    const Client b = t.join(*t.n2, 7);
    // B's join went to n1, which sent the config and streams through the
    // cluster, then released B's ack on n2: the ack comes after the state.
    REQUIRE(Three::got(*t.n2, b, "config").size() == 1);
    REQUIRE(Three::got(*t.n2, b, "streams").size() == 1);
    const auto state = position(t.n2->net, b, [](const Rx& r) { return r.name == "server_message"; });
    const auto ack = position(t.n2->net, b, [](const Rx& r) { return r.type == sio::PacketType::ack && r.ack_id == "1"; });
    CHECK(state >= 0);
    CHECK(ack > state);
    CHECK(t.n2->owned.held() == 0);
    // Only the owner holds media state.
    CHECK(t.n1->kurento.room_count() == 0);  // nobody publishes yet
    CHECK(t.n2->owned.in_flight() == 0);
    static_cast<void>(a);
}

TEST_CASE("room-owned agent: mesh signalling between three nodes goes through the owner, answers to each user",
          "[cluster][kurento]") {
    Three t;
    const Client a = t.join(*t.n1, 7);  // n1 owns the room
    const Client b = t.join(*t.n2, 7);
    const Client c = t.join(*t.n3, 7);

    t.media(*t.n3, c, {{"action", "publish"}, {"audio", true}, {"video", true}}, "20");
    CHECK(t.n1->kurento.publishes(7, agents::StreamKey(c.user)));
    CHECK(t.n3->kurento.room_count() == 0);  // not on C's node: on the owner
    for (const auto& who : {std::make_pair(t.n1.get(), a), std::make_pair(t.n2.get(), b), std::make_pair(t.n3.get(), c)})
        CHECK(Three::got(*who.first, who.second, "stream_added").size() == 1);
    CHECK(Three::got(*t.n3, c, "published").size() == 1);
    REQUIRE(t.n3->net.acks(c, "20").size() == 1);  // the ack came back through the cluster to C's node
    CHECK(t.n3->net.acks(c, "20")[0] == json::array({{{"ok", true}}}));

    // B (n2) subscribes to C (n3): the owner (n1) asks C, C answers, B is subscribed.
    t.media(*t.n2, b, {{"action", "subscribe"}, {"user", c.user}, {"sdp", "offer-b"}}, "21");
    const auto asked = Three::got(*t.n3, c, "subscribe_request");
    REQUIRE(asked.size() == 1);
    CHECK(asked[0]["user"] == b.user);
    CHECK(asked[0]["sdp"] == "offer-b");
    CHECK(t.n2->net.acks(b, "21").size() == 1);
    t.media(*t.n3, c, {{"action", "subscribe_answer"}, {"user", b.user}, {"sdp", "answer-c"}}, "22");
    const auto subscribed = Three::got(*t.n2, b, "subscribed");
    REQUIRE(subscribed.size() == 1);
    CHECK(subscribed[0]["sdp"] == "answer-c");
    CHECK(t.n1->kurento.subscribed(7, b.user, agents::StreamKey(c.user)));

    // Candidates cross, with `peer` rewritten to the sender.
    const json cand{{"candidate", "candidate:1 1 udp 1 10.0.0.1 9 typ host"}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}};
    t.media(*t.n2, b, {{"action", "ice_candidate"}, {"user", c.user}, {"peer", c.user}, {"candidate", cand}}, "23");
    const auto relayed = Three::got(*t.n3, c, "ice_candidate");
    REQUIRE(relayed.size() == 1);
    CHECK(relayed[0]["peer"] == b.user);

    // A refusal on the owner reaches the requester as request_error, then the ack's error.
    t.media(*t.n2, b, {{"action", "unpublish"}}, "24");
    const auto err = t.n2->net.the_error(b);
    CHECK(err["code"] == "bad_request");
    CHECK(err["type"] == "kurento");
    REQUIRE(t.n2->net.acks(b, "24").size() == 1);
    CHECK(t.n2->net.acks(b, "24")[0][0]["error"]["code"] == "bad_request");

    // C leaves: its stream goes for everyone, on the owner too.
    t.n3->net.request(c, "leave_room", json::object(), "25");
    t.c.pump();
    CHECK(Three::got(*t.n2, b, "stream_removed").size() == 1);
    CHECK_FALSE(t.n1->kurento.publishes(7, agents::StreamKey(c.user)));
}

TEST_CASE("room-owned agent: the owner dies; a survivor takes the room over, removes its recorded streams, and serves",
          "[cluster][kurento]") {
    Three t;
    const Client a = t.join(*t.n1, 7);  // n1 owns the room
    const Client b = t.join(*t.n2, 7);
    const Client c = t.join(*t.n3, 7);
    t.media(*t.n3, c, {{"action", "publish"}}, "20");
    t.media(*t.n1, a, {{"action", "publish"}, {"stream", "screen"}}, "21");
    const auto record = util::parse_json(t.c.claims[{"kurento", 7}].record);
    REQUIRE(record.is_object());
    CHECK(record["streams"].size() == 2);

    t.kill(*t.n1, *t.n2);  // A is reaped on n2: its leave reaches the room's (dead) owner's successor
    CHECK(t.c.claims[{"kurento", 7}].node == t.n2.get());
    // Every stream the dead owner recorded is removed, C's too: its client publishes again.
    const auto removed_b = Three::got(*t.n2, b, "stream_removed");
    REQUIRE(removed_b.size() == 2);
    CHECK(Three::got(*t.n3, c, "stream_removed").size() == 2);
    bool c_removed = false;
    for (const auto& r : removed_b) c_removed |= r["user"] == c.user && !r.contains("stream");
    CHECK(c_removed);

    t.media(*t.n3, c, {{"action", "publish"}}, "30");
    CHECK(t.n2->kurento.publishes(7, agents::StreamKey(c.user)));
    std::size_t added = 0;
    for (const auto& e : Three::got(*t.n2, b, "stream_added")) added += e["stream"]["user"] == c.user;
    CHECK(added == 2);  // the first publish, and this one
    CHECK(t.n3->net.acks(c, "30").size() == 1);
    // The new owner records it for its own successor.
    CHECK(util::parse_json(t.c.claims[{"kurento", 7}].record)["streams"].size() == 1);
}

TEST_CASE("room-owned agent: without the cluster a request fails with unavailable, nothing queued", "[cluster][kurento]") {
    Three t;
    const Client a = t.join(*t.n1, 7);
    const Client b = t.join(*t.n2, 7);
    static_cast<void>(a);
    t.c.up = false;
    t.media(*t.n2, b, {{"action", "publish"}}, "5");
    CHECK(t.n2->net.the_error(b)["code"] == "unavailable");
    REQUIRE(t.n2->net.acks(b, "5").size() == 1);
    CHECK(t.n2->owned.in_flight() == 0);
    t.c.up = true;
    CHECK_FALSE(t.n1->kurento.publishes(7, agents::StreamKey(b.user)));  // nothing was kept for later
}

TEST_CASE("room-owned agent: a join ack held for an owner that never answers is released after the timeout",
          "[cluster][kurento]") {
    Three t;
    const Client a = t.join(*t.n1, 7);
    static_cast<void>(a);
    // n1 still counts as alive (its liveness key has not lapsed) but the
    // forwarded join is lost on the way (it died just then).
    t.n1->listeners.clear();
    const Client b = t.n2->net.connect();
    t.n2->net.request(b, "join_room", {{"room", 7}}, "1");
    t.c.pump();
    CHECK(t.n2->owned.held() == 1);
    CHECK(t.n2->net.acks(b, "1").empty());
    t.n2->owned.tick(sio::Time{3'000});
    t.c.pump();
    CHECK(t.n2->owned.held() == 0);
    CHECK(t.n2->net.acks(b, "1").size() == 1);
}

TEST_CASE("room-owned agent: messages from other nodes are validated; garbage is counted and dropped",
          "[cluster][kurento][hostile]") {
    Three t;
    const Client a = t.join(*t.n1, 7);
    static_cast<void>(a);
    const std::string big(ca::kMaxForwardedBytes + 1, ' ');
    const std::vector<std::string> bad = {
        "",
        "not json",
        "[]",
        R"({"k":"request"})",
        R"({"k":"launch","from":"n2","room":7,"user":{"id":5,"name":"x","caps":[true,true,true]}})",
        R"({"k":"join","from":"","room":7,"user":{"id":5,"name":"x","caps":[true,true,true]}})",
        R"({"k":"join","from":"n2","room":-1,"user":{"id":5,"name":"x","caps":[true,true,true]}})",
        R"({"k":"join","from":"n2","room":9007199254740992,"user":{"id":5,"name":"x","caps":[true,true,true]}})",
        R"({"k":"join","from":"n2","room":7,"user":{"id":0,"name":"x","caps":[true,true,true]}})",
        R"({"k":"join","from":"n2","room":7,"user":{"id":5,"name":7,"caps":[true,true,true]}})",
        R"({"k":"join","from":"n2","room":7,"user":{"id":5,"name":"x","caps":[true,true]}})",
        R"({"k":"join","from":"n2","room":7,"user":{"id":5,"name":"x","caps":[1,true,true]}})",
        R"({"k":"join","from":"n2","room":7,"user":{"id":5,"name":"x","caps":[true,true,true]},"hold":-3})",
        R"({"k":"joined","from":"n2","room":7,"user":{"id":5,"name":"x","caps":[true,true,true]}})",
        R"({"k":"request","from":"n2","room":7,"user":{"id":5,"name":"x","caps":[true,true,true]},"ack":"1","type":"kurento","data":{}})",
        R"({"k":"request","from":"n2","room":7,"user":{"id":5,"name":"x","caps":[true,true,true]},"event":"server_message","ack":1,"type":"kurento","data":{}})",
        std::string(R"({"k":"join","from":")") + std::string(200, 'n') + R"(","room":7,"user":{"id":5,"name":"x","caps":[true,true,true]}})",
        std::string(100, '[') + std::string(100, ']'),
        big,
        R"({"k":"claim","from":"n2","room":7})",
        R"({"k":"claim","from":"n2","room":7,"previous":5,"record":""})",
        R"({"k":"request","from":"n2","room":7,"user":{"id":5,"name":"x","caps":[true,true,true]},"event":"server_message","ack":"1","type":"kurento","data":{},"hops":99})",
    };
    for (const auto& text : bad) {
        INFO(text.substr(0, 120));
        CHECK_FALSE(ca::parse_forwarded(text));
    }
    const auto before = t.n1->owned.rejected();
    for (const auto& text : bad) t.n1->owned.on_message(text);
    t.c.pump();
    CHECK(t.n1->owned.rejected() == before + bad.size());
    CHECK(t.n1->kurento.room_count() == 0);

    // A valid request whose data the agent refuses is answered to its user, not run.
    const std::string ok =
        R"({"k":"request","from":"n2","room":7,"user":{"id":5,"name":"x","caps":[false,false,false]},"event":"server_message","ack":"","type":"kurento","data":{"action":"publish"}})";
    const auto f = ca::parse_forwarded(ok);
    REQUIRE(f);
    CHECK_FALSE(f->user.caps.publish);
    CHECK(ca::parse_forwarded(ca::encode_forwarded(*f))->data == f->data);  // round trip
    t.n1->owned.on_message(ok);
    t.c.pump();
    CHECK(t.n1->kurento.room_count() == 0);  // forbidden: no caps

    // A call for a room this process never claimed (a claim of an earlier run
    // of its node, or one Redis forgot) is routed again: here, it claims it.
    t.n1->owned.on_message(
        R"({"k":"join","from":"n2","room":9,"user":{"id":5,"name":"x","caps":[true,true,true]}})");
    t.c.pump();
    CHECK(t.c.claims[{"kurento", 9}].node == t.n1.get());
}

TEST_CASE("room-owned agent: the dead owner's record is outside input too", "[cluster][kurento][hostile]") {
    Three t;
    const Client a = t.join(*t.n1, 7);
    const Client b = t.join(*t.n2, 7);
    static_cast<void>(a);
    t.c.claims[{"kurento", 7}].record =
        R"({"streams":[[5,"camera"],["x","camera"],[0,"camera"],[6,""],[7],[8,"screen"],{"a":1}],"media":7})";
    t.kill(*t.n1, *t.n2);
    const auto removed = Three::got(*t.n2, b, "stream_removed");
    REQUIRE(removed.size() == 2);  // 5's camera and 8's screen: the rest is skipped
    CHECK(removed[0]["user"] == 5);
    CHECK(removed[1]["stream"] == "screen");
    for (const char* junk : {"", "null", "{", R"({"streams":7})", "[[[[[[[[[[[[1]]]]]]]]]]]]"})
        t.n2->kurento.take_over(8, junk);  // nothing to tell, nothing thrown
}
