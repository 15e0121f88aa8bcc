// The validating scanner that routes messages without building trees.
#include <catch2/catch.hpp>

#include <string>

#include "compeit/util/json_guard.hpp"
#include "compeit/util/json_scan.hpp"

using namespace compeit::util;

TEST_CASE("json_value_span accepts exactly the JSON grammar", "[json]") {
    for (const char* ok : {"0", "-1", "1.5e-3", "true", "false", "null", "\"\"", "\"a\\\"b\\u00e9\"", "[]", "{}",
                           " [1, {\"a\": [true, null]}] ", "{\"k\":{\"k\":{}}}", "\"é😀\""}) {
        INFO(ok);
        CHECK(json_value_span(ok));
        CHECK_FALSE(parse_json(ok).is_discarded());  // the same verdict as the tree parser
    }
    for (const char* bad : {"", " ", "01", "1.", ".5", "-", "1e", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12g4\"",
                            "[1,]", "[1 2]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "[", "]", "1 2", "\"\t\"",
                            "[1]]", "{\"a\":1}}"}) {
        INFO(bad);
        CHECK_FALSE(json_value_span(bad));
        CHECK(parse_json(bad).is_discarded());
    }
}

TEST_CASE("json_value_span bounds nesting", "[json]") {
    const std::string deep = std::string(65, '[') + std::string(65, ']');
    CHECK_FALSE(json_value_span(deep, 64));
    CHECK(json_value_span(std::string(64, '[') + std::string(64, ']'), 64));
    CHECK_FALSE(json_value_span(std::string(100000, '[')));
}

TEST_CASE("members, first elements, strings and integers come back as spans", "[json]") {
    const std::string text = R"( {"name":"room_message","args":[{"from":12,"type":"ch\"at","data":{"a":[1,"]"]}}],"x":null} )";
    const auto span = json_value_span(text);
    REQUIRE(span);
    std::string seen;
    REQUIRE(for_each_member(*span, [&](std::string_view k, std::string_view v) { seen += std::string(k) + "=" + std::string(v) + ";"; }));
    CHECK(seen == R"(name="room_message";args=[{"from":12,"type":"ch\"at","data":{"a":[1,"]"]}}];x=null;)");
    const auto arg = json_first_element(*json_member(*span, "args"));
    REQUIRE(arg);
    CHECK(json_integer(*json_member(*arg, "from")) == 12);
    CHECK(json_string(*json_member(*arg, "type")) == "ch\"at");
    CHECK(*json_member(*arg, "data") == R"({"a":[1,"]"]})");
    CHECK_FALSE(json_member(*arg, "missing"));
    CHECK_FALSE(json_first_element("[]"));
    CHECK_FALSE(for_each_member("[1]", [](auto, auto) {}));
}

TEST_CASE("json_string decodes escapes and surrogate pairs; json_integer only integers", "[json]") {
    CHECK(json_string(R"("a\nb\u00e9\ud83d\ude00\/")") == "a\nb\xC3\xA9\xF0\x9F\x98\x80/");
    CHECK(json_string(R"("\ud800")") == "\xEF\xBF\xBD");  // a lone surrogate becomes U+FFFD
    CHECK_FALSE(json_string("12"));
    CHECK(json_integer("-42") == -42);
    CHECK_FALSE(json_integer("1.0"));
    CHECK_FALSE(json_integer("1e3"));
    CHECK_FALSE(json_integer("\"1\""));
    CHECK_FALSE(json_integer("12345678901234567890"));
}

TEST_CASE("append_json_string round-trips through the parser", "[json]") {
    for (std::string s : {std::string("plain"), std::string("q\"b\\s"), std::string("ctl\x01\x1f\n\t"), std::string("é😀")}) {
        std::string out;
        append_json_string(out, s);
        REQUIRE(json_value_span(out));
        CHECK(json_string(out) == s);
        CHECK(parse_json(out).get<std::string>() == s);
    }
}
