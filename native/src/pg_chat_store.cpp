#include "pg_chat_store.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "compeit/util/utf.hpp"
#include "db_url.hpp"
#include "log.hpp"

namespace compeit::native {

namespace {

using namespace std::chrono_literals;
constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 2000ms;

// What callers (and through the Chat Agent, clients) are told; the details,
// host names included, go to the server's log only.
const std::string kNoConnection = "chat database unavailable: no connection";
const std::string kConnectionLost = "chat database unavailable: connection lost";
const std::string kTransactionFailed = "chat database error: the transaction failed";

template <class T>
using Slot = std::shared_ptr<std::optional<Expected<T, std::string>>>;

// The completion of one job: the batch's error, or the job's own result.
template <class T, class Done>
std::function<void(const std::string*)> deliver(Slot<T> result, Done done) {
    return [result = std::move(result), done = std::move(done)](const std::string* error) {
        if (error) return done(unexpected(*error));
        if (!*result) return done(unexpected(std::string("chat store: no result")));  // cannot happen
        done(std::move(**result));
    };
}

// PostgreSQL text holds no NUL and only valid UTF-8 (client_encoding UTF8):
// such a message fails alone instead of aborting everyone's transaction.
std::optional<std::string> unstorable(const agents::ChatMessage& m) {
    for (const std::string* s : {&m.text, &m.user.name, &m.event}) {
        if (s->find('\0') != std::string::npos) return "PostgreSQL cannot store the character U+0000";
        if (!utf::valid_utf8(*s)) return "not valid UTF-8";
    }
    return std::nullopt;
}

}  // namespace

// What one transaction has done so far.
struct PgChatStore::Batch {
    std::map<ca::RoomId, std::int64_t> next_seq;  // of each room locked for this batch
    std::set<ca::RoomId> event_rooms;              // rooms with a new join or leave event
    std::int64_t newest_ts = std::numeric_limits<std::int64_t>::min();
    std::uint64_t inserts = 0;

    void inserted(const agents::ChatMessage& m) {
        ++inserts;
        newest_ts = std::max(newest_ts, m.ts);
        if (m.room && (m.event == "user_joined" || m.event == "user_left")) event_rooms.insert(*m.room);
    }
};

Expected<std::unique_ptr<PgChatStore>, std::string> PgChatStore::open(std::string url, Retention retention,
                                                                      Post post) {
    auto db = PgChatDb::connect(url, retention);
    if (!db) return unexpected("cannot use the chat database " + redacted(url) + ": " + db.error());
    return std::unique_ptr<PgChatStore>(new PgChatStore(std::move(url), std::move(*db), retention, std::move(post)));
}

PgChatStore::PgChatStore(std::string url, std::unique_ptr<PgChatDb> db, Retention retention, Post post)
    : url_(std::move(url)), db_(std::move(db)), retention_(retention), post_(std::move(post)),
      worker_([this] { run(); }) {}

PgChatStore::~PgChatStore() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    worker_.join();
}

void PgChatStore::barrier(std::function<void()> done) {
    enqueue(Job{std::nullopt, [](PgChatDb&, Batch&) {}, [done = std::move(done)](const std::string*) { done(); }});
}

std::optional<std::string> PgChatStore::failure() {
    std::lock_guard lock(mutex_);
    return last_error_;
}

void PgChatStore::enqueue(Job job) {
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
}

void PgChatStore::append(agents::ChatMessage m, AppendDone done) {
    auto result = std::make_shared<std::optional<Expected<agents::ChatMessage, std::string>>>();
    if (auto bad = unstorable(m)) {  // answered in its turn, like every other call
        result->emplace(unexpected("chat message refused: " + *bad));
        return enqueue(Job{std::nullopt, [](PgChatDb&, Batch&) {}, deliver(result, std::move(done))});
    }
    const auto room = m.room;
    enqueue(Job{room,
                [m = std::move(m), result](PgChatDb& db, Batch& batch) mutable {
                    m.seq = m.room ? batch.next_seq[*m.room]++ : 0;
                    m.id = db.insert(m);
                    if (db.failed()) return;
                    batch.inserted(m);
                    result->emplace(std::move(m));
                },
                deliver(result, std::move(done))});
}

void PgChatStore::history(ca::RoomId room, std::optional<std::int64_t> before, std::size_t limit,
                          HistoryDone done) {
    auto result = std::make_shared<std::optional<Expected<std::vector<agents::ChatMessage>, std::string>>>();
    enqueue(Job{std::nullopt,
                [=](PgChatDb& db, Batch&) { result->emplace(db.history(room, before, limit)); },
                deliver(result, std::move(done))});
}

