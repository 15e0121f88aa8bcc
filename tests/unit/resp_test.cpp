// The Redis protocol codec (compeit::resp): every reply type, nested arrays,
// nulls, pipelining, every protocol violation and limit, and append_command.
// Every decoding case is fed whole, one byte at a time, in 3-byte pieces and
// followed by the first bytes of a next reply (STYLE item 8).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compeit/cluster/resp.hpp"

using compeit::resp::append_command;
using compeit::resp::append_value;
using compeit::resp::Decoder;
using compeit::resp::DecoderLimits;
using compeit::resp::Value;
using Kind = compeit::resp::Value::Kind;
using namespace std::string_literals;

namespace Catch {
template <>
struct StringMaker<Value> {
    static std::string convert(const Value& v) {
        std::string wire;
        append_value(wire, v);
        std::string out;
        for (const char c : wire) {
            if (c == '\r') out += "\\r";
            else if (c == '\n') out += "\\n";
            else if (c == '\0') out += "\\0";
            else out += c;
        }
        return out;
    }
};
}  // namespace Catch

namespace {

Value simple(std::string s) { return Value{Kind::simple, std::move(s), 0, {}}; }
Value error(std::string s) { return Value{Kind::error, std::move(s), 0, {}}; }
Value integer(std::int64_t n) { return Value{Kind::integer, {}, n, {}}; }
Value bulk(std::string s) { return Value{Kind::bulk, std::move(s), 0, {}}; }
Value array(std::vector<Value> e) { return Value{Kind::array, {}, 0, std::move(e)}; }
Value null() { return Value{}; }

struct Outcome {
    std::vector<Value> replies;
    std::string error;  // empty: not failed
    std::size_t buffered = 0;
};

Outcome decode(std::string_view bytes, std::size_t chunk, DecoderLimits limits = {}) {
    Decoder d(limits);
    Outcome o;
    for (std::size_t i = 0; i < bytes.size(); i += chunk) {
        d.feed(bytes.substr(i, chunk));
        while (auto v = d.next()) o.replies.push_back(std::move(*v));
    }
    CHECK(d.failed() == !d.error().empty());
    o.error = d.error();
    o.buffered = d.buffered();
    return o;
}

// Decodes `bytes` in every way; all must agree. Returns the whole decode.
Outcome decode_every_way(std::string_view bytes, DecoderLimits limits = {}) {
    const Outcome whole = decode(bytes, bytes.size() + 1, limits);
    for (const std::size_t chunk : {std::size_t{1}, std::size_t{3}}) {
        const Outcome split = decode(bytes, chunk, limits);
        CHECK(split.replies == whole.replies);
        CHECK(split.error == whole.error);
        CHECK(split.buffered == whole.buffered);
    }
    if (whole.error.empty() && whole.buffered > 0) return whole;  // incomplete: bytes added would join it
    // The first bytes of a next reply: its headers are read, its 2 payload bytes wait.
    const Outcome trailing = decode(std::string(bytes) + "*2\r\n$3\r\nab", bytes.size() + 1, limits);
    CHECK(trailing.replies == whole.replies);
    CHECK(trailing.error == whole.error);
    CHECK(trailing.buffered == (whole.error.empty() ? 2 : 0));
    return whole;
}

// The single reply `bytes` decode to.
Value one(std::string_view bytes) {
    const Outcome o = decode_every_way(bytes);
    CHECK(o.error == "");
    CHECK(o.buffered == 0);
    REQUIRE(o.replies.size() == 1);
    return o.replies[0];
}

// The single reply `bytes` decode to under `limits`.
Value one_within(std::string_view bytes, DecoderLimits limits) {
    const Outcome o = decode_every_way(bytes, limits);
    CHECK(o.error == "");
    REQUIRE(o.replies.size() == 1);
    return o.replies[0];
}

// The reason `bytes` fail the decoder for.
std::string failure(std::string_view bytes, DecoderLimits limits = {}) {
    const Outcome o = decode_every_way(bytes, limits);
    CHECK(o.buffered == 0);
    return o.error;
}

}  // namespace

