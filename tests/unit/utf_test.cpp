// compeit::utf: the UTF-16 arithmetic behind socket.io 0.9 payload framing,
// and the UTF-8 validation every decoder relies on.
#include <catch2/catch.hpp>

#include <string>

#include "compeit/util/utf.hpp"

using namespace compeit::utf;

namespace {

const std::string kE = "\xC3\xA9";              // é   U+00E9, 2 bytes, 1 unit
const std::string kEuro = "\xE2\x82\xAC";       // €   U+20AC, 3 bytes, 1 unit
const std::string kGrin = "\xF0\x9F\x98\x80";   // 😀 U+1F600, 4 bytes, 2 units

}  // namespace

TEST_CASE("utf16_length counts UTF-16 code units", "[utf]") {
    CHECK(utf16_length("") == 0);
    CHECK(utf16_length("hello") == 5);
    CHECK(utf16_length(kE) == 1);
    CHECK(utf16_length(kEuro) == 1);
    CHECK(utf16_length(kGrin) == 2);
    CHECK(utf16_length(kE + kEuro + kGrin) == 4);
    // The packet of reference case X1, framed as 33 by JavaScript.
    CHECK(utf16_length("5:::{\"name\":\"echo\",\"args\":[\"" + kGrin + "\"]}") == 33);
    // The packet of §3.3, framed as 35 by client 0.9.6.
    CHECK(utf16_length("5:::{\"name\":\"echo\",\"args\":[\"" + kE + kEuro + kGrin + "\"]}") == 35);
}

TEST_CASE("utf16_length counts each invalid byte as one unit", "[utf]") {
    CHECK(utf16_length("\xFF") == 1);
    CHECK(utf16_length("a\xC3") == 2);          // truncated 2-byte sequence
    CHECK(utf16_length("\xF0\x9F\x98") == 3);   // truncated 4-byte sequence
}

TEST_CASE("prefix_bytes finds the byte length of a UTF-16 prefix", "[utf]") {
    const std::string s = "a" + kE + kEuro + kGrin + "z";  // units: 1,1,1,2,1

    SECTION("exact cuts") {
        CHECK(prefix_bytes(s, 0) == std::optional<std::size_t>(0));
        CHECK(prefix_bytes(s, 1) == std::optional<std::size_t>(1));
        CHECK(prefix_bytes(s, 2) == std::optional<std::size_t>(3));
        CHECK(prefix_bytes(s, 3) == std::optional<std::size_t>(6));
        CHECK(prefix_bytes(s, 5) == std::optional<std::size_t>(10));
        CHECK(prefix_bytes(s, 6) == std::optional<std::size_t>(11));
        CHECK(prefix_bytes("", 0) == std::optional<std::size_t>(0));
    }
    SECTION("past the end of the string") {
        CHECK_FALSE(prefix_bytes(s, 7).has_value());
        CHECK_FALSE(prefix_bytes("", 1).has_value());
        CHECK_FALSE(prefix_bytes("abc", 4).has_value());
    }
    SECTION("a cut inside a surrogate pair") {
        CHECK_FALSE(prefix_bytes(s, 4).has_value());
        CHECK_FALSE(prefix_bytes(kGrin, 1).has_value());
    }
    SECTION("invalid bytes are one unit each") {
        CHECK(prefix_bytes("\xFF\xFEx", 2) == std::optional<std::size_t>(2));
    }
}

TEST_CASE("valid_utf8 accepts well-formed text", "[utf]") {
    CHECK(valid_utf8(""));
    CHECK(valid_utf8("plain ASCII"));
    CHECK(valid_utf8(kE + kEuro + kGrin));
    CHECK(valid_utf8("\xED\x9F\xBF"));          // U+D7FF, just below the surrogates
    CHECK(valid_utf8("\xEE\x80\x80"));          // U+E000, just above them
    CHECK(valid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF, the last code point
    CHECK(valid_utf8(std::string("a\0b", 3)));  // NUL is a valid character
}

TEST_CASE("valid_utf8 rejects malformed text", "[utf]") {
    SECTION("overlong encodings") {
        CHECK_FALSE(valid_utf8("\xC0\xAF"));          // '/' in 2 bytes
        CHECK_FALSE(valid_utf8("\xC1\xBF"));
        CHECK_FALSE(valid_utf8("\xE0\x80\xAF"));      // '/' in 3 bytes
        CHECK_FALSE(valid_utf8("\xF0\x80\x80\xAF"));  // '/' in 4 bytes
    }
    SECTION("UTF-16 surrogates") {
        CHECK_FALSE(valid_utf8("\xED\xA0\x80"));  // U+D800
        CHECK_FALSE(valid_utf8("\xED\xBF\xBF"));  // U+DFFF
    }
    SECTION("beyond U+10FFFF") {
        CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // U+110000
        CHECK_FALSE(valid_utf8("\xF5\x80\x80\x80"));
        CHECK_FALSE(valid_utf8("\xFF"));
    }
    SECTION("truncated sequences") {
        CHECK_FALSE(valid_utf8("\xC3"));
        CHECK_FALSE(valid_utf8("\xE2\x82"));
        CHECK_FALSE(valid_utf8("\xF0\x9F\x98"));
        CHECK_FALSE(valid_utf8("abc\xF0\x9F"));
        CHECK_FALSE(valid_utf8("\xE2\x82x"));  // continuation byte missing mid-string
    }
    SECTION("stray continuation bytes") {
        CHECK_FALSE(valid_utf8("\x80"));
        CHECK_FALSE(valid_utf8("a\xBFz"));
    }
}

TEST_CASE("truncate_code_points never cuts a character", "[utf]") {
    const std::string s = "a" + kE + kEuro + kGrin;
    CHECK(truncate_code_points(s, 0).empty());
    CHECK(truncate_code_points(s, 1) == "a");
    CHECK(truncate_code_points(s, 2) == "a" + kE);
    CHECK(truncate_code_points(s, 3) == "a" + kE + kEuro);
    CHECK(truncate_code_points(s, 4) == s);
    CHECK(truncate_code_points(s, 100) == s);
    CHECK(truncate_code_points("", 5).empty());
}

TEST_CASE("code_points counts characters, not bytes or units", "[utf]") {
    CHECK(code_points("") == 0);
    CHECK(code_points("abc") == 3);
    CHECK(code_points(kE + kEuro + kGrin) == 3);
    CHECK(code_points(kGrin + kGrin) == 2);
    CHECK(code_points("\xFF\xFE") == 2);  // invalid bytes count one each
}
