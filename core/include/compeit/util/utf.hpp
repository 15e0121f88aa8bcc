// UTF-8 helpers for socket.io 0.9's payload framing, whose lengths count
// UTF-16 code units (JavaScript string lengths), not bytes or code points.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace compeit::utf {

// Length of a UTF-8 string in UTF-16 code units (non-BMP code points count 2).
// Invalid bytes count as one unit each, as a decoder replacing them with
// U+FFFD would.
std::size_t utf16_length(std::string_view utf8);

// The number of bytes at the start of `utf8` that make up exactly `units`
// UTF-16 code units. nullopt when the string ends first or when the cut would
// split a surrogate pair (a non-BMP character).
std::optional<std::size_t> prefix_bytes(std::string_view utf8, std::size_t units);

// True when a and b are equal with ASCII letters compared without case
// (protocol tokens: header values, auth schemes, reserved names).
bool ascii_iequals(std::string_view a, std::string_view b);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view s);

// `s` with every byte that is not part of a well-formed sequence replaced by U+FFFD.
std::string sanitize(std::string_view s);

// Truncates `s` to at most `max_chars` code points, never inside a character.
std::string truncate_code_points(std::string_view s, std::size_t max_chars);

// Number of code points (what the chat length limit counts).
std::size_t code_points(std::string_view utf8);

// A name fit to show to others: invalid bytes, control characters (C0, DEL,
// C1) and bidirectional controls (which can reorder what follows a name)
// removed, white space trimmed, at most `max_chars` code points.
std::string clean_display_name(std::string_view s, std::size_t max_chars);

}  // namespace compeit::utf
