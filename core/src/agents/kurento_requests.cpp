#include "compeit/agents/kurento_requests.hpp"

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

}  // namespace

Expected<Request, std::string> parse_request(const ca::json& data) {
    ca::Input in(data);
    const std::string action = in.string("action", 64);
    if (!in) return unexpected(in.error());
    Request out;
    if (action == "publish") {
        out = Publish{in.opt_string("sdp", kMaxSdpBytes), in.boolean("audio", true), in.boolean("video", true)};
    } else if (action == "subscribe") {
        const auto user = in.user("user");
        out = Subscribe{user, in.opt_string("sdp", kMaxSdpBytes)};
    } else if (action == "subscribe_answer") {
        const auto user = in.user("user");
        out = SubscribeAnswer{user, in.string("sdp", kMaxSdpBytes)};
    } else if (action == "answer") {
        const auto user = in.user("user");
        out = Answer{user, in.string("sdp", kMaxSdpBytes)};
    } else if (action == "ice_candidate") {
        const auto user = in.user("user");
        const auto peer = in.opt_user("peer");
        out = IceCandidate{user, peer, candidate_of(in)};
    } else if (action == "unpublish") {
        out = Unpublish{};
    } else if (action == "unsubscribe") {
        out = Unsubscribe{in.user("user")};
    } else if (action == "update_stream") {
        const auto audio = in.opt_boolean("audio");
        out = UpdateStream{audio, in.opt_boolean("video")};
    } else if (action == "set_filter") {
        out = SetFilter{in.string("filter", kMaxFilterBytes)};
    } else if (action == "record_start" || action == "record_stop") {
        out = Record{action == "record_start"};
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
