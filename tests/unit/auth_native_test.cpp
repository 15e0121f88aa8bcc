// The native half of identity and access (native only: OpenSSL): the
// TokenVerifier with HS256, ES256 and RS256 keys made here by OpenSSL, the
// algorithm-confusion attacks, and the OriginPolicy (--allowed-origin).
#include <catch2/catch.hpp>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "compeit/auth/token.hpp"
#include "compeit/util/base64url.hpp"
#include "origin_policy.hpp"
#include "token_verifier.hpp"

using namespace compeit;
using native::OriginPolicy;
using native::TokenVerifier;

namespace {

constexpr std::int64_t kNow = 1700000000;
const std::string kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

Key ec_key(const char* curve = "P-256") { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve), EVP_PKEY_free); }
Key rsa_key(std::size_t bits) { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits), EVP_PKEY_free); }

std::string public_pem(EVP_PKEY* key) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    REQUIRE(PEM_write_bio_PUBKEY(bio.get(), key) == 1);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

// A file removed when the test ends.
struct TempFile {
    std::string path;
    explicit TempFile(const std::string& text) {
        char name[] = "/tmp/compeit-auth-test-XXXXXX";
        const int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        ::close(fd);
        path = name;
        std::ofstream(path, std::ios::binary) << text;
    }
    ~TempFile() { std::remove(path.c_str()); }
};

// The signature OpenSSL makes (DER for EC), SHA-256.
std::string digest_sign(EVP_PKEY* key, const std::string& input) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1);
    std::size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(input.data());
    REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) == 1);
    std::string sig(len, '\0');
    REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()) == 1);
    sig.resize(len);
    return sig;
}

// JWS ES256: r || s, 32 bytes each.
std::string es256_sign(EVP_PKEY* key, const std::string& input) {
    const std::string der = digest_sign(key, input);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())),
                                                               ECDSA_SIG_free);
    REQUIRE(sig);
    std::string raw(64, '\0');
    REQUIRE(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), reinterpret_cast<unsigned char*>(raw.data()), 32) == 32);
    REQUIRE(BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32) == 32);
    return raw;
}

auth::Claims claims(std::int64_t exp = kNow + 3600) {
    auth::Claims c;
    c.sub = "u1";
    c.name = "Ada";
    c.rooms = {7};
    c.exp = exp;
    c.caps = ca::Capabilities::none();
    c.caps.publish = true;
    return c;
}

std::string hs256(const std::string& secret, const auth::Claims& c = claims()) {
    return auth::make_token(auth::Algorithm::hs256, c, [&](const std::string& in) { return native::hs256_signature(secret, in); });
}
std::string es256(EVP_PKEY* key, const auth::Claims& c = claims()) {
    return auth::make_token(auth::Algorithm::es256, c, [&](const std::string& in) { return es256_sign(key, in); });
}
std::string rs256(EVP_PKEY* key, const auth::Claims& c = claims()) {
    return auth::make_token(auth::Algorithm::rs256, c, [&](const std::string& in) { return digest_sign(key, in); });
}

// The token with its signature replaced by `f(signature bytes)`.
template <class F>
std::string resign(const std::string& token, F f) {
    const auto dot = token.rfind('.');
    const auto sig = util::base64url_decode(token.substr(dot + 1));
    REQUIRE(sig);
    return token.substr(0, dot + 1) + util::base64url_encode(f(*sig));
}

TokenVerifier make(const std::string& secret, const std::string& key_file = {}) {
    auto v = TokenVerifier::make(secret, key_file);
    INFO((v ? std::string() : v.error()));
    REQUIRE(v);
    return std::move(*v);
}

bool has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// verify()'s refusal, or "ACCEPTED"; the refusal must never quote the token.
std::string refusal(const TokenVerifier& v, const std::string& token, std::int64_t now = kNow) {
    auto r = v.verify(token, now);
    if (r) return "ACCEPTED";
    for (std::size_t start = 0, dot = 0; dot != std::string::npos; start = dot + 1) {
        dot = token.find('.', start);
        const std::string seg = token.substr(start, dot == std::string::npos ? dot : dot - start);
        if (seg.size() >= 8) CHECK_FALSE(has(r.error(), seg));
    }
    return r.error();
}

}  // namespace

