// RFC 6455 framing (compeit::ws::Decoder, make_header, ...); the opening
// handshake's accept key is native's (ws_accept_test.cpp). Every decoding
// case is fed whole, one byte at a time and followed by the first bytes of a
// next frame (STYLE item 8).
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compeit/ws/frame.hpp"
#include "compeit/util/base64url.hpp"

using namespace compeit::ws;

namespace Catch {
template <>
struct StringMaker<Error> {
    static std::string convert(Error e) { return "ws::Error(" + std::to_string(static_cast<int>(e)) + ")"; }
};
}  // namespace Catch

namespace {

using Mask = std::array<std::uint8_t, 4>;
constexpr Mask kMask{0x37, 0xfa, 0x21, 0x3d};

constexpr std::uint8_t FIN = 0x80;

// A frame built by hand, independent of make_header: first byte as given
// (FIN, RSV and opcode bits), the shortest length form unless `len_form`
// forces 126 or 127, and the payload masked when a mask is given.
std::string frame(std::uint8_t b0, std::string_view payload, std::optional<Mask> mask = std::nullopt,
                  int len_form = 0, std::optional<std::uint64_t> declared = std::nullopt) {
    const std::uint64_t n = declared.value_or(payload.size());
    std::string out;
    out += static_cast<char>(b0);
    const std::uint8_t m = mask ? 0x80 : 0x00;
    if (len_form == 0 && n < 126) {
        out += static_cast<char>(m | n);
    } else if (len_form == 126 || (len_form == 0 && n <= 0xFFFF)) {
        out += static_cast<char>(m | 126);
        out += static_cast<char>((n >> 8) & 0xFF);
        out += static_cast<char>(n & 0xFF);
    } else {
        out += static_cast<char>(m | 127);
        for (int i = 7; i >= 0; --i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
    }
    std::string body(payload);
    if (mask) {
        for (auto b : *mask) out += static_cast<char>(b);
        for (std::size_t i = 0; i < body.size(); ++i)
            body[i] = static_cast<char>(static_cast<std::uint8_t>(body[i]) ^ (*mask)[i % 4]);
    }
    return out + body;
}

struct Result {
    std::vector<Message> messages;
    std::optional<Error> error;
};

// Reads every message the decoder can give now.
void drain(Decoder& d, Result& r) {
    while (!r.error) {
        auto m = d.next();
        if (!m) {
            r.error = m.error();
            return;
        }
        if (!m->has_value()) return;
        r.messages.push_back(std::move(**m));
    }
}

Result decode_whole(std::string_view bytes, std::size_t max = 1 << 20) {
    Decoder d(max);
    Result r;
    d.feed(bytes);
    drain(d, r);
    return r;
}

Result decode_bytewise(std::string_view bytes, std::size_t max = 1 << 20) {
    Decoder d(max);
    Result r;
    for (char c : bytes) {
        d.feed(std::string_view(&c, 1));
        drain(d, r);
    }
    return r;
}

void check_same(const Result& a, const Result& b) {
    REQUIRE(a.messages.size() == b.messages.size());
    for (std::size_t i = 0; i < a.messages.size(); ++i) {
        CHECK(a.messages[i].opcode == b.messages[i].opcode);
        CHECK(a.messages[i].payload == b.messages[i].payload);
    }
    CHECK(a.error == b.error);
}

// Decodes `bytes` three ways and checks that they agree; returns the whole result.
Result decode_three_ways(const std::string& bytes, std::size_t max = 1 << 20) {
    const Result whole = decode_whole(bytes, max);
    {
        INFO("one byte at a time");
        check_same(whole, decode_bytewise(bytes, max));
    }
    if (!whole.error) {
        INFO("with the first bytes of a next frame after it");
        const std::string next = frame(FIN | 0x1, "next", kMask);
        Decoder d(max);
        d.feed(bytes + next.substr(0, 3));
        Result r;
        drain(d, r);
        check_same(whole, r);
        CHECK(d.buffered() == 3);
        d.feed(next.substr(3));
        drain(d, r);
        REQUIRE(r.messages.size() == whole.messages.size() + 1);
        CHECK(r.messages.back().payload == "next");
    }
    return whole;
}

// One message of the given opcode and payload, decoded three ways.
void check_one_message(const std::string& bytes, Opcode op, const std::string& payload) {
    const Result r = decode_three_ways(bytes);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.messages.size() == 1);
    CHECK(r.messages[0].opcode == op);
    CHECK(r.messages[0].payload == payload);
}

// The error `bytes` fail with, the same whole and byte by byte.
Error error_of(const std::string& bytes, std::size_t max = 1 << 20) {
    const Result r = decode_three_ways(bytes, max);
    REQUIRE(r.error.has_value());
    return *r.error;
}

}  // namespace

