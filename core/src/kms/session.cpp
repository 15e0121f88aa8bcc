#include "compeit/kms/session.hpp"

#include <utility>

#include "compeit/util/json_guard.hpp"

namespace compeit::kms {

namespace {

const char* kNotConnected = "media server not connected";

std::string string_at(const json& obj, const char* key) {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

void Session::on_open(Time now) {
    open_ = true;
    probe_ = 0;
    ping_id_ = 0;
    last_ping_ = now;
    // A first ping checks the connection at once (it creates no session state).
    ping_sent_ = now;
    ping_id_ = request("ping", json{{"interval", config_.ping_interval.count()}}, [](Result) {});
    if (on_connected) on_connected();
}

void Session::on_closed(const std::string& reason) {
    if (!open_ && pending_.empty() && held_.empty()) return;
    open_ = false;
    probe_ = 0;
    ping_id_ = 0;
    out_.clear();
    listeners_.clear();  // the objects they listened to are considered gone
    auto pending = std::move(pending_);
    auto held = std::move(held_);
    pending_.clear();
    held_.clear();
    const std::string why = reason.empty() ? "media server connection lost" : "media server connection lost: " + reason;
    std::map<std::int64_t, Callback> failing = std::move(pending);
    for (auto& [id, cb] : failing)
        if (cb) cb(unexpected(RpcError{0, why, {}, true}));
    if (on_lost) on_lost(reason);
}

bool Session::tick(Time now) {
    if (!open_) return true;
    if (ping_id_ != 0) return now - ping_sent_ < config_.ping_timeout;
    if (now - last_ping_ >= config_.ping_interval) {
        last_ping_ = now;
        ping_sent_ = now;
        ping_id_ = request("ping", json{{"interval", config_.ping_interval.count()}}, [](Result) {});
    }
    return true;
}

std::vector<std::string> Session::take_frames() { return std::exchange(out_, {}); }

std::int64_t Session::request(const std::string& method, json params, Callback done) {
    const std::int64_t id = next_id_++;
    if (!open_) {
        if (done) done(unexpected(RpcError{0, kNotConnected, {}, true}));
        return id;
    }
    if (!params.is_object()) params = json::object();
    pending_.emplace(id, std::move(done));
    if (method != "ping" && session_id_.empty()) {
        if (probe_ != 0) {  // wait for the session id the probe brings
            held_.push_back(Held{id, method, std::move(params)});
            return id;
        }
        probe_ = id;
    }
    send(id, method, std::move(params));
    return id;
}

void Session::send(std::int64_t id, const std::string& method, json params) {
    if (!session_id_.empty()) params["sessionId"] = session_id_;
    json msg{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
    const bool was_empty = out_.empty();
    out_.push_back(msg.dump(-1, ' ', false, json::error_handler_t::replace));
    if (was_empty && on_output) on_output();
}

void Session::release_held() {
    while (!held_.empty() && (probe_ == 0 || !session_id_.empty())) {
        Held h = std::move(held_.front());
        held_.pop_front();
        if (session_id_.empty()) probe_ = h.id;
        send(h.id, h.method, std::move(h.params));
    }
}

void Session::listen(const std::string& object, const std::string& type, EventHandler handler) {
    listeners_[{object, type}] = std::move(handler);
}

void Session::unlisten(const std::string& object) {
    for (auto it = listeners_.lower_bound({object, std::string()}); it != listeners_.end() && it->first.first == object;)
        it = listeners_.erase(it);
}

void Session::on_message(std::string_view text) {
    const json msg = util::parse_json(text);
    if (msg.is_discarded() || !msg.is_object()) {
        ++malformed_;
        return;
    }
    if (msg.contains("result") || msg.contains("error")) return on_response(msg);
    if (msg.contains("method")) return on_notification(msg);
    ++malformed_;
}

void Session::on_response(const json& msg) {
    const auto id_it = msg.find("id");
    if (id_it == msg.end() || !id_it->is_number_integer()) {
        ++malformed_;
        return;
    }
    const auto id = id_it->get<std::int64_t>();
    const auto it = pending_.find(id);
    if (it == pending_.end()) return;  // a request failed locally, or a stray answer
    Callback cb = std::move(it->second);
    pending_.erase(it);
    if (id == ping_id_) ping_id_ = 0;
    if (id == probe_) probe_ = 0;

    Result outcome = json();
    const auto err = msg.find("error");
    if (err != msg.end()) {
        RpcError e;
        if (err->is_object()) {
            if (const auto c = err->find("code"); c != err->end() && c->is_number_integer()) e.code = c->get<int>();
            e.message = string_at(*err, "message");
            if (const auto d = err->find("data"); d != err->end() && d->is_object()) e.type = string_at(*d, "type");
        }
        if (e.message.empty()) e.message = "media server error";
        outcome = unexpected(std::move(e));
    } else {
        const json& result = msg["result"];
        if (result.is_object()) {
            if (auto sid = string_at(result, "sessionId"); !sid.empty()) session_id_ = std::move(sid);
            if (const auto v = result.find("value"); v != result.end()) outcome = *v;
        }
    }
    release_held();
    if (cb) cb(std::move(outcome));
}

void Session::on_notification(const json& msg) {
    if (string_at(msg, "method") != "onEvent") return;
    const auto params = msg.find("params");
    if (params == msg.end() || !params->is_object()) return ++malformed_, void();
    const auto value = params->find("value");
    if (value == params->end() || !value->is_object()) return ++malformed_, void();
    std::string type = string_at(*value, "type");
    std::string object = string_at(*value, "object");
    json data = value->contains("data") ? (*value)["data"] : json::object();
    if (object.empty() && data.is_object()) {  // older KMS put the source only in data
        if (const auto s = data.find("source"); s != data.end() && s->is_string()) object = s->get<std::string>();
    }
    const auto it = listeners_.find({object, type});
    if (it == listeners_.end()) return;
    EventHandler handler = it->second;  // a handler may unlisten itself
    handler(object, type, data);
}

}  // namespace compeit::kms
