#include "compeit/ca/types.hpp"

#include <algorithm>

namespace compeit::ca {

json to_json(const User& u) { return json{{"id", u.id}, {"name", u.name}}; }

std::string_view to_string(ErrorCode c) {
    switch (c) {
        case ErrorCode::bad_request: return "bad_request";
        case ErrorCode::not_in_room: return "not_in_room";
        case ErrorCode::unknown_user: return "unknown_user";
        case ErrorCode::unknown_type: return "unknown_type";
        case ErrorCode::room_full: return "room_full";
        case ErrorCode::forbidden: return "forbidden";
        case ErrorCode::too_large: return "too_large";
        case ErrorCode::rate_limited: return "rate_limited";
        case ErrorCode::not_supported: return "not_supported";
        case ErrorCode::unavailable: return "unavailable";
        case ErrorCode::internal: return "internal";
    }
    return "bad_request";
}

bool RateLimiter::take(std::int64_t now_ms) {
    if (last_ms_ >= 0 && now_ms > last_ms_)
        tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ms - last_ms_) / 1000.0);
    if (now_ms > last_ms_) last_ms_ = now_ms;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
}

}  // namespace compeit::ca
