// The Chat Agent (CH-1..CH-6) through the core, on a real SQLite store in
// memory (native/src/chat_db: the same SQL the server runs, answering at once).
#include <catch2/catch.hpp>

#include <limits>

#include "chat_db.hpp"
#include "compeit/agents/chat_agent.hpp"
#include "wire.hpp"

using namespace compeit;
using namespace compeit::test;
using ca::json;

namespace {

struct ChatRoom : Wire {
    std::unique_ptr<native::ChatDb> db = native::ChatDb::open(":memory:").value();
    native::SyncChatStore store{*db};
    std::int64_t clock = 1'700'000'000'000;
    agents::ChatAgent chat{store, [this] { return clock; }, 10};
    ChatRoom() { router.register_agent("chat", chat); }

};

const auto& chat_events = Wire::events;

json ack(Wire& w, Wire::Peer& p, std::uint64_t id) {
    w.pump();
    for (const auto& o : p.seen)
        if (o.kind == Kind::ack && o.request == id) return util::parse_json(o.payload);
    return nullptr;
}

}  // namespace

TEST_CASE("CH-1/CH-3: room chat is stored, stamped and reaches everyone after the join events", "[chat]") {
    ChatRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    CHECK(ack(w, a, a.chat->send("hello"))["ok"] == true);
    for (auto* p : {&a, &b}) {
        const auto& msgs = p->chat->messages();
        REQUIRE(!msgs.empty());
        const json last = util::parse_json(msgs.rbegin()->second);
        CHECK(last["text"] == "hello");
        CHECK(last["user"]["name"] == "A");
        CHECK(last["ts"] == w.clock);
        CHECK(last["room"] == 1);
    }
    // B saw A's message after its own join event, ids increasing.
    std::vector<std::int64_t> ids;
    for (const auto& [id, m] : b.chat->messages()) ids.push_back(id);
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    const auto history = w.db->history(1, std::nullopt, 50);
    REQUIRE(history);
    REQUIRE(history->size() == 3);  // A joined, B joined, hello
    CHECK(history->at(0).event == "user_joined");
    CHECK(history->at(2).text == "hello");
}

TEST_CASE("CH-2: a private message goes to both ends with `to`, room null, and is stored", "[chat]") {
    ChatRoom w;
    auto& a = w.joined("A", 1);
    auto& b = w.joined("B", 2);
    CHECK(ack(w, a, a.chat->send_to(b.client->user()->id, "psst"))["ok"] == true);
    for (auto* p : {&a, &b}) {
        CHECK(chat_events(*p, "chat_message").empty());  // room chat only
        const auto ev = chat_events(*p, "private_message");
        REQUIRE(!ev.empty());
        CHECK(ev.back()["message"]["to"] == b.client->user()->id);
        CHECK(ev.back()["message"]["room"].is_null());
    }
}

TEST_CASE("CH-4: the join history comes from the room's tail and matches the store", "[chat]") {
    ChatRoom w;
    auto& a = w.joined("A");
    for (int i = 0; i < 60; ++i) a.chat->send("m" + std::to_string(i));
    w.pump();
    auto& b = w.joined("B");  // served from memory: the tail was loaded by A's join
    const auto hist = chat_events(b, "chat_history");
    REQUIRE(!hist.empty());
    const json& msgs = hist.front()["messages"];
    REQUIRE(msgs.size() == 50);
    CHECK(msgs.back()["text"] == "m59");
    // The store's last 51: the same 50, then B's own join event (history ends just before it).
    const auto stored = w.db->history(1, std::nullopt, 51);
    REQUIRE(stored);
    REQUIRE(stored->size() == 51);
    for (std::size_t i = 0; i < 50; ++i) CHECK(msgs[i]["id"] == stored->at(i).id);
    CHECK(stored->at(50).event == "user_joined");
    CHECK(stored->at(50).user.name == "B");

    // Explicit requests go to the store: before/limit.
    const auto first_id = msgs.front()["id"].get<std::int64_t>();
    const json page = ack(w, b, b.chat->history(first_id, 5));
    REQUIRE(page["messages"].size() == 5);
    CHECK(page["messages"].back()["id"] == stored->at(0).id - 1);  // just before the first it had
    CHECK(page["hasMore"] == true);
    const json older = chat_events(b, "chat_history").back();  // merged into the room's chat too
    CHECK(older["messages"].size() == 56);  // the join's 50, B's own join event, and the page's 5
}

