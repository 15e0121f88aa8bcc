// cluster::Node driven in memory: the commands it writes are decoded and
// checked, and Redis's replies and pushes are made by hand (the real Redis
// and the functions' Lua run in tests/cluster). Covers the room order, gaps,
// joins in flight, chat order, reaping, ids and a lost connection.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "compeit/cluster/node.hpp"

using namespace compeit;
using namespace std::chrono_literals;
using resp::Value;

namespace {

Value bulk(std::string s) { return Value::bulk(std::move(s)); }
Value integer(std::int64_t i) { return Value::number(i); }
Value array(std::vector<Value> e) { return Value::array(std::move(e)); }

struct Harness {
    std::vector<std::pair<sio::SessionId, std::string>> delivered;
    std::vector<std::pair<ca::UserId, ca::RoomId>> reaped;
    std::vector<std::vector<sio::SessionId>> dropped;
    std::vector<std::string> notes;
    int id_requests = 0;
    cluster::Node node;

    explicit Harness(cluster::NodeConfig config = make_config())
        : node(std::move(config), host()) {}

    static cluster::NodeConfig make_config() {
        cluster::NodeConfig c;
        c.name = "n1";
        c.max_room_users = 3;
        return c;
    }
    cluster::Node::Host host() {
        cluster::Node::Host h;
        h.deliver = [this](sio::SessionId s, const sio::Frame& f) { delivered.emplace_back(s, *f); };
        h.output = [] {};
        h.need_ids = [this] { ++id_requests; };
        h.reaped_leave = [this](const ca::User& u, ca::RoomId r) { reaped.emplace_back(u.id, r); };
        h.drop = [this](const std::vector<sio::SessionId>& s, std::string_view) { dropped.push_back(s); };
        h.note = [this](std::string_view n) { notes.emplace_back(n); };
        return h;
    }

    // One connection carries both: the commands written and not yet taken,
    // each as its arguments. commands() takes all but (UN)SUBSCRIBE,
    // subscriber() only those.
    std::vector<std::vector<std::string>> written;
    std::vector<std::vector<std::string>> commands() { return take(false); }
    std::vector<std::vector<std::string>> subscriber() { return take(true); }
    std::vector<std::vector<std::string>> take(bool subscriptions) {
        for (auto& c : decode(node.take_commands())) written.push_back(std::move(c));
        std::vector<std::vector<std::string>> out, rest;
        for (auto& c : written)
            ((!c.empty() && (c[0] == "SUBSCRIBE" || c[0] == "UNSUBSCRIBE")) == subscriptions ? out : rest)
                .push_back(std::move(c));
        written = std::move(rest);
        return out;
    }
    // HELLO 3's reply: a map of what the server is.
    void hello() {
        Value v = array({bulk("server"), bulk("redis"), bulk("proto"), integer(3)});
        v.kind = Value::Kind::map;
        node.on_reply(std::move(v));
    }
    static std::vector<std::vector<std::string>> decode(const std::string& bytes) {
        resp::Decoder d;
        d.feed(bytes);
        std::vector<std::vector<std::string>> out;
        while (auto v = d.next()) {
            std::vector<std::string> args;
            for (const auto& e : v->elements) args.push_back(e.str);
            out.push_back(std::move(args));
        }
        REQUIRE_FALSE(d.failed());
        return out;
    }