TEST_CASE("resp: simple strings, errors and integers", "[resp]") {
    CHECK(one("+OK\r\n") == simple("OK"));
    CHECK(one("+\r\n") == simple(""));
    CHECK(one("+QUEUED with spaces\t\x01\xff\r\n") == simple("QUEUED with spaces\t\x01\xff"));
    CHECK(one("-ERR unknown command 'FOO'\r\n") == error("ERR unknown command 'FOO'"));
    CHECK(one("-\r\n") == error(""));
    CHECK(one(":0\r\n") == integer(0));
    CHECK(one(":1000\r\n") == integer(1000));
    CHECK(one(":-12\r\n") == integer(-12));
    CHECK(one(":+7\r\n") == integer(7));
    CHECK(one(":-0\r\n") == integer(0));
    CHECK(one(":007\r\n") == integer(7));
    CHECK(one(":9223372036854775807\r\n") == integer(INT64_MAX));
    CHECK(one(":-9223372036854775808\r\n") == integer(INT64_MIN));
    CHECK(one("-ERR x\r\n").is_error());
}

TEST_CASE("resp: bulk strings are binary-safe", "[resp]") {
    CHECK(one("$0\r\n\r\n") == bulk(""));
    CHECK(one("$5\r\nhello\r\n") == bulk("hello"));
    CHECK(one("$6\r\na\r\n\0\rb\r\n"s) == bulk("a\r\n\0\rb"s));
    CHECK(one("$3\r\n$-1\r\n") == bulk("$-1"));
    CHECK(one("$02\r\nab\r\n") == bulk("ab"));
}

TEST_CASE("resp: $-1, *-1 and RESP3's _ are null", "[resp]") {
    for (const char* in : {"$-1\r\n", "*-1\r\n", "_\r\n"}) {
        const Value v = one(in);
        CHECK(v.is_null());
        CHECK(v.kind == Kind::null);
        CHECK_FALSE(v.as_string());
    }
    CHECK(one("*3\r\n$-1\r\n*-1\r\n_\r\n") == array({null(), null(), null()}));
}

TEST_CASE("resp: arrays, empty, nested, with errors inside", "[resp]") {
    CHECK(one("*0\r\n") == array({}));
    CHECK(one("*1\r\n*0\r\n") == array({array({})}));
    // EXEC: one reply per queued command, an error among them.
    CHECK(one("*4\r\n+OK\r\n-WRONGTYPE no\r\n:3\r\n$2\r\nhi\r\n") ==
          array({simple("OK"), error("WRONGTYPE no"), integer(3), bulk("hi")}));
    CHECK(one("*3\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n*0\r\n:-5\r\n") ==
          array({array({integer(1), array({bulk("x")})}), array({}), integer(-5)}));
    // XRANGE-like: [[id, [field, value]]]
    CHECK(one("*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n") ==
          array({array({bulk("1-0"), array({bulk("f"), bulk("v")})})}));
}

TEST_CASE("resp: pub/sub messages are plain arrays", "[resp]") {
    const Outcome o = decode_every_way(
        "*3\r\n$9\r\nsubscribe\r\n$6\r\nroom:1\r\n:1\r\n"
        "*3\r\n$7\r\nmessage\r\n$6\r\nroom:1\r\n$5\r\nhello\r\n"
        "*4\r\n$8\r\npmessage\r\n$6\r\nroom:*\r\n$6\r\nroom:2\r\n$0\r\n\r\n");
    REQUIRE(o.replies.size() == 3);
    CHECK(o.replies[0] == array({bulk("subscribe"), bulk("room:1"), integer(1)}));
    CHECK(o.replies[1] == array({bulk("message"), bulk("room:1"), bulk("hello")}));
    CHECK(o.replies[2] == array({bulk("pmessage"), bulk("room:*"), bulk("room:2"), bulk("")}));
}

TEST_CASE("resp: pipelined replies in one feed come out one by one, in order", "[resp]") {
    const Outcome o = decode_every_way("+OK\r\n:1\r\n$-1\r\n*1\r\n:2\r\n-ERR no\r\n$3\r\nabc\r\n_\r\n");
    CHECK(o.replies == std::vector<Value>{simple("OK"), integer(1), null(), array({integer(2)}), error("ERR no"),
                                          bulk("abc"), null()});
    Decoder d;
    d.feed("+A\r\n+B\r\n+C");
    CHECK(d.next() == simple("A"));
    CHECK(d.next() == simple("B"));
    CHECK_FALSE(d.next());
    CHECK(d.buffered() == 2);
    d.feed("\r\n");
    CHECK(d.next() == simple("C"));
    CHECK_FALSE(d.next());
    CHECK(d.buffered() == 0);
}

