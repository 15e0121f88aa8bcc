// Polling payloads (reference §3.3): `\ufffd<len>\ufffd<packet>` framing where
// <len> counts UTF-16 code units, and the jsonp-polling wrapper.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compeit/sio/payload.hpp"
#include "sio_print.hpp"

using namespace compeit::sio;

namespace {

const std::string M = "\xEF\xBF\xBD";  // U+FFFD, the frame mark
const std::string kGrin = "\xF0\x9F\x98\x80";
const std::string kEchoGrin = "5:::{\"name\":\"echo\",\"args\":[\"" + kGrin + "\"]}";  // 33 units
// 32 units. The reference's X1-X3 write 31 for it, which would cut its final
// '}' (in socket.io 0.9.19 too); 32 is what JavaScript's length gives.
const std::string kEchoB = "5:::{\"name\":\"echo\",\"args\":[\"b\"]}";

std::string framed(const std::string& len, const std::string& packet) { return M + len + M + packet; }

// The packets of `body` as strings; the test fails when decoding fails.
std::vector<std::string> packets_of(std::string_view body) {
    const auto r = decode_payload(body);
    INFO("body: " << std::string(body));
    REQUIRE(r.has_value());
    return {r->begin(), r->end()};
}

using Strings = std::vector<std::string>;

// True when `body` decodes to exactly `packets`.
bool yields(std::string_view body, const Strings& packets) {
    const auto r = decode_payload(body);
    return r.has_value() && Strings(r->begin(), r->end()) == packets;
}

}  // namespace

TEST_CASE("is_framed looks at the first character only", "[payload]") {
    CHECK(is_framed(M + "3" + M + "2::"));
    CHECK(is_framed(M));
    CHECK_FALSE(is_framed("2::"));
    CHECK_FALSE(is_framed(""));
    CHECK_FALSE(is_framed("\xEF\xBF"));
    CHECK_FALSE(is_framed("x" + M));
}

TEST_CASE("a body without a frame mark is one bare packet", "[payload]") {
    CHECK(packets_of("2::") == Strings{"2::"});
    CHECK(packets_of(kEchoGrin) == Strings{kEchoGrin});
    // A bare packet may contain U+FFFD anywhere but at the start.
    CHECK(packets_of("3:::a" + M + "3" + M + "b") == Strings{"3:::a" + M + "3" + M + "b"});
}

TEST_CASE("an empty body holds no packets", "[payload]") { CHECK(packets_of("").empty()); }

TEST_CASE("a framed body splits into its packets", "[payload]") {
    CHECK(packets_of(framed("3", "2::") + framed("5", "3:::a") + framed("3", "8::")) ==
          Strings{"2::", "3:::a", "8::"});
    CHECK(packets_of(framed("3", "2::")) == Strings{"2::"});  // one framed packet is fine too
    CHECK(packets_of(framed("0", "")) == Strings{""});
}

TEST_CASE("framed lengths count UTF-16 code units (reference X1)", "[payload]") {
    const std::string x1 = framed("33", kEchoGrin) + framed("32", kEchoB);
    CHECK(packets_of(x1) == Strings{kEchoGrin, kEchoB});
}

TEST_CASE("code-point or byte lengths mis-split and never yield the packets (X2, X3)", "[payload]") {
    const Strings original{kEchoGrin, kEchoB};
    SECTION("X2: 32, the length in code points") {
        CHECK_FALSE(yields(framed("32", kEchoGrin) + framed("32", kEchoB), original));
    }
    SECTION("X3: 35, the length in UTF-8 bytes") {
        CHECK_FALSE(yields(framed("35", kEchoGrin) + framed("32", kEchoB), original));
    }
}

TEST_CASE("a length past the end takes the remainder (X5)", "[payload]") {
    CHECK(packets_of(framed("999", "3:::short")) == Strings{"3:::short"});
    CHECK(packets_of(framed("3", "2::") + framed("50", "3:::" + kGrin)) == Strings{"2::", "3:::" + kGrin});
}

