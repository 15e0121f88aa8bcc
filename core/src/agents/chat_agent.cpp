#include "compeit/agents/chat_agent.hpp"

#include <limits>

#include "compeit/ca/input.hpp"
#include "compeit/util/json_scan.hpp"
#include "compeit/util/utf.hpp"

namespace compeit::agents {

using ca::ErrorCode;
using ca::json;

namespace {
std::string text_of(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A string as nlohmann's dump(-1, ' ', false, replace) writes it: the shared
// escaper for valid UTF-8, nlohmann's own path for anything else (its
// replacement differs from utf::sanitize's), so the bytes stay the same.
void append_string(std::string& out, std::string_view s) {
    if (!utf::valid_utf8(s)) {
        out += text_of(json(std::string(s)));
        return;
    }
    util::append_json_string(out, s);
}
}  // namespace

json to_json(const ChatMessage& m) {
    json j{{"id", m.id}, {"room", m.room ? json(*m.room) : json()}, {"ts", m.ts}, {"user", ca::to_json(m.user)}};
    if (m.event.empty() || m.event == "announcement") j["text"] = m.text;
    if (!m.event.empty()) j["event"] = m.event;
    if (m.to) j["to"] = *m.to;
    return j;
}

std::string to_json_text(const ChatMessage& m) {
    // The members in to_json's serialised (alphabetical) order: event, id, room, text, to, ts, user.
    std::string out;
    out.reserve(96 + m.text.size() + m.user.name.size());
    out += '{';
    if (!m.event.empty()) {
        out += "\"event\":";
        append_string(out, m.event);
        out += ',';
    }
    out += "\"id\":";
    out += std::to_string(m.id);
    out += ",\"room\":";
    out += m.room ? std::to_string(*m.room) : "null";
    if (m.event.empty() || m.event == "announcement") {
        out += ",\"text\":";
        append_string(out, m.text);
    }
    if (m.to) {
        out += ",\"to\":";
        out += std::to_string(*m.to);
    }
    out += ",\"ts\":";
    out += std::to_string(m.ts);
    out += ",\"user\":{\"id\":";
    out += std::to_string(m.user.id);
    out += ",\"name\":";
    append_string(out, m.user.name);
    out += "}}";
    return out;
}

ChatAgent::ChatAgent(ChatStore& store, std::function<std::int64_t()> wall_ms, std::size_t max_text_chars)
    : store_(store), wall_ms_(std::move(wall_ms)), max_text_chars_(max_text_chars) {}

void ChatAgent::attached(ca::Port port) { port_.emplace(std::move(port)); }

std::optional<std::string> ChatAgent::valid_text(const ca::Request& r, const json& data) const {
    ca::Input in(data);
    // The whole `data` is already bounded (LIM-3): the text is counted in code points below.
    std::string text = in.string("text", std::numeric_limits<std::size_t>::max());
    if (in && text.empty()) in.fail("text must be a non-empty string");
    // Not every store can keep a NUL (PostgreSQL cannot): refused alike everywhere.
    if (in && text.find('\0') != std::string::npos) in.fail("text must not contain NUL characters");
    if (!in) {
        port_->fail(r, ErrorCode::bad_request, in.error());
        return std::nullopt;
    }
    if (utf::code_points(text) > max_text_chars_) {
        port_->fail(r, ErrorCode::too_large, "text longer than " + std::to_string(max_text_chars_) + " characters");
        return std::nullopt;
    }
    return text;
}

bool ChatAgent::on_room_message(const ca::Request& r, const ca::User& from, ca::RoomId room, json& data) {
    auto text = valid_text(r, data);
    if (!text) return true;
    ChatMessage m{0, room, wall_ms_(), from, std::nullopt, std::move(*text), {}};
    store_.append(std::move(m), [this, r, room](Expected<ChatMessage, std::string> stored) {
        if (!stored) return port_->fail(r, ErrorCode::unavailable, "chat store: " + stored.error());
        // CH-1: the sender too. Acked once it went out (in a cluster, once
        // Redis took it); if it could not, it is committed all the same.
        port_->relay_to_room_raw(room, stored->user.id, committed(*stored), true, order(*stored), [this, r](bool sent) {
            if (sent) return port_->ok(r);
            port_->fail(r, ErrorCode::unavailable, "stored in the history, but the room could not be told now");
        });
    });
    return true;
}

bool ChatAgent::on_user_message(const ca::Request& r, const ca::User& from, ca::UserId to, json& data) {
    auto text = valid_text(r, data);
    if (!text) return true;
    ChatMessage m{0, std::nullopt, wall_ms_(), from, to, std::move(*text), {}};
    store_.append(std::move(m), [this, r](Expected<ChatMessage, std::string> stored) {
        if (!stored) return port_->fail(r, ErrorCode::unavailable, "chat store: " + stored.error());
        const std::string j = to_json_text(*stored);
        port_->user_message_raw(*stored->to, stored->user.id, j);  // CH-2: the recipient...
        if (*stored->to != stored->user.id) port_->user_message_raw(stored->user.id, stored->user.id, j);  // ...and the sender
        port_->ok(r);
    });
    return true;
}

void ChatAgent::on_server_message(const ca::Request& r, const ca::User& from, json& data) {
    ca::Input in(data);
    const std::string action = in.string("action", 64);
    if (in && action != "history") in.fail("action must be \"history\"");
    const auto before = in.opt_integer("before", 1, ca::kMaxRoomId);
    const auto limit = in.opt_integer("limit", 1, std::int64_t{kMaxHistory});
    if (!in) return port_->fail(r, ErrorCode::bad_request, in.error());
    history(r, from, before, limit ? static_cast<std::size_t>(*limit) : kJoinHistory);
}

void ChatAgent::history(const ca::Request& r, const ca::User& from, std::optional<std::int64_t> before,
                        std::size_t limit) {
    const auto room = port_->room_of(from.id);
    if (!room) return port_->fail(r, ErrorCode::not_in_room, "history is per room: join one first");
    // One more than asked tells, exactly, whether older messages remain
    // (`more`, an extension: docs/protocol.md 3.1 CH-4).
    store_.history(*room, before, limit + 1, [this, r, room = *room, limit](Expected<std::vector<ChatMessage>, std::string> got) {
        if (!got) return port_->fail(r, ErrorCode::unavailable, "chat store: " + got.error());
        const bool more = got->size() > limit;
        json messages = json::array();
        for (std::size_t i = more ? got->size() - limit : 0; i < got->size(); ++i) messages.push_back(to_json((*got)[i]));
        port_->to_user(r.user, json{{"action", "history"}, {"room", room}, {"messages", std::move(messages)}, {"more", more}});
        port_->ok(r);
    });
}

void ChatAgent::on_join(const ca::User& user, ca::RoomId room) {
    // History first, then the join event: the joiner's history ends just
    // before its own user_joined (the store answers in order, and the tail
    // only holds what is committed).
    join_history(user, room);
    post_event(room, user, "user_joined");
}

void ChatAgent::on_rejoin(const ca::User& user, ca::RoomId room) { join_history(user, room); }

void ChatAgent::join_history(const ca::User& user, ca::RoomId room) {
    if (const auto it = tails_.find(room); it != tails_.end()) return send_history(user.id, room, it->second);
    // The join's ack waits for the history read from the store.
    const ca::JoinHold hold = port_->hold_join(user.id);
    store_.history(room, std::nullopt, kJoinHistory, [this, id = user.id, room, hold](auto got) {
        if (got) {
            std::deque<std::string> messages;
            for (const auto& m : *got) messages.push_back(to_json_text(m));
            send_history(id, room, messages);
            // The first answer for a room with members becomes its tail; later
            // commits are appended to it as they complete.
            if (!shared_store_ && !tails_.count(room) && !port_->members(room).empty())
                tails_.emplace(room, std::move(messages));
        }
        port_->release_join(hold);
    });
}

void ChatAgent::send_history(ca::UserId to, ca::RoomId room, const std::deque<std::string>& messages) {
    std::string data = "{\"action\":\"history\",\"room\":" + std::to_string(room) + ",\"messages\":[";
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (i) data += ',';
        data += messages[i];
    }
    data += "]}";
    port_->to_user_raw(to, data);
}

const std::string& ChatAgent::committed(const ChatMessage& m) {
    encoded_ = to_json_text(m);
    if (!m.room) return encoded_;
    const auto it = tails_.find(*m.room);
    if (it == tails_.end()) return encoded_;
    it->second.push_back(encoded_);
    if (it->second.size() > kJoinHistory) it->second.pop_front();
    return encoded_;
}

void ChatAgent::on_leave(const ca::User& user, ca::RoomId room) {
    post_event(room, user, "user_left");
    if (port_->members(room).empty()) tails_.erase(room);  // nobody to join it soon: free the tail
}

void ChatAgent::post_event(ca::RoomId room, const ca::User& user, const char* event) {
    ChatMessage m{0, room, wall_ms_(), user, std::nullopt, {}, event};
    store_.append(std::move(m), [this, room](Expected<ChatMessage, std::string> stored) {
        if (!stored) return;
        port_->to_room_raw(room, committed(*stored), order(*stored));  // CH-3: from 0, to the whole room
    });
}

void ChatAgent::announce(ca::RoomId room, std::string text,
                         std::function<void(Expected<ChatMessage, std::string>)> done) {
    ChatMessage m{0, room, wall_ms_(), ca::User{0, std::string(ca::kServerName), {}}, std::nullopt, std::move(text), "announcement"};
    store_.append(std::move(m), [this, room, done = std::move(done)](Expected<ChatMessage, std::string> stored) {
        if (stored) {
            port_->to_room_raw(room, committed(*stored), order(*stored));
        }
        done(std::move(stored));
    });
}

}  // namespace compeit::agents