    // Connected and registered in a fresh Redis; the node channel subscribed.
    void up() {
        node.connected(0ms);
        REQUIRE(commands().front() == std::vector<std::string>{"HELLO", "3"});
        hello();
        node.on_reply(bulk("OK"));                               // FUNCTION LOAD
        node.on_reply(array({bulk("epoch-1"), integer(0)}));     // compeit_register
        subscriber();
        commands();
    }
    // Joins session s (user id u) to room r, answered with sequence `seq`.
    void join(ca::RoomId r, sio::SessionId s, ca::UserId u, std::int64_t seq, std::string* users = nullptr) {
        node.join(r, s, ca::User(u, "u" + std::to_string(u)), sio::make_frame("joined"), [users](auto j) {
            REQUIRE_FALSE(j.error);
            if (users) *users = j.users_json;
        });
        subscribed(r);
        node.on_reply(array({integer(seq), bulk(R"({"id":)" + std::to_string(u) + "}")}));
    }
    void subscribed(ca::RoomId r) {
        node.on_value(Value::push({bulk("subscribe"), bulk("compeit:r:" + std::to_string(r)), integer(1)}));
    }
    void message(ca::RoomId r, std::uint64_t seq, std::string frame, std::string origin = "n2", sio::SessionId skip = 0,
                 std::uint64_t order = 0) {
        node.on_value(Value::push({bulk("message"), bulk("compeit:r:" + std::to_string(r)),
                            bulk(std::to_string(seq) + " " + origin + " " + std::to_string(skip) + " " +
                                 std::to_string(order) + "\n" + frame)}));
    }
    std::vector<std::string> frames_of(sio::SessionId s) const {
        std::vector<std::string> out;
        for (const auto& [session, f] : delivered)
            if (session == s) out.push_back(f);
        return out;
    }
};

// A log entry as XRANGE returns it: the id numbers it, the field holds the payload.
Value log_entry(std::uint64_t seq, const std::string& frame, const std::string& head = "n2 0 0") {
    return array({bulk("0-" + std::to_string(seq)), array({bulk("m"), bulk(head + "\n" + frame)})});
}

}  // namespace

TEST_CASE("cluster node: a join subscribes first, then runs the join function; members come back in order",
          "[cluster]") {
    Harness h;
    h.up();
    std::string users;
    bool done = false;
    h.node.join(5, 11, ca::User(1, "ada"), sio::make_frame("J"), [&](auto j) {
        done = true;
        REQUIRE_FALSE(j.error);
        users = j.users_json;
    });
    const auto sub = h.subscriber();
    REQUIRE(sub == std::vector<std::vector<std::string>>{{"SUBSCRIBE", "compeit:r:5"}});
    CHECK(h.commands().empty());  // nothing before the subscription is live
    h.subscribed(5);
    const auto cmds = h.commands();
    REQUIRE(cmds.size() == 1);
    CHECK(cmds[0][0] == "FCALL");
    CHECK(cmds[0][1] == "compeit_join");
    CHECK(cmds[0][3] == "5");
    CHECK(cmds[0][4] == "n1");
    CHECK(cmds[0][7] == "3");                    // the cluster-wide cap
    CHECK(cmds[0][8] == "n1 11 0\nJ");           // origin, skip (the joiner), order, frame
    h.node.on_reply(array({integer(4), bulk(R"({"id":9,"name":"bo"})"), bulk(R"({"id":1,"name":"ada"})")}));
    REQUIRE(done);
    CHECK(users == R"([{"id":9,"name":"bo"},{"id":1,"name":"ada"}])");
}

TEST_CASE("cluster node: a full room refuses the join and leaves no trace", "[cluster]") {
    Harness h;
    h.up();
    std::optional<ca::ErrorCode> error;
    h.node.join(5, 11, ca::User(1, "ada"), sio::make_frame("J"), [&](auto j) { error = j.error; });
    h.subscriber();
    h.subscribed(5);
    h.commands();
    h.node.on_reply(array({integer(-1)}));
    REQUIRE(error == ca::ErrorCode::room_full);
    CHECK(h.node.local_rooms() == 0);
    CHECK(h.subscriber() == std::vector<std::vector<std::string>>{{"UNSUBSCRIBE", "compeit:r:5"}});
}

