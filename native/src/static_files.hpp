// Static files under the web root: safe path mapping and content types.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace compeit::native {

// The file for a URL path, or nullopt when the path escapes the root or is
// malformed. "/" and folder paths map to index.html.
std::optional<std::string> resolve_static(const std::string& root, std::string_view url_path);

std::string_view content_type(std::string_view path);

}  // namespace compeit::native
