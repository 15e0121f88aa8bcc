#include "compeit/cluster/resp.hpp"

#include <algorithm>
#include <limits>

namespace compeit::resp {
namespace {

constexpr std::uint64_t kInt64Max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
// An idle decoder gives back a buffer larger than this (memory returns after a burst).
constexpr std::size_t kKeepCapacity = 64u << 10;
// Elements reserved up front for an array: a declared count is not trusted.
constexpr std::size_t kMaxReserve = 1024;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RESP2's types, then RESP3's (see resp.hpp).
bool known_type(char t) {
    switch (t) {
        case '+': case '-': case ':': case '$': case '*': case '_':
        case '>': case '%': case '~': case '#': case ',': case '(': case '!': case '=': case '|': return true;
        default: return false;
    }
}
// A length line followed by that many bytes and CRLF.
bool bulk_type(char t) { return t == '$' || t == '!' || t == '='; }
// A count line followed by that many values (twice as many for a map or an attribute).
bool aggregate_type(char t) { return t == '*' || t == '>' || t == '~' || t == '%' || t == '|'; }
bool paired_type(char t) { return t == '%' || t == '|'; }

// What the number on a header line counts, for the reasons a decoder fails with.
const char* header_name(char t) {
    switch (t) {
        case ':': return "integer";
        case '$': return "bulk length";
        case '!': return "blob error length";
        case '=': return "verbatim string length";
        case '*': return "array length";
        case '>': return "push length";
        case '~': return "set length";
        case '%': return "map length";
        default: return "attribute length";
    }
}

// A RESP3 double: a decimal number (sign, digits with an optional point,
// optional exponent), or inf, -inf, nan (Redis writes those). Only checked,
// never converted (nothing reads a double's value), and by its grammar rather
// than std::from_chars, which the WASM toolchain's libc++ lacks for floating
// point.
bool valid_double(std::string_view s) {
    if (s == "inf" || s == "-inf" || s == "+inf" || s == "nan" || s == "-nan") return true;
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t from = i;
        while (i < s.size() && is_digit(s[i])) ++i;
        return i - from;
    };
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t mantissa = digits();
    if (i < s.size() && s[i] == '.') {
        ++i;
        mantissa += digits();
    }
    if (mantissa == 0) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (digits() == 0) return false;
    }
    return i == s.size();
}
bool double_byte(char c) {
    return is_digit(c) || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E' || c == 'i' || c == 'n' || c == 'f' ||
           c == 'a';
}

std::string byte_name(char c) {
    static constexpr char hex[] = "0123456789abcdef";
    const auto u = static_cast<unsigned char>(c);
    return std::string("0x") + hex[u >> 4] + hex[u & 15];
}

// magnitude * 10 + digit, unless that passes `limit`.
bool add_digit(std::uint64_t& magnitude, std::uint64_t limit, char c) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (d > limit || magnitude > (limit - d) / 10) return false;
    magnitude = magnitude * 10 + d;
    return true;
}

std::int64_t to_int64(bool negative, std::uint64_t magnitude) {
    return negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
}

void append_bulk(std::string& out, std::string_view s) {
    out += '$';
    out += std::to_string(s.size());
    out += "\r\n";
    out.append(s);
    out += "\r\n";
}

// A simple string or an error line: RESP cannot carry CR or LF in one.
void append_line(std::string& out, char type, std::string_view s) {
    out += type;
    for (const char c : s) out += (c == '\r' || c == '\n') ? ' ' : c;
    out += "\r\n";
}

template <class Args>
void append_args(std::string& out, const Args& args) {
    std::size_t bytes = 16;
    for (const auto a : args) bytes += a.size() + 16;
    out.reserve(out.size() + bytes);
    out += '*';
    out += std::to_string(args.size());
    out += "\r\n";
    for (const auto a : args) append_bulk(out, a);
}

}  // namespace

std::optional<std::string_view> Value::as_string() const {
    if (kind == Kind::simple || kind == Kind::bulk) return std::string_view(str);
    return std::nullopt;
}

