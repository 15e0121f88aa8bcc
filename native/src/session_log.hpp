// The sessions' story in the log: session_open when a transport connects,
// user_connected when the session becomes a user, session_closed with who it
// was, the room it was in and why it ended, in plain words. It sits between
// the engine and the router (the engine tells the application a session is
// gone before it tells the host, and by then the router has forgotten it).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "compeit/ca/router.hpp"
#include "compeit/sio/engine.hpp"

namespace compeit::native {

// What a log line says for a close reason; the wire keeps sio::to_string's.
std::string_view close_reason_words(sio::CloseReason reason);

class SessionLog final : public sio::Application {
public:
    explicit SessionLog(ca::Router& router) : router_(router) {}

    void opened(sio::SessionId id, std::string_view sid, sio::Transport transport, std::string_view peer);
    void closed(sio::SessionId id, std::string_view sid, sio::CloseReason reason);

    // sio::Application: forwarded to the router.
    void on_namespace_connect(sio::SessionId, std::string_view endpoint, std::string_view query,
                              sio::Time now) override;
    void on_packet(sio::SessionId id, const sio::Packet& p, sio::Time now) override { router_.on_packet(id, p, now); }
    void on_namespace_disconnect(sio::SessionId, std::string_view endpoint, sio::CloseReason,
                                 sio::Time now) override;

private:
    struct Entry {
        std::string tag;  // sid_tag(sid)
        std::string transport;
        std::string remote;
        std::optional<ca::UserId> user;
        std::optional<ca::RoomId> room;
    };
    ca::Router& router_;
    std::unordered_map<sio::SessionId, Entry> sessions_;

    // The user and room as the router knows them now (before it forgets).
    void remember(sio::SessionId id);
};

}  // namespace compeit::native
