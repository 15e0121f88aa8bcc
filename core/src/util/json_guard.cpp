#include "compeit/util/json_guard.hpp"

#include "compeit/util/json_scan.hpp"

namespace compeit::util {

bool json_depth_ok(std::string_view text, std::size_t max_depth) {
    std::size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return true;
}

}  // namespace compeit::util

namespace compeit::util {

nlohmann::json parse_json(std::string_view text, std::size_t max_depth) {
    nlohmann::json result;
    // One definition of valid JSON in the project: the span scanner's (nlohmann
    // alone would stop at a NUL byte and accept what precedes it).
    if (!json_value_span(text, max_depth)) return nlohmann::json(nlohmann::json::value_t::discarded);
    nlohmann::detail::json_sax_dom_parser<nlohmann::json> sax(result, false);
    const bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
    if (!ok || sax.is_errored()) return nlohmann::json(nlohmann::json::value_t::discarded);
    return result;
}

}  // namespace compeit::util
