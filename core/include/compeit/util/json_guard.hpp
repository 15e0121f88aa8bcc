// The one way client JSON becomes a tree in this project: a depth pre-scan
// (nesting deeper than a bound would make recursive code such as dump()
// overflow the stack), then nlohmann's DOM parser without exceptions.
// Parsing through one function also keeps a single parser instantiation in
// the WebAssembly build.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

namespace compeit::util {

// True when no array/object in `text` nests deeper than `max_depth`
// (brackets inside strings do not count). Does not validate the JSON.
bool json_depth_ok(std::string_view text, std::size_t max_depth);

// The parsed value, or a discarded value (is_discarded()) when `text` is not
// JSON or nests deeper than `max_depth`.
nlohmann::json parse_json(std::string_view text, std::size_t max_depth = 64);

}  // namespace compeit::util