TEST_CASE("TokenVerifier::make: open mode, secret length, public key files", "[auth][native]") {
    CHECK_FALSE(make("").enabled());
    CHECK(make(kSecret).enabled());
    CHECK(make(kSecret).describe() == "HS256");
    for (const std::string& short_secret : {std::string("x"), kSecret.substr(0, 31)}) {
        auto v = TokenVerifier::make(short_secret, "");
        REQUIRE_FALSE(v);
        CHECK(has(v.error(), "at least 32 bytes"));
    }
    CHECK_FALSE(TokenVerifier::make("", "/nonexistent/compeit-key.pem"));
    TempFile not_pem("this is not a key\n");
    CHECK_FALSE(TokenVerifier::make("", not_pem.path));

    auto p384 = ec_key("P-384");
    REQUIRE(p384);
    TempFile p384_file(public_pem(p384.get()));
    auto v384 = TokenVerifier::make("", p384_file.path);
    REQUIRE_FALSE(v384);
    CHECK(has(v384.error(), "P-256"));

    auto rsa1024 = rsa_key(1024);
    REQUIRE(rsa1024);
    TempFile rsa1024_file(public_pem(rsa1024.get()));
    auto v1024 = TokenVerifier::make("", rsa1024_file.path);
    REQUIRE_FALSE(v1024);
    CHECK(has(v1024.error(), "2048"));

    Key ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
    REQUIRE(ed);
    TempFile ed_file(public_pem(ed.get()));
    CHECK_FALSE(TokenVerifier::make("", ed_file.path));

    // a private key where a public key belongs is not read as one
    auto ec = ec_key();
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    REQUIRE(PEM_write_bio_PrivateKey(bio.get(), ec.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    TempFile private_file(std::string(data, static_cast<std::size_t>(len)));
    CHECK_FALSE(TokenVerifier::make("", private_file.path));

    TempFile ec_file(public_pem(ec.get()));
    CHECK(make("", ec_file.path).describe() == "ES256");
    CHECK(make(kSecret, ec_file.path).describe() == "HS256 and ES256");
}

TEST_CASE("HS256: the right secret's token is taken; forged, altered and truncated ones are not", "[auth][native]") {
    const TokenVerifier v = make(kSecret);
    const std::string good = hs256(kSecret);
    auto ok = v.verify(good, kNow);
    REQUIRE(ok);
    CHECK(ok->sub == "u1");
    CHECK(ok->name == std::optional<std::string>("Ada"));
    CHECK(ok->rooms == std::set<ca::RoomId>{7});
    CHECK(ok->caps.publish);
    CHECK_FALSE(ok->caps.record);

    CHECK(has(refusal(v, hs256(kSecret + "x")), "bad signature"));
    CHECK(has(refusal(v, hs256("1123456789abcdef0123456789abcdef")), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { s[0] ^= 1; return s; })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { s[31] = static_cast<char>(s[31] ^ 0x40); return s; })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { return s.substr(0, 31); })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { return s.substr(0, 1); })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { return s + "x"; })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](const std::string&) { return std::string(32, '\0'); })), "bad signature"));
    // the text cut short: refused, whatever the reason
    for (std::size_t cut : {1, 2, 3, 10, 43, 44})
        CHECK(refusal(v, good.substr(0, good.size() - cut)) != "ACCEPTED");
    CHECK(refusal(v, good.substr(0, good.rfind('.'))) != "ACCEPTED");
    // other claims under the old signature
    auth::Claims more = claims();
    more.all_rooms = true;
    const std::string other = hs256("another secret of at least 32 bytes");
    const std::string swapped = auth::encode_unsigned(auth::Algorithm::hs256, more) + good.substr(good.rfind('.'));
    CHECK(has(refusal(v, swapped), "bad signature"));
    CHECK(refusal(v, other) != "ACCEPTED");
    // alg none, with or without a signature
    const std::string payload = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
    CHECK(has(refusal(v, util::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + payload + "."), "none"));
    CHECK(has(refusal(v, util::base64url_encode(R"({"alg":"none"})") + "." + payload + good.substr(good.rfind('.'))),
              "none"));
    // a bad claim is refused before any signature is computed, with its own reason
    auth::Claims no_sub = claims();
    no_sub.sub.clear();
    CHECK(has(refusal(v, hs256(kSecret, no_sub)), "sub"));
}

