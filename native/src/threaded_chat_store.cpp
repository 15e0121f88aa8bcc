#include "threaded_chat_store.hpp"

#include <iterator>
#include <memory>
#include <optional>

namespace compeit::native {

ThreadedChatStore::ThreadedChatStore(std::unique_ptr<ChatDb> db, Post post, std::chrono::microseconds commit_window)
    : db_(std::move(db)), post_(std::move(post)), commit_window_(commit_window), worker_([this] { run(); }) {}

ThreadedChatStore::~ThreadedChatStore() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    worker_.join();
}

void ThreadedChatStore::barrier(std::function<void()> done) {
    enqueue(Job{[](ChatDb&) {}, [done = std::move(done)](const std::string*) { done(); }});
}

std::optional<std::string> ThreadedChatStore::failure() {
    std::lock_guard lock(mutex_);
    return last_error_;
}

void ThreadedChatStore::enqueue(Job job) {
    bool wake;
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
        wake = !gathering_ || jobs_.size() >= kMaxBatch;
    }
    if (wake) wake_.notify_one();  // no system call while the writer is busy committing (no waiter)
}

void ThreadedChatStore::append(agents::ChatMessage m, AppendDone done) {
    auto result = std::make_shared<std::optional<Expected<agents::ChatMessage, std::string>>>();
    enqueue(Job{[m = std::move(m), result](ChatDb& db) mutable { result->emplace(db.insert(std::move(m))); },
                [result, done = std::move(done)](const std::string* error) {
                    if (error) return done(unexpected(*error));
                    done(std::move(**result));
                }});
}

void ThreadedChatStore::history(ca::RoomId room, std::optional<std::int64_t> before, std::size_t limit,
                                HistoryDone done) {
    auto result = std::make_shared<std::optional<Expected<std::vector<agents::ChatMessage>, std::string>>>();
    enqueue(Job{[=](ChatDb& db) { result->emplace(db.history(room, before, limit)); },
                [result, done = std::move(done)](const std::string* error) {
                    if (error) return done(unexpected(*error));
                    done(std::move(**result));
                }});
}

void ThreadedChatStore::run() {
    using Clock = std::chrono::steady_clock;
    std::optional<Clock::time_point> last_begin;  // of the previous transaction
    for (;;) {
        std::deque<Job> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, and nothing left to do
            if (last_begin && !stopping_ && jobs_.size() < kMaxBatch && Clock::now() - *last_begin < commit_window_) {
                gathering_ = true;
                wake_.wait_until(lock, *last_begin + commit_window_,
                                 [this] { return stopping_ || jobs_.size() >= kMaxBatch; });
                gathering_ = false;
            }
            if (jobs_.size() <= kMaxBatch) {
                batch.swap(jobs_);
            } else {
                const auto end = jobs_.begin() + static_cast<std::ptrdiff_t>(kMaxBatch);
                batch.assign(std::make_move_iterator(jobs_.begin()), std::make_move_iterator(end));
                jobs_.erase(jobs_.begin(), end);
            }
        }
        last_begin = Clock::now();
        // One transaction for the whole batch; completions wait for COMMIT.
        std::optional<std::string> error;
        if (auto began = db_->begin(); !began) error = began.error();
        if (!error) {
            for (auto& job : batch) job.run(*db_);
            if (auto committed = db_->commit(); !committed) {
                error = committed.error();
                db_->rollback();  // nothing of this batch is durable, so none of it is delivered
            }
        }
        {
            std::lock_guard lock(mutex_);
            last_error_ = error;
        }
        post_([batch = std::move(batch), error = std::move(error)] {
            for (const auto& job : batch) job.done(error ? &*error : nullptr);
        });
    }
}

}  // namespace compeit::native
