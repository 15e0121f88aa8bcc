#include "db_url.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace compeit::native {

namespace {

constexpr std::string_view kHidden = "***";
constexpr std::size_t kMaxShown = 200;

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// %XX decoded; a malformed escape is kept as written.
std::string percent_decoded(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Where a password sits in `url`: [begin, end) spans, the user info's first.
// The user info runs to the LAST '@' (a raw '@', '/' or '?' in a password
// then still counts as password); query values of keys naming a password.
std::vector<std::pair<std::size_t, std::size_t>> password_spans(std::string_view url) {
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    const auto authority = url.find("://");
    std::size_t query_from = 0;
    if (authority != std::string_view::npos) {
        const auto from = authority + 3;
        const auto at = url.rfind('@');
        const auto colon = url.find(':', from);
        if (at != std::string_view::npos && at >= from && colon < at) spans.emplace_back(colon + 1, at);
        if (at != std::string_view::npos && at >= from) query_from = at + 1;
    }
    const auto q = url.find('?', query_from);
    if (q == std::string_view::npos) return spans;
    for (std::size_t i = q + 1; i <= url.size();) {
        const auto amp = std::min(url.find('&', i), url.size());
        const auto pair = url.substr(i, amp - i);
        const auto eq = pair.find('=');
        if (eq != std::string_view::npos &&
            lower(percent_decoded(pair.substr(0, eq))).find("password") != std::string::npos)
            spans.emplace_back(i + eq + 1, amp);
        i = amp + 1;
    }
    return spans;
}

}  // namespace

std::string url_scheme(std::string_view url) {
    const auto colon = url.find(':');
    if (colon == std::string_view::npos || colon == 0) return {};
    for (std::size_t i = 0; i < colon; ++i) {
        const auto c = static_cast<unsigned char>(url[i]);
        const bool ok = std::isalpha(c) || (i > 0 && (std::isdigit(c) || c == '+' || c == '-' || c == '.'));
        if (!ok) return {};
    }
    return std::string(url.substr(0, colon));
}

std::string redacted(std::string_view url) {
    std::string out;
    std::size_t done = 0;
    for (const auto& [begin, end] : password_spans(url)) {
        if (begin < done) continue;
        out.append(url.substr(done, begin - done)).append(kHidden);
        done = end;
    }
    out.append(url.substr(std::min(done, url.size())));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    if (out.size() > kMaxShown) out = out.substr(0, kMaxShown) + "...";
    return out;
}

std::string scrub(std::string message, std::string_view url) {
    for (const auto& [begin, end] : password_spans(url)) {
        const auto raw = url.substr(begin, end - begin);
        for (const std::string& secret : {std::string(raw), percent_decoded(raw)}) {
            if (secret.empty()) continue;
            for (auto p = message.find(secret); p != std::string::npos; p = message.find(secret, p + kHidden.size()))
                message.replace(p, secret.size(), kHidden);
        }
    }
    return message;
}

}  // namespace compeit::native
