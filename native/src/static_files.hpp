// Static files under a root: safe path mapping, content types, ETags, and
// gzip for text and WebAssembly, compressed once and kept while the file is
// unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace compeit::native {

// The file for a URL path, or nullopt when the path escapes the root (also
// through a symbolic link), names a dotfile or a missing file, or is
// malformed. "/" and folder paths map to index.html.
std::optional<std::string> resolve_static(const std::string& root, std::string_view url_path);

std::string_view content_type(std::string_view path);

// `in` gzip-compressed (zlib, level 9); null if zlib fails.
std::shared_ptr<const std::string> gzip(const std::string& in);

struct StaticFile {
    std::shared_ptr<const std::string> body;  // gzip-compressed when `gzipped`
    std::string type;
    std::string etag;  // differs between the plain and the gzip form
    bool gzipped = false;
};

class StaticCache {
public:
    // Reads (or reuses) `path`; nullopt when it is missing or not a regular file.
    std::optional<StaticFile> get(const std::string& path, bool accept_gzip);

private:
    struct Entry {
        std::int64_t mtime = 0;
        std::uint64_t size = 0;
        std::shared_ptr<const std::string> raw, gz;
    };
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace compeit::native
