#include "token_verifier.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstdio>

namespace compeit::native {
namespace {

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

bool digest_verify(EVP_PKEY* key, std::string_view input, const unsigned char* sig, std::size_t sig_len) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) return false;
    return EVP_DigestVerify(ctx.get(), sig, sig_len, reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1;
}

// JWS's ES256 signature is r || s (32 bytes each); OpenSSL verifies DER.
std::string es256_to_der(std::string_view raw) {
    if (raw.size() != 64) return {};
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return {};
    }
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &der);
    if (len <= 0) return {};
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

}  // namespace

std::string hs256_signature(std::string_view secret, std::string_view input) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
}

Expected<TokenVerifier, std::string> TokenVerifier::make(std::string secret, const std::string& public_key_file) {
    TokenVerifier v;
    if (!secret.empty() && secret.size() < 32)
        return unexpected(std::string("--auth-secret must be at least 32 bytes (HS256 needs a key as long as its hash)"));
    v.secret_ = std::move(secret);
    if (public_key_file.empty()) return v;
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(public_key_file.c_str(), "r"));
    if (!f) return unexpected("cannot read --auth-public-key " + public_key_file);
    EVP_PKEY* key = PEM_read_PUBKEY(f.get(), nullptr, nullptr, nullptr);
    if (!key) return unexpected("--auth-public-key " + public_key_file + " is not a PEM public key");
    v.key_.reset(key, EVP_PKEY_free);
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        if (EVP_PKEY_get_bits(key) < 2048) return unexpected(std::string("--auth-public-key: RSA keys need 2048 bits or more"));
        v.key_alg_ = auth::Algorithm::rs256;
    } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        char group[64] = {};
        if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr) != 1 ||
            std::string_view(group) != "prime256v1")
            return unexpected(std::string("--auth-public-key: EC keys must be on P-256 (ES256)"));
        v.key_alg_ = auth::Algorithm::es256;
    } else {
        return unexpected(std::string("--auth-public-key: an EC P-256 or RSA key is needed"));
    }
    return v;
}

std::string TokenVerifier::describe() const {
    std::string out;
    if (!secret_.empty()) out = "HS256";
    if (key_) out += std::string(out.empty() ? "" : " and ") + std::string(auth::to_string(key_alg_));
    return out;
}

bool TokenVerifier::signature_ok(const auth::Token& t) const {
    if (t.alg == auth::Algorithm::hs256) {
        if (secret_.empty()) return false;
        const std::string mac = hs256_signature(secret_, t.signing_input);
        return t.signature.size() == mac.size() && CRYPTO_memcmp(mac.data(), t.signature.data(), mac.size()) == 0;
    }
    if (!key_ || t.alg != key_alg_) return false;
    if (t.alg == auth::Algorithm::es256) {
        const std::string der = es256_to_der(t.signature);
        return !der.empty() &&
               digest_verify(key_.get(), t.signing_input, reinterpret_cast<const unsigned char*>(der.data()), der.size());
    }
    return digest_verify(key_.get(), t.signing_input, reinterpret_cast<const unsigned char*>(t.signature.data()),
                         t.signature.size());
}

Expected<auth::Claims, std::string> TokenVerifier::verify(std::string_view text, std::int64_t now) const {
    auto token = auth::parse_token(text);
    if (!token) return unexpected(token.error());
    if (!signature_ok(*token))
        return unexpected("bad signature or no key for " + std::string(auth::to_string(token->alg)));
    if (auto fresh = auth::check_time(token->claims, now, kClockSkew); !fresh) return unexpected(fresh.error());
    return std::move(token->claims);
}

}  // namespace compeit::native