TEST_CASE("an unmasked text frame decodes (socket.io 0.9 accepts them)", "[ws]") {
    check_one_message(frame(FIN | 0x1, "1::", kMask), Opcode::text, "1::");
    check_one_message(frame(FIN | 0x1, "", kMask), Opcode::text, "");
}

TEST_CASE("a masked text frame is unmasked", "[ws]") {
    check_one_message(frame(FIN | 0x1, "5:::{\"name\":\"echo\"}", kMask), Opcode::text, "5:::{\"name\":\"echo\"}");
    check_one_message(frame(FIN | 0x1, "\xC3\xA9\xF0\x9F\x98\x80", kMask), Opcode::text, "\xC3\xA9\xF0\x9F\x98\x80");
    check_one_message(frame(FIN | 0x2, std::string("\x00\xFF\x80", 3), kMask), Opcode::binary,
                      std::string("\x00\xFF\x80", 3));
}

TEST_CASE("16-bit and 64-bit payload lengths", "[ws]") {
    SECTION("126 bytes, the smallest 16-bit length") {
        const std::string p(126, 'a');
        check_one_message(frame(FIN | 0x1, p, kMask), Opcode::text, p);
    }
    SECTION("65535 bytes, the largest 16-bit length") {
        const std::string p(65535, 'b');
        check_one_message(frame(FIN | 0x1, p, kMask), Opcode::text, p);
    }
    SECTION("65536 bytes, 64-bit length") {
        const std::string p(65536, 'c');
        check_one_message(frame(FIN | 0x1, p, kMask), Opcode::text, p);
    }
    SECTION("a short payload in the long forms is accepted too") {
        check_one_message(frame(FIN | 0x1, "hi", kMask, 126), Opcode::text, "hi");
        check_one_message(frame(FIN | 0x1, "hi", kMask, 127), Opcode::text, "hi");
    }
}

TEST_CASE("make_header picks the length form by size", "[ws]") {
    auto bytes = [](const Header& h) {
        return std::vector<std::uint8_t>(h.bytes.begin(), h.bytes.begin() + h.size);
    };
    using V = std::vector<std::uint8_t>;
    CHECK(bytes(make_header(Opcode::text, 0)) == V{0x81, 0x00});
    CHECK(bytes(make_header(Opcode::text, 125)) == V{0x81, 125});
    CHECK(bytes(make_header(Opcode::text, 126)) == V{0x81, 126, 0x00, 126});
    CHECK(bytes(make_header(Opcode::binary, 65535)) == V{0x82, 126, 0xFF, 0xFF});
    // socket.io 0.9.19 wrote 65536 as `81 7e 00 00`; the 64-bit form is correct.
    CHECK(bytes(make_header(Opcode::text, 65536)) == V{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0});
    CHECK(bytes(make_header(Opcode::text, 65537)) == V{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 1});
    CHECK(bytes(make_header(Opcode::pong, 2, kMask)) == V{0x8A, 0x82, 0x37, 0xfa, 0x21, 0x3d});
    CHECK(bytes(make_header(Opcode::text, 300, kMask)) == V{0x81, 0xFE, 0x01, 0x2C, 0x37, 0xfa, 0x21, 0x3d});
    CHECK(make_header(Opcode::text, 65536).view().size() == 10);
}

TEST_CASE("encode_message output decodes back", "[ws]") {
    for (std::size_t n : {0u, 5u, 125u, 126u, 65535u, 65536u, 70000u}) {
        INFO("payload size " << n);
        const std::string p(n, 'x');
        check_one_message(encode_message(Opcode::text, p, kMask), Opcode::text, p);
        Decoder client(1 << 20, From::server);  // a server's frames are not masked
        client.feed(encode_message(Opcode::text, p));
        const auto m = client.next();
        REQUIRE(m.has_value());
        REQUIRE(m->has_value());
        CHECK((*m)->payload == p);
    }
    CHECK(encode_message(Opcode::text, "1::") == "\x81\x03" "1::");
    CHECK(encode_message(Opcode::text, "hi", kMask) == frame(FIN | 0x1, "hi", kMask));
}

