#include "compeit/util/json_guard.hpp"

#include "compeit/util/json_scan.hpp"

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