TEST_CASE("resp: a reply split at every byte boundary decodes the same", "[resp]") {
    const std::string in = "*5\r\n+OK\r\n:-42\r\n$8\r\nbi\r\nn\0ry\r\n*2\r\n$-1\r\n*1\r\n_\r\n-ERR e\r\n"s;
    const Value expected = one(in);
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
        Decoder d;
        d.feed(std::string_view(in).substr(0, cut));
        std::vector<Value> got;
        while (auto v = d.next()) got.push_back(std::move(*v));
        d.feed(std::string_view(in).substr(cut));
        while (auto v = d.next()) got.push_back(std::move(*v));
        INFO("cut at " << cut);
        CHECK_FALSE(d.failed());
        CHECK(got == std::vector<Value>{expected});
    }
}

TEST_CASE("resp: protocol violations fail with their reason", "[resp]") {
    CHECK(failure("?x\r\n") == "unknown type byte 0x3f");
    CHECK(failure("&1\r\n") == "unknown type byte 0x26");
    CHECK(failure("\r\n") == "unknown type byte 0x0d");
    CHECK(failure("+OK\n") == "LF without CR");
    CHECK(failure("+OK\rX") == "CR not followed by LF");
    CHECK(failure(":1\r\r\n") == "CR not followed by LF");
    CHECK(failure("*1\r\n+OK\n") == "LF without CR");
    CHECK(failure(":12a\r\n") == "integer is not a number");
    CHECK(failure(":\r\n") == "integer is not a number");
    CHECK(failure(":-\r\n") == "integer is not a number");
    CHECK(failure(": 1\r\n") == "integer is not a number");
    CHECK(failure(":1.5\r\n") == "integer is not a number");
    CHECK(failure(":9223372036854775808\r\n") == "integer out of range");
    CHECK(failure(":-9223372036854775809\r\n") == "integer out of range");
    CHECK(failure(":99999999999999999999999999") == "integer out of range");  // before any CRLF
    CHECK(failure("$abc\r\n") == "bulk length is not a number");
    CHECK(failure("$\r\n") == "bulk length is not a number");
    CHECK(failure("$-\r\n") == "bulk length is not a number");
    CHECK(failure("$+3\r\nabc\r\n") == "bulk length is not a number");
    CHECK(failure("$-2\r\n") == "bulk length negative other than -1");
    CHECK(failure("$-0\r\n") == "bulk length negative other than -1");
    CHECK(failure("$-10\r\n") == "bulk length negative other than -1");
    CHECK(failure("*x\r\n") == "array length is not a number");
    CHECK(failure("*-2\r\n") == "array length negative other than -1");
    CHECK(failure("$3\r\nabcX") == "bulk string not followed by CRLF");
    CHECK(failure("$3\r\nabc\rX") == "bulk string not followed by CRLF");
    CHECK(failure("$3\r\nabcd\r\n") == "bulk string not followed by CRLF");
    CHECK(failure("_x\r\n") == "null with content");
    CHECK(failure("$99999999999999999999999\r\n") == "bulk string longer than 67108864 bytes");
    CHECK(failure("*99999999999999999999\r\n") == "reply with more than 1048576 array elements");
}

TEST_CASE("resp: replies before a violation come out; then the decoder stays failed", "[resp]") {
    const Outcome o = decode_every_way("+OK\r\n*2\r\n:1\r\n?");
    CHECK(o.replies == std::vector<Value>{simple("OK")});
    CHECK(o.error == "unknown type byte 0x3f");

    Decoder d;
    d.feed("$-5\r\n+OK\r\n");
    CHECK_FALSE(d.next());
    CHECK(d.failed());
    CHECK(d.error() == "bulk length negative other than -1");
    CHECK(d.buffered() == 0);
    d.feed("+OK\r\n");
    CHECK_FALSE(d.next());
    CHECK(d.failed());
    CHECK(d.error() == "bulk length negative other than -1");
    CHECK(d.buffered() == 0);
}

