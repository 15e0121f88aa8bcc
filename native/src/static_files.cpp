#include "static_files.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "compeit/util/url.hpp"

namespace compeit::native {

std::optional<std::string> resolve_static(const std::string& root, std::string_view url_path) {
    const std::string path = url::decode_component(url_path);
    if (path.empty() || path.front() != '/') return std::nullopt;
    // Refuse anything that could climb out of the root, and dotfiles
    // (.git, .env, ...): no path segment may start with a dot.
    for (std::size_t i = 0; i < path.size(); ++i) {
        const char c = path[i];
        if (c == '\0' || c == '\\') return std::nullopt;
        if (c == '.' && path[i - 1] == '/') return std::nullopt;
    }
    std::string file = root + path;
    if (file.back() == '/') file += "index.html";
    // A symbolic link may point anywhere: the file's real path must still be
    // inside the root's.
    std::error_code ec;
    const auto real_root = std::filesystem::canonical(root, ec);
    if (ec) return std::nullopt;
    const auto real_file = std::filesystem::canonical(file, ec);
    if (ec) return std::nullopt;
    const auto rel = real_file.lexically_relative(real_root);
    if (rel.empty() || *rel.begin() == "..") return std::nullopt;
    return real_file.string();
}

std::string_view content_type(std::string_view path) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> types{{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".wasm", "application/wasm"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
        {".d.ts", "text/plain; charset=utf-8"},
        {".webm", "video/webm"},
    }};
    for (const auto& [ext, type] : types)
        if (path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext) return type;
    return "application/octet-stream";
}

namespace {

bool compressible(std::string_view type) {
    return type.substr(0, 5) == "text/" || type.find("json") != std::string_view::npos ||
           type.find("wasm") != std::string_view::npos || type.find("svg") != std::string_view::npos;
}

}  // namespace

std::shared_ptr<const std::string> gzip(const std::string& in) {
    z_stream z{};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return nullptr;
    std::string out(deflateBound(&z, in.size()) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) return nullptr;
    return std::make_shared<const std::string>(std::move(out));
}

std::optional<StaticFile> StaticCache::get(const std::string& path, bool accept_gzip) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) return std::nullopt;
    Entry& e = entries_[path];
    if (!e.raw || e.mtime != st.st_mtime || e.size != static_cast<std::uint64_t>(st.st_size)) {
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) return std::nullopt;
        std::string data(static_cast<std::size_t>(st.st_size), '\0');
        const std::size_t n = std::fread(data.data(), 1, data.size(), f);
        std::fclose(f);
        data.resize(n);
        e = Entry{st.st_mtime, static_cast<std::uint64_t>(st.st_size),
                  std::make_shared<const std::string>(std::move(data)), nullptr};
    }
    StaticFile out;
    out.type = std::string(content_type(path));
    char tag[48];
    std::snprintf(tag, sizeof tag, "\"%llx-%llx", static_cast<unsigned long long>(e.mtime),
                  static_cast<unsigned long long>(e.size));
    out.etag = tag;
    if (accept_gzip && compressible(out.type) && e.raw->size() > 256) {
        if (!e.gz) e.gz = gzip(*e.raw);
        if (e.gz) {
            out.body = e.gz;
            out.gzipped = true;
            out.etag += "-gz";
        }
    }
    if (!out.gzipped) out.body = e.raw;
    out.etag += '"';
    return out;
}

}  // namespace compeit::native
