#include "compeit/kms/wire.hpp"

namespace compeit::kms {

using agents::MediaError;
using ca::ErrorCode;

json create_params(const std::string& type, const std::string& pipeline, json extra) {
    json ctor = extra.is_object() ? std::move(extra) : json::object();
    if (!pipeline.empty()) ctor["mediaPipeline"] = pipeline;
    return json{{"type", type}, {"constructorParams", std::move(ctor)}, {"properties", json::object()}};
}

json invoke_params(const std::string& object, const std::string& operation, json operation_params) {
    return json{{"object", object}, {"operation", operation}, {"operationParams", std::move(operation_params)}};
}

std::optional<json> to_kms_candidate(const json& browser) {
    if (!browser.is_object()) return std::nullopt;
    const auto c = browser.find("candidate");
    if (c == browser.end() || !c->is_string() || c->get_ref<const std::string&>().empty()) return std::nullopt;
    json out{{"__module__", "kurento"}, {"__type__", "IceCandidate"}, {"candidate", *c}, {"sdpMid", ""}, {"sdpMLineIndex", 0}};
    if (const auto mid = browser.find("sdpMid"); mid != browser.end() && mid->is_string()) out["sdpMid"] = *mid;
    if (const auto idx = browser.find("sdpMLineIndex");
        idx != browser.end() && idx->is_number_integer() && idx->get<std::int64_t>() >= 0 &&
        idx->get<std::int64_t>() < 1024)
        out["sdpMLineIndex"] = *idx;
    return out;
}

std::optional<json> to_browser_candidate(const json& event_data) {
    if (!event_data.is_object()) return std::nullopt;
    const auto c = event_data.find("candidate");
    if (c == event_data.end() || !c->is_object()) return std::nullopt;
    const auto line = c->find("candidate");
    if (line == c->end() || !line->is_string()) return std::nullopt;
    json out{{"candidate", *line}, {"sdpMid", nullptr}, {"sdpMLineIndex", nullptr}};
    if (const auto mid = c->find("sdpMid"); mid != c->end() && mid->is_string()) out["sdpMid"] = *mid;
    if (const auto idx = c->find("sdpMLineIndex"); idx != c->end() && idx->is_number_integer()) out["sdpMLineIndex"] = *idx;
    return out;
}

Expected<std::optional<FilterSpec>, MediaError> filter_spec(const std::string& filter) {
    if (filter.empty() || filter == "none") return std::optional<FilterSpec>();
    // Filters of kms-filters that need nothing but the pipeline.
    if (filter == "FaceOverlayFilter" || filter == "ZBarFilter")
        return std::optional<FilterSpec>(FilterSpec{filter, json::object()});
    if (filter.size() > 1000)
        return unexpected(MediaError{ErrorCode::bad_request, "filter command too long (1000 bytes at most)"});
    for (const char ch : filter)
        if (static_cast<unsigned char>(ch) < 0x20)
            return unexpected(MediaError{ErrorCode::bad_request, "filter command with control characters"});
    // A GStreamer pipeline fragment; KMS checks it and answers an error if unusable.
    return std::optional<FilterSpec>(FilterSpec{"GStreamerFilter", json{{"command", filter}}});
}

MediaError to_media_error(const RpcError& e) {
    if (e.disconnected) return MediaError{ErrorCode::unavailable, e.message};
    return MediaError{ErrorCode::unavailable, "media server error: " + e.message};
}

}  // namespace compeit::kms