std::optional<std::int64_t> Value::as_integer() const {
    if (kind == Kind::integer) return integer;
    const auto s = as_string();
    if (!s) return std::nullopt;
    std::string_view d = *s;
    const bool negative = !d.empty() && d.front() == '-';
    if (negative) d.remove_prefix(1);
    if (d.empty()) return std::nullopt;
    std::uint64_t magnitude = 0;
    for (const char c : d)
        if (!is_digit(c) || !add_digit(magnitude, kInt64Max + (negative ? 1 : 0), c)) return std::nullopt;
    return to_int64(negative, magnitude);
}

void append_command(std::string& out, std::initializer_list<std::string_view> args) { append_args(out, args); }

namespace {
void append_aggregate(std::string& out, char type, const Value& v);
}

void append_command(std::string& out, const std::vector<std::string_view>& args) { append_args(out, args); }

namespace {
void append_aggregate(std::string& out, char type, const Value& v) {
    const std::size_t n = v.elements.size();
    out += type;
    out += std::to_string(type == '%' ? (n + 1) / 2 : n);
    out += "\r\n";
    for (const auto& e : v.elements) append_value(out, e);
    if (type == '%' && n % 2) out += "_\r\n";  // a hand-made map with a key but no value
}
}  // namespace

void append_value(std::string& out, const Value& v) {
    switch (v.kind) {
        case Value::Kind::simple: append_line(out, '+', v.str); return;
        case Value::Kind::error:
            if (v.str.find_first_of("\r\n") == std::string::npos) return append_line(out, '-', v.str);
            out += '!';  // a blob error carries any bytes
            out += std::to_string(v.str.size());
            out += "\r\n";
            out += v.str;
            out += "\r\n";
            return;
        case Value::Kind::integer:
            out += ':';
            out += std::to_string(v.integer);
            out += "\r\n";
            return;
        case Value::Kind::bulk: append_bulk(out, v.str); return;
        case Value::Kind::array: return append_aggregate(out, '*', v);
        case Value::Kind::push: return append_aggregate(out, '>', v);
        case Value::Kind::map: return append_aggregate(out, '%', v);
        case Value::Kind::set: return append_aggregate(out, '~', v);
        case Value::Kind::null: out += "$-1\r\n"; return;
        case Value::Kind::boolean: out += v.integer ? "#t\r\n" : "#f\r\n"; return;
        case Value::Kind::double_: append_line(out, ',', v.str); return;
        case Value::Kind::big_number: append_line(out, '(', v.str); return;
    }
}

Decoder::Decoder(DecoderLimits limits) : limits_(limits) {}

void Decoder::feed(std::string_view bytes) {
    if (failed_ || bytes.empty()) return;
    if (bytes.size() > limits_.max_buffered - std::min(buffered(), limits_.max_buffered)) {
        fail("more than " + std::to_string(limits_.max_buffered) + " bytes buffered");
        return;
    }
    // Drop the decoded prefix once it is at least half the buffer: each byte
    // is moved a bounded number of times, so feeding stays linear.
    if (pos_ > 0 && pos_ * 2 >= buf_.size()) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    buf_.append(bytes);
}

std::optional<Value> Decoder::next() {
    while (!failed_) {
        Value v;
        const Step step = bulk_ ? read_bulk(v) : read_line(v);
        if (step == Step::more || step == Step::failed) break;
        if (step == Step::partial) continue;  // a bulk header or the start of an array
        if (auto reply = complete(std::move(v))) {
            release_consumed();
            return reply;
        }
    }
    release_consumed();
    return std::nullopt;
}

// Each byte of a line is checked once, when it first arrives, so a violation
// fails at the same byte however the stream was split.
Decoder::Step Decoder::read_line(Value& out) {
    if (pos_ == buf_.size()) return Step::more;
    const char type = buf_[pos_];
    if (line_.checked == 0) {
        if (!known_type(type)) {
            fail("unknown type byte " + byte_name(type));
            return Step::failed;
        }
        line_.checked = 1;
    }
    for (std::size_t i = pos_ + line_.checked; i < buf_.size(); ++i) {
        const char c = buf_[i];
        if (c == '\r') {
            if (i + 1 == buf_.size()) {
                line_.checked = i - pos_;  // look at the CR again with the next byte
                return Step::more;
            }
            if (buf_[i + 1] != '\n') {
                fail("CR not followed by LF");
                return Step::failed;
            }
            return finish_line(type, i, out);
        }
        if (c == '\n') {
            fail("LF without CR");
            return Step::failed;
        }
        if (!check_byte(type, i - pos_ - 1, c)) return Step::failed;
    }
    line_.checked = buf_.size() - pos_;
    return Step::more;
}

