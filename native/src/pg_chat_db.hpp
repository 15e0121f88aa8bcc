// Chat history in PostgreSQL, the synchronous layer under PgChatStore (as
// ChatDb is for SQLite): one libpq connection, prepared statements with
// parameters, explicit transactions. Several server processes may share the
// database, so the ordering lives in it: a room's messages take the room's
// row in chat_rooms first (a row lock held until COMMIT, which also hands out
// the room's seq 1, 2, 3..) and only then an id from the global sequence, so
// ids increase within a room in commit order. Locks are always taken in one
// order, rooms ascending, then the user-id lock, so two batches never deadlock.
//
// The database is outside input too: every value read back is checked (nulls,
// numbers, UTF-8) before it becomes a ChatMessage.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat_db.hpp"  // Retention
#include "compeit/agents/chat_store.hpp"

struct pg_conn;
struct pg_result;

namespace compeit::native {

class PgChatDb {
public:
    // `url` is a postgresql:// URI, parsed by libpq. Connects, creates the
    // schema when missing (under an advisory lock: servers may start at
    // once) and prepares the statements.
    static Expected<std::unique_ptr<PgChatDb>, std::string> connect(const std::string& url, Retention retention);
    ~PgChatDb();
    PgChatDb(const PgChatDb&) = delete;
    PgChatDb& operator=(const PgChatDb&) = delete;

    // A statement failed since begin(): PostgreSQL has aborted the
    // transaction, so the whole batch fails with error().
    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    bool connected() const;  // false once the connection is lost

    void begin();
    void commit();
    void rollback();

    // Locks each room's row (ascending) and reserves `count` seqs in it;
    // returns each room's first. Empty on failure.
    std::map<ca::RoomId, std::int64_t> reserve_seqs(const std::map<ca::RoomId, std::int64_t>& counts);
    // Inserts `m` (its seq already set for a room message); returns its id, 0 on failure.
    std::int64_t insert(const agents::ChatMessage& m);
    // Retention: the room's join and leave events beyond the newest N; everything older than cutoff_ms.
    void prune_events(ca::RoomId room);
    void prune_age(std::int64_t cutoff_ms);
    // The room's last `limit` messages below `before`, oldest first. A row
    // that fails the checks is an error of this call only (failed() stays false).
    Expected<std::vector<agents::ChatMessage>, std::string> history(ca::RoomId room,
                                                                   std::optional<std::int64_t> before,
                                                                   std::size_t limit);
    // The first of `block` fresh ids from the compeit_user_ids sequence.
    std::int64_t reserve_user_ids(std::size_t block);

    const Retention& retention() const { return retention_; }

private:
    using Param = std::optional<std::string>;  // nullopt: SQL NULL
    struct ResultDeleter {
        void operator()(pg_result* r) const;
    };
    using Result = std::unique_ptr<pg_result, ResultDeleter>;

    PgChatDb(pg_conn* conn, Retention retention) : conn_(conn), retention_(retention) {}
    pg_conn* conn_;
    Retention retention_;
    std::string error_;

    Result exec(const char* statement, const std::vector<Param>& params);
    Result run(const char* sql);  // a fixed statement without parameters; null on failure
    std::int64_t single_int(const Result& r);
    void fail(std::string message);
};

}  // namespace compeit::native
