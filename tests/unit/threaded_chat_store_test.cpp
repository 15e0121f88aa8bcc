// The SQLite store's writer thread (native/src/threaded_chat_store): its group
// commit window batches what arrives while it is open into one transaction,
// completions come back in order, once per batch, and a full batch or a
// shutdown does not wait for the window.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "threaded_chat_store.hpp"

using namespace compeit;
using namespace compeit::native;
using namespace std::chrono_literals;

namespace {

// The network thread's stand-in: each posted completion batch waits here
// until the test runs it.
struct Loop {
    std::mutex mutex;
    std::condition_variable posted;
    std::deque<std::function<void()>> batches;

    ThreadedChatStore::Post post() {
        return [this](std::function<void()> fn) {
            {
                std::lock_guard lock(mutex);
                batches.push_back(std::move(fn));
            }
            posted.notify_one();
        };
    }
    // Runs the next posted batch; false if none came within `limit` (the
    // writer is stuck: a failure, not a measurement).
    bool run_one(std::chrono::milliseconds limit = 20s) {
        std::unique_lock lock(mutex);
        if (!posted.wait_for(lock, limit, [this] { return !batches.empty(); })) return false;
        auto fn = std::move(batches.front());
        batches.pop_front();
        lock.unlock();
        fn();
        return true;
    }
    std::size_t waiting() {
        std::lock_guard lock(mutex);
        return batches.size();
    }
};

agents::ChatMessage message(int i) {
    agents::ChatMessage m;
    m.room = 1;
    m.ts = 1'700'000'000'000 + i;
    m.user = ca::User{7, "A", {}};
    m.text = "m" + std::to_string(i);
    return m;
}

std::unique_ptr<ChatDb> memory_db() { return ChatDb::open(":memory:").value(); }

}  // namespace

TEST_CASE("threaded store: what arrives within the commit window is one transaction, completed in order", "[chat_store]") {
    Loop loop;
    ThreadedChatStore store(memory_db(), loop.post(), 500ms);
    std::vector<std::int64_t> ids;
    auto record = [&](Expected<agents::ChatMessage, std::string> m) {
        REQUIRE(m);
        ids.push_back(m->id);
    };
    // An idle store commits the first message at once...
    store.append(message(0), record);
    REQUIRE(loop.run_one());
    REQUIRE(ids.size() == 1);
    // ...and the next ones, coming within the window its BEGIN opened, together.
    for (int i = 1; i <= 10; ++i) store.append(message(i), record);
    REQUIRE(loop.run_one());
    CHECK(ids.size() == 11);  // one posted batch completed all ten
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    CHECK(loop.waiting() == 0);
    CHECK_FALSE(store.failure());
}

TEST_CASE("threaded store: a full batch and a shutdown do not wait for the window", "[chat_store]") {
    Loop loop;
    std::size_t done = 0;
    auto count = [&](Expected<agents::ChatMessage, std::string> m) {
        REQUIRE(m);
        ++done;
    };
    {
        // A window far longer than run_one's limit: a batch that waited for it would fail the test.
        ThreadedChatStore store(memory_db(), loop.post(), std::chrono::hours(1));
        store.append(message(0), count);  // opens the window
        REQUIRE(loop.run_one());
        for (std::size_t i = 0; i < ThreadedChatStore::kMaxBatch; ++i) store.append(message(1), count);
        REQUIRE(loop.run_one());  // full: committed without waiting
        CHECK(done == 1 + ThreadedChatStore::kMaxBatch);
        store.append(message(2), count);  // waits in the window, until...
    }  // ...the destructor, which commits it
    REQUIRE(loop.run_one());
    CHECK(done == 2 + ThreadedChatStore::kMaxBatch);
}
