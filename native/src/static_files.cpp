#include "static_files.hpp"

#include <array>
#include <utility>

#include "compeit/util/url.hpp"

namespace compeit::native {

std::optional<std::string> resolve_static(const std::string& root, std::string_view url_path) {
    const std::string path = url::decode_component(url_path);
    if (path.empty() || path.front() != '/') return std::nullopt;
    // Refuse anything that could climb out of the root or is not plain text.
    for (std::size_t i = 0; i < path.size(); ++i) {
        const char c = path[i];
        if (c == '\0' || c == '\\') return std::nullopt;
        if (c == '.' && i > 0 && path[i - 1] == '/' && i + 1 < path.size() && path[i + 1] == '.') return std::nullopt;
    }
    std::string file = root + path;
    if (file.back() == '/') file += "index.html";
    return file;
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

}  // namespace compeit::native
