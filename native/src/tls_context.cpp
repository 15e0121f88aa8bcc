#include "tls_context.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <filesystem>
#include <fstream>

namespace compeit::native {

namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL's reason for the last failure (its queue is cleared), or `fallback`.
std::string openssl_reason(const boost::system::error_code& ec) {
    std::string reason;
    while (const unsigned long e = ERR_get_error()) {
        if (const char* r = ERR_reason_error_string(e)) reason = r;
    }
    if (reason.empty() && ec) reason = ec.message();
    return reason.empty() ? "unknown error" : reason;
}

std::string unreadable(const std::string& file) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return "no such file";
    std::ifstream in(file);
    if (!in) return "cannot be read";
    return {};
}

// TLS 1.2 suites: ECDHE key exchange (forward secrecy) with AES-GCM or
// ChaCha20-Poly1305. TLS 1.3 suites are OpenSSL's defaults (all AEAD, all
// forward secret).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace

Expected<TlsContext, std::string> make_tls_context(const std::string& cert_file, const std::string& key_file) {
    ERR_clear_error();
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* h = ctx->native_handle();
    SSL_CTX_set_min_proto_version(h, TLS1_2_VERSION);
    SSL_CTX_set_options(h, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_ALL);
    if (SSL_CTX_set_cipher_list(h, kTls12Ciphers) != 1)
        return unexpected(std::string("TLS: cannot set the cipher list: ") + openssl_reason({}));

    boost::system::error_code ec;
    if (const auto why = unreadable(cert_file); !why.empty())
        return unexpected("TLS certificate " + cert_file + ": " + why);
    if (const auto why = unreadable(key_file); !why.empty())
        return unexpected("TLS key " + key_file + ": " + why);
    ctx->use_certificate_chain_file(cert_file, ec);
    if (ec) return unexpected("TLS certificate " + cert_file + ": " + openssl_reason(ec));
    ctx->use_private_key_file(key_file, ssl::context::pem, ec);  // checks that it matches the certificate
    if (ec) {
        const std::string reason = openssl_reason(ec);
        if (reason.find("mismatch") != std::string::npos)
            return unexpected("TLS key " + key_file + " does not match the certificate " + cert_file + " (" + reason + ")");
        return unexpected("TLS key " + key_file + ": " + reason);
    }
    if (SSL_CTX_check_private_key(h) != 1)
        return unexpected("TLS key " + key_file + " does not match the certificate " + cert_file + ": " +
                          openssl_reason({}));
    return ctx;
}

std::string describe_certificate(ssl::context& context) {
    X509* cert = SSL_CTX_get0_certificate(context.native_handle());
    if (!cert) return "no certificate";
    std::string out;
    if (char* subject = X509_NAME_oneline(X509_get_subject_name(cert), nullptr, 0)) {
        out = subject;
        OPENSSL_free(subject);
    }
    if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
        if (char* hex = BN_bn2hex(serial)) {
            out += ", serial ";
            out += hex;
            OPENSSL_free(hex);
        }
        BN_free(serial);
    }
    return out;
}

}  // namespace compeit::native
