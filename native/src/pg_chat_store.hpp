// The server's ChatStore on PostgreSQL (--chat-db postgresql://...), for
// servers that share one chat history. The contract of ThreadedChatStore:
// PgChatDb calls run on a worker thread, whatever queued up during one
// transaction goes into the next one, and completions reach the network
// thread in call order only after COMMIT returned.
//
// PostgreSQL going away is loud, never hidden: the batch in flight fails with
// "chat database unavailable: connection lost", and each later batch first
// tries to reconnect (backing off from 100 ms to 2 s between attempts) and
// fails at once while it cannot. Nothing is retried or held back in secret,
// so nothing uncommitted is delivered. (A COMMIT whose answer was lost is
// reported as failed: that message is not delivered, but may be in history.)
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "pg_chat_db.hpp"

namespace compeit::native {

class PgChatStore final : public agents::ChatStore {
public:
    using Post = std::function<void(std::function<void()>)>;  // runs a completion on the network thread
    using ReserveDone = std::function<void(Expected<std::int64_t, std::string>)>;
    static constexpr std::size_t kMaxUserIdBlock = 1'000'000;

    // Connects once, here: a bad URL, a wrong password or an unreachable
    // server is a start-up error (its message never holds the password).
    static Expected<std::unique_ptr<PgChatStore>, std::string> open(std::string url, Retention retention, Post post);
    ~PgChatStore() override;  // finishes the queued work, then joins

    void append(agents::ChatMessage m, AppendDone done) override;
    void history(ca::RoomId room, std::optional<std::int64_t> before, std::size_t limit, HistoryDone done) override;
    // Runs `done` on the network thread once everything queued before it is
    // committed and its completions ran (an empty transaction: for PostgreSQL
    // also a probe of the connection). For the drain and /readyz.
    void barrier(std::function<void()> done);
    // Why the last transaction failed; nullopt when it committed (/readyz).
    std::optional<std::string> failure();
    // The first id of a fresh block of `block` (1..kMaxUserIdBlock) user ids
    // from the compeit_user_ids sequence: they start at 1, are never handed
    // out twice, by any server, and are never reused.
    void reserve_user_ids(std::size_t block, ReserveDone done);

private:
    struct Batch;
    struct Job {
        std::optional<ca::RoomId> seq_room;            // a room message: needs the room's lock and a seq
        std::function<void(PgChatDb&, Batch&)> run;    // on the worker, inside the batch's transaction
        std::function<void(const std::string*)> done;  // on the network thread; the batch's error if it failed
    };
    using Clock = std::chrono::steady_clock;

    PgChatStore(std::string url, std::unique_ptr<PgChatDb> db, Retention retention, Post post);

    // Touched by the worker only (after construction).
    const std::string url_;  // holds the password: only redacted(url_) is ever logged
    std::unique_ptr<PgChatDb> db_;  // null while disconnected
    Retention retention_;
    std::uint64_t inserts_ = 0;  // for the age pruning's rhythm
    unsigned failed_connects_ = 0;
    Clock::time_point next_connect_{};

    Post post_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    std::optional<std::string> last_error_;  // of the last transaction, under mutex_
    bool stopping_ = false;
    std::thread worker_;

    void enqueue(Job job);
    void run();
    std::optional<std::string> commit_batch(std::deque<Job>& jobs);
    bool connect_if_due();
    void prune(PgChatDb& db, const Batch& batch);
};

}  // namespace compeit::native
