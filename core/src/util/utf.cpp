#include "compeit/util/utf.hpp"

namespace compeit::utf {
namespace {

// Length in bytes of the well-formed UTF-8 sequence starting at s[i], or 0
// when the bytes there are not a valid sequence.
std::size_t sequence_length(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return 1;
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        if (b0 == 0xE0) lo = 0xA0;   // no overlongs
        if (b0 == 0xED) hi = 0x9F;   // no UTF-16 surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;   // <= U+10FFFF
    } else {
        return 0;
    }
    if (i + len > s.size()) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b1 < lo || b1 > hi) return 0;
    for (std::size_t k = 2; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if (b < 0x80 || b > 0xBF) return 0;
    }
    return len;
}

}  // namespace

std::size_t utf16_length(std::string_view utf8) {
    std::size_t units = 0;
    for (std::size_t i = 0; i < utf8.size();) {
        const std::size_t len = sequence_length(utf8, i);
        if (len == 0) {
            ++units;
            ++i;
            continue;
        }
        units += len == 4 ? 2 : 1;
        i += len;
    }
    return units;
}

std::optional<std::size_t> prefix_bytes(std::string_view utf8, std::size_t units) {
    std::size_t i = 0;
    std::size_t counted = 0;
    while (counted < units) {
        if (i >= utf8.size()) return std::nullopt;
        std::size_t len = sequence_length(utf8, i);
        std::size_t u = 1;
        if (len == 0) {
            len = 1;
        } else if (len == 4) {
            u = 2;
        }
        if (counted + u > units) return std::nullopt;  // would split a pair
        counted += u;
        i += len;
    }
    return i;
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t len = sequence_length(s, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

std::size_t code_points(std::string_view utf8) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < utf8.size();) {
        const std::size_t len = sequence_length(utf8, i);
        i += len == 0 ? 1 : len;
        ++n;
    }
    return n;
}

std::string sanitize(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t len = sequence_length(s, i);
        if (len == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, len));
            i += len;
        }
    }
    return out;
}

std::string truncate_code_points(std::string_view s, std::size_t max_chars) {
    std::size_t i = 0;
    for (std::size_t n = 0; n < max_chars && i < s.size(); ++n) {
        const std::size_t len = sequence_length(s, i);
        i += len == 0 ? 1 : len;
    }
    return std::string(s.substr(0, i));
}

namespace {
// The code point of the well-formed sequence at the start of `s` (`s` is valid UTF-8).
char32_t decode_one(std::string_view s, std::size_t& len) {
    const auto b = [&](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(s[i])); };
    if (b(0) < 0x80) return len = 1, b(0);
    if (b(0) < 0xE0) return len = 2, ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    if (b(0) < 0xF0) return len = 3, ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    return len = 4, ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

bool hidden_control(char32_t c) {
    return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x061C || c == 0x200E || c == 0x200F ||
           (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF;
}

bool white_space(char32_t c) { return c == 0x20 || c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200B); }
}  // namespace

std::string clean_display_name(std::string_view s, std::size_t max_chars) {
    std::string out;
    std::size_t kept = 0;      // code points in out
    std::size_t kept_end = 0;  // out's length up to its last character that is not white space
    for (std::size_t i = 0, len = 0; i < s.size() && kept < max_chars; i += len) {
        if (sequence_length(s, i) == 0) {  // an invalid byte is dropped, not replaced
            len = 1;
            continue;
        }
        const char32_t c = decode_one(s.substr(i), len);
        if (hidden_control(c) || (out.empty() && white_space(c))) continue;
        out.append(s.substr(i, len));
        ++kept;
        if (!white_space(c)) kept_end = out.size();
    }
    out.resize(kept_end);  // trimmed after the cut, so a cut name does not end in white space
    return out;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

}  // namespace compeit::utf
