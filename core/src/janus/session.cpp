#include "compeit/janus/session.hpp"

#include <utility>

#include "compeit/util/json_guard.hpp"

namespace compeit::janus {

namespace {

const char* kNotConnected = "Janus not connected";

std::string string_at(const json& obj, const char* key) {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::uint64_t id_at(const json& obj, const char* key) {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

// A plugin's error inside a "success" or "event" (plugindata.data.error_code).
std::optional<Error> plugin_error(const json& msg) {
    const auto pd = msg.find("plugindata");
    if (pd == msg.end() || !pd->is_object()) return std::nullopt;
    const auto data = pd->find("data");
    if (data == pd->end() || !data->is_object() || !data->contains("error_code")) return std::nullopt;
    const auto& code = (*data)["error_code"];
    return Error{code.is_number_integer() ? code.get<int>() : 0, string_at(*data, "error"), false};
}

}  // namespace

void Session::on_open(Time now) {
    fail_all("reconnecting");  // nothing survives an earlier connection
    state_ = State::creating;
    session_id_ = 0;
    now_ = last_keepalive_ = now;
    keepalive_tx_.clear();
    const std::string tx = "t" + std::to_string(next_tx_++);
    pending_.emplace(tx, Pending{[this](Result r) {
                                     if (r) return created(*r);
                                     state_ = State::dead;  // no session: the owner reconnects
                                     fail_all("Janus refused a session: " + r.error().reason);
                                 },
                                 false});
    send(json{{"janus", "create"}, {"transaction", tx}});
}

void Session::created(const json& msg) {
    const auto data = msg.find("data");
    session_id_ = data != msg.end() && data->is_object() ? id_at(*data, "id") : 0;
    if (session_id_ == 0) {
        state_ = State::dead;
        return fail_all("Janus gave no session id");
    }
    state_ = State::ready;
    if (on_connected) on_connected();
    for (auto& msg2 : std::exchange(held_, {})) {
        msg2["session_id"] = session_id_;
        send(std::move(msg2));
    }
}

void Session::on_closed(const std::string& reason) {
    const bool was_open = state_ != State::closed;
    state_ = State::closed;
    session_id_ = 0;
    out_.clear();
    listeners_.clear();  // the handles are gone with the Janus session
    fail_all(reason.empty() ? "Janus connection lost" : "Janus connection lost: " + reason);
    if (was_open && on_lost) on_lost(reason);
}

void Session::fail_all(const std::string& reason) {
    held_.clear();
    keepalive_tx_.clear();
    auto failing = std::exchange(pending_, {});
    for (auto& [tx, p] : failing)
        if (p.done) p.done(unexpected(Error{0, reason, true}));
}

bool Session::tick(Time now) {
    now_ = now;
    if (state_ == State::dead) return false;
    if (state_ != State::ready) return true;
    if (!keepalive_tx_.empty()) return now - keepalive_sent_ < config_.keepalive_timeout;
    if (now - last_keepalive_ >= config_.keepalive_interval) {
        last_keepalive_ = keepalive_sent_ = now;
        keepalive_tx_ = "t" + std::to_string(next_tx_);
        request(json{{"janus", "keepalive"}}, [this](Result) { keepalive_tx_.clear(); }, false);
    }
    return true;
}

std::vector<std::string> Session::take_frames() { return std::exchange(out_, {}); }

void Session::request(json msg, Callback done, bool wait_event) {
    if (state_ != State::creating && state_ != State::ready) {
        if (done) done(unexpected(Error{0, kNotConnected, true}));
        return;
    }
    const std::string tx = "t" + std::to_string(next_tx_++);
    msg["transaction"] = tx;
    pending_.emplace(tx, Pending{std::move(done), wait_event});
    if (state_ == State::creating) return held_.push_back(std::move(msg));
    msg["session_id"] = session_id_;
    send(std::move(msg));
}

void Session::send(json msg) {
    out_.push_back(msg.dump());
    if (on_output) on_output();
}

void Session::attach(const std::string& plugin, std::function<void(Expected<HandleId, Error>)> done) {
    request(json{{"janus", "attach"}, {"plugin", plugin}}, [done = std::move(done)](Result r) {
        if (!r) return done(unexpected(r.error()));
        const auto data = r->find("data");
        const HandleId id = data != r->end() && data->is_object() ? id_at(*data, "id") : 0;
        if (id == 0) return done(unexpected(Error{0, "Janus gave no handle id", false}));
        done(id);
    }, false);
}

void Session::message(HandleId handle, json body, json jsep, Callback done) {
    json msg{{"janus", "message"}, {"handle_id", handle}, {"body", std::move(body)}};
    if (!jsep.is_null()) msg["jsep"] = std::move(jsep);
    request(std::move(msg), std::move(done), true);
}

void Session::trickle(HandleId handle, json candidate) {
    request(json{{"janus", "trickle"}, {"handle_id", handle}, {"candidate", std::move(candidate)}}, nullptr, false);
}

void Session::detach(HandleId handle) {
    listeners_.erase(handle);
    request(json{{"janus", "detach"}, {"handle_id", handle}}, nullptr, false);
}

void Session::answer(const std::string& tx, Result result) {
    const auto it = pending_.find(tx);
    if (it == pending_.end()) return;
    Callback done = std::move(it->second.done);
    pending_.erase(it);
    if (done) done(std::move(result));
}

void Session::on_message(std::string_view text) {
    const json msg = util::parse_json(text);
    if (msg.is_discarded() || !msg.is_object() || !msg.contains("janus") || !msg["janus"].is_string()) {
        ++malformed_;
        return;
    }
    const std::string kind = msg["janus"].get<std::string>();
    const std::string tx = string_at(msg, "transaction");
    const auto p = tx.empty() ? pending_.end() : pending_.find(tx);
    if (kind == "ack" && p != pending_.end()) {
        if (!p->second.wait_event) answer(tx, msg);
        return;
    }
    if (kind == "error" && p != pending_.end()) {
        const auto e = msg.find("error");
        Error err;
        if (e != msg.end() && e->is_object()) {
            err.code = e->contains("code") && (*e)["code"].is_number_integer() ? (*e)["code"].get<int>() : 0;
            err.reason = string_at(*e, "reason");
        }
        return answer(tx, unexpected(std::move(err)));
    }
    if ((kind == "success" || kind == "event") && p != pending_.end()) {
        if (auto e = plugin_error(msg)) return answer(tx, unexpected(std::move(*e)));
        return answer(tx, msg);
    }
    if (kind == "timeout") {  // Janus dropped the session
        state_ = State::dead;
        return fail_all("Janus session timed out");
    }
    if (const auto sender = id_at(msg, "sender"); sender != 0) {
        const auto l = listeners_.find(sender);
        if (l != listeners_.end() && l->second) {
            auto handler = l->second;  // it may unlisten
            handler(msg);
        }
        return;
    }
    if (kind != "ack" && kind != "success" && kind != "event" && kind != "error") ++malformed_;
}

}  // namespace compeit::janus
