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

class ChatDb {
public:
    // `path` may be ":memory:". Creates the schema when missing.
    static Expected<std::unique_ptr<ChatDb>, std::string> open(const std::string& path);
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
    explicit ChatDb(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    sqlite3_stmt* insert_ = nullptr;
    sqlite3_stmt* history_ = nullptr;
    std::string error() const;
    Expected<bool, std::string> exec(const char* sql);
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