TEST_CASE("bad lengths are errors", "[payload]") {
    auto error_of = [](const std::string& body) {
        const auto r = decode_payload(body);
        INFO("body: " << body);
        REQUIRE_FALSE(r.has_value());
        return r.error();
    };
    SECTION("non-numeric") {
        CHECK(error_of(framed("abc", "2::")) == DecodeError::bad_length);
        CHECK(error_of(framed("3x", "2::")) == DecodeError::bad_length);
        CHECK(error_of(framed("-3", "2::")) == DecodeError::bad_length);
        CHECK(error_of(framed(" 3", "2::")) == DecodeError::bad_length);
    }
    SECTION("empty") { CHECK(error_of(framed("", "2::")) == DecodeError::bad_length); }
    SECTION("no closing mark") { CHECK(error_of(M + "3") == DecodeError::bad_length); }
    SECTION("a cut inside a surrogate pair") {
        // "3:::" is 4 units, the emoji 2 more: 5 splits it.
        CHECK(error_of(framed("5", "3:::" + kGrin) + framed("3", "2::")) == DecodeError::bad_length);
        CHECK(error_of(framed("29", kEchoGrin)) == DecodeError::bad_length);
    }
    SECTION("huge numbers do not overflow") {
        CHECK(error_of(framed("99999999999999999999999999", "2::")) == DecodeError::bad_length);
    }
    SECTION("bytes after a packet that are not a frame mark") {
        CHECK(error_of(framed("3", "2::") + "junk") == DecodeError::bad_framing);
        CHECK(error_of(framed("2", "2::")) == DecodeError::bad_framing);
    }
}

TEST_CASE("every prefix of a framed body decodes or fails cleanly", "[payload]") {
    const std::string body = framed("33", kEchoGrin) + framed("32", kEchoB);
    for (std::size_t n = 0; n < body.size(); ++n) {
        INFO("prefix length " << n);
        CHECK_FALSE(yields(body.substr(0, n), Strings{kEchoGrin, kEchoB}));
    }
}

TEST_CASE("encode_payload sends one packet bare and frames several", "[payload]") {
    SECTION("one packet") {
        CHECK(encode_payload(std::vector<std::string_view>{"1::"}) == "1::");
        CHECK(encode_payload(std::vector<Frame>{make_frame(kEchoGrin)}) == kEchoGrin);
    }
    SECTION("several: UTF-16 lengths, as JavaScript frames them") {
        CHECK(encode_payload(std::vector<std::string_view>{kEchoGrin, kEchoB}) ==
              framed("33", kEchoGrin) + framed("32", kEchoB));
        CHECK(encode_payload(std::vector<Frame>{make_frame("1::"), make_frame("3:::\xC3\xA9\xE2\x82\xAC")}) ==
              framed("3", "1::") + framed("6", "3:::\xC3\xA9\xE2\x82\xAC"));
    }
    SECTION("none") { CHECK(encode_payload(std::vector<std::string_view>{}).empty()); }
}

TEST_CASE("encode_payload then decode_payload gives the packets back", "[payload]") {
    const Strings packets{"1::", kEchoGrin, "3:::" + M + "12" + M + "not a frame", "3:::", "6:::1+[\"a:b\"]",
                          "3:::line\nbreak"};
    const std::vector<std::string_view> views(packets.begin(), packets.end());
    CHECK(packets_of(encode_payload(views)) == packets);
}

TEST_CASE("jsonp_wrap writes io.j[N](<payload as a JSON string>);", "[payload][jsonp]") {
    CHECK(jsonp_wrap("3", "1::") == "io.j[3](\"1::\");");
    CHECK(jsonp_wrap("0", "7:::1+0") == "io.j[0](\"7:::1+0\");");

    SECTION("quotes and backslashes are escaped") {
        CHECK(jsonp_wrap("3", R"(5:::{"name":"a\b"})") == R"(io.j[3]("5:::{\"name\":\"a\\b\"}");)");
    }
    SECTION("control characters are escaped") {
        CHECK(jsonp_wrap("1", "3:::a\nb") == "io.j[1](\"3:::a\\nb\");");
    }
    SECTION("U+FFFD and other non-ASCII characters travel raw") {
        const std::string payload = framed("3", "1::") + framed("7", "3:::\xC3\xA9" + kGrin);
        CHECK(jsonp_wrap("2", payload) == "io.j[2](\"" + payload + "\");");
    }
    SECTION("the argument parses back to the payload") {
        const std::string payload = framed("33", kEchoGrin) + framed("8", "3:::\"\\/\t");
        const std::string out = jsonp_wrap("12", payload);
        REQUIRE(out.rfind("io.j[12](", 0) == 0);
        REQUIRE(out.size() > 11);
        REQUIRE(out.substr(out.size() - 2) == ");");
        const auto arg = nlohmann::json::parse(out.substr(9, out.size() - 11));
        CHECK(arg.get<std::string>() == payload);
    }
    SECTION("invalid UTF-8 does not throw") {
        std::string out;
        CHECK_NOTHROW(out = jsonp_wrap("0", "3:::\xFF"));
        CHECK(out == "io.j[0](\"3:::" + M + "\");");
    }
}