TEST_CASE("apply_mask with an offset continues the mask", "[ws]") {
    const std::string plain = "Hello, mask";
    std::string whole = plain;
    apply_mask(whole, kMask);
    std::string a = plain.substr(0, 5), b = plain.substr(5);
    apply_mask(a, kMask);
    apply_mask(b, kMask, 5);
    CHECK(a + b == whole);
    apply_mask(whole, kMask);
    CHECK(whole == plain);
}

TEST_CASE("a fragmented message is reassembled around an interleaved ping", "[ws]") {
    const std::string bytes = frame(0x1, "Hel", kMask) + frame(FIN | 0x9, "x", kMask) +
                              frame(0x0, "lo ", kMask) + frame(FIN | 0x0, "world", kMask);
    const Result r = decode_three_ways(bytes);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.messages.size() == 2);
    CHECK(r.messages[0].opcode == Opcode::ping);
    CHECK(r.messages[0].payload == "x");
    CHECK(r.messages[1].opcode == Opcode::text);
    CHECK(r.messages[1].payload == "Hello world");
}

TEST_CASE("a character split across fragments is valid UTF-8", "[ws]") {
    check_one_message(frame(0x1, "\xC3", kMask) + frame(FIN | 0x0, "\xA9", kMask), Opcode::text, "\xC3\xA9");
}

TEST_CASE("control frames: empty masked ping, pong, close", "[ws]") {
    check_one_message(frame(FIN | 0x9, "", kMask), Opcode::ping, "");  // 0.9.19 desynced here (P38)
    check_one_message(frame(FIN | 0xA, "hi", kMask), Opcode::pong, "hi");
    check_one_message(frame(FIN | 0x8, close_payload(1000, "bye"), kMask), Opcode::close, "\x03\xE8" "bye");
    check_one_message(frame(FIN | 0x9, std::string(125, 'p'), kMask), Opcode::ping, std::string(125, 'p'));
}

TEST_CASE("close_payload is the code then at most 123 reason bytes", "[ws]") {
    CHECK(close_payload(1000) == "\x03\xE8");
    CHECK(close_payload(1009, "too big") == "\x03\xF1" "too big");
    CHECK(close_payload(1002, std::string(200, 'r')).size() == 125);
}

TEST_CASE("a declared length over the limit fails before the payload arrives", "[ws]") {
    SECTION("16-bit length") {
        Decoder d(100);
        d.feed(frame(FIN | 0x1, "", kMask, 126, 1000).substr(0, 4));  // the header only
        const auto r = d.next();
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == Error::too_big);
    }
    SECTION("64-bit length, no mask key yet") {
        Decoder d(1 << 20);
        d.feed(frame(FIN | 0x2, "", kMask, 127, std::uint64_t{1} << 40).substr(0, 10));
        const auto r = d.next();
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == Error::too_big);
    }
    SECTION("the largest 64-bit length") {
        CHECK(error_of(frame(FIN | 0x1, "", kMask, 127, ~std::uint64_t{0})) == Error::too_big);
    }
    SECTION("exactly the limit is fine, one more is not") {
        check_one_message(frame(FIN | 0x1, std::string(100, 'a'), kMask), Opcode::text, std::string(100, 'a'));
        CHECK(decode_whole(frame(FIN | 0x1, std::string(100, 'a'), kMask), 100).messages.size() == 1);
        CHECK(error_of(frame(FIN | 0x1, std::string(101, 'a'), kMask), 100) == Error::too_big);
    }
    SECTION("fragments that add up to more than the limit") {
        CHECK(error_of(frame(0x1, std::string(60, 'a'), kMask) + frame(FIN | 0x0, std::string(60, 'b'), kMask),
                       100) == Error::too_big);
    }
}

TEST_CASE("protocol errors", "[ws]") {
    CHECK(error_of(frame(FIN | 0x40 | 0x1, "x", kMask)) == Error::protocol_error);  // RSV1
    CHECK(error_of(frame(FIN | 0x20 | 0x1, "x", kMask)) == Error::protocol_error);  // RSV2
    CHECK(error_of(frame(FIN | 0x10 | 0x1, "x", kMask)) == Error::protocol_error);  // RSV3
    CHECK(error_of(frame(FIN | 0x3, "x", kMask)) == Error::protocol_error);         // reserved data opcode
    CHECK(error_of(frame(FIN | 0xB, "x", kMask)) == Error::protocol_error);         // reserved control opcode
    CHECK(error_of(frame(FIN | 0x9, std::string(126, 'p'), kMask)) == Error::protocol_error);  // control > 125
    CHECK(error_of(frame(0x9, "p", kMask)) == Error::protocol_error);               // fragmented control
    CHECK(error_of(frame(FIN | 0x0, "x", kMask)) == Error::protocol_error);         // continuation, no start
    CHECK(error_of(frame(0x0, "x", kMask)) == Error::protocol_error);
    CHECK(error_of(frame(0x1, "a", kMask) + frame(FIN | 0x1, "b", kMask)) == Error::protocol_error);  // no continuation
}

