#include "compeit/agents/kurento_requests.hpp"

#include <utility>

#include "compeit/ca/input.hpp"

namespace compeit::agents::kurento {
namespace {

std::optional<Candidate> candidate_of(ca::Input& in) {
    const ca::json* c = in.any("candidate");
    if (!c || c->is_null()) return std::nullopt;
    ca::Input fields(*c, "candidate", "candidate.");
    Candidate out;
    out.candidate = fields.opt_string("candidate", kMaxCandidateBytes).value_or("");
    out.sdp_mid = fields.opt_string("sdpMid", 256);
    out.sdp_mline_index = fields.opt_integer("sdpMLineIndex", 0, 1023);
    out.username_fragment = fields.opt_string("usernameFragment", 256);
    if (!fields) in.fail(fields.error());
    return out;
}

// The `stream` field: absent or null is the camera.
std::string stream_of(ca::Input& in) {
    auto name = in.opt_string("stream", kMaxStreamNameBytes);
    if (!name) return "camera";
    if (!valid_stream_name(*name))
        in.fail("stream must be 1-" + std::to_string(kMaxStreamNameBytes) + " characters of a-z, 0-9, - and _");
    return std::move(*name);
}

}  // namespace

bool valid_stream_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxStreamNameBytes) return false;
    for (const char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
    return true;
}

Expected<Request, std::string> parse_request(const ca::json& data) {
    ca::Input in(data);
    const std::string action = in.string("action", 64);
    if (!in) return unexpected(in.error());
    Request out;
    // Fields are read in the order of the struct's members (function arguments have none).
    if (action == "publish") {
        auto stream = stream_of(in);
        auto sdp = in.opt_string("sdp", kMaxSdpBytes);
        const bool audio = in.boolean("audio", true);
        out = Publish{std::move(stream), std::move(sdp), audio, in.boolean("video", true)};
    } else if (action == "subscribe") {
        const auto user = in.user("user");
        auto stream = stream_of(in);
        out = Subscribe{user, std::move(stream), in.opt_string("sdp", kMaxSdpBytes)};
    } else if (action == "subscribe_answer") {
        const auto user = in.user("user");
        auto stream = stream_of(in);
        out = SubscribeAnswer{user, std::move(stream), in.string("sdp", kMaxSdpBytes)};
    } else if (action == "answer") {
        const auto user = in.user("user");
        auto stream = stream_of(in);
        out = Answer{user, std::move(stream), in.string("sdp", kMaxSdpBytes)};
    } else if (action == "ice_candidate") {
        const auto user = in.user("user");
        auto stream = stream_of(in);
        const auto peer = in.opt_user("peer");
        out = IceCandidate{user, std::move(stream), peer, candidate_of(in)};
    } else if (action == "unpublish") {
        out = Unpublish{stream_of(in)};
    } else if (action == "unsubscribe") {
        const auto user = in.user("user");
        out = Unsubscribe{user, stream_of(in)};
    } else if (action == "update_stream") {
        auto stream = stream_of(in);
        const auto audio = in.opt_boolean("audio");
        out = UpdateStream{std::move(stream), audio, in.opt_boolean("video")};
    } else if (action == "set_filter") {
        auto stream = stream_of(in);
        out = SetFilter{std::move(stream), in.string("filter", kMaxFilterBytes)};
    } else if (action == "record_start" || action == "record_stop") {
        out = Record{stream_of(in), action == "record_start"};
    } else {
        return unexpected(std::string("action must be one of publish, subscribe, subscribe_answer, answer, "
                                      "ice_candidate, unpublish, unsubscribe, update_stream, set_filter, "
                                      "record_start, record_stop"));
    }
    if (!in) return unexpected(in.error());
    return out;
}

ca::json to_json(const std::optional<Candidate>& c) {
    if (!c) return nullptr;
    ca::json out{{"candidate", c->candidate},
                 {"sdpMid", c->sdp_mid ? ca::json(*c->sdp_mid) : ca::json()},
                 {"sdpMLineIndex", c->sdp_mline_index ? ca::json(*c->sdp_mline_index) : ca::json()}};
    if (c->username_fragment) out["usernameFragment"] = *c->username_fragment;
    return out;
}

}  // namespace compeit::agents::kurento
