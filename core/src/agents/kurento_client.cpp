#include "compeit/agents/kurento_client.hpp"

#include "compeit/agents/kurento_requests.hpp"
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

// The stream a server message or stream object is about: absent is the camera.
std::string stream_member(std::string_view object) {
    return string_member(object, "stream").value_or(std::string(kCameraStream));
}

// The `stream` field of a request: absent for the camera, as clients that know one stream send it.
std::string stream_field(std::string_view stream) {
    return stream == kCameraStream ? std::string() : ",\"stream\":" + json_quoted(stream);
}

// A connection's key: the camera's as it always was, another stream's with "/<name>".
std::string pc_key(std::string prefix, const std::string& stream) {
    return stream == kCameraStream ? prefix : prefix + "/" + stream;
}
std::string sub_key(const StreamKey& s) { return pc_key("sub:" + std::to_string(s.user), s.name); }
std::string pub_key(std::optional<ca::UserId> subscriber, const std::string& stream) {
    return pc_key(subscriber ? "pub:" + std::to_string(*subscriber) : "pub", stream);
}

}  // namespace

KurentoClient::KurentoClient(ca::Client& client) : client_(client) { client_.register_agent(kType, this); }

std::vector<std::string> KurentoClient::connections() const {
    std::vector<std::string> keys;
    for (const auto& [key, pc] : pcs_) keys.push_back(key);
    return keys;
}

// --- requests to the server -------------------------------------------------------

void KurentoClient::media_error(std::string_view action, std::string_view stream, std::string_view code,
                                std::string_view message) {
    client_.emit_event("media_error", "{\"action\":" + json_quoted(action) + ",\"stream\":" + json_quoted(stream) +
                                          ",\"code\":" + std::string(code) + ",\"message\":" + std::string(message) + "}");
}

void KurentoClient::request(std::string_view action, std::string_view stream, std::string data_json,
                            std::string close_on_error) {
    const std::string act(action), name(stream);
    std::string data = "{\"action\":" + json_quoted(action) + stream_field(stream) + data_json + "}";
    client_.send_server(kType, data, [this, act, name, close_on_error](std::string_view ack) {
        const auto error = util::json_member(ack, "error");
        if (!error) return;
        if (act == "publish") publications_.erase(name);
        if (!close_on_error.empty()) close(close_on_error);  // the server has no such connection
        media_error(act, name, util::json_member(*error, "code").value_or("null"),
                    util::json_member(*error, "message").value_or("null"));
    });
}

void KurentoClient::publish(bool audio, bool video, std::string_view stream) {
    const std::string name(stream);
    if (!kurento::valid_stream_name(name))
        return media_error("publish", name, "\"bad_request\"", "\"stream: not a stream name\"");
    if (publications_.count(name)) return;
    if (mesh()) {  // peers will ask for our stream one by one
        publications_[name] = Publication{PublishState::requested, audio, video};
        return request("publish", name, ",\"sdp\":null" + flags(audio, video));
    }
    publications_[name] = Publication{PublishState::offering, audio, video};  // sfu: offer to the media server first
    const std::string key = pub_key(std::nullopt, name);
    create(key, true, 0, name, true);
    rtc("offer", key);
}

void KurentoClient::unpublish(std::string_view stream) {
    const std::string name(stream);
    if (!publications_.erase(name)) return;
    request("unpublish", name, {});
    close_publishing(name);
}

void KurentoClient::close_publishing(const std::string& stream) {
    for (auto it = pcs_.begin(); it != pcs_.end();) {
        const auto& [key, pc] = *it++;
        if (pc.send && pc.stream == stream) close(key);
    }
}

void KurentoClient::update(bool audio, bool video, std::string_view stream) {
    const auto it = publications_.find(std::string(stream));
    if (it == publications_.end()) return;
    it->second.audio = audio;
    it->second.video = video;
    request("update_stream", stream, flags(audio, video));
}

void KurentoClient::record(bool start, std::string_view stream) {
    stream_request(start ? "record_start" : "record_stop", stream, {});
}

void KurentoClient::set_filter(std::string_view filter, std::string_view stream) {
    stream_request("set_filter", stream, ",\"filter\":" + json_quoted(filter));
}

void KurentoClient::stream_request(std::string_view action, std::string_view stream, std::string data_json) {
    const auto it = publications_.find(std::string(stream));
    if (it != publications_.end() && it->second.state == PublishState::published)
        return request(action, stream, std::move(data_json));
    media_error(action, stream, "\"bad_request\"", "\"not publishing\"");
}

