// A validating JSON scanner for the hot path: it checks a value's grammar in
// one pass and hands back spans of the original text instead of a tree, so a
// message whose `data` is only relayed is never parsed into objects nor
// serialised again. Routing reads the few members it needs (name, type, from,
// data) as spans; agents that need a tree parse their span with parse_json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace compeit::util {

// The span of the one JSON value that `text` holds (surrounding white space
// trimmed), or nullopt when `text` is not exactly one valid JSON value or
// nests deeper than max_depth. `text` must already be valid UTF-8 (packets
// are validated when decoded); the scanner checks the grammar only.
std::optional<std::string_view> json_value_span(std::string_view text, std::size_t max_depth = 64);

// Calls fn(key, value_span) for each member of an object span. The span must
// come from json_value_span (or lie inside one): it is not validated again. `key` is the raw key without quotes
// (escapes left as written). Returns false if `object` is not an object.
template <class Fn>
bool for_each_member(std::string_view object, Fn&& fn);

// Calls fn(element_span) for each element of an array span (validated as above).
template <class Fn>
bool for_each_element(std::string_view array, Fn&& fn);

// The first element of an array span, or nullopt when it is not a non-empty array.
std::optional<std::string_view> json_first_element(std::string_view array);

// The value span of member `key` (unescaped keys only) in an object span.
std::optional<std::string_view> json_member(std::string_view object, std::string_view key);

// The string a JSON string span denotes (escapes decoded), or nullopt.
std::optional<std::string> json_string(std::string_view span);
// The integer a JSON number span denotes, if it is an integer in int64 range.
std::optional<std::int64_t> json_integer(std::string_view span);

// Appends `s` as a JSON string literal (quotes, escapes for ", \ and controls),
// byte for byte what nlohmann's dump() writes for valid UTF-8.
void append_json_string(std::string& out, std::string_view s);

namespace detail {
// Skips one value starting at `pos` (after white space); false when invalid.
bool skip_value(std::string_view s, std::size_t& pos, std::size_t depth, std::size_t max_depth);
// Skips one value of text already validated: only quotes, escapes and
// brackets are looked at, so navigating a validated span is cheap.
void skip_trusted(std::string_view s, std::size_t& pos);
void skip_ws(std::string_view s, std::size_t& pos);
}  // namespace detail

template <class Fn>
bool for_each_member(std::string_view object, Fn&& fn) {
    std::size_t pos = 0;
    if (object.empty() || object[0] != '{') return false;
    ++pos;
    detail::skip_ws(object, pos);
    if (pos < object.size() && object[pos] == '}') return true;
    while (pos < object.size()) {
        detail::skip_ws(object, pos);
        const std::size_t key_start = pos;
        if (pos >= object.size() || object[pos] != '"') return false;
        detail::skip_trusted(object, pos);
        const std::string_view key = object.substr(key_start + 1, pos - key_start - 2);
        detail::skip_ws(object, pos);
        if (pos >= object.size() || object[pos] != ':') return false;
        ++pos;
        detail::skip_ws(object, pos);
        const std::size_t value_start = pos;
        detail::skip_trusted(object, pos);
        if (pos == value_start) return false;
        fn(key, object.substr(value_start, pos - value_start));
        detail::skip_ws(object, pos);
        if (pos < object.size() && object[pos] == ',') {
            ++pos;
            continue;
        }
        return pos < object.size() && object[pos] == '}';
    }
    return false;
}

template <class Fn>
bool for_each_element(std::string_view array, Fn&& fn) {
    if (array.empty() || array[0] != '[') return false;
    std::size_t pos = 1;
    detail::skip_ws(array, pos);
    if (pos < array.size() && array[pos] == ']') return true;
    while (pos < array.size()) {
        detail::skip_ws(array, pos);
        const std::size_t start = pos;
        detail::skip_trusted(array, pos);
        if (pos == start) return false;
        fn(array.substr(start, pos - start));
        detail::skip_ws(array, pos);
        if (pos < array.size() && array[pos] == ',') {
            ++pos;
            continue;
        }
        return pos < array.size() && array[pos] == ']';
    }
    return false;
}

}  // namespace compeit::util
