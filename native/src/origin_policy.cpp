#include "origin_policy.hpp"

#include <algorithm>

namespace compeit::native {

std::string OriginPolicy::normalize(std::string_view text) {
    std::string s(text);
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto sep = s.find("://");
    if (sep == std::string::npos) return {};
    const std::string scheme = s.substr(0, sep);
    if (scheme != "http" && scheme != "https") return {};
    std::string host = s.substr(sep + 3);
    if (!host.empty() && host.back() == '/') host.pop_back();
    if (host.empty() || host.find_first_of("/?#@ ") != std::string::npos) return {};
    const std::string default_port = scheme == "https" ? ":443" : ":80";
    if (host.size() > default_port.size() && host.compare(host.size() - default_port.size(), default_port.size(), default_port) == 0)
        host.resize(host.size() - default_port.size());
    return scheme + "://" + host;
}

OriginPolicy::OriginPolicy(std::vector<std::string> allowed, const std::string& bind, std::uint16_t port, bool tls,
                           const std::vector<std::string>& interfaces) {
    for (const auto& a : allowed) {
        if (a == "*") any_ = true;
        else if (auto n = normalize(a); !n.empty()) allowed_.push_back(std::move(n));
    }
    const std::string scheme = tls ? "https://" : "http://";
    const std::string p = ":" + std::to_string(port);
    std::vector<std::string> hosts{"localhost", "127.0.0.1", "[::1]", bind};
    if (bind == "0.0.0.0" || bind == "::") hosts.insert(hosts.end(), interfaces.begin(), interfaces.end());
    for (std::string host : hosts) {
        if (host == "0.0.0.0" || host == "::" || host.empty()) continue;
        if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
        allowed_.push_back(normalize(scheme + host + p));
    }
}

bool OriginPolicy::allows(std::string_view origin) const {
    if (origin.empty() || any_) return true;
    // Browsers send "scheme://host[:port]", or "null" from sandboxed frames
    // and local files; anything else comes from a non-browser client (the
    // Node socket.io-client 0.9.6 sends "host:port"), which could as well
    // have sent nothing.
    if (origin == "null") return false;
    const std::string n = normalize(origin);
    if (n.empty()) return origin.find("://") == std::string_view::npos;
    return std::find(allowed_.begin(), allowed_.end(), n) != allowed_.end();
}

}  // namespace compeit::native
