#include "compeit/util/json_scan.hpp"

#include "compeit/util/utf.hpp"

#include <algorithm>

namespace compeit::util::detail {

void skip_ws(std::string_view s, std::size_t& pos) {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) ++pos;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool skip_string(std::string_view s, std::size_t& pos) {
    // Pointer loop: strings hold most of the bytes, and -Oz does not inline operator[].
    const char* p = s.data() + pos + 1;  // after the opening quote
    const char* const end = s.data() + s.size();
    while (p < end) {
        const auto c = static_cast<unsigned char>(*p);
        if (c == '"') {
            pos = static_cast<std::size_t>(p + 1 - s.data());
            return true;
        }
        if (c < 0x20) return false;  // raw control characters are not JSON
        if (c == '\\') {
            if (++p >= end) return false;
            const char e = *p;
            if (e == 'u') {
                if (end - p <= 4) return false;
                for (int i = 1; i <= 4; ++i)
                    if (!is_hex(p[i])) return false;
                p += 4;
            } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
                return false;
            }
        }
        ++p;
    }
    return false;
}

bool skip_number(std::string_view s, std::size_t& pos) {
    if (pos < s.size() && s[pos] == '-') ++pos;
    if (pos >= s.size()) return false;
    if (s[pos] == '0') {
        ++pos;
    } else if (is_digit(s[pos])) {
        while (pos < s.size() && is_digit(s[pos])) ++pos;
    } else {
        return false;
    }
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        if (pos >= s.size() || !is_digit(s[pos])) return false;
        while (pos < s.size() && is_digit(s[pos])) ++pos;
    }
    if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
        ++pos;
        if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) ++pos;
        if (pos >= s.size() || !is_digit(s[pos])) return false;
        while (pos < s.size() && is_digit(s[pos])) ++pos;
    }
    return true;
}

bool skip_literal(std::string_view s, std::size_t& pos, std::string_view word) {
    if (s.substr(pos, word.size()) != word) return false;
    pos += word.size();
    return true;
}

}  // namespace

bool skip_value(std::string_view s, std::size_t& pos, std::size_t depth, std::size_t max_depth) {
    skip_ws(s, pos);
    if (pos >= s.size()) return false;
    switch (s[pos]) {
        case '"': return skip_string(s, pos);
        case 't': return skip_literal(s, pos, "true");
        case 'f': return skip_literal(s, pos, "false");
        case 'n': return skip_literal(s, pos, "null");
        case '[':
        case '{': {
            if (depth >= max_depth) return false;
            const bool object = s[pos] == '{';
            const char close = object ? '}' : ']';
            ++pos;
            skip_ws(s, pos);
            if (pos < s.size() && s[pos] == close) {
                ++pos;
                return true;
            }
            for (;;) {
                if (object) {
                    skip_ws(s, pos);
                    if (pos >= s.size() || s[pos] != '"' || !skip_string(s, pos)) return false;
                    skip_ws(s, pos);
                    if (pos >= s.size() || s[pos] != ':') return false;
                    ++pos;
                }
                if (!skip_value(s, pos, depth + 1, max_depth)) return false;
                skip_ws(s, pos);
                if (pos >= s.size()) return false;
                if (s[pos] == ',') {
                    ++pos;
                    continue;
                }
                if (s[pos] != close) return false;
                ++pos;
                return true;
            }
        }
        default: return skip_number(s, pos);
    }
}

void skip_trusted(std::string_view s, std::size_t& pos) {
    const char* p = s.data() + pos;
    const char* const end = s.data() + s.size();
    auto skip_string = [&] {  // at the opening quote
        for (++p; p < end && *p != '"'; ++p)
            if (*p == '\\') ++p;
        ++p;
    };
    if (p >= end) return;
    if (*p == '"') {
        skip_string();
    } else if (*p == '[' || *p == '{') {
        std::size_t depth = 0;
        while (p < end) {
            const char c = *p;
            if (c == '"') {
                skip_string();
                continue;
            }
            ++p;
            if (c == '[' || c == '{') ++depth;
            else if ((c == ']' || c == '}') && --depth == 0) break;
        }
    } else {  // a number or a literal
        while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            ++p;
    }
    pos = std::min(static_cast<std::size_t>(p - s.data()), s.size());
}

}  // namespace compeit::util::detail

