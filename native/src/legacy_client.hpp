// The socket.io 0.9 client library, served where socket.io 0.9 served it:
// <resource>/socket.io.js, socket.io.min.js and socket.io.v<version>.js, so a
// page written for the old server (`<script src="/socket.io/socket.io.js">`)
// gets `io` from this one unchanged. The files are the dist/ of the npm
// package socket.io-client (0.9.6, the version the COMPEIT clients were
// written against), installed by the setup: read and gzip-compressed once,
// at start-up, and answered from memory with an ETag and a cache policy.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace compeit::native {

// One file of the library as it is answered.
struct LegacyAsset {
    std::shared_ptr<const std::string> body;  // gzip-compressed when `gzipped`
    std::string etag;                          // quoted; differs between the plain and the gzip form
    std::string_view cache_control;
    bool gzipped = false;
};

class LegacyClient {
public:
    // Reads DIR/package.json (its version) and DIR/dist/socket.io{,.min}.js,
    // DIR being the socket.io-client package folder. The error says what is
    // missing; the client stays off then.
    std::optional<std::string> load(const std::string& dir);

    bool enabled() const { return !version_.empty(); }
    const std::string& version() const { return version_; }

    // True for the names socket.io 0.9 served its client under ("socket.io.js",
    // "socket.io.min.js", "socket.io.v<anything>.js", "socket.io+<transports>.js"),
    // whether or not this server serves them: such a request is never a handshake.
    static bool is_library_name(std::string_view name);

    // The file for `name` ("socket.io.js", "socket.io.min.js",
    // "socket.io.v<version>.js"), gzipped when the client accepts it; nullopt
    // when it is not served.
    std::optional<LegacyAsset> find(std::string_view name, std::string_view accept_encoding) const;

private:
    struct File {
        std::shared_ptr<const std::string> raw, gz;
        std::string tag;  // ETag without quotes, of the plain form
    };
    std::string version_;
    File full_, min_;
};

// An If-None-Match header matches `etag` (quoted; `*`, lists and weak
// validators as RFC 9110 13.1.2 reads them).
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// Accept-Encoding allows gzip (`gzip`, `x-gzip` or `*`, with a q above 0).
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace compeit::native
