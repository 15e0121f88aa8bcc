// compeit::auth, the sans-I/O half of access tokens (docs/protocol.md,
// "Tokens"): every way parse_token refuses a token, and the one way it takes
// one; check_time at the clock-skew boundaries; base64url_decode; and
// utf::clean_display_name, which makes the names others see. Core only (no
// OpenSSL): the signatures are checked in auth_native_test.cpp.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "compeit/auth/token.hpp"
#include "compeit/ca/types.hpp"
#include "compeit/util/utf.hpp"
#include "compeit/util/base64url.hpp"

using namespace compeit;
using json = ca::json;

namespace {

constexpr std::int64_t kExp = 2000000000;  // 2033

std::string b64(std::string_view s) { return util::base64url_encode(s); }

// A token from raw header and payload texts; the signature bytes are not
// checked here, any non-empty ones do.
std::string raw_token(std::string_view header, std::string_view payload, std::string_view sig = "sig") {
    return b64(header) + "." + b64(payload) + "." + b64(sig);
}

const std::string kHs256 = R"({"alg":"HS256","typ":"JWT"})";

json good_claims() { return json{{"sub", "u1"}, {"name", "Ada"}, {"rooms", {7, 8}}, {"exp", kExp}}; }

std::string token_with(const json& claims, std::string_view header = kHs256) {
    return raw_token(header, claims.dump());
}

json with(json claims, const std::string& key, json value) {
    claims[key] = std::move(value);
    return claims;
}

json without(json claims, const std::string& key) {
    claims.erase(key);
    return claims;
}

bool has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// The refusal's reason, or "ACCEPTED" when the token was taken.
std::string refusal(std::string_view token) {
    auto t = auth::parse_token(token);
    return t ? std::string("ACCEPTED") : t.error();
}

}  // namespace

TEST_CASE("parse_token takes a well-formed token apart into typed claims", "[auth]") {
    json c = good_claims();
    c["nbf"] = 1000;
    c["iat"] = 999;
    c["caps"] = {"publish", "record", "filter", "moderate", "admin"};
    c["iss"] = "https://app.example.com";  // other claims are ignored
    c["aud"] = json::array({1, 2});
    const std::string text = raw_token(kHs256, c.dump(), std::string("\x00\xFFsig", 5));
    auto t = auth::parse_token(text);
    REQUIRE(t);
    CHECK(t->alg == auth::Algorithm::hs256);
    CHECK(t->signing_input == text.substr(0, text.rfind('.')));
    CHECK(t->signature == std::string("\x00\xFFsig", 5));
    CHECK(t->claims.sub == "u1");
    CHECK(t->claims.name == std::optional<std::string>("Ada"));
    CHECK_FALSE(t->claims.all_rooms);
    CHECK(t->claims.rooms == std::set<ca::RoomId>{7, 8});
    CHECK(t->claims.exp == kExp);
    CHECK(t->claims.nbf == std::optional<std::int64_t>(1000));
    CHECK(t->claims.caps.publish);
    CHECK(t->claims.caps.record);
    CHECK(t->claims.caps.filter);
    CHECK(t->claims.caps.moderate);
    CHECK(t->claims.caps.admin);
}

