#include "secrets.hpp"

#include "compeit/util/utf.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace compeit::native {
namespace {
std::array<unsigned char, SHA256_DIGEST_LENGTH> sha256(std::string_view s) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> d{};
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
    return d;
}
}  // namespace

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
        std::fputs("compeit-server: the system's random generator failed\n", stderr);
        std::abort();
    }
    return out;
}

bool secrets_equal(std::string_view a, std::string_view b) {
    const auto da = sha256(a), db = sha256(b);
    return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

std::optional<std::string_view> bearer_credentials(std::string_view authorization) {
    constexpr std::string_view scheme = "bearer ";
    if (authorization.size() <= scheme.size() || !utf::ascii_iequals(authorization.substr(0, scheme.size()), scheme))
        return std::nullopt;
    return authorization.substr(scheme.size());
}

std::string sid_tag(std::string_view sid) {
    static constexpr char hex[] = "0123456789abcdef";
    const auto d = sha256(sid);
    std::string out;
    for (std::size_t i = 0; i < 4; ++i) {
        out += hex[d[i] >> 4];
        out += hex[d[i] & 0xF];
    }
    return out;
}

}  // namespace compeit::native
