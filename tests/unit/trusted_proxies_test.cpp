// --trusted-proxy's parsing and the client address read from X-Forwarded-For
// (native/src/trusted_proxies.*): the header is outside input, written by
// whoever sent the request, and only the trusted proxies' part is believed.
#include <catch2/catch.hpp>

#include <string>

#include "trusted_proxies.hpp"

using compeit::native::TrustedProxies;
namespace ip = boost::asio::ip;

namespace {
ip::address addr(const char* s) { return ip::make_address(s); }
}  // namespace

TEST_CASE("trusted proxies: addresses and networks, and what is neither", "[proxy]") {
    for (const char* ok : {"10.0.0.5", "10.0.0.0/8", "0.0.0.0/0", "::1", "fd00::/8", "::/0", "192.168.1.0/24"})
        CHECK(TrustedProxies::parse(ok));
    for (const char* bad : {"", "10.0.0.5/", "10.0.0.5/33", "fd00::/129", "10.0.0/8", "host.example", "10.0.0.5/-1",
                            "10.0.0.5/8x", "/8", "10.0.0.5 ", "10.0.0.5/08/1"})
        CHECK_FALSE(TrustedProxies::parse(bad));
}

TEST_CASE("trusted proxies: who is trusted", "[proxy]") {
    const TrustedProxies p({"10.0.0.0/8", "192.168.1.7", "fd00::/8"});
    CHECK(p.trusts(addr("10.255.0.1")));
    CHECK(p.trusts(addr("192.168.1.7")));
    CHECK_FALSE(p.trusts(addr("192.168.1.8")));
    CHECK_FALSE(p.trusts(addr("11.0.0.1")));
    CHECK(p.trusts(addr("fd12::1")));
    CHECK_FALSE(p.trusts(addr("fe80::1")));
    CHECK(p.trusts(addr("::ffff:10.1.2.3")));  // a dual-stack listener's spelling of a v4 peer
    const TrustedProxies odd({"10.0.0.0/12"});
    CHECK(odd.trusts(addr("10.15.255.255")));
    CHECK_FALSE(odd.trusts(addr("10.16.0.0")));
    CHECK(TrustedProxies().empty());
}

TEST_CASE("trusted proxies: the client is the nearest hop no trusted proxy wrote", "[proxy]") {
    const TrustedProxies p({"127.0.0.1", "10.0.0.0/8"});
    const auto proxy = addr("127.0.0.1");
    CHECK(p.client(proxy, "203.0.113.9") == "203.0.113.9");
    CHECK(p.client(proxy, " 203.0.113.9 ") == "203.0.113.9");
    // The client wrote the first entries; the proxies appended theirs.
    CHECK(p.client(proxy, "1.1.1.1, 203.0.113.9") == "203.0.113.9");
    CHECK(p.client(proxy, "1.1.1.1,203.0.113.9, 10.0.0.4") == "203.0.113.9");  // through two of ours
    CHECK(p.client(proxy, "2001:db8::5") == "2001:db8::5");
    CHECK(p.client(proxy, "::ffff:203.0.113.9") == "203.0.113.9");
    // Everything ours: the farthest of them.
    CHECK(p.client(proxy, "10.0.0.9, 10.0.0.4") == "10.0.0.9");
    // Not an address where one is needed: the proxy, not whatever follows.
    CHECK(p.client(proxy, "203.0.113.9, unknown") == "127.0.0.1");
    CHECK(p.client(proxy, "1.1.1.1, 203.0.113.9:443") == "127.0.0.1");
    CHECK(p.client(proxy, "") == "127.0.0.1");
    CHECK(p.client(proxy, ",,,") == "127.0.0.1");
    CHECK(p.client(proxy, std::string(100'000, ',')) == "127.0.0.1");
    // A stranger's header is never read.
    CHECK(p.client(addr("198.51.100.2"), "203.0.113.9") == "198.51.100.2");
}

TEST_CASE("trusted proxies: at most kMaxHops entries are looked at", "[proxy]") {
    const TrustedProxies p({"10.0.0.0/8"});
    std::string chain = "203.0.113.9";
    for (std::size_t i = 0; i < TrustedProxies::kMaxHops; ++i) chain += ", 10.0.0." + std::to_string(i + 1);
    // kMaxHops trusted entries after the client: the walk stops at the farthest it read.
    CHECK(p.client(addr("10.0.0.99"), chain) == "10.0.0.1");
    std::string shorter = "203.0.113.9";
    for (std::size_t i = 0; i + 1 < TrustedProxies::kMaxHops; ++i) shorter += ", 10.0.0." + std::to_string(i + 1);
    CHECK(p.client(addr("10.0.0.99"), shorter) == "203.0.113.9");
}