// Checks the content byte at `index` of a line of `type`; numbers are read
// and held to their limits as their digits arrive.
bool Decoder::check_byte(char type, std::size_t index, char c) {
    switch (type) {
        case '+':
        case '-':
        case ',':
        case '(':
            if (index >= limits_.max_bulk_bytes) {
                const char* what = type == '+' ? "simple string" : type == '-' ? "error" : type == ',' ? "double" : "big number";
                fail(std::string(what) + " longer than " + std::to_string(limits_.max_bulk_bytes) + " bytes");
                return false;
            }
            if (type == ',' && !double_byte(c)) {
                fail("double is not a number");
                return false;
            }
            if (type == '(' && !(is_digit(c) || (index == 0 && c == '-'))) {
                fail("big number is not a number");
                return false;
            }
            return true;
        case '#':
            if (index > 0 || (c != 't' && c != 'f')) {
                fail("boolean is not #t or #f");
                return false;
            }
            return true;
        case '_': fail("null with content"); return false;
        default: break;
    }
    const char* what = header_name(type);
    if (index == 0 && (c == '-' || (c == '+' && type == ':'))) {
        if (c == '-' && type != ':' && type != '$' && type != '*') {  // RESP3 has `_` for null, no -1
            fail(std::string(what) + " is negative");
            return false;
        }
        line_.sign = true;
        line_.negative = c == '-';
        return true;
    }
    if (!is_digit(c)) {
        fail(std::string(what) + " is not a number");
        return false;
    }
    if (type == ':') {
        if (!add_digit(line_.magnitude, kInt64Max + (line_.negative ? 1 : 0), c)) {
            fail("integer out of range");
            return false;
        }
        return true;
    }
    if (line_.negative) {  // only -1 (null) is allowed
        if (index > 1 || c != '1') {
            fail(std::string(what) + " negative other than -1");
            return false;
        }
        line_.magnitude = 1;
        return true;
    }
    if (bulk_type(type) && !add_digit(line_.magnitude, limits_.max_bulk_bytes, c)) {
        fail("bulk string longer than " + std::to_string(limits_.max_bulk_bytes) + " bytes");
        return false;
    }
    const std::size_t room = limits_.max_elements - elements_;
    if (aggregate_type(type) && !add_digit(line_.magnitude, paired_type(type) ? room / 2 : room, c)) {
        fail("reply with more than " + std::to_string(limits_.max_elements) + " array elements");
        return false;
    }
    return true;
}