TEST_CASE("parse_token: optional claims and the other algorithms", "[auth]") {
    SECTION("no name, no nbf, no caps: no capability at all") {
        auto t = auth::parse_token(token_with(without(good_claims(), "name")));
        REQUIRE(t);
        CHECK_FALSE(t->claims.name);
        CHECK_FALSE(t->claims.nbf);
        CHECK_FALSE(t->claims.caps.publish);
        CHECK_FALSE(t->claims.caps.record);
        CHECK_FALSE(t->claims.caps.filter);
        CHECK_FALSE(t->claims.caps.moderate);
        CHECK_FALSE(t->claims.caps.admin);
    }
    SECTION("rooms \"*\" is every room; [] is none; the largest room id is taken") {
        auto all = auth::parse_token(token_with(with(good_claims(), "rooms", "*")));
        REQUIRE(all);
        CHECK(all->claims.all_rooms);
        auto none = auth::parse_token(token_with(with(good_claims(), "rooms", json::array())));
        REQUIRE(none);
        CHECK_FALSE(none->claims.all_rooms);
        CHECK(none->claims.rooms.empty());
        auto big = auth::parse_token(token_with(with(good_claims(), "rooms", {0, ca::kMaxRoomId})));
        REQUIRE(big);
        CHECK(big->claims.rooms == std::set<ca::RoomId>{0, ca::kMaxRoomId});
    }
    SECTION("1000 rooms are taken") {
        json rooms = json::array();
        for (int i = 0; i < 1000; ++i) rooms.push_back(i);
        auto t = auth::parse_token(token_with(with(good_claims(), "rooms", rooms)));
        REQUIRE(t);
        CHECK(t->claims.rooms.size() == 1000);
    }
    SECTION("ES256 and RS256 headers; typ may be absent") {
        auto es = auth::parse_token(token_with(good_claims(), R"({"alg":"ES256"})"));
        REQUIRE(es);
        CHECK(es->alg == auth::Algorithm::es256);
        auto rs = auth::parse_token(token_with(good_claims(), R"({"typ":"JWT","alg":"RS256","kid":"k1"})"));
        REQUIRE(rs);
        CHECK(rs->alg == auth::Algorithm::rs256);
    }
}

TEST_CASE("parse_token refuses what is not three base64url parts", "[auth]") {
    const std::string good = token_with(good_claims());
    REQUIRE(refusal(good) == "ACCEPTED");
    const auto dot1 = good.find('.');
    const auto dot2 = good.rfind('.');
    const std::string header = good.substr(0, dot1);
    const std::string payload = good.substr(dot1 + 1, dot2 - dot1 - 1);

    CHECK(refusal("") == "no token");
    for (const std::string& t : {std::string("abc"), header + "." + payload, good + ".c2ln", good + ".",
                                 "." + good, std::string("a.b.c.d")})
        CHECK(has(refusal(t), "three parts"));

    // empty segments
    CHECK(has(refusal(".." ), "header"));
    CHECK(has(refusal(header + ".." + "c2ln"), "payload"));
    CHECK(has(refusal(header + "." + payload + "."), "signature"));
    // the base64url alphabet only: no '+', '/', '=' padding, white space or other bytes
    CHECK(has(refusal(header + "=." + payload + ".c2ln"), "header is not base64url"));
    CHECK(has(refusal(header + "." + payload + "=.c2ln"), "payload is not base64url"));
    CHECK(has(refusal(header + "." + payload + ".c2ln=="), "signature"));
    CHECK(has(refusal(header + "." + payload + ".c2+l"), "signature"));
    CHECK(has(refusal(header + "." + payload + ".c2/l"), "signature"));
    CHECK(has(refusal(header + "." + payload + ".c2ln\n"), "signature"));
    CHECK(has(refusal(" " + good), "header is not base64url"));
    CHECK(has(refusal(header + "." + payload + ".c2l\xC3\xA9"), "signature"));
    // a length no encoding has (4n+1 characters)
    CHECK(has(refusal(header + "." + payload + ".c2lnA"), "signature"));
    // non-zero padding bits: "QQ" is "A", "QR" has the same byte and a set leftover bit
    CHECK(refusal(header + "." + payload + ".QQ") == "ACCEPTED");
    CHECK(has(refusal(header + "." + payload + ".QR"), "signature"));
    CHECK(has(refusal(header + "." + payload + ".QUI"), "ACCEPTED"));  // "AB"
    CHECK(has(refusal(header + "." + payload + ".QUJ"), "signature"));
}

