// The agent link's frames (docs/agents.md): what an external agent sends,
// decoded into typed values at this one boundary, and nothing else. A frame
// is one JSON object with an `op`; anything malformed, of an unknown op or
// with a field of the wrong type becomes a LinkError naming the problem,
// never an exception. Pure functions: no state, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "compeit/ca/types.hpp"
#include "compeit/util/expected.hpp"

namespace compeit::ca::link {

inline constexpr std::size_t kMaxTypeBytes = 64;
inline constexpr std::size_t kMaxTypesPerFrame = 8;
inline constexpr std::size_t kMaxRoomsPerFrame = 256;
inline constexpr std::size_t kMaxMessageBytes = 256;  // a fail's message
inline constexpr std::size_t kMaxRefBytes = 64;        // an echoed `ref`

// {op:"register", types:[..], takes?:["room_message","user_message"]}
struct Register {
    std::vector<std::string> types;
    bool takes_room = false;
    bool takes_user = false;
};
// {op:"watch"|"unwatch", rooms:[..]}
struct Watch {
    std::vector<RoomId> rooms;
    bool watch = true;
};
// {op:"ok", id, data?} / {op:"fail", id, code, message?}
struct Answer {
    std::uint64_t id = 0;
    std::optional<ErrorCode> code;  // nullopt: ok
    std::string message;
    std::optional<json> data;       // ok: sent to the requester as server_message first
};
// {op:"to_user", type?, to, data}: server_message {type, data} to one user.
struct ToUser {
    std::string type;  // empty: the link's first type
    UserId to = 0;
    json data;
};
// {op:"to_room", type?, room, data}: room_message {from:0, type, data}.
struct ToRoom {
    std::string type;
    RoomId room = 0;
    json data;
};
// {op:"relay", type?, room, from, data, include_sender?}: room_message {from, type, data}.
struct Relay {
    std::string type;
    RoomId room = 0;
    UserId from = 0;
    json data;
    bool include_sender = false;
};
// {op:"user_message", type?, to, from, data}: user_message {from, type, data}.
struct UserMessage {
    std::string type;
    UserId to = 0;
    UserId from = 0;
    json data;
};
// {op:"members", room} -> {op:"members", room, users:[..]}
struct Members {
    RoomId room = 0;
};

using Op = std::variant<Register, Watch, Answer, ToUser, ToRoom, Relay, UserMessage, Members>;

// What went wrong with a frame; `code` is one of the link's error codes
// (bad_json, bad_request, unknown_op, too_large, ...).
struct LinkError {
    std::string code;
    std::string message;
    json ref;  // the frame's `ref` when it could be read (a string or integer), else null
};

struct Frame {
    Op op;
    json ref;  // echoed in what the server answers to this frame
};

// Decodes one text frame of at most max_bytes, `data` at most max_data bytes as JSON.
Expected<Frame, LinkError> decode(std::string_view text, std::size_t max_bytes, std::size_t max_data);

// The error code `name` denotes (CA-10's names), if any.
std::optional<ErrorCode> parse_error_code(std::string_view name);

// Server-to-agent frames, as JSON text.
std::string error_frame(std::string_view code, std::string_view message, const json& ref);

}  // namespace compeit::ca::link
