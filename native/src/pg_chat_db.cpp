#include "pg_chat_db.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <limits>

#include "compeit/util/utf.hpp"
#include "db_url.hpp"
#include "log.hpp"

namespace compeit::native {

namespace {

// pg_advisory_xact_lock keys: "compeit" and a number.
//   7165065861674923009: schema creation, 7165065861674923010: user-id blocks.
// Both sequences have CACHE 1: a session that cached ids would hand out ids
// that no longer follow the commit order.
constexpr const char* kSchema = R"sql(
BEGIN;
SELECT pg_advisory_xact_lock(7165065861674923009);
CREATE SEQUENCE IF NOT EXISTS chat_message_ids AS bigint CACHE 1;
CREATE SEQUENCE IF NOT EXISTS compeit_user_ids AS bigint START 1 CACHE 1;
CREATE TABLE IF NOT EXISTS chat_rooms (
    room     bigint PRIMARY KEY,
    last_seq bigint NOT NULL  -- the room's last seq handed out; its row is the room's lock
);
CREATE TABLE IF NOT EXISTS chat_messages (
    id        bigint PRIMARY KEY,  -- from chat_message_ids, taken under the room's lock
    room      bigint,              -- NULL for user-to-user messages
    seq       bigint,              -- 1, 2, 3.. within the room; NULL without a room
    ts        bigint NOT NULL,
    user_id   bigint NOT NULL,
    user_name text   NOT NULL,
    to_user   bigint,
    text      text   NOT NULL DEFAULT '',
    event     text   NOT NULL DEFAULT '',
    CHECK ((room IS NULL) = (seq IS NULL))
);
CREATE INDEX IF NOT EXISTS chat_messages_room ON chat_messages (room, id);
CREATE UNIQUE INDEX IF NOT EXISTS chat_messages_room_seq ON chat_messages (room, seq);
CREATE INDEX IF NOT EXISTS chat_messages_room_events ON chat_messages (room, id)
    WHERE event IN ('user_joined', 'user_left');
CREATE INDEX IF NOT EXISTS chat_messages_ts ON chat_messages (ts);
COMMIT;
)sql";

struct Statement {
    const char* name;
    const char* sql;
};

// The room's row lock, and `$2` more seqs; returns the last one.
constexpr Statement kReserveSeqs{"compeit_reserve_seqs", R"sql(
INSERT INTO chat_rooms (room, last_seq) VALUES ($1::bigint, $2::bigint)
ON CONFLICT (room) DO UPDATE SET last_seq = chat_rooms.last_seq + EXCLUDED.last_seq
RETURNING last_seq
)sql"};

constexpr Statement kInsert{"compeit_insert", R"sql(
INSERT INTO chat_messages (id, room, seq, ts, user_id, user_name, to_user, text, event)
VALUES (nextval('chat_message_ids'), $1::bigint, $2::bigint, $3::bigint, $4::bigint, $5::text, $6::bigint,
        $7::text, $8::text)
RETURNING id
)sql"};

// A room's join and leave events beyond the newest $2. The caller holds the room's lock.
constexpr Statement kPruneEvents{"compeit_prune_events", R"sql(
DELETE FROM chat_messages WHERE room = $1::bigint AND event IN ('user_joined', 'user_left') AND id <= (
    SELECT id FROM chat_messages WHERE room = $1::bigint AND event IN ('user_joined', 'user_left')
    ORDER BY id DESC LIMIT 1 OFFSET $2::bigint)
)sql"};

// Everything stamped before $1. SKIP LOCKED: this never waits for another
// server's batch, so it cannot close a deadlock; what it skips goes next time.
constexpr Statement kPruneAge{"compeit_prune_age", R"sql(
DELETE FROM chat_messages WHERE id IN (
    SELECT id FROM chat_messages WHERE ts < $1::bigint FOR UPDATE SKIP LOCKED)
)sql"};

// The newest $3 messages of a room below $2, returned oldest first.
constexpr Statement kHistory{"compeit_history", R"sql(
SELECT id, room, seq, ts, user_id, user_name, to_user, text, event FROM (
    SELECT * FROM chat_messages WHERE room = $1::bigint AND id < $2::bigint ORDER BY id DESC LIMIT $3::bigint
) newest ORDER BY id
)sql"};

// nextval and setval are two steps: the lock keeps other servers out in between.
constexpr Statement kUserIdLock{"compeit_user_id_lock", "SELECT pg_advisory_xact_lock(7165065861674923010)"};
constexpr Statement kUserIds{"compeit_user_ids",
                             "SELECT setval('compeit_user_ids', nextval('compeit_user_ids') + $1::bigint - 1)"
                             " - $1::bigint + 1"};

constexpr Statement kStatements[] = {kReserveSeqs, kInsert, kPruneEvents, kPruneAge, kHistory, kUserIdLock, kUserIds};

std::string num(std::int64_t v) { return std::to_string(v); }

// libpq's messages end in a newline and may span lines: one line for the log.
std::string one_line(const char* message) {
    std::string s = message ? message : "";
    for (char& c : s)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s.empty() ? "unknown error" : s;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// One row of a reply, read defensively: a NULL is not an empty string.
struct Cells {
    const PGresult* r;
    int row;
    bool null(int col) const { return PQgetisnull(r, row, col) != 0; }
    std::string_view text(int col) const {
        return {PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col))};
    }
    std::optional<std::int64_t> integer(int col) const { return null(col) ? std::nullopt : parse_int(text(col)); }
    bool utf8(int col) const { return !null(col) && utf::valid_utf8(text(col)); }
};