TEST_CASE("parse_token refuses headers it does not accept", "[auth]") {
    const std::string claims = good_claims().dump();
    CHECK(has(refusal(raw_token("not json", claims)), "header is not a JSON object"));
    CHECK(has(refusal(raw_token("[\"HS256\"]", claims)), "header is not a JSON object"));
    CHECK(has(refusal(raw_token("\"HS256\"", claims)), "header is not a JSON object"));
    CHECK(has(refusal(raw_token(R"({"alg":"HS256")", claims)), "header is not a JSON object"));
    CHECK(has(refusal(raw_token("{}", claims)), "alg"));
    CHECK(has(refusal(raw_token(R"({"alg":256})", claims)), "alg"));
    CHECK(has(refusal(raw_token(R"({"alg":null})", claims)), "alg"));
    for (const char* alg : {"none", "None", "NONE", "HS384", "HS512", "ES384", "RS512", "PS256", "EdDSA", "hs256", ""}) {
        const std::string why = refusal(raw_token(json{{"alg", alg}, {"typ", "JWT"}}.dump(), claims));
        CHECK(has(why, "is not accepted"));
    }
    // alg none with the empty signature it comes with: refused for its alg before anything else
    CHECK(has(refusal(b64(R"({"alg":"none"})") + "." + b64(claims) + "."), "alg none is not accepted"));
    CHECK(has(refusal(raw_token(R"({"alg":"HS256","typ":"JWS"})", claims)), "typ must be JWT"));
    CHECK(has(refusal(raw_token(R"({"alg":"HS256","typ":7})", claims)), "typ"));
    CHECK(has(refusal(raw_token(R"({"alg":"HS256","crit":["exp"]})", claims)), "crit"));
    CHECK(has(refusal(raw_token(R"({"alg":"HS256","crit":[]})", claims)), "crit"));
    // alg too long to be a name we know (and to go into a log line)
    CHECK(has(refusal(raw_token(json{{"alg", std::string(100, 'H')}}.dump(), claims)), "alg"));
}

TEST_CASE("parse_token refuses claims of the wrong type", "[auth]") {
    const json c = good_claims();
    CHECK(has(refusal(raw_token(kHs256, "not json")), "payload is not a JSON object"));
    CHECK(has(refusal(raw_token(kHs256, "[1,2]")), "payload is not a JSON object"));
    CHECK(has(refusal(raw_token(kHs256, "")), "payload is not a JSON object"));

    SECTION("sub") {
        CHECK(has(refusal(token_with(with(c, "sub", 42))), "sub"));
        CHECK(has(refusal(token_with(with(c, "sub", ""))), "sub"));
        CHECK(has(refusal(token_with(with(c, "sub", nullptr))), "sub"));
        CHECK(has(refusal(token_with(with(c, "sub", json::parse(R"(["u1"])")))), "sub"));
        CHECK(has(refusal(token_with(without(c, "sub"))), "sub"));
        CHECK(has(refusal(token_with(with(c, "sub", std::string(257, 'u')))), "sub"));
        CHECK(refusal(token_with(with(c, "sub", std::string(256, 'u')))) == "ACCEPTED");
    }
    SECTION("name") {
        CHECK(has(refusal(token_with(with(c, "name", 5))), "name"));
        CHECK(has(refusal(token_with(with(c, "name", json::object()))), "name"));
        CHECK(has(refusal(token_with(with(c, "name", std::string(401, 'n')))), "name"));
    }
    SECTION("rooms") {
        for (const char* rooms : {R"("7")", "7", "null", "{}", "[-1]", "[1.5]", R"(["7"])", "[[7]]", "[7,null]",
                                  "[true]", "[9007199254740992]", "[18446744073709551615]", "[9223372036854775808]",
                                  R"("**")", R"("")"}) {
            INFO("rooms " << rooms);
            CHECK(has(refusal(token_with(with(c, "rooms", json::parse(rooms)))), "rooms"));
        }
        CHECK(has(refusal(token_with(without(c, "rooms"))), "rooms"));
        json many = json::array();
        for (int i = 0; i < 1001; ++i) many.push_back(i);
        CHECK(has(refusal(token_with(with(c, "rooms", many))), "rooms"));
    }
    SECTION("caps") {
        for (const char* caps : {R"(["fly"])", R"(["publish","Publish"])", "[1]", R"("publish")", "null", "{}",
                                 R"([["publish"]])", R"([""])", R"("*")"}) {
            INFO("caps " << caps);
            CHECK(has(refusal(token_with(with(c, "caps", json::parse(caps)))), "caps"));
        }
        json many = json::array();
        for (int i = 0; i < 17; ++i) many.push_back("publish");
        CHECK(has(refusal(token_with(with(c, "caps", many))), "caps"));
        CHECK(refusal(token_with(with(c, "caps", json::array()))) == "ACCEPTED");
    }
    SECTION("exp, nbf and iat are integer NumericDates") {
        CHECK(has(refusal(token_with(without(c, "exp"))), "exp"));
        CHECK(has(refusal(token_with(with(c, "exp", nullptr))), "exp"));  // required: null does not do
        // (an optional claim's null is not pinned here: ca::Input may read it as absent)
        for (const char* text : {R"("2000000000")", "2000000000.5", "2e9", "-1", "true", "[2000000000]",
                                 "9007199254740992", "{}"}) {
            const json v = json::parse(text);
            INFO("value " << text);
            CHECK(has(refusal(token_with(with(c, "exp", v))), "exp"));
            CHECK(has(refusal(token_with(with(c, "nbf", v))), "nbf"));
            CHECK(has(refusal(token_with(with(c, "iat", v))), "iat"));
        }
        CHECK(has(refusal(raw_token(kHs256, R"({"sub":"u1","rooms":"*","exp":1e10})")), "exp"));
        CHECK(has(refusal(raw_token(kHs256, R"({"sub":"u1","rooms":"*","exp":2000000000.0})")), "exp"));
        CHECK(has(refusal(raw_token(kHs256, R"({"sub":"u1","rooms":"*","exp":99999999999999999999999})")), "exp"));
    }
}