TEST_CASE("CH-4: paging back with before = the oldest id reaches the start exactly once, hasMore exact", "[chat]") {
    ChatRoom w;
    auto& a = w.joined("A");  // 1 message: A joined
    for (int i = 0; i < 11; ++i) a.chat->send("m" + std::to_string(i));
    w.pump();  // 12 messages in all
    std::vector<std::int64_t> seen;
    std::optional<std::int64_t> before;
    json page;
    int pages = 0;
    do {
        page = ack(w, a, a.chat->history(before, 4));
        REQUIRE(page["messages"].is_array());
        REQUIRE(!page["messages"].empty());
        for (auto it = page["messages"].rbegin(); it != page["messages"].rend(); ++it) seen.push_back((*it)["id"]);
        before = page["messages"].front()["id"].get<std::int64_t>();
        ++pages;
    } while (page["hasMore"] == true && pages < 10);
    CHECK(pages == 3);  // 12 = 4 + 4 + 4: the last page says there is no more
    CHECK(page["hasMore"] == false);
    REQUIRE(seen.size() == 12);
    CHECK(std::is_sorted(seen.rbegin(), seen.rend()));
    CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
    // One more than the rest: hasMore false on a page that is not full.
    const json last = ack(w, a, a.chat->history(seen[10], 4));
    CHECK(last["messages"].size() == 1);
    CHECK(last["hasMore"] == false);
    CHECK(ack(w, a, a.chat->history(std::nullopt, 0))["error"]["code"] == "bad_request");
}

TEST_CASE("chat client: room chat, system events and private messages are separate events", "[chat]") {
    ChatRoom w;
    auto& a = w.joined("A", 1);
    auto& b = w.joined("B", 1);
    a.chat->send("hi");
    a.chat->send_to(b.client->user()->id, "psst");
    w.pump();
    const auto chats = chat_events(b, "chat_message");
    REQUIRE(chats.size() == 1);
    CHECK(chats[0]["message"]["text"] == "hi");
    const auto system = chat_events(a, "chat_event");  // A's own join, then B's
    REQUIRE(system.size() == 2);
    CHECK(system[1]["message"]["event"] == "user_joined");
    CHECK(system[1]["message"]["user"]["name"] == "B");
    for (const auto& m : chat_events(a, "chat_message")) CHECK_FALSE(m["message"].contains("event"));
    const auto priv = chat_events(b, "private_message");
    REQUIRE(priv.size() == 1);
    CHECK(priv[0]["message"]["text"] == "psst");
}

TEST_CASE("chat client: what it keeps of the room is bounded, the newest kept", "[chat]") {
    ChatRoom w;
    auto& a = w.joined("A");  // its own join event: 1 message
    a.chat->keep_at_most(5);
    for (int i = 0; i < 8; ++i) a.chat->send("m" + std::to_string(i));
    w.pump();
    REQUIRE(a.chat->messages().size() == 5);
    CHECK(util::parse_json(a.chat->messages().rbegin()->second)["text"] == "m7");
    CHECK(util::parse_json(a.chat->messages().begin()->second)["text"] == "m3");
    CHECK(chat_events(a, "chat_message").size() == 8);  // every live message was told
    // An older page is answered whole, and what is kept stays the newest five.
    const json page = ack(w, a, a.chat->history(a.chat->messages().begin()->first, 50));
    CHECK(page["messages"].size() == 4);  // A's join and m0..m2
    CHECK(a.chat->messages().size() == 5);
    CHECK(util::parse_json(a.chat->messages().begin()->second)["text"] == "m3");
}

TEST_CASE("CH-6: bad text is refused and nothing is stored", "[chat]") {
    ChatRoom w;
    auto& a = w.joined("A");
    const auto before = w.db->history(1, std::nullopt, 200)->size();
    CHECK(ack(w, a, a.chat->send(""))["error"]["code"] == "bad_request");
    CHECK(ack(w, a, a.chat->send("this text is too long"))["error"]["code"] == "too_large");
    CHECK(ack(w, a, a.client->send_room("chat", R"({"text":7})"))["error"]["code"] == "bad_request");
    CHECK(ack(w, a, a.client->send_server("chat", R"({"action":"history","limit":0})"))["error"]["code"] == "bad_request");
    CHECK(ack(w, a, a.client->send_server("chat", R"({"action":"dance"})"))["error"]["code"] == "bad_request");
    // Not every store can keep a NUL (PostgreSQL cannot): refused alike everywhere.
    const json nul = ack(w, a, a.client->send_room("chat", R"({"text":"a\u0000b"})"));
    CHECK(nul["error"]["code"] == "bad_request");
    CHECK(nul["error"]["message"].get<std::string>().rfind("text", 0) == 0);
    CHECK(w.db->history(1, std::nullopt, 200)->size() == before);
}

