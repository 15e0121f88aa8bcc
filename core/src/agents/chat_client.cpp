#include "compeit/agents/chat_client.hpp"

namespace compeit::agents {

using ca::json;

ChatClient::ChatClient(ca::Client& client) : client_(client) { client_.register_agent(kType, this); }

std::uint64_t ChatClient::send(const std::string& text) { return client_.send_room(kType, json{{"text", text}}); }

std::uint64_t ChatClient::send_to(ca::UserId to, const std::string& text) {
    return client_.send_user(to, kType, json{{"text", text}});
}

std::uint64_t ChatClient::history(std::optional<std::int64_t> before, std::optional<std::int64_t> limit) {
    json data{{"action", "history"}};
    if (before) data["before"] = *before;
    if (limit) data["limit"] = *limit;
    return client_.send_server(kType, data);
}

bool ChatClient::add(const json& m) {
    if (!m.is_object() || !m.contains("id") || !m["id"].is_number_integer()) return false;
    if (!room_ || !m.contains("room") || m["room"] != *room_) return false;
    return room_messages_.emplace(m["id"].get<std::int64_t>(), m).second;
}

json ChatClient::snapshot() const {
    json all = json::array();
    for (const auto& [id, m] : room_messages_) all.push_back(m);
    return all;
}

void ChatClient::on_server_message(const json& data) {
    if (!data.is_object() || data.value("action", "") != "history" || !data.contains("messages")) return;
    if (!room_ || data.value("room", json()) != *room_) return;
    for (const auto& m : data["messages"]) add(m);
    client_.emit_event("chat_history", json{{"room", *room_}, {"messages", snapshot()}});
}

void ChatClient::on_room_message(ca::UserId, const json& data) {
    if (add(data)) client_.emit_event("chat_message", json{{"message", data}});
}

void ChatClient::on_user_message(ca::UserId, const json& data) {
    if (data.is_object() && data.contains("id")) client_.emit_event("chat_message", json{{"message", data}});
}

void ChatClient::on_membership(std::string_view event, const json& payload) {
    if (event == "room_joined" && payload.contains("room")) {
        const auto room = payload["room"].get<ca::RoomId>();
        if (room_ != room) room_messages_.clear();  // a rejoin of the same room keeps what it had
        room_ = room;
    } else if (event == "room_left") {
        room_.reset();
        room_messages_.clear();
    }
}

}  // namespace compeit::agents
