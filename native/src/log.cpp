#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace compeit::native {
namespace {
LogLevel g_level = LogLevel::info;
}

void set_log_level(LogLevel level) { g_level = level; }
bool log_enabled(LogLevel level) { return level >= g_level; }

bool parse_log_level(std::string_view s, LogLevel& out) {
    if (s == "debug") out = LogLevel::debug;
    else if (s == "info") out = LogLevel::info;
    else if (s == "warn") out = LogLevel::warn;
    else if (s == "error") out = LogLevel::error;
    else if (s == "off") out = LogLevel::off;
    else return false;
    return true;
}

void log_line(LogLevel level, std::string_view message) {
    static const char* names[] = {"debug", "info", "warn", "error"};
    const auto now = std::chrono::system_clock::now();
    const auto t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::fprintf(stderr, "%s.%03dZ %s %.*s\n", stamp, static_cast<int>(ms), names[static_cast<int>(level)],
                 static_cast<int>(message.size()), message.data());
}

}  // namespace compeit::native
