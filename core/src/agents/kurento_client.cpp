#include "compeit/agents/kurento_client.hpp"

#include "compeit/util/json_scan.hpp"

namespace compeit::agents {

namespace {

std::string json_quoted(std::string_view s) {
    std::string out;
    util::append_json_string(out, s);
    return out;
}

std::string flags(bool audio, bool video) {
    return std::string(",\"audio\":") + (audio ? "true" : "false") + ",\"video\":" + (video ? "true" : "false");
}

std::optional<ca::UserId> user_member(std::string_view object, std::string_view key) {
    const auto v = util::json_member(object, key);
    return v ? util::json_integer(*v) : std::nullopt;
}

std::optional<std::string> string_member(std::string_view object, std::string_view key) {
    const auto v = util::json_member(object, key);
    return v ? util::json_string(*v) : std::nullopt;
}

}  // namespace

KurentoClient::KurentoClient(ca::Client& client) : client_(client) { client_.register_agent(kType, this); }

std::vector<std::string> KurentoClient::connections() const {
    std::vector<std::string> keys;
    for (const auto& [key, pc] : pcs_) keys.push_back(key);
    return keys;
}

// --- requests to the server -------------------------------------------------------

void KurentoClient::request(std::string_view action, std::string data_json, std::string close_on_error) {
    const std::string act(action);
    std::string data = "{\"action\":" + json_quoted(action) + data_json + "}";
    client_.send_server(kType, data, [this, act, close_on_error](std::string_view ack) {
        const auto error = util::json_member(ack, "error");
        if (!error) return;
        if (act == "publish") publish_state_ = PublishState::none;
        if (!close_on_error.empty()) close(close_on_error);  // the server has no such connection
        client_.emit_event("media_error", "{\"action\":" + json_quoted(act) + ",\"code\":" +
                                              std::string(util::json_member(*error, "code").value_or("null")) +
                                              ",\"message\":" +
                                              std::string(util::json_member(*error, "message").value_or("null")) + "}");
    });
}

void KurentoClient::publish(bool audio, bool video) {
    if (publish_state_ != PublishState::none) return;
    audio_ = audio;
    video_ = video;
    if (mesh()) {  // peers will ask for our stream one by one
        publish_state_ = PublishState::requested;
        return request("publish", ",\"sdp\":null" + flags(audio, video));
    }
    publish_state_ = PublishState::offering;  // sfu: offer to the media server first
    create("pub", "send", 0, true);
    rtc("offer", "pub");
}

void KurentoClient::unpublish() {
    if (publish_state_ == PublishState::none) return;
    publish_state_ = PublishState::none;
    request("unpublish", {});
    close_publishing();
}

void KurentoClient::close_publishing() {
    for (auto it = pcs_.begin(); it != pcs_.end();) {
        const std::string key = (it++)->first;
        if (key.rfind("pub", 0) == 0) close(key);
    }
}

void KurentoClient::update(bool audio, bool video) {
    audio_ = audio;
    video_ = video;
    if (publish_state_ != PublishState::none) request("update_stream", flags(audio, video));
}

void KurentoClient::record(bool start) {
    stream_request(start ? "record_start" : "record_stop", {});
}

void KurentoClient::set_filter(std::string_view filter) { stream_request("set_filter", ",\"filter\":" + json_quoted(filter)); }

void KurentoClient::stream_request(std::string_view action, std::string data_json) {
    if (publish_state_ == PublishState::published) return request(action, std::move(data_json));
    client_.emit_event("media_error", "{\"action\":" + json_quoted(action) +
                                          ",\"code\":\"bad_request\",\"message\":\"not publishing\"}");
}

void KurentoClient::subscribe_to(ca::UserId publisher) {
    const std::string key = "sub:" + std::to_string(publisher);
    if (publisher == me() || pcs_.count(key)) return;
    if (server_offers_) {  // the media server offers; we answer (see on_server_message "subscribed")
        create(key, "recv", publisher, false);
        return request("subscribe", ",\"user\":" + std::to_string(publisher), key);
    }
    create(key, "recv", publisher, true);
    rtc("offer", key);
}

// --- what the host did --------------------------------------------------------------

void KurentoClient::report(std::string_view op, const std::string& pc, std::string_view payload) {
    const auto it = pcs_.find(pc);
    if (it == pcs_.end()) return;  // closed meanwhile
    const ca::UserId peer = it->second.peer;
    const auto sdp = util::json_member(payload, "sdp");
    if (op == "offer" && sdp) {
        if (pc == "pub") {
            publish_state_ = PublishState::requested;
            return request("publish", ",\"sdp\":" + std::string(*sdp) + flags(audio_, video_));
        }
        return request("subscribe", ",\"user\":" + std::to_string(peer) + ",\"sdp\":" + std::string(*sdp), pc);
    }
    if (op == "answer" && sdp) {
        if (pc.rfind("sub:", 0) == 0)  // our answer to the media server's offer
            return request("answer", ",\"user\":" + std::to_string(peer) + ",\"sdp\":" + std::string(*sdp), pc);
        // mesh: our answer to a subscriber's offer
        return request("subscribe_answer", ",\"user\":" + std::to_string(peer) + ",\"sdp\":" + std::string(*sdp));
    }
    if (op == "candidate") {
        const auto candidate = util::json_member(payload, "candidate");
        if (!candidate) return;
        // The stream the connection carries, and (mesh) the user at its other end.
        const ca::UserId owner = pc.rfind("sub:", 0) == 0 ? peer : me();
        std::string data = ",\"user\":" + std::to_string(owner);
        if (mesh()) data += ",\"peer\":" + std::to_string(peer);
        return request("ice_candidate", data + ",\"candidate\":" + std::string(*candidate));
    }
    if (op == "remote_set") {
        it->second.remote_set = true;
        auto queued = std::move(it->second.queued);
        it->second.queued.clear();
        for (auto& c : queued) rtc("candidate", pc, ",\"candidate\":" + c);
        return;
    }
    if (op == "failed") {
        close(pc);
        // A receiving connection that failed is tried again, a few times per announced stream.
        if (pc.rfind("sub:", 0) != 0 || !streams_.count(peer)) return;
        if (resubscribes_[peer]++ < kMaxResubscribes) return subscribe_to(peer);
        client_.emit_event("receive_failed", "{\"user\":" + std::to_string(peer) + "}");
    }
}

// --- what the server says -------------------------------------------------------------

void KurentoClient::on_server_message(std::string_view data) {
    const auto action = string_member(data, "action");
    if (!action) return;
    if (*action == "config") {
        mode_ = string_member(data, "mode").value_or("mesh");
        ice_servers_ = std::string(util::json_member(data, "iceServers").value_or("[]"));
        server_offers_ = string_member(data, "offerer") == std::optional<std::string>("server");
        return client_.emit_event("media_config", std::string(data));
    }
    if (*action == "streams") {
        streams_.clear();
        if (const auto list = util::json_member(data, "streams"))
            util::for_each_element(*list, [&](std::string_view stream) {
                if (const auto u = user_member(stream, "user")) streams_[*u] = std::string(stream);
            });
        emit_streams();
        for (const auto& [publisher, s] : streams_) subscribe_to(publisher);
        return;
    }
    if (*action == "published") {
        publish_state_ = PublishState::published;
        if (const auto sdp = util::json_member(data, "sdp"); sdp && *sdp != "null")
            rtc("remote_answer", "pub", ",\"sdp\":" + std::string(*sdp));
        return client_.emit_event("published", "{}");
    }
    if (*action == "subscribe_request") {  // mesh: a peer wants our stream
        const auto subscriber = user_member(data, "user");
        const auto sdp = util::json_member(data, "sdp");
        if (!subscriber || !sdp || publish_state_ == PublishState::none) return;
        const std::string key = "pub:" + std::to_string(*subscriber);
        close(key);  // a new offer from the same peer replaces the old connection
        create(key, "send", *subscriber, false);
        return rtc("answer", key, ",\"sdp\":" + std::string(*sdp));
    }
    if (*action == "subscribed") {
        const auto publisher = user_member(data, "user");
        const auto sdp = util::json_member(data, "sdp");
        if (!publisher || !sdp) return;
        const std::string key = "sub:" + std::to_string(*publisher);
        if (!pcs_.count(key)) return;  // closed meanwhile
        const bool offer = string_member(data, "type") == std::optional<std::string>("offer");
        return rtc(offer ? "answer" : "remote_answer", key, ",\"sdp\":" + std::string(*sdp));
    }
    if (*action == "unsubscribed") {
        if (const auto subscriber = user_member(data, "user")) close("pub:" + std::to_string(*subscriber));
        return;
    }
    if (*action == "ice_candidate") {
        const auto owner = user_member(data, "user");
        const auto candidate = util::json_member(data, "candidate");
        if (owner && candidate) on_candidate(*owner, user_member(data, "peer"), *candidate);
    }
}

void KurentoClient::on_candidate(ca::UserId owner, std::optional<ca::UserId> peer, std::string_view candidate) {
    std::string key;
    if (owner == me()) key = mesh() ? (peer ? "pub:" + std::to_string(*peer) : std::string()) : "pub";
    else key = "sub:" + std::to_string(owner);
    const auto it = pcs_.find(key);
    if (it == pcs_.end()) return;
    if (!it->second.remote_set) {
        it->second.queued.emplace_back(candidate);
        return;
    }
    rtc("candidate", key, ",\"candidate\":" + std::string(candidate));
}

void KurentoClient::on_room_message(ca::UserId from, std::string_view data) {
    if (from != 0) return;  // stream announcements come from the server
    const auto action = string_member(data, "action");
    if (!action) return;
    if (*action == "stream_added" || *action == "stream_updated") {
        const auto stream = util::json_member(data, "stream");
        const auto user = stream ? user_member(*stream, "user") : std::nullopt;
        if (!user) return;
        streams_[*user] = std::string(*stream);
        emit_streams();
        if (*action == "stream_added") {
            resubscribes_.erase(*user);
            subscribe_to(*user);
        }
    } else if (*action == "stream_removed") {
        const auto user = user_member(data, "user");
        if (!user) return;
        streams_.erase(*user);
        close("sub:" + std::to_string(*user));
        if (*user == me() && publish_state_ == PublishState::published) {
            // The server dropped our stream (its media server went away, say).
            publish_state_ = PublishState::none;
            close_publishing();
            client_.emit_event("unpublished", "{}");
        }
        emit_streams();
    }
}

void KurentoClient::on_membership(std::string_view event, std::string_view payload) {
    if (event == "user_left") {
        const auto u = util::json_member(payload, "user");
        if (const auto id = u ? user_member(*u, "id") : std::nullopt) {
            close("sub:" + std::to_string(*id));
            close("pub:" + std::to_string(*id));
        }
        return;
    }
    if (event == "room_joined" || event == "room_left" || event == "disconnect") {
        close_all();
        streams_.clear();
        resubscribes_.clear();
        publish_state_ = PublishState::none;
        if (event != "room_joined") emit_streams();
    }
}

// --- connections ------------------------------------------------------------------

void KurentoClient::rtc(std::string op, const std::string& pc, std::string extra) {
    client_.emit_event("rtc", "{\"op\":" + json_quoted(op) + ",\"pc\":" + json_quoted(pc) + extra + "}");
}

void KurentoClient::create(const std::string& pc, std::string_view kind, ca::UserId peer, bool offers) {
    pcs_[pc] = Pc{peer, false, {}};
    rtc("create", pc, ",\"kind\":" + json_quoted(kind) + ",\"offers\":" + (offers ? "true" : "false") +
                          ",\"peer\":" + std::to_string(peer) + ",\"iceServers\":" + ice_servers_);
}

void KurentoClient::close(std::string pc) {
    if (pcs_.erase(pc)) rtc("close", pc);
}

void KurentoClient::close_all() {
    while (!pcs_.empty()) close(pcs_.begin()->first);
}

void KurentoClient::emit_streams() {
    std::string list = "[";
    for (const auto& [user, s] : streams_) {
        if (list.size() > 1) list += ',';
        list += s;
    }
    list += ']';
    client_.emit_event("streams", "{\"streams\":" + list + "}");
}

}  // namespace compeit::agents
