// PgChatStore against a real PostgreSQL: hidden ([.pg]), since it needs a
// server. tests/node/chat-postgres.test.mjs starts a scratch PostgreSQL and
// runs `core_tests [pg]` with COMPEIT_TEST_PG_URL set; by hand:
//   COMPEIT_TEST_PG_URL=postgresql://... core_tests [pg]
// Each case uses rooms of its own, new on every run, far from the Node tests' ones.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <set>

#include "pg_chat_store.hpp"

using namespace compeit;
using namespace compeit::native;
using namespace std::chrono_literals;

namespace {

const char* pg_url() { return std::getenv("COMPEIT_TEST_PG_URL"); }

// Rooms kRooms + 1.. (so a second run on the same database starts afresh).
const ca::RoomId kRooms = 1'000'000 + static_cast<ca::RoomId>(std::random_device{}() % 1'000'000) * 10;
std::string str(std::int64_t v) { return std::to_string(v); }

// The network thread's stand-in: completions queue here and run on the test's thread.
struct Loop {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::function<void()>> queue;

    PgChatStore::Post post() {
        return [this](std::function<void()> fn) {
            {
                std::lock_guard lock(mutex);
                queue.push_back(std::move(fn));
            }
            wake.notify_one();
        };
    }
    // Runs completions until done() holds; false after 20 s.
    bool run_until(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!done()) {
            std::unique_lock lock(mutex);
            if (!wake.wait_until(lock, deadline, [this] { return !queue.empty(); })) return false;
            auto fn = std::move(queue.front());
            queue.pop_front();
            lock.unlock();
            fn();
        }
        return true;
    }
};

// A store whose connection can be found in pg_stat_activity by its application_name.
std::unique_ptr<PgChatStore> open_store(Loop& loop, const std::string& app, Retention retention = {}) {
    std::string url = pg_url();
    url += (url.find('?') == std::string::npos ? "?" : "&") + ("application_name=" + app);
    auto store = PgChatStore::open(url, retention, loop.post());
    REQUIRE(store);
    return std::move(*store);
}

// One statement on a connection of the test's own.
std::string sql(const std::string& statement) {
    PGconn* conn = PQconnectdb(pg_url());
    REQUIRE(PQstatus(conn) == CONNECTION_OK);
    PGresult* r = PQexec(conn, statement.c_str());
    const auto status = PQresultStatus(r);
    std::string value = status == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    const std::string error = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(conn);
    INFO(statement << ": " << error);
    REQUIRE((status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK));
    return value;
}

agents::ChatMessage message(ca::RoomId room, std::string text, std::int64_t ts = 1'700'000'000'000) {
    agents::ChatMessage m;
    m.room = room;
    m.ts = ts;
    m.user = ca::User{7, "Tess"};
    m.text = std::move(text);
    return m;
}

}  // namespace

TEST_CASE("pg: two stores in one room: completions in call order, ids and seq in commit order", "[.pg]") {
    if (!pg_url()) return;
    const ca::RoomId room = kRooms + 1;
    Loop loop;
    auto s1 = open_store(loop, "compeit-unit-1");
    auto s2 = open_store(loop, "compeit-unit-2");
    std::vector<agents::ChatMessage> got1, got2;
    std::size_t errors = 0;
    // Rounds of small batches on both stores at once: their transactions race for the room.
    constexpr int kRounds = 30, kPerRound = 5, kEach = kRounds * kPerRound;
    for (int round = 0, i = 0; round < kRounds; ++round) {
        for (int k = 0; k < kPerRound; ++k, ++i)
            for (const auto& [store, sink] : {std::pair{s1.get(), &got1}, std::pair{s2.get(), &got2}}) {
                auto* got = sink;  // a plain variable: lambdas capture it everywhere
                store->append(message(room, "m" + std::to_string(i)), [got, &errors](auto r) {
                    if (r) got->push_back(*r);
                    else ++errors;
                });
            }
        const std::size_t want = 2 * static_cast<std::size_t>(i);
        REQUIRE(loop.run_until([&] { return got1.size() + got2.size() + errors == want; }));
    }
    CHECK(errors == 0);
    for (const auto* got : {&got1, &got2}) {
        for (std::size_t i = 0; i < got->size(); ++i) {
            CHECK(got->at(i).text == "m" + std::to_string(i));  // in call order
            if (i > 0) CHECK(got->at(i).id > got->at(i - 1).id);
        }
    }
    std::vector<agents::ChatMessage> all(got1);
    all.insert(all.end(), got2.begin(), got2.end());
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    std::vector<std::int64_t> seqs, one_two_three;  // seq in id order: 1, 2, 3..
    for (const auto& m : all) seqs.push_back(m.seq);
    for (std::size_t i = 1; i <= all.size(); ++i) one_two_three.push_back(static_cast<std::int64_t>(i));
    CHECK(seqs == one_two_three);

    std::optional<std::vector<agents::ChatMessage>> history;
    s2->history(room, std::nullopt, 200, [&](auto r) {
        REQUIRE(r);
        history = *r;
    });
    REQUIRE(loop.run_until([&] { return history.has_value(); }));
    REQUIRE(history->size() == 200);
    CHECK(history->back().id == all.back().id);
    CHECK(history->back().seq == 2 * kEach);
}

