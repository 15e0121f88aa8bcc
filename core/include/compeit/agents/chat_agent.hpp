// The Chat Agent, type "chat" (CH-1..CH-6), on the server: validates and
// stamps room and user-to-user chat, posts join/leave events and operator
// announcements into the room chat, and answers history requests. Every
// message is stored before anyone receives it.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <functional>
#include <optional>

#include "compeit/agents/chat_store.hpp"
#include "compeit/ca/agent.hpp"

namespace compeit::agents {

class ChatAgent final : public ca::ServerAgent {
public:
    static constexpr const char* kType = "chat";
    static constexpr std::size_t kJoinHistory = 50;
    static constexpr std::size_t kMaxHistory = 200;

    // `wall_ms` gives the time stamped on messages (ms since the Unix epoch).
    ChatAgent(ChatStore& store, std::function<std::int64_t()> wall_ms, std::size_t max_text_chars);

    // Other processes write to the store too (a cluster on PostgreSQL): a
    // join's history is always read from the store, never from this
    // process's tail of what it committed itself.
    void set_shared_store(bool shared) { shared_store_ = shared; }

    // An operator announcement (CH-3); done(true) once it is stored and posted.
    void announce(ca::RoomId room, std::string text, std::function<void(Expected<ChatMessage, std::string>)> done);

    void attached(ca::Port port) override;
    void on_server_message(const ca::Request& r, const ca::User& from, ca::json& data) override;
    bool on_user_message(const ca::Request& r, const ca::User& from, ca::UserId to, ca::json& data) override;
    bool on_room_message(const ca::Request& r, const ca::User& from, ca::RoomId room, ca::json& data) override;
    void on_join(const ca::User& user, ca::RoomId room) override;
    void on_rejoin(const ca::User& user, ca::RoomId room) override;
    void on_leave(const ca::User& user, ca::RoomId room) override;

private:
    ChatStore& store_;
    std::function<std::int64_t()> wall_ms_;
    std::size_t max_text_chars_;
    std::optional<ca::Port> port_;
    bool shared_store_ = false;
    // The last kJoinHistory committed messages of each room with members, as
    // JSON, so a join's history needs neither the store nor serialising (a
    // room's tail is loaded from the store by its first join, dropped when
    // the room empties).
    std::unordered_map<ca::RoomId, std::deque<std::string>> tails_;

    // The text of a chat request, or the reason it is refused (CH-6).
    std::optional<std::string> valid_text(const ca::Request& r, const ca::json& data) const;
    void history(const ca::Request& r, const ca::User& from, std::optional<std::int64_t> before, std::size_t limit);
    void post_event(ca::RoomId room, const ca::User& user, const char* event);
    // The room's last kJoinHistory messages to a joiner (CH-4), holding the join's ack until sent.
    void join_history(const ca::User& user, ca::RoomId room);
    void send_history(ca::UserId to, ca::RoomId room, const std::deque<std::string>& messages);
    // A committed message as delivered (JSON text, valid until the next
    // call); a room message also goes into its room's tail.
    const std::string& committed(const ChatMessage& m);
    std::string encoded_;  // committed()'s buffer, reused: its capacity stays
    // The message's place in its room's history order (0: the store keeps none).
    static std::uint64_t order(const ChatMessage& m) { return m.seq > 0 ? static_cast<std::uint64_t>(m.seq) : 0; }
};

}  // namespace compeit::agents
