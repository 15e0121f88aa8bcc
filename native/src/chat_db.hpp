// Chat history in SQLite (WAL mode). ChatDb is the synchronous layer: one
// connection, prepared statements, explicit transactions. SyncChatStore
// answers at once (tests, tools); ThreadedChatStore (threaded_chat_store.hpp)
// batches the same calls on a writer thread for the server.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compeit/agents/chat_store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace compeit::native {

// How much history is kept, so that the database cannot be grown without
// bound by churn: join and leave events are pruned per room as new ones are
// written; with max_age_ms, everything older is deleted (checked every
// kAgePruneEvery inserts, against the newest message's time stamp).
struct Retention {
    std::size_t events_per_room = 200;
    std::int64_t max_age_ms = 0;  // 0: forever
};

class ChatDb {
public:
    static constexpr std::uint32_t kAgePruneEvery = 1024;

    // `path` may be ":memory:". Creates the schema when missing.
    static Expected<std::unique_ptr<ChatDb>, std::string> open(const std::string& path, Retention retention = {});
    ~ChatDb();
    ChatDb(const ChatDb&) = delete;
    ChatDb& operator=(const ChatDb&) = delete;

    Expected<bool, std::string> begin();
    Expected<bool, std::string> commit();
    void rollback();
    // Inserts and returns the message with its id.
    Expected<agents::ChatMessage, std::string> insert(agents::ChatMessage m);
    Expected<std::vector<agents::ChatMessage>, std::string> history(ca::RoomId room, std::optional<std::int64_t> before,
                                                                   std::size_t limit);

private:
    ChatDb(sqlite3* db, Retention retention) : db_(db), retention_(retention) {}
    sqlite3* db_;
    Retention retention_;
    std::uint32_t inserts_ = 0;
    sqlite3_stmt* insert_ = nullptr;
    sqlite3_stmt* history_ = nullptr;
    sqlite3_stmt* prune_events_ = nullptr;
    sqlite3_stmt* prune_age_ = nullptr;
    sqlite3_stmt* begin_ = nullptr;   // prepared once: every batch runs them
    sqlite3_stmt* commit_ = nullptr;
    Expected<bool, std::string> prune(const agents::ChatMessage& inserted);
    std::string error() const;
    Expected<bool, std::string> exec(const char* sql);
    Expected<bool, std::string> step(sqlite3_stmt* stmt);
};

class SyncChatStore final : public agents::ChatStore {
public:
    explicit SyncChatStore(ChatDb& db) : db_(db) {}
    void append(agents::ChatMessage m, AppendDone done) override { done(db_.insert(std::move(m))); }
    void history(ca::RoomId room, std::optional<std::int64_t> before, std::size_t limit, HistoryDone done) override {
        done(db_.history(room, before, limit));
    }

private:
    ChatDb& db_;
};

}  // namespace compeit::native