TEST_CASE("cluster node: room messages reach local members in sequence order, the sender skipped", "[cluster]") {
    Harness h;
    h.up();
    h.join(5, 11, 1, 3);
    h.join(5, 12, 2, 4);
    h.message(5, 4, "own join echo", "n1", 12);  // 12's own join: not to 12, already seen by 11? no: seq 4 > 3
    h.message(5, 5, "from 11", "n1", 11);
    h.message(5, 6, "from elsewhere");
    CHECK(h.frames_of(11) == std::vector<std::string>{"own join echo", "from elsewhere"});
    CHECK(h.frames_of(12) == std::vector<std::string>{"from 11", "from elsewhere"});
    h.message(5, 6, "duplicate");  // seen already: dropped
    CHECK(h.frames_of(11).size() == 2);
}

TEST_CASE("cluster node: a gap is filled from the room's log before later messages", "[cluster]") {
    Harness h;
    h.up();
    h.join(5, 11, 1, 3);
    h.message(5, 4, "m4");
    h.commands();
    h.message(5, 7, "m7");  // 5 and 6 missing
    const auto cmds = h.commands();
    REQUIRE(cmds == std::vector<std::vector<std::string>>{{"XRANGE", "compeit:r:5:log", "0-5", "0-6"}});
    h.message(5, 8, "m8");  // waits behind the fill
    CHECK(h.frames_of(11) == std::vector<std::string>{"m4"});
    h.node.on_reply(array({log_entry(5, "m5"), log_entry(6, "m6")}));
    CHECK(h.frames_of(11) == std::vector<std::string>{"m4", "m5", "m6", "m7", "m8"});
    CHECK(h.node.gaps_filled() == 1);
}

TEST_CASE("cluster node: a gap the log no longer covers ends the room's local sessions", "[cluster]") {
    Harness h;
    h.up();
    h.join(5, 11, 1, 3);
    h.join(5, 12, 2, 4);
    h.message(5, 4, "12 joined", "n1", 12);
    h.message(5, 5, "m5");
    h.commands();
    h.message(5, 9, "m9");
    h.commands();
    h.node.on_reply(array({log_entry(8, "m8")}));  // 6 and 7 were trimmed
    REQUIRE(h.dropped.size() == 1);
    CHECK(h.dropped[0] == std::vector<sio::SessionId>{11, 12});
    CHECK(h.frames_of(12) == std::vector<std::string>{"m5"});  // nothing out of order
}

TEST_CASE("cluster node: what the room says while a join is in flight reaches the joiner from its join on",
          "[cluster]") {
    Harness h;
    h.up();
    h.join(5, 11, 1, 3);
    h.node.join(5, 12, ca::User(2, "bo"), sio::make_frame("J"), [](auto) {});
    h.commands();
    h.message(5, 4, "before the join");
    h.message(5, 5, "the join", "n1", 12);
    h.message(5, 6, "after the join");
    CHECK(h.frames_of(12).empty());
    h.node.on_reply(array({integer(5), bulk(R"({"id":1})"), bulk(R"({"id":2})")}));
    CHECK(h.frames_of(12) == std::vector<std::string>{"after the join"});
    CHECK(h.frames_of(11) == std::vector<std::string>{"before the join", "the join", "after the join"});
}

TEST_CASE("cluster node: chat frames are released in the history's order, a hole waits then is skipped",
          "[cluster]") {
    Harness h;
    h.up();
    h.join(5, 11, 1, 3);
    h.message(5, 4, "chat 10", "n2", 0, 10);
    h.message(5, 5, "chat 12", "n2", 0, 12);  // 11 not published yet
    h.message(5, 6, "plain");                 // not chat: not held
    h.message(5, 7, "chat 11", "n3", 0, 11);
    CHECK(h.frames_of(11) == std::vector<std::string>{"chat 10", "plain", "chat 11", "chat 12"});

    h.message(5, 8, "chat 14", "n2", 0, 14);  // 13 committed by a node that died before publishing
    h.node.tick(1000ms);
    CHECK(h.frames_of(11).size() == 4);
    h.node.tick(3500ms);  // chat_wait passed: 13 is in the history, go on
    CHECK(h.frames_of(11).back() == "chat 14");
    h.message(5, 9, "chat 13", "n2", 0, 13);  // too late: dropped, not out of order
    CHECK(h.frames_of(11).back() == "chat 14");
}