TEST_CASE("CH-3: a leave is posted to the room; an announcement reaches the room", "[chat]") {
    ChatRoom w;
    auto& a = w.joined("A");
    auto& b = w.joined("B");
    b.client->leave_room();
    w.pump();
    bool left = false;
    for (const auto& [id, m] : a.chat->messages()) left |= util::parse_json(m).value("event", "") == "user_left";
    CHECK(left);
    bool announced = false;
    w.chat.announce(1, "maintenance", [&](auto stored) { announced = stored.has_value(); });
    w.pump();
    CHECK(announced);
    CHECK(util::parse_json(a.chat->messages().rbegin()->second)["event"] == "announcement");
    CHECK(util::parse_json(a.chat->messages().rbegin()->second)["user"]["id"] == 0);
}

namespace {

// A store that answers later, as the server's store thread does: calls wait,
// in order, until run().
struct LaterStore final : agents::ChatStore {
    agents::ChatStore& inner;
    std::vector<std::function<void()>> waiting;
    explicit LaterStore(agents::ChatStore& s) : inner(s) {}
    void append(agents::ChatMessage m, AppendDone done) override {
        waiting.push_back([this, m = std::move(m), done = std::move(done)]() mutable { inner.append(std::move(m), done); });
    }
    void history(ca::RoomId room, std::optional<std::int64_t> before, std::size_t limit, HistoryDone done) override {
        waiting.push_back([this, room, before, limit, done] { inner.history(room, before, limit, done); });
    }
    void run() {
        auto calls = std::move(waiting);
        waiting.clear();
        for (auto& call : calls) call();
    }
};

// Where in p's outputs the first event `name`, or the ack of `request`, is; -1 when none.
long seen_at(const Wire::Peer& p, const std::string& name, std::uint64_t request = 0) {
    for (std::size_t i = 0; i < p.seen.size(); ++i) {
        const auto& o = p.seen[i];
        if (request ? o.kind == Kind::ack && o.request == request : o.kind == Kind::event && o.text == name)
            return static_cast<long>(i);
    }
    return -1;
}

}  // namespace

TEST_CASE("CH-4: join_room's ack waits for the history a store reads later; joining again sends it again", "[chat][acks]") {
    Wire w;
    auto db = native::ChatDb::open(":memory:").value();
    native::SyncChatStore sync{*db};
    LaterStore store{sync};
    agents::ChatAgent chat{store, [] { return std::int64_t{1'700'000'000'000}; }, 100};
    w.router.register_agent("chat", chat);

    auto& a = w.add("A");
    a.client->connect(w.now);
    w.pump();
    const auto join = a.client->join_room(1);
    w.pump();
    CHECK(seen_at(a, "room_joined") >= 0);
    CHECK(seen_at(a, "chat_history") == -1);
    CHECK(seen_at(a, "", join) == -1);  // the ack waits for the history

    store.run();
    w.pump();
    REQUIRE(seen_at(a, "chat_history") >= 0);
    CHECK(seen_at(a, "", join) > seen_at(a, "chat_history"));

    // Joining again: the history again (from the room's tail now), then the
    // ack; no second join event is stored.
    a.seen.clear();
    const auto again = a.client->join_room(1);
    w.pump();
    store.run();
    w.pump();
    REQUIRE(seen_at(a, "chat_history") >= 0);
    CHECK(seen_at(a, "", again) > seen_at(a, "chat_history"));
    const auto stored = db->history(1, std::nullopt, 10);
    REQUIRE(stored);
    REQUIRE(stored->size() == 1);
    CHECK(stored->at(0).event == "user_joined");
}

TEST_CASE("to_json_text: the bytes to_json(m).dump() gives, for every kind of message", "[chat]") {
    std::vector<agents::ChatMessage> ms;
    const std::vector<std::string> texts = {"hello", "", "quote \" back \\ slash", "ctl \b\f\n\r\t \x01\x1f \x7f",
                                            "unicode é ✓ 😀", "broken \xff\xfe utf-8 \xc3", "</script>"};
    for (const auto& t : texts) {
        agents::ChatMessage m;
        m.id = 42;
        m.room = 7;
        m.ts = 1'700'000'000'123;
        m.user = ca::User{9, "n\"ame " + t, {}};
        m.text = t;
        ms.push_back(m);
        m.room.reset();
        m.to = 3;  // user-to-user
        ms.push_back(m);
        m.room = 0;
        m.to.reset();
        m.event = "announcement";
        ms.push_back(m);
        m.event = "user_joined";
        ms.push_back(m);
        m.event = "user_left";
        m.id = std::numeric_limits<std::int64_t>::max();
        m.ts = -1;
        ms.push_back(m);
    }
    for (const auto& m : ms) {
        INFO(m.text << " / " << m.event);
        CHECK(agents::to_json_text(m) == agents::to_json(m).dump(-1, ' ', false, json::error_handler_t::replace));
    }
}
