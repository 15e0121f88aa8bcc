// The opening handshake's one computation (RFC 6455 §4.2.2) and the
// primitives it needs. Kept in the core so the server and the load generator
// agree on it without a crypto library.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace compeit::ws {

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string accept_key(std::string_view client_key);

std::array<std::uint8_t, 20> sha1(std::string_view data);
std::string base64_encode(std::string_view bytes);
// URL-safe alphabet without padding (socket.io 0.9.19's session ids).
std::string base64url_encode(std::string_view bytes);

}  // namespace compeit::ws
