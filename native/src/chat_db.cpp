#include "chat_db.hpp"

#include <sqlite3.h>

#include <limits>

namespace compeit::native {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS chat_messages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after deletes
    room      INTEGER,                            -- NULL for user-to-user messages
    ts        INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    user_name TEXT    NOT NULL,
    to_user   INTEGER,
    text      TEXT    NOT NULL DEFAULT '',
    event     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chat_messages_room ON chat_messages(room, id);
CREATE INDEX IF NOT EXISTS chat_messages_room_events ON chat_messages(room, id)
    WHERE event IN ('user_joined', 'user_left');
)sql";

// A room's join and leave events beyond the newest ?2.
constexpr const char* kPruneEvents = R"sql(
DELETE FROM chat_messages WHERE room = ?1 AND event IN ('user_joined', 'user_left') AND id <= (
    SELECT id FROM chat_messages WHERE room = ?1 AND event IN ('user_joined', 'user_left')
    ORDER BY id DESC LIMIT 1 OFFSET ?2)
)sql";

// Everything before the first message stamped at or after ?1. Ids grow with
// time, so the inner scan reads only the rows it deletes, plus one.
constexpr const char* kPruneAge = R"sql(
DELETE FROM chat_messages WHERE id < COALESCE(
    (SELECT id FROM chat_messages WHERE ts >= ?1 ORDER BY id LIMIT 1),
    (SELECT COALESCE(MAX(id), 0) + 1 FROM chat_messages))
)sql";

// The newest `limit` messages of a room below `before`, returned oldest first.
constexpr const char* kHistory = R"sql(
SELECT id, room, ts, user_id, user_name, to_user, text, event FROM (
    SELECT * FROM chat_messages WHERE room = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3
) ORDER BY id ASC
)sql";

}  // namespace

Expected<std::unique_ptr<ChatDb>, std::string> ChatDb::open(const std::string& path, Retention retention) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    std::unique_ptr<ChatDb> db(new ChatDb(raw, retention));
    if (rc != SQLITE_OK) return unexpected("cannot open " + path + ": " + db->error());
    for (const char* sql : {"PRAGMA busy_timeout=5000", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", kSchema})
        if (auto r = db->exec(sql); !r) return unexpected(r.error());
    const char* insert = "INSERT INTO chat_messages (room, ts, user_id, user_name, to_user, text, event) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    if (sqlite3_prepare_v2(db->db_, insert, -1, &db->insert_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db_, kHistory, -1, &db->history_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db_, kPruneEvents, -1, &db->prune_events_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db_, kPruneAge, -1, &db->prune_age_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db_, "BEGIN IMMEDIATE", -1, &db->begin_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db_, "COMMIT", -1, &db->commit_, nullptr) != SQLITE_OK)
        return unexpected(db->error());
    return db;
}

ChatDb::~ChatDb() {
    sqlite3_finalize(insert_);
    sqlite3_finalize(history_);
    sqlite3_finalize(prune_events_);
    sqlite3_finalize(prune_age_);
    sqlite3_finalize(begin_);
    sqlite3_finalize(commit_);
    sqlite3_close(db_);
}

std::string ChatDb::error() const { return db_ ? sqlite3_errmsg(db_) : "out of memory"; }

Expected<bool, std::string> ChatDb::exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string e = msg ? msg : error();
        sqlite3_free(msg);
        return unexpected(e);
    }
    return true;
}

Expected<bool, std::string> ChatDb::step(sqlite3_stmt* stmt) {
    const int rc = sqlite3_step(stmt);
    std::optional<std::string> e;
    if (rc != SQLITE_DONE) e = error();
    sqlite3_reset(stmt);
    if (e) return unexpected(*e);
    return true;
}

Expected<bool, std::string> ChatDb::begin() { return step(begin_); }
Expected<bool, std::string> ChatDb::commit() { return step(commit_); }
void ChatDb::rollback() { (void)exec("ROLLBACK"); }

Expected<agents::ChatMessage, std::string> ChatDb::insert(agents::ChatMessage m) {
    sqlite3_reset(insert_);
    if (m.room) sqlite3_bind_int64(insert_, 1, *m.room);
    else sqlite3_bind_null(insert_, 1);
    sqlite3_bind_int64(insert_, 2, m.ts);
    sqlite3_bind_int64(insert_, 3, m.user.id);
    sqlite3_bind_text(insert_, 4, m.user.name.data(), static_cast<int>(m.user.name.size()), SQLITE_TRANSIENT);
    if (m.to) sqlite3_bind_int64(insert_, 5, *m.to);
    else sqlite3_bind_null(insert_, 5);
    sqlite3_bind_text(insert_, 6, m.text.data(), static_cast<int>(m.text.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(insert_, 7, m.event.data(), static_cast<int>(m.event.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(insert_) != SQLITE_DONE) return unexpected(error());
    m.id = sqlite3_last_insert_rowid(db_);
    if (auto pruned = prune(m); !pruned) return unexpected(pruned.error());
    return m;
}

// In the insert's transaction: a failure undoes the insert too.
Expected<bool, std::string> ChatDb::prune(const agents::ChatMessage& m) {
    if (m.room && (m.event == "user_joined" || m.event == "user_left")) {
        sqlite3_reset(prune_events_);
        sqlite3_bind_int64(prune_events_, 1, *m.room);
        sqlite3_bind_int64(prune_events_, 2, static_cast<sqlite3_int64>(retention_.events_per_room));
        if (sqlite3_step(prune_events_) != SQLITE_DONE) return unexpected(error());
    }
    if (retention_.max_age_ms > 0 && ++inserts_ % kAgePruneEvery == 1) {  // the first insert, then every kAgePruneEvery
        sqlite3_reset(prune_age_);
        sqlite3_bind_int64(prune_age_, 1, m.ts - retention_.max_age_ms);
        if (sqlite3_step(prune_age_) != SQLITE_DONE) return unexpected(error());
    }
    return true;
}

Expected<std::vector<agents::ChatMessage>, std::string> ChatDb::history(ca::RoomId room,
                                                                      std::optional<std::int64_t> before,
                                                                      std::size_t limit) {
    sqlite3_reset(history_);
    sqlite3_bind_int64(history_, 1, room);
    sqlite3_bind_int64(history_, 2, before.value_or(std::numeric_limits<std::int64_t>::max()));
    sqlite3_bind_int64(history_, 3, static_cast<sqlite3_int64>(limit));
    std::vector<agents::ChatMessage> out;
    int rc;
    auto text = [&](int col) {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(history_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(history_, col))) : std::string();
    };
    while ((rc = sqlite3_step(history_)) == SQLITE_ROW) {
        agents::ChatMessage m;
        m.id = sqlite3_column_int64(history_, 0);
        if (sqlite3_column_type(history_, 1) != SQLITE_NULL) m.room = sqlite3_column_int64(history_, 1);
        m.ts = sqlite3_column_int64(history_, 2);
        m.user = ca::User{sqlite3_column_int64(history_, 3), text(4)};
        if (sqlite3_column_type(history_, 5) != SQLITE_NULL) m.to = sqlite3_column_int64(history_, 5);
        m.text = text(6);
        m.event = text(7);
        out.push_back(std::move(m));
    }
    if (rc != SQLITE_DONE) return unexpected(error());
    return out;
}

}  // namespace compeit::native
