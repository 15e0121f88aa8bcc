// The opening handshake's Sec-WebSocket-Accept (RFC 6455 4.2.2), made with
// OpenSSL's SHA-1 and base64 in native/src/ws_accept (the native build only:
// the WASM client never answers a handshake).
#include <catch2/catch.hpp>

#include <string>

#include "ws_accept.hpp"

using namespace compeit::ws;

TEST_CASE("accept_key of RFC 6455's example", "[ws][handshake]") {
    CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("accept_key of other keys (values from Node's crypto, as tests/node/lib/raw.mjs checks them)", "[ws][handshake]") {
    CHECK(accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    CHECK(accept_key("") == "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
}

TEST_CASE("base64 known vectors (RFC 4648)", "[ws][handshake]") {
    CHECK(base64_encode("").empty());
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("foob") == "Zm9vYg==");
    CHECK(base64_encode("fooba") == "Zm9vYmE=");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    CHECK(base64_encode("\xFB\xFF\xBF") == "+/+/");
}