TEST_CASE("parse_token refuses a token longer than 8192 bytes, and takes one of exactly 8192", "[auth]") {
    // An ignored claim pads the payload; the signature's length fine-tunes the total.
    std::string exact;
    for (std::size_t pad = 5950; pad < 6200 && exact.empty(); ++pad) {
        for (std::size_t sig = 1; sig <= 3 && exact.empty(); ++sig) {
            const std::string t = raw_token(kHs256, with(good_claims(), "pad", std::string(pad, 'p')).dump(),
                                            std::string(sig, 's'));
            if (t.size() == auth::kMaxTokenBytes) exact = t;
        }
    }
    REQUIRE(exact.size() == 8192);
    CHECK(refusal(exact) == "ACCEPTED");
    const std::string over = raw_token(kHs256, with(good_claims(), "pad", std::string(6200, 'p')).dump());
    REQUIRE(over.size() > 8192);
    CHECK(has(refusal(over), "longer than 8192"));
    CHECK(has(refusal(std::string(1 << 20, 'A')), "longer than 8192"));
}

TEST_CASE("a refusal never quotes the token", "[auth]") {
    const json c = good_claims();
    for (const std::string& t :
         {token_with(with(c, "sub", 42)), token_with(with(c, "rooms", "7")), token_with(with(c, "caps", {"fly"})),
          token_with(c, R"({"alg":"none"})"), raw_token(kHs256, "garbage"), token_with(c) + "=",
          token_with(c) + ".x"}) {
        const std::string why = refusal(t);
        REQUIRE(why != "ACCEPTED");
        // no segment of the token (the shortest, "sig", is 4 characters) appears in the reason
        std::size_t start = 0;
        while (start <= t.size()) {
            const auto dot = t.find('.', start);
            const std::string seg = t.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            if (seg.size() >= 4) CHECK_FALSE(has(why, seg));
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
    }
}

TEST_CASE("a refusal quotes unverified text only as short printable ASCII (no forged log lines)", "[auth]") {
    const json c = good_claims();
    const std::string forged = "fly\n2026-12-01T00:00:00.000Z error forged line\x1b[2J";
    const std::string caps_why = refusal(token_with(with(c, "caps", json::array({forged}))));
    CHECK(has(caps_why, "caps: unknown capability fly?2026"));
    const std::string alg_why = refusal(token_with(c, json{{"alg", "no\nne\u202E"}}.dump()));
    CHECK(has(alg_why, "alg no?ne"));
    const std::string long_why = refusal(token_with(with(c, "caps", json::array({std::string(5000, 'c')}))));
    CHECK(long_why.size() < 100);
    CHECK(has(long_why, "..."));
    for (const std::string& why : {caps_why, alg_why, long_why, refusal(token_with(with(c, "caps", json::array({json{{"a", forged}}}))))}) {
        INFO(why);
        for (char ch : why) CHECK((ch >= 0x20 && ch < 0x7F));
    }
}

TEST_CASE("check_time: exp and nbf with the clock skew allowed either way", "[auth]") {
    const std::int64_t now = 1700000000;
    const std::int64_t skew = 30;
    auth::Claims c;
    c.sub = "u1";

    c.exp = now + 3600;
    CHECK(auth::check_time(c, now, skew));
    // exp is the first instant the token is no longer valid; skew seconds later it is refused
    c.exp = now - skew + 1;
    CHECK(auth::check_time(c, now, skew));
    c.exp = now - skew;
    REQUIRE_FALSE(auth::check_time(c, now, skew));
    CHECK(auth::check_time(c, now, skew).error() == "expired");
    c.exp = now - skew - 1;
    CHECK_FALSE(auth::check_time(c, now, skew));
    c.exp = now;  // without skew, expired at exp itself
    CHECK_FALSE(auth::check_time(c, now, 0));
    c.exp = now + 1;
    CHECK(auth::check_time(c, now, 0));

    c.exp = now + 3600;
    c.nbf = now + skew;  // valid from skew seconds ahead: taken
    CHECK(auth::check_time(c, now, skew));
    c.nbf = now + skew + 1;
    REQUIRE_FALSE(auth::check_time(c, now, skew));
    CHECK(auth::check_time(c, now, skew).error() == "not valid yet");
    c.nbf = now;
    CHECK(auth::check_time(c, now, 0));
    c.nbf = now + 1;
    CHECK_FALSE(auth::check_time(c, now, 0));
    c.nbf = 0;
    CHECK(auth::check_time(c, now, skew));

    // both wrong: expired wins (either reason is a refusal)
    c.exp = now - 100;
    c.nbf = now + 100;
    CHECK_FALSE(auth::check_time(c, now, skew));
}

TEST_CASE("base64url_decode: RFC 4648 vectors, round trips, and one text per byte string", "[auth]") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, coded] : vectors) {
        CHECK(b64(plain) == coded);
        CHECK(util::base64url_decode(coded) == std::optional<std::string>(plain));
    }
    CHECK(util::base64url_decode("-_8") == std::optional<std::string>("\xFB\xFF"));
    CHECK(b64("\xFB\xFF") == "-_8");

    // every byte value, every length mod 3
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (std::size_t n = 0; n <= all.size(); ++n) {
        const std::string bytes = all.substr(256 - n) + all.substr(0, n % 7);
        const auto back = util::base64url_decode(b64(bytes));
        REQUIRE(back);
        CHECK(*back == bytes);
    }

    for (const char* bad : {"Zg==", "Zm8=", "Z", "Zm9vY", "Zm9v+A", "Zm9v/A", "Zm 9v", "Zm9v\n", "Zg=", "Zh", "Zm9",
                            "Zm-", "\xC3\xA9\xC3\xA9"}) {
        INFO("text " << bad);
        CHECK_FALSE(util::base64url_decode(bad));
    }
    // "Zm9" would be "fo" with a leftover set bit; "Zm8" is the one text for "fo"
    CHECK(util::base64url_decode("Zm8"));
}

