#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

namespace compeit::native {
namespace {
LogLevel g_level = LogLevel::info;
LogFormat g_format = LogFormat::text;
bool g_access = false;

const char* level_name(LogLevel level) {
    static const char* names[] = {"debug", "info", "warn", "error", "off"};
    return names[static_cast<int>(level)];
}

// `2026-12-02T03:04:05.678Z`
std::string timestamp() {
    const auto now = std::chrono::system_clock::now();
    const auto t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[40];
    const auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(ms));
    return stamp;
}

void emit(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stderr);
}

// The text form is one line per event whatever the values hold: control
// characters (a newline in a user name, an ANSI escape) become \xNN, so no
// value can forge a line or repaint the terminal.
void append_escaped(std::string& out, std::string_view s) {
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '\\') {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", u);
            out += hex;
        } else {
            out += c;
        }
    }
}

// ` key=value`, quoted when the value holds a space or a quote; left out when
// the message already says it (`session 1a2b3c4d open websocket`).
void append_field(std::string& out, std::string_view message, std::string_view key, std::string_view value) {
    if (value.empty() || message.find(value) != std::string_view::npos) return;
    out += ' ';
    out += key;
    out += '=';
    const bool quote = value.find_first_of(" \"") != std::string_view::npos;
    if (quote) out += '"';
    append_escaped(out, value);
    if (quote) out += '"';
}

void append_number(std::string& out, std::string_view message, std::string_view key, std::string_view value) {
    // A number is too short to search for in the message: `user 3` says it, `3` alone may not.
    std::string said(key);
    said += ' ';
    said += value;
    if (message.find(said) != std::string_view::npos) return;
    out += ' ';
    out += key;
    out += '=';
    out += value;
}

}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
bool log_enabled(LogLevel level) { return level >= g_level && level != LogLevel::off; }
void set_log_format(LogFormat format) { g_format = format; }
void set_access_log(bool on) { g_access = on; }
bool access_log_enabled() { return g_access; }

bool parse_log_level(std::string_view s, LogLevel& out) {
    if (s == "debug") out = LogLevel::debug;
    else if (s == "info") out = LogLevel::info;
    else if (s == "warn") out = LogLevel::warn;
    else if (s == "error") out = LogLevel::error;
    else if (s == "off") out = LogLevel::off;
    else return false;
    return true;
}

bool parse_log_format(std::string_view s, LogFormat& out) {
    if (s == "text") out = LogFormat::text;
    else if (s == "json") out = LogFormat::json;
    else return false;
    return true;
}

void log_line(LogLevel level, std::string_view message) { log_event(level, LogFields{}, message); }

void log_event(LogLevel level, const LogFields& f, std::string_view message) {
    if (!log_enabled(level)) return;
    if (g_format == LogFormat::json) {
        nlohmann::ordered_json j{{"time", timestamp()}, {"level", level_name(level)}, {"event", f.event.empty() ? "log" : f.event}};
        if (!message.empty()) j["message"] = message;
        if (!f.session.empty()) j["session"] = f.session;
        if (f.user) j["user"] = *f.user;
        if (f.room) j["room"] = *f.room;
        if (!f.transport.empty()) j["transport"] = f.transport;
        if (!f.reason.empty()) j["reason"] = f.reason;
        if (!f.remote.empty()) j["remote"] = f.remote;
        return emit(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
    }
    std::string line = timestamp();
    line += ' ';
    line += level_name(level);
    line += ' ';
    append_escaped(line, message);
    append_field(line, message, "session", f.session);
    if (f.user) append_number(line, message, "user", std::to_string(*f.user));
    if (f.room) append_number(line, message, "room", std::to_string(*f.room));
    append_field(line, message, "transport", f.transport);
    append_field(line, message, "reason", f.reason);
    append_field(line, message, "remote", f.remote);
    emit(line + "\n");
}

void log_access(const AccessEntry& e) {
    if (!g_access) return;
    if (g_format == LogFormat::json) {
        nlohmann::ordered_json j{{"time", timestamp()}, {"level", "info"}, {"event", "http_request"}, {"method", e.method},
                         {"path", e.path}, {"status", e.status}, {"bytes", e.bytes}, {"ms", e.ms}, {"remote", e.remote}};
        return emit(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
    }
    char tail[96];
    std::snprintf(tail, sizeof tail, " %u %llu %.1fms\n", e.status, static_cast<unsigned long long>(e.bytes), e.ms);
    std::string line = timestamp() + " info ";
    append_escaped(line, e.remote);
    line += ' ';
    append_escaped(line, e.method);
    line += ' ';
    append_escaped(line, e.path);
    emit(line + tail);
}

}  // namespace compeit::native
