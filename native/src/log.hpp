// Logging: one line per event on stderr, as text (`<UTC time> <level>
// <message> key=value...`, the fields the message does not already say) or, with --log-format json, one JSON object per
// line {time, level, event, message, session, user, room, transport, reason,
// remote}. Lines never carry message content, sids or tokens: a session is
// named by its sid tag (sid_tag()).
#pragma once

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace compeit::native {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };
enum class LogFormat { text, json };

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
bool parse_log_level(std::string_view s, LogLevel& out);
void set_log_format(LogFormat format);
bool parse_log_format(std::string_view s, LogFormat& out);

// What a line is about. `event` is a stable name an operator can filter on
// ("session_open", "session_closed", "http_request", ...); the other fields
// are left out of the line when empty.
// Default member initializers, so a designated initializer names only what it knows.
struct LogFields {
    std::string_view event{};
    std::string_view session{};    // the sid tag, never the sid
    std::optional<std::uint64_t> user{};
    std::optional<std::int64_t> room{};
    std::string_view transport{};
    std::string_view reason{};
    std::string_view remote{};     // the client's address (and port, when known)
};

void log_line(LogLevel level, std::string_view message);
// Text form: `<time> <level> <message>` then ` key=value` for each field the
// message does not already say (quoted when it holds a space; control
// characters as \xNN). JSON form: every non-empty field, and "message".
void log_event(LogLevel level, const LogFields& fields, std::string_view message);

// log_event with the message made of several parts, built only when the
// level is on.
template <class... Args>
    requires(sizeof...(Args) > 1)
void log_event(LogLevel level, const LogFields& fields, const Args&... args) {
    if (!log_enabled(level)) return;
    std::ostringstream os;
    (os << ... << args);
    log_event(level, fields, os.str());
}

// The access log (--access-log): one line per HTTP request answered.
struct AccessEntry {
    std::string_view method;
    std::string_view path;       // without the query: it may hold a token
    unsigned status = 0;
    std::uint64_t bytes = 0;     // body bytes sent
    double ms = 0;               // from the request read to the answer queued
    std::string_view remote;
};
void set_access_log(bool on);
bool access_log_enabled();
void log_access(const AccessEntry& entry);

template <class... Args>
void log(LogLevel level, const Args&... args) {
    if (!log_enabled(level)) return;
    std::ostringstream os;
    (os << ... << args);
    log_line(level, os.str());
}

}  // namespace compeit::native
