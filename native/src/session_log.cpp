#include "session_log.hpp"

#include "log.hpp"
#include "secrets.hpp"

namespace compeit::native {

std::string_view close_reason_words(sio::CloseReason reason) {
    switch (reason) {
        case sio::CloseReason::namespace_left: return "left the namespace";
        case sio::CloseReason::booted: return "client left";
        case sio::CloseReason::server: return "closed by the server";
        case sio::CloseReason::forced: return "client disconnected";
        case sio::CloseReason::transport_closed: return "connection lost";
        case sio::CloseReason::heartbeat_timeout: return "timed out (no heartbeat answer)";
        case sio::CloseReason::close_timeout: return "timed out (did not poll again)";
        case sio::CloseReason::handshake_timeout: return "timed out (never connected)";
        case sio::CloseReason::overflow: return "too slow to read (buffer full)";
        case sio::CloseReason::garbage: return "sent malformed packets";
    }
    return "unknown";
}

void SessionLog::opened(sio::SessionId id, std::string_view sid, sio::Transport transport, std::string_view peer) {
    auto& e = sessions_[id];
    e.tag = sid_tag(sid);
    e.transport = sio::transport_name(transport);
    e.remote = peer;
    log_event(LogLevel::info,
              LogFields{.event = "session_open", .session = e.tag, .transport = e.transport, .remote = e.remote},
              "session ", e.tag, " open ", e.transport);
}

void SessionLog::on_namespace_connect(sio::SessionId id, std::string_view endpoint, std::string_view query,
                                      sio::Time now) {
    router_.on_namespace_connect(id, endpoint, query, now);
    const auto user = router_.user_of(id);
    const auto it = sessions_.find(id);
    if (!user || it == sessions_.end() || it->second.user == user) return;
    it->second.user = user;
    log_event(LogLevel::info,
              LogFields{.event = "user_connected", .session = it->second.tag, .user = static_cast<std::uint64_t>(*user),
                        .transport = it->second.transport, .remote = it->second.remote},
              "session ", it->second.tag, " is user ", *user);
}

void SessionLog::on_namespace_disconnect(sio::SessionId id, std::string_view endpoint, sio::CloseReason reason,
                                         sio::Time now) {
    remember(id);
    router_.on_namespace_disconnect(id, endpoint, reason, now);
}

void SessionLog::remember(sio::SessionId id) {
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    if (const auto user = router_.user_of(id)) {
        it->second.user = user;
        it->second.room = router_.room_of(*user);
    }
}

void SessionLog::closed(sio::SessionId id, std::string_view sid, sio::CloseReason reason) {
    Entry e;
    if (const auto it = sessions_.find(id); it != sessions_.end()) {
        e = std::move(it->second);
        sessions_.erase(it);
    }
    const auto tag = sid_tag(sid);
    LogFields f{.event = "session_closed", .session = tag, .transport = e.transport,
                .reason = close_reason_words(reason), .remote = e.remote};
    if (e.user) f.user = static_cast<std::uint64_t>(*e.user);
    if (e.room) f.room = *e.room;
    // Expected closes are not failures: info, like the opens.
    log_event(LogLevel::info, f, "session ", tag, " closed: ", f.reason);
}

}  // namespace compeit::native
