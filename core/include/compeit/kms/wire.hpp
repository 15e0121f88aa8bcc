// What the Kurento backend says to KMS and reads from it, as pure functions:
// request params for the objects it makes, ICE candidates in both
// directions, the filter a `set_filter` string names, and KMS errors as the
// agent's MediaError (KU-7).
#pragma once

#include <optional>
#include <string>

#include "compeit/agents/media_backend.hpp"
#include "compeit/kms/session.hpp"

namespace compeit::kms {

// create {type, constructorParams:{mediaPipeline, ...extra}}.
json create_params(const std::string& type, const std::string& pipeline, json extra = json::object());
// invoke {object, operation, operationParams}.
json invoke_params(const std::string& object, const std::string& operation, json operation_params = json::object());

// A browser's RTCIceCandidateInit as KMS's IceCandidate; nothing for an
// end-of-candidates marker or a malformed candidate.
std::optional<json> to_kms_candidate(const json& browser);
// An IceCandidateFound event's candidate as RTCIceCandidateInit.
std::optional<json> to_browser_candidate(const json& event_data);

// The element a set_filter string makes: one of the filters KMS ships, by
// name (FaceOverlayFilter, ZBarFilter), or a GStreamerFilter running the
// string as its GStreamer command (e.g. "videoflip method=horizontal-flip").
struct FilterSpec {
    std::string type;
    json params = json::object();  // constructorParams besides mediaPipeline
};
// Nothing for "" or "none" (remove the filter); an error for an unusable string.
Expected<std::optional<FilterSpec>, agents::MediaError> filter_spec(const std::string& filter);

agents::MediaError to_media_error(const RpcError& e);

}  // namespace compeit::kms