TEST_CASE("HS256: exp and nbf with 30 s of clock skew", "[auth][native]") {
    const TokenVerifier v = make(kSecret);
    REQUIRE(TokenVerifier::kClockSkew == 30);
    CHECK(refusal(v, hs256(kSecret, claims(kNow - 29))) == "ACCEPTED");
    CHECK(refusal(v, hs256(kSecret, claims(kNow - 30))) == "expired");
    CHECK(refusal(v, hs256(kSecret, claims(kNow - 86400))) == "expired");
    CHECK(refusal(v, hs256(kSecret, claims(kNow + 3600)), kNow + 3600 + 30) == "expired");
    auth::Claims later = claims();
    later.nbf = kNow + 30;
    CHECK(refusal(v, hs256(kSecret, later)) == "ACCEPTED");
    later.nbf = kNow + 31;
    CHECK(refusal(v, hs256(kSecret, later)) == "not valid yet");
    CHECK(refusal(v, hs256(kSecret, later), kNow + 1) == "ACCEPTED");
    // a forged expired token is refused for its signature (either reason refuses it)
    CHECK(refusal(v, hs256(kSecret + "!", claims(kNow - 100))) != "ACCEPTED");
}

TEST_CASE("ES256 with a P-256 public key", "[auth][native]") {
    auto key = ec_key();
    auto other = ec_key();
    REQUIRE(key);
    REQUIRE(other);
    TempFile pem(public_pem(key.get()));
    const TokenVerifier v = make("", pem.path);
    const std::string good = es256(key.get());
    REQUIRE(refusal(v, good) == "ACCEPTED");
    CHECK(v.verify(good, kNow)->sub == "u1");

    CHECK(has(refusal(v, es256(other.get())), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { s[63] ^= 1; return s; })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { s[0] ^= 1; return s; })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { return s.substr(0, 63); })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { return s + '\0'; })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](const std::string&) { return std::string(64, '\0'); })), "bad signature"));
    // r || s swapped
    CHECK(has(refusal(v, resign(good, [](const std::string& s) { return s.substr(32) + s.substr(0, 32); })), "bad signature"));
    // the DER form OpenSSL itself makes is not the JWS form
    const std::string der = auth::make_token(auth::Algorithm::es256, claims(), [&](const std::string& in) {
        return digest_sign(key.get(), in);
    });
    CHECK(has(refusal(v, der), "bad signature"));
    // with no secret configured, HS256 is refused whatever its key
    CHECK(has(refusal(v, hs256(kSecret)), "bad signature or no key for HS256"));
    CHECK(has(refusal(v, es256(key.get(), claims(kNow - 60))), "expired"));
}

TEST_CASE("RS256 with a 2048-bit RSA public key", "[auth][native]") {
    auto key = rsa_key(2048);
    auto other = rsa_key(2048);
    REQUIRE(key);
    REQUIRE(other);
    TempFile pem(public_pem(key.get()));
    const TokenVerifier v = make("", pem.path);
    CHECK(v.describe() == "RS256");
    const std::string good = rs256(key.get());
    REQUIRE(refusal(v, good) == "ACCEPTED");

    CHECK(has(refusal(v, rs256(other.get())), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { s[100] ^= 4; return s; })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { return s.substr(0, s.size() - 1); })), "bad signature"));
    CHECK(has(refusal(v, resign(good, [](std::string s) { return s.substr(1); })), "bad signature"));
    auth::Claims more = claims();
    more.caps.admin = true;
    const std::string altered = auth::encode_unsigned(auth::Algorithm::rs256, more) + good.substr(good.rfind('.'));
    CHECK(has(refusal(v, altered), "bad signature"));
}