TEST_CASE("a client's frames must be masked, a server's must not be (RFC 6455 5.1)", "[ws]") {
    CHECK(error_of(frame(FIN | 0x1, "1::")) == Error::protocol_error);
    CHECK(error_of(frame(FIN | 0x9, "ping")) == Error::protocol_error);
    CHECK(error_of(frame(0x1, "a", kMask) + frame(FIN | 0x0, "b")) == Error::protocol_error);  // one unmasked fragment
    SECTION("a client reading a server") {
        Decoder d(1 << 20, From::server);
        d.feed(frame(FIN | 0x1, "1::"));
        const auto ok = d.next();
        REQUIRE(ok.has_value());
        REQUIRE(ok->has_value());
        CHECK((*ok)->payload == "1::");
        d.feed(frame(FIN | 0x1, "1::", kMask));
        const auto masked = d.next();
        REQUIRE_FALSE(masked.has_value());
        CHECK(masked.error() == Error::protocol_error);
    }
}

TEST_CASE("a close frame carries nothing, or a code a peer may send and a UTF-8 reason (RFC 6455 7.4)", "[ws]") {
    check_one_message(frame(FIN | 0x8, "", kMask), Opcode::close, "");
    for (int c : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999}) {
        const auto code = static_cast<std::uint16_t>(c);
        check_one_message(frame(FIN | 0x8, close_payload(code, "why"), kMask), Opcode::close, close_payload(code, "why"));
    }
    CHECK(error_of(frame(FIN | 0x8, "\x03", kMask)) == Error::protocol_error);  // one byte: half a code
    for (int c : {0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535}) {
        const auto code = static_cast<std::uint16_t>(c);
        INFO("code " << code);
        CHECK(error_of(frame(FIN | 0x8, close_payload(code), kMask)) == Error::protocol_error);
    }
    CHECK(error_of(frame(FIN | 0x8, close_payload(1000) + "\xFF", kMask)) == Error::bad_data);
}

TEST_CASE("a text message that is not UTF-8 fails with bad_data", "[ws]") {
    CHECK(error_of(frame(FIN | 0x1, "\xFF", kMask)) == Error::bad_data);
    CHECK(error_of(frame(FIN | 0x1, "\xED\xA0\x80", kMask)) == Error::bad_data);  // a surrogate
    CHECK(error_of(frame(0x1, "ok", kMask) + frame(FIN | 0x0, "\xC3", kMask)) == Error::bad_data);
    // Binary messages carry any bytes.
    check_one_message(frame(FIN | 0x2, "\xFF", kMask), Opcode::binary, "\xFF");
}

TEST_CASE("a failed decoder stays failed", "[ws]") {
    Decoder d(1 << 20);
    d.feed(frame(FIN | 0x40 | 0x1, "x", kMask));
    REQUIRE_FALSE(d.next().has_value());
    d.feed(frame(FIN | 0x1, "fine", kMask));
    const auto r = d.next();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == Error::protocol_error);
}

TEST_CASE("several frames in one read all come out, in order", "[ws]") {
    std::string bytes;
    for (int i = 0; i < 50; ++i) bytes += frame(FIN | 0x1, "m" + std::to_string(i), kMask);
    const Result r = decode_three_ways(bytes);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.messages.size() == 50);
    for (int i = 0; i < 50; ++i) CHECK(r.messages[static_cast<std::size_t>(i)].payload == "m" + std::to_string(i));
}

TEST_CASE("base64url known vectors (session ids, token parts)", "[util]") {
    CHECK(compeit::util::base64url_encode("\xFB\xFF\xBF") == "-_-_");
    CHECK(compeit::util::base64url_encode("f") == "Zg");
    CHECK(compeit::util::base64url_encode("fo") == "Zm8");
    CHECK(compeit::util::base64url_encode(std::string(15, '\0')).size() == 20);  // a session id
}