TEST_CASE("resp: limits on strings, elements, depth and buffered bytes", "[resp]") {
    DecoderLimits small;
    small.max_bulk_bytes = 4;
    small.max_elements = 3;
    small.max_depth = 2;
    small.max_buffered = 64;

    SECTION("bulk and line length") {
        CHECK(decode_every_way("$4\r\nabcd\r\n+abcd\r\n-abcd\r\n", small).replies ==
              std::vector<Value>{bulk("abcd"), simple("abcd"), error("abcd")});
        CHECK(failure("$5\r\n", small) == "bulk string longer than 4 bytes");  // before the payload
        CHECK(failure("$40\r\n", small) == "bulk string longer than 4 bytes");
        CHECK(failure("+abcde", small) == "simple string longer than 4 bytes");
        CHECK(failure("-abcde\r\n", small) == "error longer than 4 bytes");
    }
    SECTION("array elements, counted over the whole reply") {
        CHECK(decode_every_way("*3\r\n:1\r\n:2\r\n:3\r\n*1\r\n*2\r\n:1\r\n:2\r\n", small).replies.size() == 2);
        CHECK(failure("*4\r\n", small) == "reply with more than 3 array elements");
        CHECK(failure("*2\r\n*1\r\n:1\r\n*2\r\n", small) == "reply with more than 3 array elements");
    }
    SECTION("depth") {
        CHECK(one("*1\r\n*1\r\n*-1\r\n") == array({array({null()})}));
        CHECK(decode_every_way("*1\r\n*1\r\n:1\r\n", small).error == "");
        CHECK(failure("*1\r\n*1\r\n*0\r\n", small) == "arrays nested deeper than 2");
        std::string eight, nine;
        for (int i = 0; i < 8; ++i) eight += "*1\r\n";
        nine = eight + "*1\r\n";
        CHECK(decode_every_way(eight + ":1\r\n").error == "");
        CHECK(failure(nine + ":1\r\n") == "arrays nested deeper than 8");
    }
    SECTION("buffered bytes, the strings of an incomplete reply included") {
        Decoder d(small);
        d.feed("*3\r\n$4\r\nabcd\r\n$4\r\nefgh\r\n");
        CHECK_FALSE(d.next());
        CHECK(d.buffered() == 8);  // the two strings, held in the incomplete array
        d.feed(std::string(56, '+'));  // 64: at the limit
        CHECK_FALSE(d.failed());
        d.feed("+");
        CHECK(d.failed());
        CHECK(d.error() == "more than 64 bytes buffered");
        CHECK(d.buffered() == 0);
    }
    SECTION("an idle decoder holds nothing") {
        Decoder d(small);
        d.feed("*3\r\n$4\r\nabcd\r\n$4\r\nefgh\r\n$1\r\nx");
        CHECK_FALSE(d.next());
        d.feed("\r\n");
        CHECK(d.next() == array({bulk("abcd"), bulk("efgh"), bulk("x")}));
        CHECK(d.buffered() == 0);
    }
}

TEST_CASE("resp: a 1 MiB bulk string and line fed one byte at a time (linear work)", "[resp]") {
    const std::string payload(std::size_t{1} << 20, 'p');
    const std::string in = "$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n+" + payload + "\r\n";
    Decoder d;
    std::vector<Value> got;
    for (const char c : in) {
        d.feed(std::string_view(&c, 1));
        while (auto v = d.next()) got.push_back(std::move(*v));
    }
    CHECK_FALSE(d.failed());
    REQUIRE(got.size() == 2);
    CHECK(got[0].str == payload);
    CHECK(got[1] == simple(payload));
    CHECK(d.buffered() == 0);
}

