// base64url (RFC 4648 §5) without padding: socket.io 0.9.19's session ids and
// the parts of a JWS access token. A pure codec, in the core because the
// engine and the token parser need it on both builds (native and WASM).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace compeit::util {

std::string base64url_encode(std::string_view bytes);

// nullopt for any character outside the alphabet (padding included), or a
// length no encoding has, or leftover bits that are not zero (one text per
// byte string).
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace compeit::util