bool known_event(std::string_view e) {
    return e.empty() || e == "user_joined" || e == "user_left" || e == "announcement";
}

// The checks a history row must pass; the name of the first bad column, or nullptr.
const char* read_row(const Cells& c, ca::RoomId room, agents::ChatMessage& m) {
    const auto id = c.integer(0), in_room = c.integer(1), seq = c.integer(2), ts = c.integer(3),
               user = c.integer(4);
    if (!id || *id <= 0) return "id";
    if (!in_room || *in_room != room) return "room";
    if (!seq || *seq <= 0) return "seq";
    if (!ts) return "ts";
    if (!user || *user < 0) return "user_id";
    if (!c.utf8(5)) return "user_name";
    const auto to = c.integer(6);
    if (!c.null(6) && (!to || *to <= 0)) return "to_user";
    if (!c.utf8(7)) return "text";
    if (!c.utf8(8) || !known_event(c.text(8))) return "event";
    m.id = *id;
    m.room = room;
    m.seq = *seq;
    m.ts = *ts;
    m.user = ca::User{*user, std::string(c.text(5))};
    m.to = to;
    m.text = c.text(7);
    m.event = c.text(8);
    return nullptr;
}

// Server notices go to our log, not raw to stderr: NOTICE ("already
// exists, skipping") at debug, WARNING and worse (a shutdown) at warn.
void on_notice(void*, const PGresult* r) {
    const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const bool minor = severity && (std::string_view(severity) == "NOTICE" || std::string_view(severity) == "INFO" ||
                                    std::string_view(severity) == "DEBUG" || std::string_view(severity) == "LOG");
    log(minor ? LogLevel::debug : LogLevel::warn, "chat database says: ", one_line(PQresultErrorMessage(r)));
}

}  // namespace

void PgChatDb::ResultDeleter::operator()(pg_result* r) const { PQclear(r); }

Expected<std::unique_ptr<PgChatDb>, std::string> PgChatDb::connect(const std::string& url, Retention retention) {
    // Later keys override earlier ones: the URL may change the timeouts, not the encoding.
    const char* keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
                          "tcp_user_timeout", "application_name", "dbname", "client_encoding", nullptr};
    const char* values[] = {"5", "10", "5", "3", "10000", "compeit-server", url.c_str(), "UTF8", nullptr};
    PGconn* conn = PQconnectdbParams(keys, values, 1);
    if (!conn) return unexpected(std::string("out of memory"));
    std::unique_ptr<PgChatDb> db(new PgChatDb(conn, retention));
    PQsetNoticeReceiver(conn, on_notice, nullptr);
    // libpq may quote a piece of a malformed URL: never the password.
    if (PQstatus(conn) != CONNECTION_OK) return unexpected(scrub(one_line(PQerrorMessage(conn)), url));
    if (!db->run(kSchema)) return unexpected(scrub(db->error_, url));
    for (const auto& s : kStatements) {
        Result r(PQprepare(conn, s.name, s.sql, 0, nullptr));
        if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
            return unexpected("preparing " + std::string(s.name) + ": " +
                              one_line(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn)));
    }
    return db;
}

PgChatDb::~PgChatDb() { PQfinish(conn_); }

bool PgChatDb::connected() const { return PQstatus(conn_) == CONNECTION_OK; }

void PgChatDb::fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);  // the first cause; the rest follow from it
}

PgChatDb::Result PgChatDb::run(const char* sql) {
    Result r(PQexec(conn_, sql));
    const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
    const char* detail = r ? PQresultErrorMessage(r.get()) : "";
    fail(one_line(detail && *detail ? detail : PQerrorMessage(conn_)));
    return nullptr;
}