namespace compeit::util {

std::optional<std::string_view> json_value_span(std::string_view text, std::size_t max_depth) {
    std::size_t pos = 0;
    detail::skip_ws(text, pos);
    const std::size_t start = pos;
    if (!detail::skip_value(text, pos, 0, max_depth)) return std::nullopt;
    const std::size_t end = pos;
    detail::skip_ws(text, pos);
    if (pos != text.size()) return std::nullopt;
    return text.substr(start, end - start);
}

std::optional<std::string_view> json_first_element(std::string_view array) {
    if (array.empty() || array[0] != '[') return std::nullopt;
    std::size_t pos = 1;
    detail::skip_ws(array, pos);
    const std::size_t start = pos;
    if (pos >= array.size() || array[pos] == ']') return std::nullopt;
    detail::skip_trusted(array, pos);
    return array.substr(start, pos - start);
}

std::optional<std::string_view> json_member(std::string_view object, std::string_view key) {
    std::optional<std::string_view> found;
    for_each_member(object, [&](std::string_view k, std::string_view v) {
        if (!found && k == key) found = v;
    });
    return found;
}

std::optional<std::string> json_string(std::string_view span) {
    if (span.size() < 2 || span.front() != '"' || span.back() != '"') return std::nullopt;
    const std::string_view body = span.substr(1, span.size() - 2);
    if (body.find('\\') == std::string_view::npos) return std::string(body);
    std::string out;
    out.reserve(body.size());
    for (std::size_t i = 0; i < body.size(); ++i) {
        if (body[i] != '\\') {
            out += body[i];
            continue;
        }
        if (++i >= body.size()) return std::nullopt;
        switch (body[i]) {
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                auto hex4 = [&](std::size_t at) -> long {
                    if (at + 4 > body.size()) return -1;
                    long v = 0;
                    for (std::size_t k = at; k < at + 4; ++k) {
                        const char c = body[k];
                        v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
                    }
                    return v;
                };
                long cp = hex4(i + 1);
                if (cp < 0) return std::nullopt;
                i += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < body.size() + 1 && body.substr(i + 1, 2) == "\\u") {
                    const long lo = hex4(i + 3);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    }
                }
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // a lone surrogate
                if (cp < 0x80) {
                    out += static_cast<char>(cp);
                } else if (cp < 0x800) {
                    out += static_cast<char>(0xC0 | (cp >> 6));
                    out += static_cast<char>(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    out += static_cast<char>(0xE0 | (cp >> 12));
                    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                    out += static_cast<char>(0x80 | (cp & 0x3F));
                } else {
                    out += static_cast<char>(0xF0 | (cp >> 18));
                    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
                    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                    out += static_cast<char>(0x80 | (cp & 0x3F));
                }
                break;
            }
            default: out += body[i]; break;  // " \ /
        }
    }
    return out;
}

std::optional<std::int64_t> json_integer(std::string_view span) {
    if (span.empty()) return std::nullopt;
    std::size_t i = 0;
    const bool negative = span[0] == '-';
    if (negative) ++i;
    if (i >= span.size() || span.size() - i > 18) return std::nullopt;  // keeps the arithmetic in range
    std::int64_t v = 0;
    for (; i < span.size(); ++i) {
        if (span[i] < '0' || span[i] > '9') return std::nullopt;
        v = v * 10 + (span[i] - '0');
    }
    return negative ? -v : v;
}

void append_json_string(std::string& out, std::string_view s) {
    if (!utf::valid_utf8(s)) {  // JSON text is UTF-8: broken bytes become U+FFFD
        const std::string clean = utf::sanitize(s);
        return append_json_string(out, clean);
    }
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            switch (c) {
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                default:
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
            }
        } else {
            out += ch;
        }
    }
    out += '"';
}

}  // namespace compeit::util