TEST_CASE("algorithm confusion is refused: the key decides the algorithm", "[auth][native]") {
    auto ec = ec_key();
    auto rsa = rsa_key(2048);
    REQUIRE(ec);
    REQUIRE(rsa);
    const std::string ec_pem = public_pem(ec.get());
    const std::string rsa_pem = public_pem(rsa.get());
    TempFile ec_file(ec_pem);
    TempFile rsa_file(rsa_pem);
    const TokenVerifier es_server = make("", ec_file.path);
    const TokenVerifier rs_server = make("", rsa_file.path);

    // HS256 keyed with the server's public key text (the classic attack), with
    // and without its final newline, and with the key's DER bytes
    for (const std::string& secret : {ec_pem, ec_pem.substr(0, ec_pem.size() - 1)})
        CHECK(has(refusal(es_server, hs256(secret)), "bad signature or no key for HS256"));
    for (const std::string& secret : {rsa_pem, rsa_pem.substr(0, rsa_pem.size() - 1)})
        CHECK(has(refusal(rs_server, hs256(secret)), "bad signature or no key for HS256"));

    // a token of the other public-key algorithm, validly signed by its own key
    CHECK(has(refusal(rs_server, es256(ec.get())), "no key for ES256"));
    CHECK(has(refusal(es_server, rs256(rsa.get())), "no key for RS256"));
    // the right signature under the wrong header
    const std::string es_token = es256(ec.get());
    const std::string relabelled = auth::encode_unsigned(auth::Algorithm::rs256, claims()) + es_token.substr(es_token.rfind('.'));
    CHECK(refusal(es_server, relabelled) != "ACCEPTED");
    CHECK(refusal(rs_server, relabelled) != "ACCEPTED");

    // with a secret and a public key both configured, each algorithm keeps its own key
    const TokenVerifier both = make(kSecret, ec_file.path);
    CHECK(refusal(both, hs256(kSecret)) == "ACCEPTED");
    CHECK(refusal(both, es256(ec.get())) == "ACCEPTED");
    CHECK(refusal(both, hs256(ec_pem)) != "ACCEPTED");
    CHECK(refusal(both, rs256(rsa.get())) != "ACCEPTED");

    // an open-mode verifier is not enabled; it accepts nothing if asked anyway
    const TokenVerifier open = make("");
    CHECK(refusal(open, hs256(kSecret)) != "ACCEPTED");
    CHECK(refusal(open, es256(ec.get())) != "ACCEPTED");
}

// ---------------------------------------------------------------- origins

TEST_CASE("OriginPolicy::normalize: scheme://host[:port], lower case, default port and trailing slash dropped", "[origin][native]") {
    CHECK(OriginPolicy::normalize("http://a.example") == "http://a.example");
    CHECK(OriginPolicy::normalize("HTTPS://App.Example.COM") == "https://app.example.com");
    CHECK(OriginPolicy::normalize("http://a.example:80") == "http://a.example");
    CHECK(OriginPolicy::normalize("https://a.example:443") == "https://a.example");
    CHECK(OriginPolicy::normalize("https://a.example:443/") == "https://a.example");
    CHECK(OriginPolicy::normalize("http://a.example/") == "http://a.example");
    CHECK(OriginPolicy::normalize("http://a.example:443") == "http://a.example:443");  // not http's default
    CHECK(OriginPolicy::normalize("https://a.example:80") == "https://a.example:80");
    CHECK(OriginPolicy::normalize("http://a.example:8080") == "http://a.example:8080");
    CHECK(OriginPolicy::normalize("http://a.example:1180") == "http://a.example:1180");
    CHECK(OriginPolicy::normalize("https://a.example:4443") == "https://a.example:4443");
    CHECK(OriginPolicy::normalize("http://[::1]:80") == "http://[::1]");
    CHECK(OriginPolicy::normalize("http://[::1]:8080") == "http://[::1]:8080");
    for (const char* bad : {"", "null", "a.example", "a.example:80", "ftp://a.example", "file://", "http://",
                            "http:///", "http://a.example/path", "http://a.example?q", "http://a.example#f",
                            "http://user@a.example", "http://a .example", "chrome-extension://abc", "*"}) {
        INFO("origin " << bad);
        CHECK(OriginPolicy::normalize(bad).empty());
    }
}

