// Which web pages may talk to the server (--allowed-origin). A browser sends
// `Origin` with cross-origin requests and websocket upgrades; a request from
// a page whose origin is not allowed is refused before it reaches a session,
// and CORS headers are sent only to allowed origins. Requests without an
// Origin, or with one no browser sends (not scheme://host), come from
// non-browser clients: they are not a cross-site risk and pass. "null"
// (sandboxed frames, local files) is refused unless every origin is allowed.
//
// The server's own origins are always allowed, as configuration knows them
// (http://localhost:PORT, http://127.0.0.1:PORT, http://[::1]:PORT and the
// --bind address, or every interface address when bound to all), never as
// the Host header claims them: a DNS-rebinding
// page sends its own origin, which is then not on the list. A public name
// (https://chat.example.com) is listed with --allowed-origin.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace compeit::native {

class OriginPolicy {
public:
    // `allowed`: exact origins ("https://chat.example.com", "http://host:8080")
    // or "*", besides the server's own origins for `bind` and `port`.
    // `interfaces`: the machine's own addresses, taken as the server's when
    // it listens on all of them (--bind 0.0.0.0 or ::), so the web app
    // works when opened by the machine's LAN address.
    OriginPolicy(std::vector<std::string> allowed, const std::string& bind, std::uint16_t port, bool tls,
                 const std::vector<std::string>& interfaces = {});

    // True for a request with this Origin header ("" when absent).
    bool allows(std::string_view origin) const;
    bool allows_any() const { return any_; }
    const std::vector<std::string>& origins() const { return allowed_; }

    // "scheme://host[:port]" lower-cased, the default port dropped; "" when
    // `text` is not an origin.
    static std::string normalize(std::string_view text);

private:
    std::vector<std::string> allowed_;  // normalized
    bool any_ = false;
};

}  // namespace compeit::native