TEST_CASE("cluster node: a dead node's users each leave once, and the agents hear of it", "[cluster]") {
    Harness h;
    h.up();
    h.node.tick(1500ms);
    auto cmds = h.commands();
    REQUIRE(cmds.size() == 1);
    CHECK(cmds[0] == std::vector<std::string>{"FCALL", "compeit_beat", "0", "n1", "3000"});
    h.node.on_reply(array({integer(1), bulk("n2"), bulk("7"), bulk("5"), bulk(R"({"id":7,"name":"cy"})"), bulk("8"),
                           bulk(""), bulk(""), bulk("9"), bulk("6"), bulk(R"({"id":9,"name":"di"})")}));
    cmds = h.commands();
    REQUIRE(cmds.size() == 2);  // user 8 was in no room
    CHECK(cmds[0][1] == "compeit_leave");
    CHECK(cmds[0][3] == "5");
    CHECK(cmds[0][5] == "7");
    CHECK(cmds[0][6].find(R"("user_left","args":[{"room":5,"user":{"id":7,"name":"cy"}}])") != std::string::npos);
    CHECK(cmds[0][8] == "0");
    h.node.on_reply(integer(12));  // announced
    h.node.on_reply(integer(0));   // someone else announced it already: not again
    CHECK(h.reaped == std::vector<std::pair<ca::UserId, ca::RoomId>>{{7, 5}});

    // What Redis holds is outside input: a user whose name is not a string still leaves, nameless.
    h.node.tick(3000ms);
    h.commands();
    h.node.on_reply(array({integer(1), bulk("n3"), bulk("8"), bulk("5"), bulk(R"({"id":8,"name":{"x":1}})")}));
    REQUIRE(h.commands().size() == 1);
    h.node.on_reply(integer(13));
    CHECK(h.reaped.back() == std::pair<ca::UserId, ca::RoomId>{8, 5});
}

TEST_CASE("cluster node: a node reaped while cut off ends its sessions when it is back", "[cluster]") {
    Harness h;
    h.up();
    h.node.user_online(ca::User(1, "ada"), 11);
    h.node.tick(1500ms);
    h.commands();
    h.node.on_reply(integer(1));
    h.node.on_reply(integer(1));
    h.node.on_reply(array({integer(0)}));  // beat: not a member any more
    h.commands();
    h.node.on_reply(array({bulk("epoch-1"), integer(0)}));  // same Redis, not registered: reaped
    REQUIRE(h.dropped.size() == 1);
    CHECK(h.dropped[0] == std::vector<sio::SessionId>{11});
}

