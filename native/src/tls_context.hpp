// TLS on the server's own listener (--tls-cert/--tls-key). A context holds
// the certificate chain and key and the protocol policy: TLS 1.2 at least
// (1.3 preferred, as OpenSSL negotiates the highest both sides speak), no
// compression, no renegotiation, and for TLS 1.2 only ECDHE (forward secret)
// AEAD cipher suites, in the server's order.
//
// Each connection keeps the shared_ptr of the context it was made with, so a
// reload (SIGHUP) makes a new context for new handshakes while the old one
// lives on as long as a connection made with it.
#pragma once

#include <memory>
#include <string>

#include "compeit/util/expected.hpp"

namespace boost::asio::ssl {
class context;
}

namespace compeit::native {

using TlsContext = std::shared_ptr<boost::asio::ssl::context>;

// Loads a PEM certificate chain and its PEM private key; the error names the
// file and OpenSSL's reason (missing file, not PEM, key does not match).
Expected<TlsContext, std::string> make_tls_context(const std::string& cert_file, const std::string& key_file);

// Subject and serial of the context's certificate, for the log.
std::string describe_certificate(boost::asio::ssl::context& context);

}  // namespace compeit::native
