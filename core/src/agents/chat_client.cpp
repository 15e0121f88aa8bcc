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
    // The answer comes as a server_message just before the ack (CH-4): the
    // host's request resolves with that page, {messages, hasMore}, instead of {ok:true}.
    return client_.send_server_shaped(kType, data, [this](std::string_view ack) {
        if (util::json_member(ack, "error")) return std::string(ack);
        std::string page = "{\"messages\":" + (last_page_.empty() ? std::string("[]") : last_page_) +
                           ",\"hasMore\":" + (last_page_more_ ? "true" : "false") + "}";
        last_page_.clear();
        last_page_more_ = false;
        return page;
    });
}

// Keeps a message of the active room once (by id).
bool ChatClient::add(std::string_view m) {
    const auto id = integer_member(m, "id");
    if (!id || !room_ || integer_member(m, "room") != room_) return false;
    const bool added = room_messages_.emplace(*id, std::string(m)).second;
    trim();
    return added && room_messages_.count(*id);  // an old page's message beyond the bound is not kept
}

// The oldest go first: they are what a history() page brings back.
void ChatClient::trim() {
    while (room_messages_.size() > max_kept_) room_messages_.erase(room_messages_.begin());
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
    if (!action || util::json_string(*action) != "history") return;
    const auto messages = util::json_member(data, "messages");
    // Kept for the ack of a history request, which comes next (a join's history has no `more`).
    last_page_ = messages ? std::string(*messages) : std::string();
    const auto more = util::json_member(data, "more");
    last_page_more_ = more && *more == "true";
    if (!room_ || integer_member(data, "room") != room_) return;
    if (messages)
        util::for_each_element(*messages, [this](std::string_view m) { add(m); });
    client_.emit_event("chat_history", "{\"room\":" + std::to_string(*room_) + ",\"messages\":" + snapshot() + "}");
}

// Three events by meaning: room chat text, the room's system events
// (joined, left, announcement: CH-3) and user-to-user messages (CH-2).
void ChatClient::on_room_message(ca::UserId, std::string_view data) {
    if (!add(data)) return;
    const bool system = util::json_member(data, "event").has_value();
    client_.emit_event(system ? "chat_event" : "chat_message", "{\"message\":" + std::string(data) + "}");
}

void ChatClient::on_user_message(ca::UserId, std::string_view data) {
    if (util::json_member(data, "id")) client_.emit_event("private_message", "{\"message\":" + std::string(data) + "}");
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
