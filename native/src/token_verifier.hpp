// Verifies access tokens (docs/protocol.md, section 5) with OpenSSL: HS256
// with a shared secret, ES256 (P-256) or RS256 (RSA, 2048 bits or more) with
// a public key. The key decides the algorithm: a token whose `alg` does not
// match a configured key is refused (no algorithm confusion, no "none").
// The token's form and claims are read by the core (auth::parse_token).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "compeit/auth/token.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace compeit::native {

class TokenVerifier {
public:
    static constexpr std::int64_t kClockSkew = 30;  // seconds allowed either way for exp and nbf

    // Neither: open mode. `public_key_file`: a PEM public key (EC P-256 or RSA).
    static Expected<TokenVerifier, std::string> make(std::string secret, const std::string& public_key_file);
    TokenVerifier() = default;

    bool enabled() const { return !secret_.empty() || key_ != nullptr; }
    // The claims of a token that is well-formed, signed by a configured key
    // and valid at `now` (seconds since the epoch); otherwise why not (for
    // the log, never containing the token).
    Expected<auth::Claims, std::string> verify(std::string_view token, std::int64_t now) const;
    // What the configuration accepts, for the start-up log.
    std::string describe() const;

private:
    std::string secret_;
    std::shared_ptr<EVP_PKEY> key_;
    auth::Algorithm key_alg_ = auth::Algorithm::es256;

    bool signature_ok(const auth::Token& t) const;
};

// HMAC-SHA256 of `input` under `secret` (HS256's signature), for minting tokens.
std::string hs256_signature(std::string_view secret, std::string_view input);

}  // namespace compeit::native
