// --trusted-proxy: the load balancers (haproxy, a reverse proxy) whose
// X-Forwarded-For the server believes. A request that comes from one of them
// speaks for the client the header names; from anyone else the header is
// ignored (a client could write any address in it). The client address is
// what per-address limits, the sid's address binding and the logs use.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace compeit::native {

class TrustedProxies {
public:
    // An address ("10.0.0.5", "::1") or a network ("10.0.0.0/8",
    // "fd00::/8"); nullopt when `spec` is neither.
    struct Network {
        boost::asio::ip::address address;
        unsigned prefix = 0;  // bits that must match
    };
    static std::optional<Network> parse(std::string_view spec);

    explicit TrustedProxies(const std::vector<std::string>& specs = {});
    bool empty() const { return networks_.empty(); }
    bool trusts(const boost::asio::ip::address& peer) const;

    // The client's address for a request from `peer` carrying
    // `forwarded_for` (X-Forwarded-For, comma-separated, the nearest hop
    // last): the rightmost entry that is not itself a trusted proxy, when
    // `peer` is trusted and that entry is an IP address; otherwise `peer`.
    // At most kMaxHops entries are looked at.
    static constexpr std::size_t kMaxHops = 16;
    std::string client(const boost::asio::ip::address& peer, std::string_view forwarded_for) const;

private:
    std::vector<Network> networks_;
};

}  // namespace compeit::native
