// compeit::sio packets: the socket.io 0.9 grammar
// `<type>:<id>[+]:<endpoint>[:<data>]`, its nine types, and the ack, error
// and event helpers (reference §3.1, §3.4).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "compeit/sio/packet.hpp"
#include "sio_print.hpp"

using namespace compeit::sio;

namespace {

Packet pk(PacketType type, std::string id = {}, bool ack = false, std::string endpoint = {},
          std::string data = {}) {
    return Packet{type, std::move(id), ack, std::move(endpoint), std::move(data)};
}

// The decode error for `text`, failing the test when it decodes.
DecodeError error_of(std::string_view text) {
    const auto r = decode(text);
    INFO("input: " << std::string(text));
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

// decode(encode(p)) == p, and the wire text is what socket.io writes.
void check_round_trip(const Packet& p, const std::string& wire) {
    INFO("wire: " << wire);
    CHECK(encode(p) == wire);
    const auto d = decode(wire);
    REQUIRE(d.has_value());
    CHECK(*d == p);
}

const std::vector<PacketType> kAllTypes = {
    PacketType::disconnect, PacketType::connect, PacketType::heartbeat,
    PacketType::message,    PacketType::json,    PacketType::event,
    PacketType::ack,        PacketType::error,   PacketType::noop};

}  // namespace

TEST_CASE("every packet type round-trips, with and without ids", "[packet]") {
    for (PacketType t : kAllTypes) {
        const std::string d = std::to_string(static_cast<int>(t));
        check_round_trip(pk(t), d + "::");
        check_round_trip(pk(t, {}, false, "/chat"), d + "::/chat");
        check_round_trip(pk(t, {}, false, "", "x"), d + ":::x");
        check_round_trip(pk(t, "12", false, "", "x"), d + ":12::x");
        check_round_trip(pk(t, "12", true, "", "x"), d + ":12+::x");
        check_round_trip(pk(t, "3", true, "/chat", "x"), d + ":3+:/chat:x");
        check_round_trip(pk(t, "3", false, "/chat"), d + ":3:/chat");
    }
}

TEST_CASE("wire forms socket.io 0.9 uses decode to the right fields", "[packet]") {
    check_round_trip(pk(PacketType::disconnect), "0::");
    check_round_trip(pk(PacketType::disconnect, {}, false, "/chat"), "0::/chat");
    check_round_trip(pk(PacketType::connect, {}, false, "/chat", "?x=1"), "1::/chat:?x=1");
    check_round_trip(pk(PacketType::heartbeat), "2::");
    check_round_trip(pk(PacketType::message, {}, false, "", "hello"), "3:::hello");
    check_round_trip(pk(PacketType::message, "5", false, "", "hi"), "3:5::hi");
    check_round_trip(pk(PacketType::message, "5", true, "", "hi"), "3:5+::hi");
    check_round_trip(pk(PacketType::json, {}, false, "", "{\"j\":1}"), "4:::{\"j\":1}");
    check_round_trip(pk(PacketType::event, "1", true, "", R"({"name":"echo","args":["hi"]})"),
                     R"(5:1+::{"name":"echo","args":["hi"]})");
    check_round_trip(pk(PacketType::ack, {}, false, "", R"(1+["acked","hi"])"), R"(6:::1+["acked","hi"])");
    check_round_trip(pk(PacketType::ack, {}, false, "/chat", R"(1+["chatack"])"), R"(6::/chat:1+["chatack"])");
    check_round_trip(pk(PacketType::error, {}, false, "", "1+0"), "7:::1+0");
    check_round_trip(pk(PacketType::error, {}, false, "/priv", "2"), "7::/priv:2");
    check_round_trip(pk(PacketType::noop), "8::");
}

TEST_CASE("data may contain ':' and newlines", "[packet]") {
    check_round_trip(pk(PacketType::message, {}, false, "", "a:b::c:"), "3:::a:b::c:");
    check_round_trip(pk(PacketType::message, {}, false, "/ns", "line1\nline2\r\n:"), "3::/ns:line1\nline2\r\n:");
    check_round_trip(pk(PacketType::event, "9", true, "/ns", R"({"name":"x","args":["a:b\n"]})"),
                     R"(5:9+:/ns:{"name":"x","args":["a:b\n"]})");
    check_round_trip(pk(PacketType::message, {}, false, "", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
                     "3:::\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST_CASE("message ids are kept verbatim", "[packet]") {
    const auto p = decode("5:007+::{\"name\":\"echo\",\"args\":[1]}");
    REQUIRE(p.has_value());
    CHECK(p->id == "007");
    CHECK(p->data_ack);
    CHECK(encode(*p) == "5:007+::{\"name\":\"echo\",\"args\":[1]}");
}

TEST_CASE("an empty message decodes with empty data and encodes without it", "[packet]") {
    const auto p = decode("3:::");
    REQUIRE(p.has_value());
    CHECK(p->type == PacketType::message);
    CHECK(p->id.empty());
    CHECK_FALSE(p->data_ack);
    CHECK(p->endpoint.empty());
    CHECK(p->data.empty());
    CHECK(encode(*p) == "3::");  // socket.io's encoder omits empty data (P14)
}

TEST_CASE("the encoder leaves out empty data", "[packet]") {
    CHECK(encode(pk(PacketType::connect)) == "1::");
    CHECK(encode(pk(PacketType::disconnect, {}, false, "/chat")) == "0::/chat");
    CHECK(encode(pk(PacketType::heartbeat)) == "2::");
    CHECK(encode(pk(PacketType::ack, {}, false, "", "1")) == "6:::1");

    std::string out = "prefix|";
    encode_into(out, pk(PacketType::connect, {}, false, "/x"));
    CHECK(out == "prefix|1::/x");
}

TEST_CASE("malformed packets give the right DecodeError", "[packet]") {
    CHECK(error_of("") == DecodeError::empty);
    CHECK(error_of("hello") == DecodeError::truncated);
    CHECK(error_of("1") == DecodeError::truncated);
    CHECK(error_of("1:") == DecodeError::truncated);
    CHECK(error_of("9::") == DecodeError::bad_type);
    CHECK(error_of("10::") == DecodeError::bad_type);
    CHECK(error_of("x:1::") == DecodeError::bad_type);
    CHECK(error_of(":::") == DecodeError::bad_type);
    CHECK(error_of("-1::") == DecodeError::bad_type);
    CHECK(error_of("5:abc::{}") == DecodeError::bad_id);
    CHECK(error_of("5:+::x") == DecodeError::bad_id);
    CHECK(error_of("5:1++::x") == DecodeError::bad_id);
    CHECK(error_of("5:-1::x") == DecodeError::bad_id);
    CHECK(error_of("3:::\xFF") == DecodeError::bad_utf8);
    CHECK(error_of("3:::\xED\xA0\x80") == DecodeError::bad_utf8);  // a surrogate
    CHECK(error_of("3:::\xC3") == DecodeError::bad_utf8);          // truncated é
    CHECK(error_of("\xC0\xB3::") == DecodeError::bad_utf8);        // overlong '3'
}

TEST_CASE("every prefix and every suffix of a packet decodes or fails cleanly", "[packet]") {
    const std::string wire = "5:12+:/connection_agent:{\"name\":\"a:b\",\"args\":[\"\xF0\x9F\x98\x80\"]}";
    for (std::size_t n = 0; n <= wire.size(); ++n) {
        INFO("prefix length " << n);
        const auto p = decode(std::string_view(wire).substr(0, n));
        if (n == wire.size()) {
            REQUIRE(p.has_value());
            CHECK(p->data == "{\"name\":\"a:b\",\"args\":[\"\xF0\x9F\x98\x80\"]}");
        } else if (p.has_value()) {
            CHECK(encode(*p) != wire);
        }
        (void)decode(std::string_view(wire).substr(n));  // must not crash
    }
    // Trailing bytes belong to the data field.
    const auto t = decode(wire + "\n3:::x");
    REQUIRE(t.has_value());
    CHECK(t->endpoint == "/connection_agent");
    CHECK(t->data == "{\"name\":\"a:b\",\"args\":[\"\xF0\x9F\x98\x80\"]}\n3:::x");
}

TEST_CASE("parse_ack reads an ack's id and argument array", "[packet][ack]") {
    SECTION("plain id") {
        const auto a = parse_ack("1");
        REQUIRE(a.has_value());
        CHECK(a->id == "1");
        CHECK_FALSE(a->has_args);
        CHECK(a->args.empty());
    }
    SECTION("id with data") {
        const auto a = parse_ack("1+[\"a\"]");
        REQUIRE(a.has_value());
        CHECK(a->id == "1");
        CHECK(a->has_args);
        CHECK(a->args == "[\"a\"]");
    }
    SECTION("id with empty data and leading zeros") {
        const auto a = parse_ack("007+");
        REQUIRE(a.has_value());
        CHECK(a->id == "007");
        CHECK(a->has_args);
        CHECK(a->args.empty());
    }
    SECTION("bad ids") {
        for (std::string_view bad : {"", "+[1]", "a", "1a+[]", "-1", " 1"}) {
            INFO("ack data: " << std::string(bad));
            const auto a = parse_ack(bad);
            REQUIRE_FALSE(a.has_value());
            CHECK(a.error() == DecodeError::bad_id);
        }
    }
}

TEST_CASE("make_ack builds ack packets", "[packet][ack]") {
    CHECK(encode(make_ack("", "1", std::nullopt)) == "6:::1");
    CHECK(encode(make_ack("", "007", std::string("[\"acked\",1]"))) == "6:::007+[\"acked\",1]");
    CHECK(encode(make_ack("/chat", "3", std::string("[]"))) == "6::/chat:3+[]");
    const Packet p = make_ack("/chat", "4", std::string("[1]"));
    CHECK(p.type == PacketType::ack);
    CHECK(p.id.empty());  // the ack's own id field stays empty; the acked id is data
    const auto a = parse_ack(p.data);
    REQUIRE(a.has_value());
    CHECK(a->id == "4");
    CHECK(a->args == "[1]");
}

TEST_CASE("parse_error reads reason and advice indexes", "[packet][error]") {
    SECTION("1+0: client not handshaken, reconnect") {
        const auto e = parse_error("1+0");
        CHECK(e.reason == ErrorReason::client_not_handshaken);
        CHECK(e.advice == ErrorAdvice::reconnect);
    }
    SECTION("2: unauthorized, no advice") {
        const auto e = parse_error("2");
        CHECK(e.reason == ErrorReason::unauthorized);
        CHECK_FALSE(e.advice.has_value());
    }
    SECTION("0") { CHECK(parse_error("0").reason == ErrorReason::transport_not_supported); }
    SECTION("empty: no reason") {
        const auto e = parse_error("");
        CHECK_FALSE(e.reason.has_value());
        CHECK_FALSE(e.advice.has_value());
    }
    SECTION("unknown indexes are no reason") {
        CHECK_FALSE(parse_error("undefined").reason.has_value());
        CHECK_FALSE(parse_error("3").reason.has_value());
        CHECK_FALSE(parse_error("1+7").advice.has_value());
        CHECK(parse_error("1+7").reason == ErrorReason::client_not_handshaken);
    }
}

TEST_CASE("make_error builds error packets", "[packet][error]") {
    CHECK(encode(make_error("", ErrorReason::client_not_handshaken, ErrorAdvice::reconnect)) == "7:::1+0");
    CHECK(encode(make_error("/priv", ErrorReason::unauthorized)) == "7::/priv:2");
    CHECK(encode(make_error("", ErrorReason::transport_not_supported)) == "7:::0");
    CHECK(encode(make_error("/x", std::nullopt)) == "7::/x");
    const auto e = parse_error(make_error("", ErrorReason::unauthorized, ErrorAdvice::reconnect).data);
    CHECK(e.reason == ErrorReason::unauthorized);
    CHECK(e.advice == ErrorAdvice::reconnect);
}

TEST_CASE("encode_event writes event packets without a JSON tree", "[packet][event]") {
    SECTION("without args the member is left out") {
        CHECK(encode_event("", "uni", "") == R"(5:::{"name":"uni"})");
    }
    SECTION("with args") {
        CHECK(encode_event("", "echo", R"(["hi",{"a":1}])") == R"(5:::{"name":"echo","args":["hi",{"a":1}]})");
    }
    SECTION("with an id, with and without '+'") {
        CHECK(encode_event("/chat", "q", "[1]", "2") == R"(5:2:/chat:{"name":"q","args":[1]})");
        CHECK(encode_event("/chat", "q", "[1]", "2", true) == R"(5:2+:/chat:{"name":"q","args":[1]})");
    }
    SECTION("the name is escaped as a JSON string") {
        const std::string out = encode_event("", "a\"b\\c\nd", "");
        CHECK(out == R"(5:::{"name":"a\"b\\c\nd"})");
    }
    SECTION("the result decodes as an event") {
        const auto p = decode(encode_event("/connection_agent", "x:y", "[\"\xC3\xA9\"]", "7", true));
        REQUIRE(p.has_value());
        CHECK(p->type == PacketType::event);
        CHECK(p->id == "7");
        CHECK(p->data_ack);
        CHECK(p->endpoint == "/connection_agent");
        CHECK(p->data == "{\"name\":\"x:y\",\"args\":[\"\xC3\xA9\"]}");
    }
}

TEST_CASE("DecodeError values have names", "[packet]") {
    for (auto e : {DecodeError::empty, DecodeError::bad_type, DecodeError::bad_id, DecodeError::truncated,
                   DecodeError::bad_json, DecodeError::bad_utf8, DecodeError::bad_framing,
                   DecodeError::bad_length})
        CHECK(std::string(to_string(e)) != "unknown error");
}
