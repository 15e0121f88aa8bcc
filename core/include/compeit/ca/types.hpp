// The Connection Agent's vocabulary: users, rooms, error codes, limits.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace compeit::ca {

using json = nlohmann::json;
using UserId = std::int64_t;  // > 0; 0 is the server itself
using RoomId = std::int64_t;  // >= 0

inline constexpr std::string_view kNamespace = "/connection_agent";
inline constexpr std::string_view kServerName = "server";  // user 0's name; no client may take it
inline constexpr RoomId kMaxRoomId = (RoomId{1} << 53) - 1;  // JavaScript's safe integers

// What a user may do beyond chatting in its rooms. Without tokens (open
// mode) everyone may use media; with tokens, the `caps` claim says.
struct Capabilities {
    bool publish = true;   // publish a stream (KU-2)
    bool record = true;    // record_start / record_stop
    bool filter = true;    // set_filter
    bool moderate = false; // reserved for moderation requests
    bool admin = false;    // the admin HTTP API
    static Capabilities none() { return {false, false, false, false, false}; }
};

struct User {
    User() = default;
    User(UserId i, std::string n, Capabilities c = {}) : id(i), name(std::move(n)), caps(c) {}
    UserId id = 0;
    std::string name;
    Capabilities caps;  // not part of the user's JSON
};
json to_json(const User& u);

// Who a session is, as a verified access token says (token mode). Without
// one (open mode) a user names itself and may join any room.
struct Identity {
    std::string sub;                        // the application's user key
    std::optional<std::string> name;        // shown instead of the client's ?name=
    std::optional<std::set<RoomId>> rooms;  // the rooms it may join; nullopt: every room
    Capabilities caps = Capabilities::none();
};

// request_error codes (CA-10).
enum class ErrorCode : std::uint8_t {
    bad_request,
    not_in_room,
    unknown_user,
    unknown_type,
    room_full,
    forbidden,
    too_large,
    rate_limited,
    not_supported,
    unavailable,  // a backing service (store, media server) failed
    internal,     // the server failed on this request (a bug: logged, the session goes on)
};
inline constexpr std::size_t kErrorCodeCount = static_cast<std::size_t>(ErrorCode::internal) + 1;
std::string_view to_string(ErrorCode c);

// LIM-3, configurable.
struct Limits {
    std::size_t max_data_bytes = 64 * 1024;  // `data` of one message, as JSON
    std::size_t max_chat_chars = 4000;
    std::size_t max_room_users = 256;
    std::size_t max_rooms = 100'000;
    double rate_per_second = 200;
    double rate_burst = 400;
    std::size_t max_name_chars = 100;
};

// Token bucket; time comes from the caller.
class RateLimiter {
public:
    RateLimiter(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}
    bool take(std::int64_t now_ms);

private:
    double rate_, burst_, tokens_;
    std::int64_t last_ms_ = -1;
};

}  // namespace compeit::ca
