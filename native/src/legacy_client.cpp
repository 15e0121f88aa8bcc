#include "legacy_client.hpp"

#include "compeit/util/utf.hpp"

#include <openssl/sha.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "static_files.hpp"

namespace compeit::native {
namespace {

// The name carries the version: it can be cached for good. The others are
// revalidated (a cheap 304) so another package version shows at once.
constexpr std::string_view kVersionedCache = "public, max-age=31536000, immutable";
constexpr std::string_view kPlainCache = "no-cache";
constexpr std::size_t kMaxFile = 4u << 20;  // the 0.9.6 bundle is 99 KB

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad() || data.empty() || data.size() > kMaxFile) return std::nullopt;
    return data;
}

std::string content_tag(std::string_view version, const std::string& data) {
    static constexpr char hex[] = "0123456789abcdef";
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
    std::string tag(version);
    tag += '-';
    for (std::size_t i = 0; i < 6; ++i) {
        tag += hex[d[i] >> 4];
        tag += hex[d[i] & 0xF];
    }
    return tag;
}

// A version fit for a file name: digits, letters, dots and dashes.
bool plain_version(std::string_view v) {
    if (v.empty() || v.size() > 32) return false;
    for (char c : v)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-'))
            return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Calls f on each comma-separated element of a header, trimmed.
template <class F>
bool any_element(std::string_view header, F&& f) {
    while (!header.empty()) {
        const auto comma = header.find(',');
        if (f(trim(header.substr(0, comma)))) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

std::optional<std::string> LegacyClient::load(const std::string& dir) {
    version_.clear();
    const auto package = read_file(dir + "/package.json");
    if (!package) return "no package.json in " + dir;
    const auto json = nlohmann::json::parse(*package, nullptr, false);
    const auto field = [&](const char* key) {
        return json.is_object() && json.contains(key) && json.at(key).is_string() ? json.at(key).get<std::string>()
                                                                                  : std::string();
    };
    if (field("name") != "socket.io-client") return dir + "/package.json is not socket.io-client's";
    const std::string version = field("version");
    if (!plain_version(version) || version.rfind("0.9.", 0) != 0)
        return dir + " holds socket.io-client " + version.substr(0, 32) + ", not 0.9.x (socket.io protocol 1)";
    File files[2];
    const char* names[2] = {"/dist/socket.io.js", "/dist/socket.io.min.js"};
    for (int i = 0; i < 2; ++i) {
        auto data = read_file(dir + names[i]);
        if (!data) return "cannot read " + dir + names[i];
        files[i].tag = content_tag(version, *data);
        files[i].raw = std::make_shared<const std::string>(std::move(*data));
        files[i].gz = gzip(*files[i].raw);
    }
    full_ = std::move(files[0]);
    min_ = std::move(files[1]);
    version_ = version;
    return std::nullopt;
}

bool LegacyClient::is_library_name(std::string_view name) {
    const auto starts = [&](std::string_view p) { return name.substr(0, p.size()) == p; };
    const bool js = name.size() > 3 && name.substr(name.size() - 3) == ".js";
    return js && (name == "socket.io.js" || name == "socket.io.min.js" || starts("socket.io.v") ||
                  starts("socket.io+"));
}

std::optional<LegacyAsset> LegacyClient::find(std::string_view name, std::string_view accept_encoding) const {
    if (!enabled()) return std::nullopt;
    const File* file = nullptr;
    std::string_view cache = kPlainCache;
    if (name == "socket.io.js") {
        file = &full_;
    } else if (name == "socket.io.min.js") {
        file = &min_;
    } else if (name == "socket.io.v" + version_ + ".js") {
        file = &full_;
        cache = kVersionedCache;
    }
    if (!file) return std::nullopt;
    LegacyAsset out;
    out.cache_control = cache;
    out.gzipped = file->gz && accepts_gzip(accept_encoding);
    out.body = out.gzipped ? file->gz : file->raw;
    out.etag = "\"" + file->tag + (out.gzipped ? "-gz\"" : "\"");
    return out;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
    return any_element(if_none_match, [&](std::string_view tag) {
        if (tag == "*") return true;
        if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);  // weak comparison (RFC 9110 8.8.3.2)
        return tag == etag;
    });
}

bool accepts_gzip(std::string_view accept_encoding) {
    return any_element(accept_encoding, [](std::string_view coding) {
        const auto semi = coding.find(';');
        const auto name = trim(coding.substr(0, semi));
        if (!utf::ascii_iequals(name, "gzip") && !utf::ascii_iequals(name, "x-gzip") && name != "*") return false;
        if (semi == std::string_view::npos) return true;
        // q=0 (0, 0.0, 0.00, 0.000) refuses it.
        auto params = trim(coding.substr(semi + 1));
        if (params.size() < 2 || (params[0] != 'q' && params[0] != 'Q') || params[1] != '=') return true;
        params.remove_prefix(2);
        return params.find_first_not_of("0.") != std::string_view::npos;
    });
}

}  // namespace compeit::native
