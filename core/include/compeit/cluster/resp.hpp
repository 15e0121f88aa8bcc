// The Redis protocol (RESP2 and RESP3), sans I/O: commands out as bytes,
// replies in as bytes and out as values. The cluster mode's Redis connection
// (native/, after `HELLO 3`) writes what append_command makes and feeds what
// it reads to a Decoder.
//
// RESP3 on one connection mixes replies with out-of-band pushes (`>`: pub/sub
// messages); Value::is_push() tells them apart. Every other RESP3 type Redis 7
// may send is decoded safely too: `%` map, `~` set, `_` null, `#` boolean,
// `,` double, `(` big number, `!` blob error, `=` verbatim string (read as a
// bulk string, its format prefix dropped), and `|` attributes (read and
// dropped: they annotate the value that follows, which is what comes out).
// Streamed strings and aggregates (`$?`, `*?`) are not: Redis does not send them.
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
    // push: a RESP3 out-of-band message (`>`), never a reply to a command.
    // map: its elements are key, value, key, value, ...
    enum class Kind : std::uint8_t { simple, error, integer, bulk, array, null, push, map, set, boolean, double_, big_number };
    Kind kind = Kind::null;
    std::string str;              // simple, error, bulk; double and big_number as their decimal text
    std::int64_t integer = 0;     // integer; boolean (0 or 1)
    std::vector<Value> elements;  // array, push, map, set

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
    static Value push(std::vector<Value> e) {
        Value v = array(std::move(e));
        v.kind = Kind::push;
        return v;
    }
    bool is_error() const { return kind == Kind::error; }
    bool is_null() const { return kind == Kind::null; }
    bool is_push() const { return kind == Kind::push; }
    // An array, push, map or set.
    bool is_aggregate() const {
        return kind == Kind::array || kind == Kind::push || kind == Kind::map || kind == Kind::set;
    }
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
// `$-1`; CR and LF inside a simple string, which RESP cannot carry, become
// spaces; an error holding them is written as a blob error (`!`). A decoded
// value re-encodes to bytes that decode to the same value (not always the
// same bytes: `:+7` becomes `:7`, `_` `$-1`, `=3\r\ntxt:` `$0`).
void append_value(std::string& out, const Value& v);

// Bounds on what one connection may make the decoder hold.
struct DecoderLimits {
    std::size_t max_bulk_bytes = 64u << 20;  // one bulk string, or one simple string or error line
    std::size_t max_elements = 1u << 20;     // aggregate elements in one reply, at every depth together (a map's pair is 2)
    std::size_t max_depth = 8;               // aggregates inside aggregates
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
    // An aggregate whose elements are still arriving; an attribute is read
    // like a map and dropped when complete.
    struct Frame {
        Value array;
        std::size_t remaining = 0;
        bool attribute = false;
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
    char bulk_type_ = '$';             // '$', '!' (blob error) or '=' (verbatim string)
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
