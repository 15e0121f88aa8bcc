// Durable chat history behind a small asynchronous interface, so the agent
// never blocks on storage and another store can replace SQLite. A store
// calls `done` on the agent's thread, in the order the calls were made, and
// only after the message is durable: the agent delivers a message only then.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "compeit/ca/types.hpp"
#include "compeit/util/expected.hpp"

namespace compeit::agents {

struct ChatMessage {
    std::int64_t id = 0;               // assigned by the store; increases
    std::optional<ca::RoomId> room;    // null for user-to-user messages
    std::int64_t ts = 0;               // ms since the Unix epoch
    ca::User user;                     // the sender, or the user an event is about
    std::optional<ca::UserId> to;      // user-to-user messages
    std::string text;                  // empty for join/leave events
    std::string event;                 // "", "user_joined", "user_left", "announcement"
    std::int64_t seq = 0;              // the room's own 1, 2, 3.. (PostgreSQL store); 0: none
};

ca::json to_json(const ChatMessage& m);
// The same message as JSON text, byte for byte what to_json(m) serialises to
// (keys in nlohmann::json's sorted order), written without building the tree:
// a chat message is encoded once, on the path every room message takes.
std::string to_json_text(const ChatMessage& m);

class ChatStore {
public:
    using AppendDone = std::function<void(Expected<ChatMessage, std::string>)>;
    using HistoryDone = std::function<void(Expected<std::vector<ChatMessage>, std::string>)>;

    virtual ~ChatStore() = default;
    // Stores `m` (its id is assigned) and calls done once it is durable.
    virtual void append(ChatMessage m, AppendDone done) = 0;
    // The room's last `limit` messages with id < before (all when nullopt), oldest first.
    virtual void history(ca::RoomId room, std::optional<std::int64_t> before, std::size_t limit,
                         HistoryDone done) = 0;
};

}  // namespace compeit::agents