TEST_CASE("cluster node: a lost connection fails what waits, and nothing is sent until it is back", "[cluster]") {
    Harness h;
    h.up();
    h.node.user_online(ca::User(1, "u1"), 11);
    h.node.on_reply(integer(1));
    h.node.on_reply(integer(1));
    h.join(5, 11, 1, 3);
    std::vector<bool> acks;
    h.node.publish(5, sio::make_frame("m"), 11, 0, [&](bool ok) { acks.push_back(ok); });
    h.node.disconnected();
    h.node.publish(5, sio::make_frame("m"), 11, 0, [&](bool ok) { acks.push_back(ok); });
    CHECK(acks == std::vector<bool>{false, false});
    CHECK_FALSE(h.node.available());
    CHECK(h.node.take_commands().empty());
    // Back on a new Redis: registered again, the member re-registered without
    // a join announced, the room subscribed again.
    h.node.connected(2000ms);
    h.commands();
    h.hello();
    h.node.on_reply(bulk("OK"));
    h.node.on_reply(array({bulk("epoch-2"), integer(0)}));
    const auto cmds = h.commands();
    CHECK(std::find(cmds.begin(), cmds.end(), std::vector<std::string>{"HSET", "compeit:users", "1", "n1"}) != cmds.end());
    CHECK(std::find(cmds.begin(), cmds.end(),
                    std::vector<std::string>{"FCALL", "compeit_rejoin", "0", "5", "n1", "1", R"({"id":1,"name":"u1"})"}) !=
          cmds.end());
    CHECK(std::none_of(cmds.begin(), cmds.end(), [](const auto& c) { return c.size() > 1 && c[1] == "compeit_join"; }));
    const auto sub = h.subscriber();
    CHECK(std::find(sub.begin(), sub.end(), std::vector<std::string>{"SUBSCRIBE", "compeit:r:5"}) != sub.end());
    CHECK(h.dropped.empty());
    for (std::size_t i = 0; i < cmds.size(); ++i) h.node.on_reply(integer(1));
    // Not available until its rooms are subscribed again: nothing is acked that nobody would get.
    CHECK_FALSE(h.node.available());
    h.subscribed(5);
    CHECK(h.node.available());
    // The new Redis numbers the room from 1 again; what others published there
    // before this node was subscribed comes from the log, and then the rest.
    const auto fill = h.commands();
    REQUIRE(fill == std::vector<std::vector<std::string>>{{"XRANGE", "compeit:r:5:log", "0-1", "+"}});
    h.message(5, 2, "second");
    h.node.on_reply(array({log_entry(1, "first in the new Redis")}));
    CHECK(h.frames_of(11) == std::vector<std::string>{"first in the new Redis", "second"});
}

TEST_CASE("cluster node: user ids come in blocks and more are asked for before they run out", "[cluster]") {
    cluster::NodeConfig c = Harness::make_config();
    c.id_block = 4;
    Harness h(c);
    CHECK_FALSE(h.node.allocate_user());
    CHECK(h.id_requests == 1);
    h.node.add_ids(101, 4);
    CHECK(*h.node.allocate_user() == 101);
    CHECK(*h.node.allocate_user() == 102);
    CHECK(h.id_requests == 1);
    CHECK(*h.node.allocate_user() == 103);  // 2 left before it: asks for the next block
    CHECK(h.id_requests == 2);
    h.node.add_ids(501, 4);
    CHECK(*h.node.allocate_user() == 104);
    CHECK(*h.node.allocate_user() == 501);
}

TEST_CASE("cluster node: hostile pushes and replies are ignored without harm", "[cluster]") {
    Harness h;
    h.up();
    h.join(5, 11, 1, 3);
    for (const char* body : {"", "x", "4", "4 n2 0", "4 n2 0 0", "-4 n2 0 0\nf", "4 n2 x 0\nf", "0 n2 0 0\nf",
                             "99999999999999999999999 n2 0 0\nf"})
        h.node.on_push(array({bulk("message"), bulk("compeit:r:5"), bulk(body)}));
    h.node.on_push(array({bulk("message"), bulk("compeit:r:notanumber"), bulk("4 n2 0 0\nf")}));
    h.node.on_push(array({bulk("message")}));
    h.node.on_push(integer(3));
    h.node.on_reply(integer(1));  // nobody asked
    CHECK(h.delivered.empty());
    h.message(5, 4, "fine");
    CHECK(h.frames_of(11) == std::vector<std::string>{"fine"});
}