PgChatDb::Result PgChatDb::exec(const char* statement, const std::vector<Param>& params) {
    if (failed()) return nullptr;  // the transaction is aborted: nothing more runs in it
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    Result r(PQexecPrepared(conn_, statement, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0));
    const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
    const char* detail = r ? PQresultErrorMessage(r.get()) : "";
    fail(std::string(statement) + ": " + one_line(detail && *detail ? detail : PQerrorMessage(conn_)));
    return nullptr;
}

// The one number a statement returns; anything else fails the batch.
std::int64_t PgChatDb::single_int(const Result& r) {
    if (!r) return 0;
    if (PQntuples(r.get()) != 1 || PQnfields(r.get()) != 1) {
        fail("unexpected reply: " + num(PQntuples(r.get())) + " rows, " + num(PQnfields(r.get())) + " columns");
        return 0;
    }
    const auto v = Cells{r.get(), 0}.integer(0);
    if (!v || *v <= 0) fail("unexpected reply: not a positive integer");
    return v && *v > 0 ? *v : 0;
}

void PgChatDb::begin() {
    error_.clear();
    run("BEGIN");
}

// A COMMIT of an aborted transaction "succeeds" with the tag ROLLBACK: only COMMIT counts.
void PgChatDb::commit() {
    if (failed()) return;
    const Result r = run("COMMIT");
    if (r && std::string_view(PQcmdStatus(r.get())) != "COMMIT")
        fail("COMMIT answered " + one_line(PQcmdStatus(r.get())));
}

void PgChatDb::rollback() {
    if (connected()) {
        Result r(PQexec(conn_, "ROLLBACK"));
    }
}

std::map<ca::RoomId, std::int64_t> PgChatDb::reserve_seqs(const std::map<ca::RoomId, std::int64_t>& counts) {
    std::map<ca::RoomId, std::int64_t> first;
    for (const auto& [room, count] : counts) {  // std::map: ascending rooms, the one lock order
        const std::int64_t last = single_int(exec(kReserveSeqs.name, {num(room), num(count)}));
        if (failed()) return {};
        if (last < count) {
            fail("room " + num(room) + ": last_seq " + num(last) + " below the " + num(count) + " just reserved");
            return {};
        }
        first[room] = last - count + 1;
    }
    return first;
}

std::int64_t PgChatDb::insert(const agents::ChatMessage& m) {
    const Param room = m.room ? Param(num(*m.room)) : std::nullopt;
    const Param seq = m.room ? Param(num(m.seq)) : std::nullopt;
    const Param to = m.to ? Param(num(*m.to)) : std::nullopt;
    return single_int(exec(kInsert.name, {room, seq, num(m.ts), num(m.user.id), m.user.name, to, m.text, m.event}));
}

void PgChatDb::prune_events(ca::RoomId room) {
    exec(kPruneEvents.name, {num(room), num(static_cast<std::int64_t>(retention_.events_per_room))});
}

void PgChatDb::prune_age(std::int64_t cutoff_ms) { exec(kPruneAge.name, {num(cutoff_ms)}); }

Expected<std::vector<agents::ChatMessage>, std::string> PgChatDb::history(ca::RoomId room,
                                                                        std::optional<std::int64_t> before,
                                                                        std::size_t limit) {
    const Result r = exec(kHistory.name, {num(room), num(before.value_or(std::numeric_limits<std::int64_t>::max())),
                                          num(static_cast<std::int64_t>(limit))});
    if (!r) return unexpected(error_);
    const int rows = PQntuples(r.get());
    if (PQnfields(r.get()) != 9 || rows < 0 || static_cast<std::size_t>(rows) > limit)
        return unexpected(std::string("chat database returned an unexpected reply to a history query"));
    std::vector<agents::ChatMessage> out(static_cast<std::size_t>(rows));
    for (int i = 0; i < rows; ++i) {
        auto& m = out[static_cast<std::size_t>(i)];
        const char* bad = read_row(Cells{r.get(), i}, room, m);
        if (!bad && ((i > 0 && m.id <= out[static_cast<std::size_t>(i) - 1].id) || (before && m.id >= *before)))
            bad = "id";
        if (bad) return unexpected("chat database returned a bad row in room " + num(room) + ": column " + bad);
    }
    return out;
}

std::int64_t PgChatDb::reserve_user_ids(std::size_t block) {
    exec(kUserIdLock.name, {});
    return single_int(exec(kUserIds.name, {num(static_cast<std::int64_t>(block))}));
}

}  // namespace compeit::native
