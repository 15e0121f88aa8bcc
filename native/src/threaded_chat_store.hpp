// The server's ChatStore: ChatDb calls run on a dedicated writer thread, so
// the network thread never waits on the disk. Whatever queued up while the
// previous batch was committing goes into the next single transaction, and
// completions are handed back to the network thread, in order, only after
// COMMIT returned: a message is durable before anyone is told about it.
//
// Group commit: every transaction ends in an fdatasync (WAL,
// synchronous=FULL), and on a fast disk that finishes before the next
// message arrives, so without a window each message would pay for its own
// sync, its own wake-ups of both threads and its own WAL frames. With a
// commit window W, a transaction begins at least W after the previous one
// began: what arrives meanwhile joins it. The window is measured from the
// previous BEGIN, so a commit that already took W (a slow disk) adds no wait,
// a message waits at most W, and a quiet store commits its first message at
// once. A transaction holds at most kMaxBatch jobs; a full batch does not wait.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "chat_db.hpp"

namespace compeit::native {

class ThreadedChatStore final : public agents::ChatStore {
public:
    // `post` runs a completion on the network thread (asio::post in the server).
    using Post = std::function<void(std::function<void()>)>;

    static constexpr std::size_t kMaxBatch = 1024;  // jobs in one transaction

    // commit_window 0: each transaction begins as soon as the previous one ended.
    ThreadedChatStore(std::unique_ptr<ChatDb> db, Post post, std::chrono::microseconds commit_window);
    ~ThreadedChatStore() override;  // finishes the queued work, then joins

    void append(agents::ChatMessage m, AppendDone done) override;
    void history(ca::RoomId room, std::optional<std::int64_t> before, std::size_t limit, HistoryDone done) override;
    // Runs `done` on the network thread once everything queued before it is
    // committed and its completions ran (an empty transaction: for PostgreSQL
    // also a probe of the connection). For the drain and /readyz.
    void barrier(std::function<void()> done);
    // Why the last transaction failed; nullopt when it committed (/readyz).
    std::optional<std::string> failure();

private:
    struct Job {
        std::function<void(ChatDb&)> run;               // on the writer thread, inside the batch's transaction
        std::function<void(const std::string*)> done;   // on the network thread; an error when the batch failed
    };

    std::unique_ptr<ChatDb> db_;
    Post post_;
    std::chrono::microseconds commit_window_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    std::optional<std::string> last_error_;  // of the last transaction, under mutex_
    bool stopping_ = false;
    // The writer waits for its commit window to end: an enqueue wakes it only
    // when the batch is full, not once per message (under mutex_).
    bool gathering_ = false;
    std::thread worker_;

    void enqueue(Job job);
    void run();
};

}  // namespace compeit::native
