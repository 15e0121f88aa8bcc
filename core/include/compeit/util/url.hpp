// Query strings: `a=1&name=Al%20ice`. Used for `name=` in handshakes and
// namespace connects, and for `i=`/`jsonp=`/`disconnect` on transport URLs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace compeit::url {

// Percent-decoding with '+' as space (form encoding). Bad escapes stay as is.
std::string decode_component(std::string_view s);

// The decoded value of the first `key=` in `query` (no leading '?'); an
// empty string for a bare `key`; nullopt when absent.
std::optional<std::string> query_param(std::string_view query, std::string_view key);

// Splits `/path?query` at the first '?'.
struct Target {
    std::string_view path;
    std::string_view query;
};
Target split_target(std::string_view target);

}  // namespace compeit::url