TEST_CASE("OriginPolicy default: the server's own origins from bind and port", "[origin][native]") {
    const OriginPolicy p({}, "127.0.0.1", 8080, false);
    CHECK_FALSE(p.allows_any());
    for (const char* own : {"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080", "HTTP://LOCALHOST:8080",
                            "http://localhost:8080/"}) {
        INFO("origin " << own);
        CHECK(p.allows(own));
    }
    for (const char* other : {"http://localhost:8081", "https://localhost:8080", "http://localhost", "http://evil.example",
                              "http://127.0.0.2:8080", "http://0.0.0.0:8080", "http://localhost.evil.example:8080",
                              "null", "file://", "chrome-extension://abc", "http://localhost:8080/x"}) {
        INFO("origin " << other);
        CHECK_FALSE(p.allows(other));
    }
    // no Origin, or one no browser sends (the Node client sends "host:port"): not a page, allowed
    CHECK(p.allows(""));
    CHECK(p.allows("127.0.0.1:8080"));
    CHECK(p.allows("evil.example"));

    SECTION("the --bind address is one of them; a wildcard bind is not an origin") {
        const OriginPolicy lan({}, "10.1.2.3", 8080, false);
        CHECK(lan.allows("http://10.1.2.3:8080"));
        CHECK(lan.allows("http://localhost:8080"));
        const OriginPolicy any4({}, "0.0.0.0", 8080, false);
        CHECK_FALSE(any4.allows("http://0.0.0.0:8080"));
        CHECK(any4.allows("http://127.0.0.1:8080"));
        const OriginPolicy v6({}, "fe80::1", 8080, false);
        CHECK(v6.allows("http://[fe80::1]:8080"));
        const OriginPolicy any6({}, "::", 8080, false);
        CHECK_FALSE(any6.allows("http://[::]:8080"));
        CHECK(any6.allows("http://[::1]:8080"));
    }
    SECTION("port 80 and TLS") {
        const OriginPolicy p80({}, "127.0.0.1", 80, false);
        CHECK(p80.allows("http://localhost"));
        CHECK(p80.allows("http://localhost:80"));
        CHECK_FALSE(p80.allows("https://localhost"));
        const OriginPolicy tls({}, "127.0.0.1", 443, true);
        CHECK(tls.allows("https://localhost"));
        CHECK(tls.allows("https://127.0.0.1:443"));
        CHECK_FALSE(tls.allows("http://localhost"));
        CHECK_FALSE(tls.allows("http://localhost:443"));
    }
}

TEST_CASE("OriginPolicy with --allowed-origin: the listed ones besides the server's own, compared normalized; * is every one", "[origin][native]") {
    const OriginPolicy p({"https://App.Example.com:443/", "http://localhost:3000"}, "127.0.0.1", 8080, false);
    REQUIRE(p.origins().size() >= 2);
    CHECK(p.origins()[0] == "https://app.example.com");
    CHECK(p.origins()[1] == "http://localhost:3000");
    for (const char* ok : {"https://app.example.com", "HTTPS://APP.EXAMPLE.COM", "https://app.example.com:443",
                           "http://localhost:3000", "http://localhost:8080", "http://127.0.0.1:8080"}) {
        INFO("origin " << ok);
        CHECK(p.allows(ok));
    }
    for (const char* no : {"http://app.example.com", "https://app.example.com:8443", "https://sub.app.example.com",
                           "https://app.example.com.evil.example", "http://localhost:3001", "http://127.0.0.1:3000",
                           "http://evil.example", "null"}) {
        INFO("origin " << no);
        CHECK_FALSE(p.allows(no));
    }

    const OriginPolicy star({"*"}, "127.0.0.1", 8080, false);
    CHECK(star.allows_any());
    CHECK(star.allows("http://evil.example"));
    CHECK(star.allows("null"));
    CHECK(star.allows("http://localhost:8080"));
}

TEST_CASE("OriginPolicy: a server bound to every interface owns the origins of the machine's addresses", "[origin][native]") {
    const std::vector<std::string> interfaces{"192.0.2.7", "2001:db8::1"};
    const OriginPolicy all({}, "0.0.0.0", 8080, false, interfaces);
    CHECK(all.allows("http://192.0.2.7:8080"));
    CHECK(all.allows("http://[2001:db8::1]:8080"));
    CHECK_FALSE(all.allows("http://192.0.2.8:8080"));
    CHECK_FALSE(all.allows("http://192.0.2.7:8081"));
    const OriginPolicy one({}, "127.0.0.1", 8080, false, interfaces);
    CHECK_FALSE(one.allows("http://192.0.2.7:8080"));
}
