// A cheap pre-scan before handing client JSON to the parser: nesting deeper
// than a bound would make recursive code (dump, compare) overflow the stack,
// so such input is refused before it becomes a tree.
#pragma once

#include <cstddef>
#include <string_view>

namespace compeit::util {

// True when no array/object in `text` nests deeper than `max_depth`
// (brackets inside strings do not count). Does not validate the JSON.
bool json_depth_ok(std::string_view text, std::size_t max_depth);

}  // namespace compeit::util