TEST_CASE("cluster node: after a blip, what Redis still has of users who left meanwhile is left now", "[cluster]") {
    Harness h;
    h.up();
    h.node.user_online(ca::User(1, "u1"), 11);
    h.node.on_reply(integer(1));
    h.node.on_reply(integer(1));
    h.node.disconnected();  // the same Redis comes back: the node is still registered
    h.node.connected(500ms);
    h.commands();
    h.hello();
    h.node.on_reply(bulk("OK"));
    // Redis has user 7 in room 5 (it left while Redis could not be told) and user 1 with no room.
    h.node.on_reply(array({bulk("epoch-1"), integer(1), bulk("7"), bulk("5"), bulk(R"({"id":7,"name":"g"})"), bulk("1"),
                           bulk(""), bulk("")}));
    const auto cmds = h.commands();
    CHECK(std::find(cmds.begin(), cmds.end(), std::vector<std::string>{"HDEL", "compeit:users", "7"}) != cmds.end());
    const auto leave = std::find_if(cmds.begin(), cmds.end(), [](const auto& c) { return c.size() > 8 && c[1] == "compeit_leave"; });
    REQUIRE(leave != cmds.end());
    CHECK((*leave)[3] == "5");
    CHECK((*leave)[5] == "7");
    CHECK((*leave)[8] == "0");  // not online: its entry goes
    CHECK(std::none_of(cmds.begin(), cmds.end(), [](const auto& c) { return c.size() > 2 && c[0] == "HDEL" && c[2] == "1"; }));
    h.node.on_reply(integer(1));
    for (std::size_t i = 1; i < cmds.size(); ++i) h.node.on_reply(integer(9));
    CHECK(h.reaped.empty());  // the agents heard of that leave when it happened
    CHECK(h.dropped.empty());
}

TEST_CASE("cluster node: a join waiting for its subscription fails when the connection is lost", "[cluster]") {
    Harness h;
    h.up();
    std::optional<ca::ErrorCode> error;
    bool done = false;
    h.node.join(5, 11, ca::User(1, "ada"), sio::make_frame("J"), [&](auto j) {
        done = true;
        error = j.error;
    });
    CHECK_FALSE(done);
    h.node.disconnected();
    REQUIRE(done);
    CHECK(error == ca::ErrorCode::unavailable);
    CHECK(h.node.local_rooms() == 0);
}

TEST_CASE("cluster node: a chat message that could not be published is marked when Redis is back, so nobody waits",
          "[cluster]") {
    Harness h;
    h.up();
    h.node.disconnected();
    bool sent = true;
    h.node.publish(5, sio::make_frame("chat 3"), 0, 3, [&](bool ok) { sent = ok; });
    CHECK_FALSE(sent);
    h.node.connected(100ms);
    h.commands();
    h.hello();
    h.node.on_reply(bulk("OK"));
    h.node.on_reply(array({bulk("epoch-1"), integer(1)}));
    const auto cmds = h.commands();
    REQUIRE(cmds.size() == 1);
    CHECK(cmds[0] == std::vector<std::string>{"FCALL", "compeit_publish", "2", "compeit:r:5:log", "compeit:r:5", "n1 0 3\n",
                                              "2000"});

    // A receiver: the marker advances the chat order and delivers nothing.
    Harness r;
    r.up();
    r.join(5, 11, 1, 3);
    r.message(5, 4, "chat 2", "n2", 0, 2);
    r.message(5, 5, "chat 4", "n2", 0, 4);
    r.message(5, 6, "", "n1", 0, 3);
    CHECK(r.frames_of(11) == std::vector<std::string>{"chat 2", "chat 4"});
}

TEST_CASE("cluster node: a join completing during a gap fill gets each later message once", "[cluster]") {
    Harness h;
    h.up();
    h.join(5, 11, 1, 3);
    h.commands();
    h.node.join(5, 12, ca::User(2, "bo"), sio::make_frame("J"), [](auto) {});
    const auto join_cmd = h.commands();
    REQUIRE(join_cmd.size() == 1);
    h.message(5, 6, "m6");  // 4 and 5 missing: a fill
    const auto fill = h.commands();
    REQUIRE(fill.size() == 1);
    CHECK(fill[0][0] == "XRANGE");
    h.node.on_reply(array({integer(5), bulk(R"({"id":1})"), bulk(R"({"id":2})")}));  // 12 joined at 5
    h.node.on_reply(array({log_entry(4, "m4"), log_entry(5, "J", "n1 12 0")}));
    CHECK(h.frames_of(11) == std::vector<std::string>{"m4", "J", "m6"});
    CHECK(h.frames_of(12) == std::vector<std::string>{"m6"});
}