TEST_CASE("resp: append_command writes a RESP array of bulk strings", "[resp]") {
    std::string out = "prefix";
    append_command(out, {"SET", "k", "v"});
    CHECK(out == "prefix*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    out.clear();
    append_command(out, std::vector<std::string_view>{"PING"});
    append_command(out, std::vector<std::string_view>{});
    append_command(out, {""});
    CHECK(out == "*1\r\n$4\r\nPING\r\n*0\r\n*1\r\n$0\r\n\r\n");
}

TEST_CASE("resp: append_command round-trips binary arguments", "[resp]") {
    const std::string frame = "a\r\nb\0c\r\n\r\n$2\r\n*1\r\n"s;
    const std::string nul(3, '\0');
    std::string out;
    append_command(out, {"PUBLISH", "room:1", frame});
    const std::vector<std::string_view> args{"EVALSHA", "", nul, "\r\n", "-1"};
    append_command(out, args);
    const Outcome o = decode_every_way(out);
    CHECK(o.error == "");
    CHECK(o.replies == std::vector<Value>{array({bulk("PUBLISH"), bulk("room:1"), bulk(frame)}),
                                          array({bulk("EVALSHA"), bulk(""), bulk(nul), bulk("\r\n"), bulk("-1")})});
}

TEST_CASE("resp: append_value round-trips every type", "[resp]") {
    const Value v = array({simple("OK"), error("ERR x"), integer(INT64_MIN), integer(INT64_MAX), bulk("\r\n\0"s),
                           null(), array({}), array({array({bulk("")}), integer(0)})});
    std::string wire;
    append_value(wire, v);
    CHECK(one(wire) == v);
    for (const char* in : {"*-1\r\n", "_\r\n"}) {
        std::string out;
        append_value(out, one(in));
        CHECK(out == "$-1\r\n");
    }
    std::string out;
    append_value(out, simple("a\r\nb"));
    append_value(out, error("\n"));
    CHECK(out == "+a  b\r\n!1\r\n\n\r\n");  // an error keeps its bytes as a blob error
}

// --- RESP3 (HELLO 3): what Redis 7 may send on the cluster's one connection ---

namespace {
Value of(Kind k, std::vector<Value> e) { return Value{k, {}, 0, std::move(e)}; }
Value text(Kind k, std::string s) { return Value{k, std::move(s), 0, {}}; }
Value boolean(bool b) { return Value{Kind::boolean, {}, b ? 1 : 0, {}}; }
}  // namespace

TEST_CASE("resp3: a push is a message of its own, told apart from replies around it", "[resp]") {
    const Outcome o = decode_every_way(
        ">3\r\n$7\r\nmessage\r\n$9\r\ncompeit:r\r\n$5\r\nhello\r\n"
        ":7\r\n"
        ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
    REQUIRE(o.replies.size() == 3);
    CHECK(o.replies[0] == Value::push({bulk("message"), bulk("compeit:r"), bulk("hello")}));
    CHECK(o.replies[0].is_push());
    CHECK(o.replies[0].is_aggregate());
    CHECK_FALSE(o.replies[1].is_push());
    CHECK(o.replies[2] == Value::push({bulk("subscribe"), bulk("c"), integer(1)}));
    CHECK(one(">0\r\n") == Value::push({}));
    // Inside a reply it would cut that reply in two: the stream is broken.
    CHECK(failure("*2\r\n:1\r\n>1\r\n:2\r\n") == "push inside another reply");
    CHECK(failure("%1\r\n>0\r\n:1\r\n") == "push inside another reply");
    CHECK(failure(">-1\r\n") == "push length is negative");
}

TEST_CASE("resp3: maps (HELLO's reply), sets, booleans, doubles, big numbers", "[resp]") {
    CHECK(one("%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n") ==
          of(Kind::map, {bulk("server"), bulk("redis"), bulk("proto"), integer(3)}));
    CHECK(one("%0\r\n") == of(Kind::map, {}));
    CHECK(one("~3\r\n+a\r\n:1\r\n_\r\n") == of(Kind::set, {simple("a"), integer(1), null()}));
    CHECK(one("#t\r\n") == boolean(true));
    CHECK(one("#f\r\n") == boolean(false));
    for (const char* d : {"1.5", "-0.25", "3", "1e10", "-1.5E-3", ".5", "7.", "inf", "-inf", "nan", "+2.0"})
        CHECK(one(std::string(",") + d + "\r\n") == text(Kind::double_, d));
    CHECK(one("(3492890328409238509324850943850943825024385\r\n") ==
          text(Kind::big_number, "3492890328409238509324850943850943825024385"));
    CHECK(one("(-12\r\n") == text(Kind::big_number, "-12"));
    CHECK_FALSE(one("#t\r\n").as_integer());  // a boolean is not an integer reply
    CHECK_FALSE(one(",1\r\n").as_string());
}

TEST_CASE("resp3: blob errors and verbatim strings carry any bytes", "[resp]") {
    CHECK(one("!22\r\nSYNTAX invalid\r\nsyntax\r\n") == error("SYNTAX invalid\r\nsyntax"));
    CHECK(one("!0\r\n\r\n") == error(""));
    CHECK(one("=15\r\ntxt:Some string\r\n") == bulk("Some string"));
    CHECK(one("=4\r\nmkd:\r\n") == bulk(""));
    CHECK(failure("=3\r\ntxt\r\n") == "verbatim string without its format");
    CHECK(failure("=5\r\ntxt-x\r\n") == "verbatim string without its format");
    CHECK(failure("=5\r\ntxtxy") == "verbatim string without its format");  // seen before the end
    CHECK(failure("!-1\r\n") == "blob error length is negative");
    CHECK(failure("!2\r\nabc\r\n") == "bulk string not followed by CRLF");
}

TEST_CASE("resp3: attributes are read and dropped; the value they annotate comes out", "[resp]") {
    CHECK(one("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n") ==
          array({integer(2039123), integer(9543892)}));
    // Inside an aggregate: not an element of it.
    CHECK(one("*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n") == array({integer(1), integer(2)}));
    CHECK(one("|0\r\n:5\r\n") == integer(5));
    const Outcome o = decode_every_way("|1\r\n+a\r\n+b\r\n");  // waits for the value it annotates
    CHECK(o.replies.empty());
    CHECK(o.error.empty());
}

TEST_CASE("resp3: hostile input fails with its reason, within the limits", "[resp]") {
    CHECK(failure("#x\r\n") == "boolean is not #t or #f");
    CHECK(failure("#tt\r\n") == "boolean is not #t or #f");
    CHECK(failure("#\r\n") == "boolean is not #t or #f");
    CHECK(failure(",\r\n") == "double is not a number");
    CHECK(failure(",1.5x\r\n") == "double is not a number");
    CHECK(failure(",e\r\n") == "double is not a number");
    CHECK(failure(",1..2\r\n") == "double is not a number");
    CHECK(failure(",--1\r\n") == "double is not a number");
    CHECK(failure(",1e\r\n") == "double is not a number");
    CHECK(failure(",.\r\n") == "double is not a number");
    CHECK(failure(",1e+\r\n") == "double is not a number");
    CHECK(failure("(\r\n") == "big number is not a number");
    CHECK(failure("(-\r\n") == "big number is not a number");
    CHECK(failure("(1-2\r\n") == "big number is not a number");
    CHECK(failure("%-1\r\n") == "map length is negative");
    CHECK(failure("~x\r\n") == "set length is not a number");
    CHECK(failure("|-1\r\n") == "attribute length is negative");
    CHECK(failure("$?\r\n") == "bulk length is not a number");  // streamed strings: Redis does not send them
    DecoderLimits tiny;
    tiny.max_elements = 5;
    tiny.max_depth = 2;
    tiny.max_bulk_bytes = 4;
    CHECK(failure("%3\r\n", tiny) == "reply with more than 5 array elements");  // 6: a map's pair counts 2
    CHECK(one_within("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", tiny) == of(Kind::map, {integer(1), integer(2), integer(3), integer(4)}));
    CHECK(failure("%1\r\n~1\r\n*0\r\n", tiny) == "arrays nested deeper than 2");
    CHECK(failure("|1\r\n*1\r\n*1\r\n", tiny) == "arrays nested deeper than 2");  // an attribute counts as a level
    CHECK(failure(",1.23456\r\n", tiny) == "double longer than 4 bytes");
    CHECK(failure("(123456\r\n", tiny) == "big number longer than 4 bytes");
    CHECK(failure("!5\r\n", tiny) == "bulk string longer than 4 bytes");
}

TEST_CASE("resp3: append_value round-trips every RESP3 type", "[resp]") {
    const std::vector<Value> values = {
        Value::push({bulk("message"), bulk("c"), bulk("\r\n")}),
        of(Kind::map, {bulk("k"), of(Kind::set, {integer(1), boolean(false)}), simple("x"), text(Kind::double_, "-1.5e3")}),
        boolean(true), text(Kind::big_number, "-123456789012345678901234567890"), error("multi\r\nline"),
        text(Kind::double_, "inf")};
    for (const auto& v : values) {
        std::string wire;
        append_value(wire, v);
        CHECK(one(wire) == v);
    }
}

TEST_CASE("resp: as_string and as_integer", "[resp]") {
    CHECK(simple("OK").as_string() == "OK");
    CHECK(bulk("x\0y"s).as_string() == "x\0y"s);
    CHECK_FALSE(error("ERR").as_string());
    CHECK_FALSE(integer(1).as_string());
    CHECK_FALSE(array({}).as_string());

    CHECK(integer(-3).as_integer() == -3);
    CHECK(bulk("42").as_integer() == 42);
    CHECK(simple("-7").as_integer() == -7);
    CHECK(bulk("9223372036854775807").as_integer() == INT64_MAX);
    CHECK(bulk("-9223372036854775808").as_integer() == INT64_MIN);
    for (const char* bad : {"", "-", "+1", " 1", "1 ", "1.0", "0x10", "9223372036854775808", "-9223372036854775809",
                            "99999999999999999999999"})
        CHECK_FALSE(bulk(bad).as_integer());
    CHECK_FALSE(error("1").as_integer());
    CHECK_FALSE(null().as_integer());
    CHECK_FALSE(array({integer(1)}).as_integer());
}
