// The media-server URL parser of the native server (--kms-url, --janus-url).
#include <catch2/catch.hpp>

#include "media_url.hpp"

using compeit::native::parse_media_url;

TEST_CASE("media URLs: ws:// and wss://, ports, paths, IPv6", "[media_url]") {
    auto u = parse_media_url("ws://kms-host:8888/kurento");
    CHECK(u.error.empty());
    CHECK(u.host == "kms-host");
    CHECK(u.port == "8888");
    CHECK(u.path == "/kurento");
    CHECK_FALSE(u.tls);

    u = parse_media_url("wss://media.example.org/kurento");
    CHECK(u.error.empty());
    CHECK(u.tls);
    CHECK(u.port == "443");  // the scheme's default
    CHECK(u.path == "/kurento");

    u = parse_media_url("ws://127.0.0.1");
    CHECK(u.port == "80");
    CHECK(u.path == "/");

    u = parse_media_url("wss://[::1]:8189/janus");
    CHECK(u.error.empty());
    CHECK(u.host == "::1");
    CHECK(u.port == "8189");
}

TEST_CASE("media URLs: what is refused, and why", "[media_url]") {
    CHECK(parse_media_url("http://host:80/").error == "only ws:// and wss:// URLs are supported");
    CHECK(parse_media_url("ws:/host").error == "only ws:// and wss:// URLs are supported");
    CHECK(parse_media_url("ws://").error == "no host");
    CHECK(parse_media_url("ws://:8888/kurento").error == "no host");
    CHECK(parse_media_url("ws://host:/x").error == "bad port");
    CHECK(parse_media_url("ws://host:88a8/x").error == "bad port");
    CHECK(parse_media_url("wss://[::1/x").error == "bad IPv6 address");
}