TEST_CASE("pg: user id blocks from two stores never overlap and start at 1 or later", "[.pg]") {
    if (!pg_url()) return;
    Loop loop;
    auto s1 = open_store(loop, "compeit-unit-3");
    auto s2 = open_store(loop, "compeit-unit-4");
    std::vector<std::pair<std::int64_t, std::int64_t>> blocks;  // [first, last]
    std::vector<std::string> errors;
    int answered = 0;
    for (int i = 0; i < 20; ++i)
        for (auto* store : {s1.get(), s2.get()}) {
            const std::size_t size = 1 + static_cast<std::size_t>(i) * 37;
            store->reserve_user_ids(size, [&, size](Expected<std::int64_t, std::string> first) {
                ++answered;
                if (!first) return errors.push_back(first.error());
                blocks.emplace_back(*first, *first + static_cast<std::int64_t>(size) - 1);
            });
        }
    s1->reserve_user_ids(0, [&](auto r) { ++answered; CHECK_FALSE(r.has_value()); });
    s1->reserve_user_ids(PgChatStore::kMaxUserIdBlock + 1, [&](auto r) { ++answered; CHECK_FALSE(r.has_value()); });
    REQUIRE(loop.run_until([&] { return answered == 42; }));
    CHECK(errors.empty());
    REQUIRE(blocks.size() == 40);
    std::sort(blocks.begin(), blocks.end());
    CHECK(blocks.front().first >= 1);
    for (std::size_t i = 1; i < blocks.size(); ++i) CHECK(blocks[i].first > blocks[i - 1].second);
}

TEST_CASE("pg: a message PostgreSQL cannot store fails alone; a bad row read back is an error, not a crash",
          "[.pg]") {
    if (!pg_url()) return;
    const ca::RoomId room = kRooms + 2;
    Loop loop;
    auto store = open_store(loop, "compeit-unit-5");
    std::vector<std::string> outcome;
    for (const std::string& text : {std::string("fine"), std::string("nul\0inside", 10), std::string("bad \xff utf-8"),
                                   std::string("fine too")})
        store->append(message(room, text), [&](auto r) { outcome.push_back(r ? r->text : "error: " + r.error()); });
    REQUIRE(loop.run_until([&] { return outcome.size() == 4; }));
    CHECK(outcome[0] == "fine");
    CHECK(outcome[1].find("U+0000") != std::string::npos);
    CHECK(outcome[2].find("UTF-8") != std::string::npos);
    CHECK(outcome[3] == "fine too");

    // A row no server writes (someone else's tool): the history call fails with a reason.
    sql("INSERT INTO chat_messages (id, room, seq, ts, user_id, user_name, event) "
        "VALUES (nextval('chat_message_ids'), " + str(room) + ", 1000, 0, 1, 'x', 'bogus')");
    std::optional<std::string> error;
    store->history(room, std::nullopt, 50, [&](auto r) { error = r ? "" : r.error(); });
    REQUIRE(loop.run_until([&] { return error.has_value(); }));
    CHECK(error->find("bad row in room " + str(room) + ": column event") != std::string::npos);
}

TEST_CASE("pg: retention: join/leave events per room, and age", "[.pg]") {
    if (!pg_url()) return;
    const ca::RoomId room = kRooms + 3;
    Loop loop;
    auto store = open_store(loop, "compeit-unit-6", Retention{3, 0});
    int done = 0;
    for (int i = 0; i < 10; ++i) {
        auto m = message(room, "");
        m.event = i % 2 ? "user_left" : "user_joined";
        store->append(m, [&](auto r) { CHECK(r.has_value()); ++done; });
    }
    store->append(message(room, "said"), [&](auto r) { CHECK(r.has_value()); ++done; });
    REQUIRE(loop.run_until([&] { return done == 11; }));
    CHECK(sql("SELECT count(*) FROM chat_messages WHERE room = " + str(room) + " AND event <> ''") == "3");
    CHECK(sql("SELECT count(*) FROM chat_messages WHERE room = " + str(room) + " AND event = ''") == "1");

    // Age: a fresh store prunes at its first insert, against that message's time stamp.
    const ca::RoomId old_room = kRooms + 4;
    store->append(message(old_room, "ancient", 1'000), [&](auto r) { CHECK(r.has_value()); ++done; });
    REQUIRE(loop.run_until([&] { return done == 12; }));
    auto aging = open_store(loop, "compeit-unit-7", Retention{200, 5'000});
    aging->append(message(old_room, "recent", 100'000), [&](auto r) { CHECK(r.has_value()); ++done; });
    REQUIRE(loop.run_until([&] { return done == 13; }));
    CHECK(sql("SELECT string_agg(text, ',') FROM chat_messages WHERE room = " + str(old_room)) == "recent");
}

TEST_CASE("pg: a connection that died while idle is replaced before the next batch, which goes through", "[.pg]") {
    if (!pg_url()) return;
    const ca::RoomId room = kRooms + 5;
    Loop loop;
    auto store = open_store(loop, "compeit-unit-8");
    std::vector<std::string> outcome;
    auto record = [&](auto r) { outcome.push_back(r ? "ok " + std::to_string(r->seq) : r.error()); };
    store->append(message(room, "first"), record);
    REQUIRE(loop.run_until([&] { return outcome.size() == 1; }));
    sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'compeit-unit-8'");
    store->append(message(room, "lost"), record);
    REQUIRE(loop.run_until([&] { return outcome.size() == 2; }));
    store->append(message(room, "again"), record);
    REQUIRE(loop.run_until([&] { return outcome.size() == 3; }));
    // Nothing of the batch had reached PostgreSQL when BEGIN found the
    // connection dead: a fresh one takes it. (PostgreSQL down altogether
    // fails the batch: tests/node/chat-postgres.test.mjs.)
    CHECK(outcome[0] == "ok 1");
    CHECK(outcome[1] == "ok 2");
    CHECK(outcome[2] == "ok 3");
    CHECK(sql("SELECT string_agg(text, ',' ORDER BY seq) FROM chat_messages WHERE room = " + str(room)) ==
          "first,lost,again");
}