void KurentoClient::subscribe_to(const StreamKey& stream) {
    const std::string key = sub_key(stream);
    if (stream.user == me() || pcs_.count(key)) return;
    if (server_offers_) {  // the media server offers; we answer (see on_server_message "subscribed")
        create(key, false, stream.user, stream.name, false);
        return request("subscribe", stream.name, ",\"user\":" + std::to_string(stream.user), key);
    }
    create(key, false, stream.user, stream.name, true);
    rtc("offer", key);
}

// --- what the host did --------------------------------------------------------------

void KurentoClient::report(std::string_view op, const std::string& pc, std::string_view payload) {
    const auto it = pcs_.find(pc);
    if (it == pcs_.end()) return;  // closed meanwhile
    const ca::UserId peer = it->second.peer;
    const std::string stream = it->second.stream;
    const bool send = it->second.send;
    const auto sdp = util::json_member(payload, "sdp");
    if (op == "offer" && sdp) {
        if (send) {  // sfu: our stream to the media server
            auto pub = publications_.find(stream);
            if (pub == publications_.end()) return;
            pub->second.state = PublishState::requested;
            return request("publish", stream, ",\"sdp\":" + std::string(*sdp) + flags(pub->second.audio, pub->second.video));
        }
        return request("subscribe", stream, ",\"user\":" + std::to_string(peer) + ",\"sdp\":" + std::string(*sdp), pc);
    }
    if (op == "answer" && sdp) {
        if (!send)  // our answer to the media server's offer
            return request("answer", stream, ",\"user\":" + std::to_string(peer) + ",\"sdp\":" + std::string(*sdp), pc);
        // mesh: our answer to a subscriber's offer
        return request("subscribe_answer", stream, ",\"user\":" + std::to_string(peer) + ",\"sdp\":" + std::string(*sdp));
    }
    if (op == "candidate") {
        const auto candidate = util::json_member(payload, "candidate");
        if (!candidate) return;
        // The stream the connection carries, and (mesh) the user at its other end.
        const ca::UserId owner = send ? me() : peer;
        std::string data = ",\"user\":" + std::to_string(owner);
        if (mesh()) data += ",\"peer\":" + std::to_string(peer);
        return request("ice_candidate", stream, data + ",\"candidate\":" + std::string(*candidate));
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
        const StreamKey key(peer, stream);
        if (send || !streams_.count(key)) return;
        if (resubscribes_[key]++ < kMaxResubscribes) return subscribe_to(key);
        client_.emit_event("receive_failed", "{\"user\":" + std::to_string(peer) + ",\"stream\":" + json_quoted(stream) + "}");
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
                if (const auto u = user_member(stream, "user")) streams_[StreamKey(*u, stream_member(stream))] = std::string(stream);
            });
        emit_streams();
        for (const auto& [key, s] : streams_) subscribe_to(key);
        return;
    }
    const std::string stream = stream_member(data);
    if (*action == "published") {
        const auto pub = publications_.find(stream);
        if (pub == publications_.end()) return;  // unpublished meanwhile
        pub->second.state = PublishState::published;
        if (const auto sdp = util::json_member(data, "sdp"); sdp && *sdp != "null")
            rtc("remote_answer", pub_key(std::nullopt, stream), ",\"sdp\":" + std::string(*sdp));
        return client_.emit_event("published", "{\"stream\":" + json_quoted(stream) + "}");
    }
    if (*action == "subscribe_request") {  // mesh: a peer wants one of our streams
        const auto subscriber = user_member(data, "user");
        const auto sdp = util::json_member(data, "sdp");
        if (!subscriber || !sdp || !publications_.count(stream)) return;
        const std::string key = pub_key(*subscriber, stream);
        close(key);  // a new offer from the same peer replaces the old connection
        create(key, true, *subscriber, stream, false);
        return rtc("answer", key, ",\"sdp\":" + std::string(*sdp));
    }
    if (*action == "subscribed") {
        const auto publisher = user_member(data, "user");
        const auto sdp = util::json_member(data, "sdp");
        if (!publisher || !sdp) return;
        const std::string key = sub_key(StreamKey(*publisher, stream));
        if (!pcs_.count(key)) return;  // closed meanwhile
        const bool offer = string_member(data, "type") == std::optional<std::string>("offer");
        return rtc(offer ? "answer" : "remote_answer", key, ",\"sdp\":" + std::string(*sdp));
    }
    if (*action == "unsubscribed") {
        if (const auto subscriber = user_member(data, "user")) close(pub_key(*subscriber, stream));
        return;
    }
    if (*action == "ice_candidate") {
        const auto owner = user_member(data, "user");
        const auto candidate = util::json_member(data, "candidate");
        if (owner && candidate) on_candidate(StreamKey(*owner, stream), user_member(data, "peer"), *candidate);
    }
}