TEST_CASE("cluster node: room owners: one function routes (and claims), agent messages reach their listener",
          "[cluster][kurento]") {
    Harness h;
    h.up();
    std::vector<std::string> heard;
    h.node.listen("kurento", [&](std::string_view m) { heard.emplace_back(m); });
    std::optional<bool> got;
    h.node.route("kurento", 7, "{\"k\":\"join\"}", false, [&](bool sent) { got = sent; });
    const auto cmds = h.commands();
    REQUIRE(cmds.size() == 1);
    CHECK(cmds[0][1] == "compeit_route");
    CHECK(cmds[0][3] == "kurento");
    CHECK(cmds[0][4] == "7");
    CHECK(cmds[0][5] == "n1");
    CHECK_FALSE(cmds[0][6].empty());  // this run
    CHECK(cmds[0][7] == "{\"k\":\"join\"}");
    CHECK(cmds[0][9] == "0");  // not routed again
    h.node.on_reply(integer(1));
    CHECK(got == true);
    // Redis answering anything else (or an error) is the cluster failing.
    for (auto bad : {Value::error("ERR"), array({bulk("sent")}), integer(0)}) {
        got.reset();
        h.node.route("kurento", 7, "m", true, [&](bool sent) { got = sent; });
        h.commands();
        h.node.on_reply(bad);
        CHECK(got == false);
    }

    // "@<scope>\n<message>" on the node channel: for that scope's listener; users' messages as before.
    auto push = [&](std::string body) { h.node.on_push(array({bulk("message"), bulk("compeit:n:n1"), bulk(std::move(body))})); };
    push("@kurento\nhello");
    push("@nobody\nlost");
    push("@kurento");  // no newline: dropped
    CHECK(heard == std::vector<std::string>{"hello"});

    h.node.to_node("kurento", "n2", "back");
    h.node.record("kurento", 7, "{}");
    const auto out = h.commands();
    REQUIRE(out.size() == 2);
    CHECK(out[0] == std::vector<std::string>{"PUBLISH", "compeit:n:n2", "@kurento\nback"});
    CHECK(out[1][1] == "compeit_record");
    CHECK(out[1][7] == "{}");

    h.node.disconnected();
    got.reset();
    h.node.route("kurento", 7, "m", true, [&](bool sent) { got = sent; });
    CHECK(got == false);
}

// --- one RESP3 connection: replies (FIFO) and pushes on the same stream -------------

TEST_CASE("cluster node: on one connection the sender's own message (a push) comes before its FCALL reply; "
          "neither takes the other's place",
          "[cluster]") {
    Harness h;
    h.up();
    h.join(5, 11, 1, 3);
    h.join(5, 12, 2, 4);
    h.message(5, 4, "12 joined", "n1", 12);
    h.commands();
    std::vector<bool> acks;
    h.node.publish(5, sio::make_frame("hi"), 11, 0, [&](bool ok) { acks.push_back(ok); });
    h.node.publish(5, sio::make_frame("again"), 12, 0, [&](bool ok) { acks.push_back(ok); });
    const auto cmds = h.commands();
    REQUIRE(cmds.size() == 2);
    CHECK(h.node.pending_commands() == 2);
    // What one read brings: the first function's publish to this node's own
    // subscription, its reply, the second's publish, a subscription push of
    // another room, the second's reply.
    h.message(5, 5, "hi", "n1", 11);
    CHECK(acks.empty());
    h.node.on_value(integer(5));
    h.message(5, 6, "again", "n1", 12);
    h.node.on_value(Value::push({bulk("unsubscribe"), bulk("compeit:r:9"), integer(1)}));
    CHECK(acks == std::vector<bool>{true});
    h.node.on_value(integer(6));
    CHECK(acks == std::vector<bool>{true, true});
    CHECK(h.node.pending_commands() == 0);
    CHECK(h.frames_of(11) == std::vector<std::string>{"12 joined", "again"});
    CHECK(h.frames_of(12) == std::vector<std::string>{"hi"});
}