void PgChatStore::reserve_user_ids(std::size_t block, ReserveDone done) {
    auto result = std::make_shared<std::optional<Expected<std::int64_t, std::string>>>();
    if (block == 0 || block > kMaxUserIdBlock) {
        result->emplace(unexpected("user id block of " + std::to_string(block) + ": must be 1.." +
                                   std::to_string(kMaxUserIdBlock)));
        return enqueue(Job{std::nullopt, [](PgChatDb&, Batch&) {}, deliver(result, std::move(done))});
    }
    enqueue(Job{std::nullopt,
                [block, result](PgChatDb& db, Batch&) {
                    const std::int64_t first = db.reserve_user_ids(block);
                    if (!db.failed()) result->emplace(first);
                },
                deliver(result, std::move(done))});
}

void PgChatStore::run() {
    for (;;) {
        std::deque<Job> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, and nothing left to do
            batch.swap(jobs_);
        }
        auto error = commit_batch(batch);
        {
            std::lock_guard lock(mutex_);
            last_error_ = error;
        }
        post_([batch = std::move(batch), error = std::move(error)] {
            for (const auto& job : batch) job.done(error ? &*error : nullptr);
        });
    }
}

// One transaction for the whole batch. Lock order: the batch's rooms,
// ascending (reserve_seqs), then whatever the jobs take; completions wait
// for COMMIT.
std::optional<std::string> PgChatStore::commit_batch(std::deque<Job>& jobs) {
    if (!connect_if_due()) return kNoConnection;
    db_->begin();
    if (db_->failed() && !db_->connected()) {
        // The connection died while idle (PostgreSQL restarted meanwhile):
        // nothing of this batch reached it, so one fresh connection may try.
        log_event(LogLevel::info, LogFields{.event = "chat_store_state", .reason = "idle connection lost"},
                  "chat database ", redacted(url_), ": the idle connection was lost; connecting again");
        db_.reset();
        next_connect_ = {};
        if (!connect_if_due()) return kNoConnection;
        db_->begin();
    }
    PgChatDb& db = *db_;
    Batch batch;
    std::map<ca::RoomId, std::int64_t> counts;
    for (const auto& job : jobs)
        if (job.seq_room) ++counts[*job.seq_room];
    if (!counts.empty()) batch.next_seq = db.reserve_seqs(counts);
    for (auto& job : jobs) {
        if (db.failed()) break;
        job.run(db, batch);
    }
    prune(db, batch);
    db.commit();
    if (!db.failed()) return std::nullopt;

    const bool lost = !db.connected();
    log_event(LogLevel::warn, LogFields{.event = "chat_store_error"}, "chat database ", redacted(url_), ": ",
              scrub(db.error(), url_), " (", jobs.size(),
              lost ? " calls failed; the connection is lost)" : " calls failed)");
    if (lost) {
        db_.reset();  // the next batch reconnects first
        failed_connects_ = 0;
        next_connect_ = {};
        return kConnectionLost;
    }
    db.rollback();  // nothing of this batch is durable, so none of it is delivered
    return kTransactionFailed;
}

// Retention, inside the batch's transaction: a failure undoes the inserts too.
void PgChatStore::prune(PgChatDb& db, const Batch& batch) {
    for (const auto room : batch.event_rooms) db.prune_events(room);
    if (retention_.max_age_ms <= 0 || batch.inserts == 0) return;
    // As ChatDb does: at the first insert, then every kAgePruneEvery.
    constexpr std::uint64_t every = ChatDb::kAgePruneEvery;
    const std::uint64_t before = inserts_;
    inserts_ += batch.inserts;
    if ((inserts_ + every - 1) / every > (before + every - 1) / every)
        db.prune_age(batch.newest_ts - retention_.max_age_ms);
}

bool PgChatStore::connect_if_due() {
    if (db_ && db_->connected()) return true;
    db_.reset();
    const auto now = Clock::now();
    if (now < next_connect_) return false;
    auto db = PgChatDb::connect(url_, retention_);
    if (!db) {
        const auto backoff = std::min<Clock::duration>(kFirstBackoff * (1u << std::min(failed_connects_, 5u)),
                                                       kMaxBackoff);
        ++failed_connects_;
        next_connect_ = now + backoff;
        log_event(LogLevel::warn, LogFields{.event = "chat_store_error"}, "chat database ", redacted(url_),
                  ": cannot reconnect: ", scrub(db.error(), url_));
        return false;
    }
    db_ = std::move(*db);
    failed_connects_ = 0;
    log_event(LogLevel::info, LogFields{.event = "chat_store_state", .reason = "connected again"}, "chat database ",
              redacted(url_), ": connected again");
    return true;
}

}  // namespace compeit::native
