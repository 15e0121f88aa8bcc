#include "compeit/agents/chat_client.hpp"

#include "compeit/util/json_scan.hpp"

namespace compeit::agents {

namespace {

std::string text_object(std::string_view text) {
    std::string out = "{\"text\":";
    util::append_json_string(out, text);
    out += '}';
    return out;
}

std::optional<std::int64_t> integer_member(std::string_view object, std::string_view key) {
    const auto v = util::json_member(object, key);
    return v ? util::json_integer(*v) : std::nullopt;
}

}  // namespace

ChatClient::ChatClient(ca::Client& client) : client_(client) { client_.register_agent(kType, this); }

std::uint64_t ChatClient::send(const std::string& text) { return client_.send_room(kType, text_object(text)); }

std::uint64_t ChatClient::send_to(ca::UserId to, const std::string& text) {
    return client_.send_user(to, kType, text_object(text));
}

std::uint64_t ChatClient::history(std::optional<std::int64_t> before, std::optional<std::int64_t> limit) {
    std::string data = R"({"action":"history")";
    if (before) data += ",\"before\":" + std::to_string(*before);
    if (limit) data += ",\"limit\":" + std::to_string(*limit);
    data += '}';
    return client_.send_server(kType, data);
}

// Keeps a message of the active room once (by id).
bool ChatClient::add(std::string_view m) {
    const auto id = integer_member(m, "id");
    if (!id || !room_ || integer_member(m, "room") != room_) return false;
    return room_messages_.emplace(*id, std::string(m)).second;
}

std::string ChatClient::snapshot() const {
    std::string all = "[";
    for (const auto& [id, m] : room_messages_) {
        if (all.size() > 1) all += ',';
        all += m;
    }
    all += ']';
    return all;
}

void ChatClient::on_server_message(std::string_view data) {
    const auto action = util::json_member(data, "action");
    if (!action || util::json_string(*action) != "history" || !room_ || integer_member(data, "room") != room_) return;
    if (const auto messages = util::json_member(data, "messages"))
        util::for_each_element(*messages, [this](std::string_view m) { add(m); });
    client_.emit_event("chat_history", "{\"room\":" + std::to_string(*room_) + ",\"messages\":" + snapshot() + "}");
}

void ChatClient::on_room_message(ca::UserId, std::string_view data) {
    if (add(data)) client_.emit_event("chat_message", "{\"message\":" + std::string(data) + "}");
}

void ChatClient::on_user_message(ca::UserId, std::string_view data) {
    if (util::json_member(data, "id")) client_.emit_event("chat_message", "{\"message\":" + std::string(data) + "}");
}

void ChatClient::on_membership(std::string_view event, std::string_view payload) {
    if (event == "room_joined") {
        const auto room = integer_member(payload, "room");
        if (!room) return;
        if (room_ != *room) room_messages_.clear();  // a rejoin of the same room keeps what it had
        room_ = *room;
    } else if (event == "room_left") {
        room_.reset();
        room_messages_.clear();
    }
}

}  // namespace compeit::agents