Decoder::Step Decoder::finish_line(char type, std::size_t cr, Value& out) {
    const std::string_view content(buf_.data() + pos_ + 1, cr - pos_ - 1);
    const Line line = line_;
    line_ = {};
    pos_ = cr + 2;
    switch (type) {
        case '+':
        case '-':
            out.kind = type == '+' ? Value::Kind::simple : Value::Kind::error;
            out.str.assign(content);
            return Step::value;
        case '_': out.kind = Value::Kind::null; return Step::value;
        case '#':
            if (content.size() != 1) {
                fail("boolean is not #t or #f");
                return Step::failed;
            }
            out.kind = Value::Kind::boolean;
            out.integer = content[0] == 't' ? 1 : 0;
            return Step::value;
        case ',':
            if (!valid_double(content)) {
                fail("double is not a number");
                return Step::failed;
            }
            out.kind = Value::Kind::double_;
            out.str.assign(content);
            return Step::value;
        case '(':
            if (content.empty() || content == "-") {
                fail("big number is not a number");
                return Step::failed;
            }
            out.kind = Value::Kind::big_number;
            out.str.assign(content);
            return Step::value;
        default: break;
    }
    const char* what = header_name(type);
    if (content.size() == (line.sign ? 1u : 0u)) {
        fail(std::string(what) + " is not a number");
        return Step::failed;
    }
    if (type == ':') {
        out.kind = Value::Kind::integer;
        out.integer = to_int64(line.negative, line.magnitude);
        return Step::value;
    }
    if (line.negative) {
        if (line.magnitude != 1) {  // "-0"
            fail(std::string(what) + " negative other than -1");
            return Step::failed;
        }
        out.kind = Value::Kind::null;
        return Step::value;
    }
    auto n = static_cast<std::size_t>(line.magnitude);
    if (bulk_type(type)) {
        if (type == '=' && n < 4) {  // "txt:" at least
            fail("verbatim string without its format");
            return Step::failed;
        }
        bulk_ = n;
        bulk_type_ = type;
        return Step::partial;
    }
    // A push is a message of its own, never part of a reply: one inside an
    // aggregate would be a reply cut in two.
    if (type == '>' && !stack_.empty()) {
        fail("push inside another reply");
        return Step::failed;
    }
    if (stack_.size() >= limits_.max_depth) {
        fail("arrays nested deeper than " + std::to_string(limits_.max_depth));
        return Step::failed;
    }
    if (paired_type(type)) n *= 2;
    elements_ += n;
    out.kind = type == '>' ? Value::Kind::push
               : type == '~' ? Value::Kind::set
               : paired_type(type) ? Value::Kind::map
                                   : Value::Kind::array;
    if (n == 0) return type == '|' ? Step::partial : Step::value;  // an empty attribute annotates nothing
    out.elements.reserve(std::min(n, kMaxReserve));
    stack_.push_back(Frame{std::move(out), n, type == '|'});
    return Step::partial;
}

Decoder::Step Decoder::read_bulk(Value& out) {
    const std::size_t n = *bulk_;
    const std::size_t avail = buf_.size() - pos_;
    // Byte 3 of a verbatim string first: it arrives before the CRLF (n >= 4).
    if (bulk_type_ == '=' && avail > 3 && buf_[pos_ + 3] != ':') {
        fail("verbatim string without its format");
        return Step::failed;
    }
    // The CRLF after the payload is checked byte by byte too.
    if ((avail > n && buf_[pos_ + n] != '\r') || (avail > n + 1 && buf_[pos_ + n + 1] != '\n')) {
        fail("bulk string not followed by CRLF");
        return Step::failed;
    }
    if (avail < n + 2) return Step::more;
    out.kind = bulk_type_ == '!' ? Value::Kind::error : Value::Kind::bulk;
    const std::size_t skip = bulk_type_ == '=' ? 4 : 0;  // "txt:" or "mkd:": the text is what matters here
    out.str.assign(buf_, pos_ + skip, n - skip);
    pos_ += n + 2;
    bulk_.reset();
    return Step::value;
}

// Puts a finished value into the array being read, closing every array it
// completes; the whole reply once the outermost one is done.
std::optional<Value> Decoder::complete(Value v) {
    while (!stack_.empty()) {
        Frame& top = stack_.back();
        held_ += v.str.size();
        top.array.elements.push_back(std::move(v));
        if (--top.remaining > 0) return std::nullopt;
        const bool attribute = top.attribute;
        v = std::move(top.array);
        stack_.pop_back();
        if (attribute) {  // dropped; the value it annotates comes next, in its place
            if (stack_.empty()) elements_ = held_ = 0;
            return std::nullopt;
        }
    }
    elements_ = 0;
    held_ = 0;
    return v;
}

void Decoder::fail(std::string why) {
    failed_ = true;
    error_ = std::move(why);
    std::string().swap(buf_);
    pos_ = 0;
    line_ = {};
    bulk_.reset();
    stack_.clear();
    elements_ = 0;
    held_ = 0;
}

void Decoder::release_consumed() {
    if (pos_ != buf_.size()) return;
    if (buf_.capacity() > kKeepCapacity) std::string().swap(buf_);
    else buf_.clear();
    pos_ = 0;
}

}  // namespace compeit::resp
