// The websocket opening handshake's one computation (RFC 6455 §4.2.2), with
// OpenSSL's SHA-1 and base64. Native only: the browser does this itself, so
// the core and the WASM build need neither.
#pragma once

#include <string>
#include <string_view>

namespace compeit::ws {

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string accept_key(std::string_view client_key);

// RFC 4648 base64 with padding (a client's Sec-WebSocket-Key from 16 random bytes).
std::string base64_encode(std::string_view bytes);

}  // namespace compeit::ws
