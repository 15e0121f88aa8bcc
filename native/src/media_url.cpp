#include "media_url.hpp"

namespace compeit::native {

MediaUrl parse_media_url(const std::string& url) {
    MediaUrl u;
    std::string rest;
    if (url.rfind("ws://", 0) == 0) {
        rest = url.substr(5);
    } else if (url.rfind("wss://", 0) == 0) {
        rest = url.substr(6);
        u.tls = true;
    } else {
        return u.error = "only ws:// and wss:// URLs are supported", u;
    }
    const auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    u.path = slash == std::string::npos ? "/" : rest.substr(slash);
    u.port = u.tls ? "443" : "80";
    if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
        const auto close = authority.find(']');
        if (close == std::string::npos) return u.error = "bad IPv6 address", u;
        u.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = authority.substr(close + 2);
    } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
    } else {
        u.host = authority;
    }
    if (u.host.empty()) return u.error = "no host", u;
    if (u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos) return u.error = "bad port", u;
    return u;
}

}  // namespace compeit::native
