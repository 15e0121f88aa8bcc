// One line per event on stderr: `<UTC time> <level> <message>`.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace compeit::native {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, std::string_view message);
bool parse_log_level(std::string_view s, LogLevel& out);

template <class... Args>
void log(LogLevel level, const Args&... args) {
    if (!log_enabled(level)) return;
    std::ostringstream os;
    (os << ... << args);
    log_line(level, os.str());
}

}  // namespace compeit::native
