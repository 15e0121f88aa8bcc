// The Redis protocol (RESP2), sans I/O: commands out as bytes, replies in as
// bytes and out as values. The cluster mode's Redis connections (native/)
// write what append_command makes and feed what they read to a Decoder.
// RESP3's null (`_`) is read too; no other RESP3 type is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace compeit::resp {

// One reply: `$-1`, `*-1` and `_` all read as null. An error reply is a value
// (the command failed), not a protocol failure.
struct Value {
    enum class Kind : std::uint8_t { simple, error, integer, bulk, array, null };
    Kind kind = Kind::null;
    std::string str;              // simple, error, bulk
    std::int64_t integer = 0;     // integer
    std::vector<Value> elements;  // array

    bool operator==(const Value&) const = default;
    // Values as Redis sends them (tests, fakes of Redis, and the node's own errors).
    static Value bulk(std::string s) {
        Value v;
        v.kind = Kind::bulk;
        v.str = std::move(s);
        return v;
    }
    static Value error(std::string s) {
        Value v;
        v.kind = Kind::error;
        v.str = std::move(s);
        return v;
    }
    static Value number(std::int64_t i) {
        Value v;
        v.kind = Kind::integer;
        v.integer = i;
        return v;
    }
    static Value array(std::vector<Value> e) {
        Value v;
        v.kind = Kind::array;
        v.elements = std::move(e);
        return v;
    }
    bool is_error() const { return kind == Kind::error; }
    bool is_null() const { return kind == Kind::null; }
    // The text of a simple or bulk string (a view into `str`).
    std::optional<std::string_view> as_string() const;
    // An integer, or a simple or bulk string holding a decimal integer
    // (optional '-', digits, within int64).
    std::optional<std::int64_t> as_integer() const;
};

// Appends one command as a RESP array of bulk strings (what clients send).
// Arguments are binary-safe.
void append_command(std::string& out, std::initializer_list<std::string_view> args);
void append_command(std::string& out, const std::vector<std::string_view>& args);

// Appends `v` as Redis would send it (tests, fakes of Redis). Null is written
// `$-1`; CR and LF inside a simple string or an error, which RESP cannot
// carry, become spaces. A decoded value re-encodes to bytes that decode to
// the same value (not always the same bytes: `:+7` becomes `:7`, `_` `$-1`).
void append_value(std::string& out, const Value& v);

// Bounds on what one connection may make the decoder hold.
struct DecoderLimits {
    std::size_t max_bulk_bytes = 64u << 20;  // one bulk string, or one simple string or error line
    std::size_t max_elements = 1u << 20;     // array elements in one reply, at every depth together
    std::size_t max_depth = 8;               // arrays inside arrays
    std::size_t max_buffered = 128u << 20;   // see buffered()
};

// Replies from a byte stream, fed in pieces of any size: a reply split at any
// byte decodes the same as whole, and the work is linear in the bytes fed
// (a cursor; nothing is parsed twice). A protocol violation or a limit fails
// the decoder for good: failed() stays true, error() says why, next() returns
// nullopt and feed() drops its bytes. The connection must then be dropped.
class Decoder {
public:
    explicit Decoder(DecoderLimits limits = {});

    // Appends bytes to the internal buffer. Fails the decoder when buffered()
    // would pass max_buffered.
    void feed(std::string_view bytes);
    // One complete reply, or nullopt when more bytes are needed or after failure.
    std::optional<Value> next();

    bool failed() const { return failed_; }
    const std::string& error() const { return error_; }
    // Bytes held: fed but not yet decoded, plus the strings of a reply whose
    // arrays are still incomplete.
    std::size_t buffered() const { return buf_.size() - pos_ + held_; }

private:
    // An array whose elements are still arriving.
    struct Frame {
        Value array;
        std::size_t remaining = 0;
    };
    // What is known of the line that starts at pos_ (type byte, content,
    // CRLF): how many of its bytes were checked, and for the numeric lines
    // the sign and the number so far.
    struct Line {
        std::size_t checked = 0;
        bool sign = false;
        bool negative = false;
        std::uint64_t magnitude = 0;
    };

    DecoderLimits limits_;
    std::string buf_;
    std::size_t pos_ = 0;  // start of the line or bulk payload being read
    Line line_;
    std::optional<std::size_t> bulk_;  // a bulk string's length, its header read
    std::vector<Frame> stack_;
    std::size_t elements_ = 0;  // array elements declared so far in this reply
    std::size_t held_ = 0;      // string bytes inside stack_
    bool failed_ = false;
    std::string error_;

    enum class Step : std::uint8_t { more, failed, value, partial };
    Step read_line(Value& out);
    bool check_byte(char type, std::size_t index, char c);
    Step finish_line(char type, std::size_t content_end, Value& out);
    Step read_bulk(Value& out);
    std::optional<Value> complete(Value v);
    void fail(std::string why);
    void release_consumed();
};

}  // namespace compeit::resp
