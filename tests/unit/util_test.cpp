// Query strings (compeit::url) and the JSON parse (compeit::util::parse_json,
// with its nesting bound) that guard the router's input.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "compeit/util/json_guard.hpp"
#include "compeit/util/url.hpp"

using compeit::url::decode_component;
using compeit::url::query_param;
using compeit::url::split_target;

TEST_CASE("decode_component: percent escapes and '+' as space", "[url]") {
    CHECK(decode_component("Al%20ice") == "Al ice");
    CHECK(decode_component("a+b") == "a b");
    CHECK(decode_component("%C3%A9%e2%82%ac") == "\xC3\xA9\xE2\x82\xAC");
    CHECK(decode_component("%2B") == "+");
    CHECK(decode_component("") == "");
    SECTION("bad escapes stay as they are") {
        CHECK(decode_component("100%") == "100%");
        CHECK(decode_component("%4") == "%4");
        CHECK(decode_component("%zz") == "%zz");
        CHECK(decode_component("%%41") == "%A");
    }
    SECTION("an escape at the very end") { CHECK(decode_component("x%41") == "xA"); }
}

TEST_CASE("query_param finds the first key=value", "[url]") {
    using Opt = std::optional<std::string>;
    CHECK(query_param("name=Alice", "name") == Opt("Alice"));
    CHECK(query_param("t=1&name=Al%20ice&x=2", "name") == Opt("Al ice"));
    CHECK(query_param("name=a&name=b", "name") == Opt("a"));
    CHECK(query_param("name", "name") == Opt(""));
    CHECK(query_param("name=", "name") == Opt(""));
    CHECK(query_param("nickname=x&names=y", "name") == std::nullopt);
    CHECK(query_param("", "name") == std::nullopt);
    CHECK(query_param("&&name=z&", "name") == Opt("z"));
    CHECK(query_param("jsonp=3", "jsonp") == Opt("3"));
    CHECK(query_param("a=b=c", "a") == Opt("b=c"));
}

TEST_CASE("split_target splits at the first '?'", "[url]") {
    const auto t = split_target("/socket.io/1/?t=1&jsonp=3?x");
    CHECK(t.path == "/socket.io/1/");
    CHECK(t.query == "t=1&jsonp=3?x");
    const auto u = split_target("/socket.io/1/websocket/abc");
    CHECK(u.path == "/socket.io/1/websocket/abc");
    CHECK(u.query.empty());
    const auto v = split_target("/x?");
    CHECK(v.path == "/x");
    CHECK(v.query.empty());
}

TEST_CASE("parse_json bounds array and object nesting", "[json_guard]") {
    const auto ok = [](std::string_view text, std::size_t depth) { return !compeit::util::parse_json(text, depth).is_discarded(); };
    CHECK(ok("1", 0));
    CHECK_FALSE(ok("[]", 0));
    CHECK(ok("[[1]]", 2));
    CHECK_FALSE(ok("[[1]]", 1));
    CHECK(ok("[[],[],{\"a\":1}]", 2));  // siblings do not add up
    CHECK_FALSE(ok("[[],[],{\"a\":[]}]", 2));
    CHECK_FALSE(ok("{\"a\":{\"b\":{}}}", 2));
    CHECK_FALSE(ok(std::string(10000, '['), 64));
    CHECK(ok(std::string(64, '[') + std::string(64, ']'), 64));
    CHECK_FALSE(ok(std::string(65, '[') + std::string(65, ']'), 64));
    SECTION("brackets inside strings do not count") {
        CHECK(ok("[\"[[[[{{{{\"]", 1));
        CHECK(ok("[\"\\\"[[[[\"]", 1));  // an escaped quote does not end the string
        CHECK(ok("[\"\\\\\"]", 1));        // an escaped backslash does not escape the quote
        CHECK_FALSE(ok("[\"\\\\\",[[]]]", 2));
    }
    SECTION("not JSON is refused whatever the depth") {
        CHECK_FALSE(ok("", 64));
        CHECK_FALSE(ok("[1,]", 64));
        CHECK_FALSE(ok(std::string("[1]\0", 4), 64));  // nothing after the value, not even a NUL
    }
}

TEST_CASE("parse_json: a tree, or discarded for bad or too deep input", "[json_guard]") {
    using compeit::util::parse_json;
    const auto ok = parse_json(R"({"name":"x","args":[1,"\u00e9",null]})");
    REQUIRE_FALSE(ok.is_discarded());
    CHECK(ok["name"] == "x");
    CHECK(ok["args"][1] == "\xC3\xA9");
    CHECK(parse_json("5").get<int>() == 5);

    for (std::string bad : {std::string(), std::string("{bad json"), std::string("[1] trailing"),
                            std::string("[1,]"), std::string("\"\xFF\""), std::string(10000, '['),
                            std::string(65, '[') + std::string(65, ']')}) {
        INFO("input: " << bad.substr(0, 40));
        nlohmann::json j;
        CHECK_NOTHROW(j = parse_json(bad));
        CHECK(j.is_discarded());
    }
    CHECK_FALSE(parse_json(std::string(64, '[') + std::string(64, ']')).is_discarded());
    CHECK(parse_json("[[1]]", 1).is_discarded());
    CHECK_FALSE(parse_json("[[1]]", 2).is_discarded());
}
