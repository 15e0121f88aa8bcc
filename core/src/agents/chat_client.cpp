#include "compeit/agents/chat_client.hpp"

#include "compeit/util/json_guard.hpp"
#include "compeit/util/json_scan.hpp"

namespace compeit::agents {

using ca::json;

namespace {

std::string text_object(std::string_view text) {
    std::string out = "{\"text\":";
    util::append_json_string(out, text);
    out += '}';
    return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

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

void ChatClient::on_server_message(std::string_view data_text) {
    const json data = util::parse_json(data_text);
    if (!data.is_object() || data.value("action", "") != "history" || !data.contains("messages")) return;
    if (!room_ || data.value("room", json()) != *room_) return;
    for (const auto& m : data["messages"]) add(m);
    client_.emit_event("chat_history", dump(json{{"room", *room_}, {"messages", snapshot()}}));
}

void ChatClient::on_room_message(ca::UserId, std::string_view data) {
    if (add(util::parse_json(data))) client_.emit_event("chat_message", "{\"message\":" + std::string(data) + "}");
}

void ChatClient::on_user_message(ca::UserId, std::string_view data) {
    if (util::json_member(data, "id")) client_.emit_event("chat_message", "{\"message\":" + std::string(data) + "}");
}

void ChatClient::on_membership(std::string_view event, std::string_view payload) {
    if (event == "room_joined") {
        const auto r = util::json_member(payload, "room");
        const auto room = r ? util::json_integer(*r) : std::nullopt;
        if (!room) return;
        if (room_ != *room) room_messages_.clear();  // a rejoin of the same room keeps what it had
        room_ = *room;
    } else if (event == "room_left") {
        room_.reset();
        room_messages_.clear();
    }
}

}  // namespace compeit::agents
