// The Chat Agent's client side, on the client registry: keeps the active
// room's chat in id order (live messages and history merged, duplicates
// dropped) and tells the application through Client events:
//   chat_message {message}        a new room chat message (text)
//   chat_event {message}          a room's system event: user_joined, user_left, announcement (CH-3)
//   private_message {message}     a user-to-user message, sent or received (CH-2)
//   chat_history {room, messages} the room's newest known chat (at most kept_at_most()), oldest first, after a merge
// A history() request is answered with its page, {messages, hasMore}.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

#include "compeit/ca/client.hpp"

namespace compeit::agents {

class ChatClient final : public ca::ClientAgent {
public:
    static constexpr const char* kType = "chat";

    explicit ChatClient(ca::Client& client);

    std::uint64_t send(const std::string& text);                  // to the room (CH-1)
    std::uint64_t send_to(ca::UserId to, const std::string& text);  // to one user (CH-2)
    std::uint64_t history(std::optional<std::int64_t> before, std::optional<std::int64_t> limit);  // CH-4

    // The active room's messages by id, as the JSON text the server sent:
    // the newest `kDefaultKept` (or keep_at_most(n)); older ones are paged
    // with history() when wanted, so a long-lived room does not grow memory.
    const std::map<std::int64_t, std::string>& messages() const { return room_messages_; }
    static constexpr std::size_t kDefaultKept = 1000;
    void keep_at_most(std::size_t n) { max_kept_ = n > 0 ? n : 1; trim(); }
    std::size_t kept_at_most() const { return max_kept_; }

    void on_server_message(std::string_view data) override;
    void on_room_message(ca::UserId from, std::string_view data) override;
    void on_user_message(ca::UserId from, std::string_view data) override;
    void on_membership(std::string_view event, std::string_view payload) override;

private:
    ca::Client& client_;
    std::optional<ca::RoomId> room_;
    std::map<std::int64_t, std::string> room_messages_;
    std::string last_page_;  // the last history answer's messages (JSON), for its ack
    bool last_page_more_ = false;
    std::size_t max_kept_ = kDefaultKept;
    void trim();

    bool add(std::string_view message);
    std::string snapshot() const;
};

}  // namespace compeit::agents
