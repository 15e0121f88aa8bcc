#include "ws_accept.hpp"

#include <openssl/evp.h>

namespace compeit::ws {

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // EVP_EncodeBlock writes a NUL
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string accept_key(std::string_view client_key) {
    std::string s(client_key);
    s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(s.data(), s.size(), digest, &size, EVP_sha1(), nullptr) != 1) return {};  // no handshake then
    return base64_encode({reinterpret_cast<const char*>(digest), size});
}

}  // namespace compeit::ws