TEST_CASE("encode_unsigned and parse_token agree (what `compeit-server token` mints)", "[auth]") {
    auth::Claims c;
    c.sub = "u1";
    c.name = "Ada";
    c.rooms = {7, 8};
    c.exp = kExp;
    c.nbf = 5;
    c.caps = ca::Capabilities::none();
    c.caps.publish = true;
    c.caps.record = true;
    const std::string text = auth::make_token(auth::Algorithm::rs256, c, [](const std::string&) { return std::string("s"); });
    auto t = auth::parse_token(text);
    REQUIRE(t);
    CHECK(t->alg == auth::Algorithm::rs256);
    CHECK(t->signature == "s");
    CHECK(t->claims.sub == "u1");
    CHECK(t->claims.name == std::optional<std::string>("Ada"));
    CHECK(t->claims.rooms == std::set<ca::RoomId>{7, 8});
    CHECK(t->claims.exp == kExp);
    CHECK(t->claims.nbf == std::optional<std::int64_t>(5));
    CHECK(t->claims.caps.publish);
    CHECK(t->claims.caps.record);
    CHECK_FALSE(t->claims.caps.filter);
    CHECK_FALSE(t->claims.caps.moderate);
    CHECK_FALSE(t->claims.caps.admin);

    c.all_rooms = true;
    auto all = auth::parse_token(auth::make_token(auth::Algorithm::hs256, c, [](const std::string&) { return std::string("s"); }));
    REQUIRE(all);
    CHECK(all->claims.all_rooms);
}

