// The one way client JSON becomes a tree in this project: the validating span
// scanner first (json_scan.hpp: one definition of valid JSON, and a nesting
// bound, since deeper trees would make recursive code such as dump()
// overflow the stack), then nlohmann's DOM parser without exceptions.
// Parsing through one function also keeps a single parser instantiation in
// the WebAssembly build.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

namespace compeit::util {

// The parsed value, or a discarded value (is_discarded()) when `text` is not
// JSON or nests deeper than `max_depth`.
nlohmann::json parse_json(std::string_view text, std::size_t max_depth = 64);

}  // namespace compeit::util
