#include "trusted_proxies.hpp"

#include <charconv>

namespace compeit::native {
namespace ip = boost::asio::ip;

namespace {

// v4-mapped v6 (::ffff:10.0.0.5, from a dual-stack listener) as plain v4,
// so one spelling of an address matches one network.
ip::address plain(const ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
    return a;
}

std::optional<ip::address> address_of(std::string_view text) {
    boost::system::error_code ec;
    const auto a = ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    return plain(a);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

template <std::size_t N>
bool same_prefix(const std::array<unsigned char, N>& a, const std::array<unsigned char, N>& b, unsigned bits) {
    for (std::size_t i = 0; i < N && bits > 0; ++i, bits = bits >= 8 ? bits - 8 : 0) {
        const unsigned mask = bits >= 8 ? 0xFFu : (0xFFu << (8 - bits)) & 0xFFu;
        if ((a[i] & mask) != (b[i] & mask)) return false;
    }
    return true;
}

}  // namespace

std::optional<TrustedProxies::Network> TrustedProxies::parse(std::string_view spec) {
    const auto slash = spec.find('/');
    const auto address = address_of(spec.substr(0, slash));
    if (!address) return std::nullopt;
    const unsigned width = address->is_v4() ? 32 : 128;
    unsigned prefix = width;
    if (slash != std::string_view::npos) {
        const std::string_view bits = spec.substr(slash + 1);
        const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
        if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() || prefix > width) return std::nullopt;
    }
    return Network{*address, prefix};
}

TrustedProxies::TrustedProxies(const std::vector<std::string>& specs) {
    for (const auto& s : specs)
        if (auto n = parse(s)) networks_.push_back(*n);  // the options checked them already
}

bool TrustedProxies::trusts(const ip::address& peer) const {
    const ip::address a = plain(peer);
    for (const auto& n : networks_) {
        if (a.is_v4() && n.address.is_v4() && same_prefix(a.to_v4().to_bytes(), n.address.to_v4().to_bytes(), n.prefix))
            return true;
        if (a.is_v6() && n.address.is_v6() && same_prefix(a.to_v6().to_bytes(), n.address.to_v6().to_bytes(), n.prefix))
            return true;
    }
    return false;
}

std::string TrustedProxies::client(const ip::address& peer, std::string_view forwarded_for) const {
    if (forwarded_for.empty() || !trusts(peer)) return plain(peer).to_string();
    // From the nearest hop back: each trusted proxy passes on what the one
    // before it said; the first entry no proxy of ours wrote is the client.
    // All of them ours (a client inside the proxies' network): the farthest.
    ip::address client = plain(peer);
    for (std::size_t hops = 0; hops < kMaxHops && !forwarded_for.empty(); ++hops) {
        const auto comma = forwarded_for.rfind(',');
        const std::string_view entry = trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
        forwarded_for = comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
        const auto a = address_of(entry);
        if (!a) break;  // not an address: whoever wrote it is not believed further
        client = *a;
        if (!trusts(*a)) break;
    }
    return client.to_string();
}

}  // namespace compeit::native