// ---------------------------------------------------------------- display names

TEST_CASE("clean_display_name removes controls and bidi overrides, trims, bounds", "[utf][auth]") {
    using utf::clean_display_name;
    const std::size_t max = 32;
    CHECK(clean_display_name("Ada", max) == "Ada");
    CHECK(clean_display_name("Ada Lovelace", max) == "Ada Lovelace");
    CHECK(clean_display_name("", max).empty());

    // C0 controls (tab and newline included), DEL, C1 controls
    CHECK(clean_display_name("A\x01" "d\x1F" "a\x7F", max) == "Ada");
    CHECK(clean_display_name("\tAda\r\n", max) == "Ada");
    CHECK(clean_display_name(std::string("A\nd\0a", 5), max) == "Ada");
    CHECK(clean_display_name("A\xC2\x80" "d\xC2\x85" "a\xC2\x9F", max) == "Ada");  // U+0080 U+0085 U+009F
    CHECK(clean_display_name("\xC2\xA0" "A", max) == "A");                        // U+00A0 is trimmed white space
    CHECK(clean_display_name("A\xC2\xA0" "B", max) == "A\xC2\xA0" "B");             // and kept inside

    // bidirectional controls: U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C; and U+FEFF
    CHECK(clean_display_name("Ad\xE2\x80\xAE" "a", max) == "Ada");                // RLO
    CHECK(clean_display_name("\xE2\x80\xAA" "A\xE2\x80\xAB" "d\xE2\x80\xAC" "a\xE2\x80\xAD", max) == "Ada");
    CHECK(clean_display_name("\xE2\x81\xA6" "Ada\xE2\x81\xA9", max) == "Ada");   // LRI ... PDI
    CHECK(clean_display_name("A\xE2\x81\xA7" "d\xE2\x81\xA8" "a", max) == "Ada"); // RLI FSI
    CHECK(clean_display_name("A\xE2\x80\x8E" "d\xE2\x80\x8F" "a\xD8\x9C", max) == "Ada");
    CHECK(clean_display_name("\xEF\xBB\xBF" "Ada", max) == "Ada");               // BOM
    CHECK(clean_display_name("ev\xE2\x80\xAE" "gpj.exe", max) == "evgpj.exe");

    // white space trimmed at both ends (also when controls hid it), kept inside
    CHECK(clean_display_name("   Ada  ", max) == "Ada");
    CHECK(clean_display_name(" \x01 Ada \x02 ", max) == "Ada");
    CHECK(clean_display_name("\xE3\x80\x80" "Ada\xE2\x80\x83", max) == "Ada");   // ideographic space, em space
    CHECK(clean_display_name("\xE2\x80\x8B" "Ada\xE2\x80\x8B", max) == "Ada");   // zero-width space
    CHECK(clean_display_name(" \t\xE2\x80\xAE \n", max).empty());

    // other characters are kept as they are
    CHECK(clean_display_name("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", max) == "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    CHECK(clean_display_name("<b>Ada</b>", max) == "<b>Ada</b>");  // markup is the page's job (textContent)
}

TEST_CASE("clean_display_name: invalid bytes removed, truncation on code points", "[utf][auth]") {
    using utf::clean_display_name;
    // invalid UTF-8 (a lone continuation, a truncated sequence, an overlong, a surrogate) is removed
    CHECK(clean_display_name("A\xFF" "da", 32) == "Ada");
    CHECK(clean_display_name("\x80" "Ada\xC3", 32) == "Ada");
    CHECK(clean_display_name("A\xC0\xAF" "da", 32) == "Ada");
    CHECK(clean_display_name("A\xED\xA0\x80" "da", 32) == "Ada");
    CHECK(utf::valid_utf8(clean_display_name("\xF0\x9F\x98", 32)));

    // at most max code points, never a split sequence
    CHECK(clean_display_name("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3) == "\xC3\xA9\xC3\xA9\xC3\xA9");
    CHECK(clean_display_name("\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 1) == "\xF0\x9F\x98\x80");
    CHECK(clean_display_name("Ada", 0).empty());
    CHECK(clean_display_name(std::string(1000, 'x'), 32) == std::string(32, 'x'));
    // removed characters do not count
    CHECK(clean_display_name("\x01\x02\x03\xE2\x80\xAE" "Ada", 3) == "Ada");
    // a name cut inside white space does not end with it
    CHECK(clean_display_name("Ada Lovelace", 4) == "Ada");
    CHECK(clean_display_name("Ada \xE3\x80\x80 Lovelace", 5) == "Ada");
    for (std::size_t max = 0; max < 12; ++max) {
        const std::string n = clean_display_name(" A\xE2\x80\xAE" "d\xC3\xA9 \xF0\x9F\x98\x80 x\xFF ", max);
        INFO("max " << max << ": " << n);
        CHECK(utf::valid_utf8(n));
        CHECK(utf::code_points(n) <= max);
        CHECK((n.empty() || (n.front() != ' ' && n.back() != ' ')));
    }
}

TEST_CASE("parse_token: the agent claim lists the types an agent link may register", "[auth][link]") {
    const auto none = auth::parse_token(token_with(good_claims()));
    REQUIRE(none.has_value());
    CHECK_FALSE(none->claims.agent.has_value());
    const auto some = auth::parse_token(token_with(with(good_claims(), "agent", {"poll", "quiz"})));
    REQUIRE(some.has_value());
    CHECK(*some->claims.agent == std::set<std::string>{"poll", "quiz"});
    for (const json& bad : {json("poll"), json::array({1}), json::array({""}), json::array({std::string(65, 'x')})})
        CHECK_FALSE(auth::parse_token(token_with(with(good_claims(), "agent", bad))).has_value());
    // and it round-trips through encode_unsigned
    auth::Claims c;
    c.sub = "agent";
    c.exp = kExp;
    c.agent = std::set<std::string>{"poll"};
    const auto again = auth::parse_token(auth::encode_signature(auth::encode_unsigned(auth::Algorithm::hs256, c), "s"));
    REQUIRE(again.has_value());
    CHECK(again->claims.agent == c.agent);
}