void KurentoClient::on_candidate(const StreamKey& owner, std::optional<ca::UserId> peer, std::string_view candidate) {
    std::string key;
    if (owner.user == me()) key = mesh() ? (peer ? pub_key(*peer, owner.name) : std::string()) : pub_key(std::nullopt, owner.name);
    else key = sub_key(owner);
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
        const StreamKey key(*user, stream_member(*stream));
        streams_[key] = std::string(*stream);
        emit_streams();
        if (*action == "stream_added") {
            resubscribes_.erase(key);
            subscribe_to(key);
        }
    } else if (*action == "stream_removed") {
        const auto user = user_member(data, "user");
        if (!user) return;
        const StreamKey key(*user, stream_member(data));
        streams_.erase(key);
        close(sub_key(key));
        if (*user == me()) drop_publication(key.name);
        emit_streams();
    }
}

void KurentoClient::drop_publication(const std::string& stream) {
    const auto it = publications_.find(stream);
    if (it == publications_.end() || it->second.state != PublishState::published) return;
    // The server dropped our stream (its media server went away, say).
    publications_.erase(it);
    close_publishing(stream);
    client_.emit_event("unpublished", "{\"stream\":" + json_quoted(stream) + "}");
}

void KurentoClient::on_membership(std::string_view event, std::string_view payload) {
    if (event == "user_left") {
        const auto u = util::json_member(payload, "user");
        if (const auto id = u ? user_member(*u, "id") : std::nullopt) {
            std::vector<std::string> theirs;  // every connection with them, whatever the stream
            for (const auto& [key, pc] : pcs_)
                if (pc.peer == *id) theirs.push_back(key);
            for (auto& key : theirs) close(key);
        }
        return;
    }
    // A resumed session (docs/protocol.md 8) kept its room, but our connections
    // died with the transport while the server still holds them: ask for the
    // room again, which resets our media there and sends the streams anew.
    if (event == "connected") {
        const bool stale = media_lost_ && util::json_member(payload, "resumed") == "true" && client_.room();
        media_lost_ = false;
        if (stale) client_.join_room(*client_.room());
        return;
    }
    if (event == "room_joined" || event == "room_left" || event == "disconnect") {
        media_lost_ = event == "disconnect" && (!pcs_.empty() || !publications_.empty());
        close_all();
        streams_.clear();
        resubscribes_.clear();
        publications_.clear();
        if (event != "room_joined") emit_streams();
    }
}

// --- connections ------------------------------------------------------------------

void KurentoClient::rtc(std::string op, const std::string& pc, std::string extra) {
    client_.emit_event("rtc", "{\"op\":" + json_quoted(op) + ",\"pc\":" + json_quoted(pc) + extra + "}");
}

void KurentoClient::create(const std::string& pc, bool send, ca::UserId peer, const std::string& stream, bool offers) {
    pcs_[pc] = Pc{peer, stream, send, false, {}};
    rtc("create", pc, std::string(",\"kind\":") + (send ? "\"send\"" : "\"recv\"") + ",\"offers\":" + (offers ? "true" : "false") +
                          ",\"peer\":" + std::to_string(peer) + ",\"stream\":" + json_quoted(stream) +
                          ",\"iceServers\":" + ice_servers_);
}

void KurentoClient::close(std::string pc) {
    if (pcs_.erase(pc)) rtc("close", pc);
}

void KurentoClient::close_all() {
    while (!pcs_.empty()) close(pcs_.begin()->first);
}

void KurentoClient::emit_streams() {
    std::string list = "[";
    for (const auto& [key, s] : streams_) {
        if (list.size() > 1) list += ',';
        list += s;
    }
    list += ']';
    client_.emit_event("streams", "{\"streams\":" + list + "}");
}

}  // namespace compeit::agents