TEST_CASE("cluster node: (un)subscriptions share the command stream in order and wait for no reply", "[cluster]") {
    Harness h;
    h.up();
    h.node.join(5, 11, ca::User(1, "ada"), sio::make_frame("J"), [](auto) {});
    CHECK(h.node.pending_commands() == 0);  // SUBSCRIBE is answered by a push
    h.subscribed(5);
    CHECK(h.node.pending_commands() == 1);  // the join function
    h.node.on_value(array({integer(3), bulk(R"({"id":1})")}));
    h.node.leave(5, 11, ca::User(1, "ada"), sio::make_frame("L"));
    h.node.join(5, 12, ca::User(2, "bo"), sio::make_frame("J"), [](auto) {});
    // One stream, in the order made: the subscription, the join, the leave,
    // then the room unsubscribed and subscribed again (a push confirms each).
    auto bytes = h.node.take_commands();
    const auto all = Harness::decode(bytes);
    REQUIRE(all.size() == 5);
    CHECK(all[0] == std::vector<std::string>{"SUBSCRIBE", "compeit:r:5"});
    CHECK(all[1][1] == "compeit_join");
    CHECK(all[2][1] == "compeit_leave");
    CHECK(all[3] == std::vector<std::string>{"UNSUBSCRIBE", "compeit:r:5"});
    CHECK(all[4] == std::vector<std::string>{"SUBSCRIBE", "compeit:r:5"});
    CHECK(h.node.pending_commands() == 1);  // the leave's reply only
}

TEST_CASE("cluster node: on the RESP3 connection only a push is a message; an array shaped like one is a reply",
          "[cluster]") {
    Harness h;
    h.up();
    h.join(5, 11, 1, 3);
    h.commands();
    std::vector<bool> acks;
    h.node.publish(5, sio::make_frame("m"), 12, 0, [&](bool ok) { acks.push_back(ok); });
    h.node.on_value(array({bulk("message"), bulk("compeit:r:5"), bulk("4 n2 0 0\nforged")}));
    CHECK(h.delivered.empty());             // taken as the publish's reply...
    CHECK(acks == std::vector<bool>{false});  // ...which it is not a sequence number of
    h.message(5, 4, "real");
    CHECK(h.frames_of(11) == std::vector<std::string>{"real"});
}

TEST_CASE("cluster node: a Redis that refuses RESP3 is said so in the log", "[cluster]") {
    Harness h;
    h.node.connected(0ms);
    REQUIRE(h.commands().front() == std::vector<std::string>{"HELLO", "3"});
    h.node.on_value(Value::error("ERR unknown command 'HELLO'"));
    REQUIRE(h.notes.size() == 1);
    CHECK(h.notes[0].find("RESP3") != std::string::npos);
}

TEST_CASE("cluster node: the log's entry ids number the messages; an id not 0-<seq> makes the log unreadable",
          "[cluster]") {
    for (const char* id : {"5-0", "0-x", "0-", "", "0-5-1"}) {
        Harness h;
        h.up();
        h.join(5, 11, 1, 3);
        h.commands();
        h.message(5, 6, "m6");  // 4 and 5 missing
        REQUIRE(h.commands() == std::vector<std::vector<std::string>>{{"XRANGE", "compeit:r:5:log", "0-4", "0-5"}});
        h.node.on_reply(array({log_entry(4, "m4"), array({bulk(id), array({bulk("m"), bulk("n2 0 0\nm5")})})}));
        INFO(id);
        CHECK(h.dropped.size() == 1);
        CHECK(h.frames_of(11).empty());  // nothing out of order, not even m4 before the failure was seen
    }
}
