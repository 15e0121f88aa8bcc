// The client side of the Janus WebRTC Server API (JSON over the WebSocket
// subprotocol "janus-protocol"), sans I/O: the owner feeds it the
// connection's life (on_open, on_message, on_closed) and the time (tick), and
// takes the text frames to send (take_frames). This class is the one state
// machine of a Janus connection:
//   closed --on_open--> creating --"success"--> ready --on_closed--> closed
// On open it creates a Janus session; requests made before the session id is
// known are held and go out once it is. Every request carries a transaction
// id; Janus answers "success" or "error", or "ack" first and the plugin's
// "event" later for asynchronous plugin requests. A Janus session dies with
// the connection (the WebSocket transport destroys it) or after Janus'
// session_timeout without traffic: a keepalive goes out every ~25 s, and an
// unanswered keepalive or a "timeout" from Janus asks the owner to drop the
// connection (tick returns false).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compeit/ca/types.hpp"
#include "compeit/util/expected.hpp"

namespace compeit::janus {

using json = ca::json;
using Time = std::chrono::milliseconds;
using HandleId = std::uint64_t;

struct Error {
    int code = 0;              // Janus' code: core (4xx, e.g. 465 bad SDP) or the plugin's error_code
    std::string reason;        // Janus' reason, or ours when the connection is gone
    bool disconnected = false; // no answer: the connection was down or was lost
};

// A request's outcome: Janus' whole reply ("success" or the plugin "event",
// with plugindata and jsep), or the error. Plugin errors (plugindata.data.
// error_code) are errors too.
using Result = Expected<json, Error>;
using Callback = std::function<void(Result)>;
// Messages Janus sends about a handle on its own ("trickle", "webrtcup",
// "hangup", "media", unsolicited plugin "event"s, ...).
using HandleEvent = std::function<void(const json& message)>;

struct SessionConfig {
    Time keepalive_interval{25'000};  // Janus' default session_timeout is 60 s
    Time keepalive_timeout{10'000};   // unanswered this long: the connection is dead
};

class Session {
public:
    explicit Session(SessionConfig config = {}) : config_(config) {}

    // --- driven by the transport ---------------------------------------------
    void on_open(Time now);
    // A text message from Janus. Malformed input is ignored (counted).
    void on_message(std::string_view text);
    // The connection is gone: every request waiting for an answer fails with
    // `disconnected`, and so do later requests until on_open.
    void on_closed(const std::string& reason);
    // Keepalive; false when the connection should be dropped.
    bool tick(Time now);
    std::vector<std::string> take_frames();

    // --- used by the backend ---------------------------------------------------
    // Attaches a plugin handle; the result's data.id is the handle id.
    void attach(const std::string& plugin, std::function<void(Expected<HandleId, Error>)> done);
    // A plugin message; `jsep` null for none. `done` may be empty.
    void message(HandleId handle, json body, json jsep, Callback done);
    // A browser candidate ({candidate, sdpMid, sdpMLineIndex} or {completed: true}).
    void trickle(HandleId handle, json candidate);
    void detach(HandleId handle);
    void listen(HandleId handle, HandleEvent handler) { listeners_[handle] = std::move(handler); }
    void unlisten(HandleId handle) { listeners_.erase(handle); }

    bool is_ready() const { return state_ == State::ready; }
    std::uint64_t session_id() const { return session_id_; }
    std::size_t pending() const { return pending_.size() + held_.size(); }
    std::size_t malformed() const { return malformed_; }

    std::function<void()> on_output;                  // frames were queued
    std::function<void()> on_connected;               // the Janus session exists
    std::function<void(const std::string&)> on_lost;  // after on_closed failed the pending

private:
    enum class State { closed, creating, ready, dead };
    struct Pending {
        Callback done;
        bool wait_event = false;  // "ack" is not the answer: the plugin's "event" is
    };

    SessionConfig config_;
    State state_ = State::closed;
    std::uint64_t session_id_ = 0;
    std::uint64_t next_tx_ = 1;
    std::map<std::string, Pending> pending_;
    std::deque<json> held_;  // waiting for the session id
    std::vector<std::string> out_;
    std::map<HandleId, HandleEvent> listeners_;
    Time now_{0};
    Time last_keepalive_{0};
    std::string keepalive_tx_;  // the keepalive awaiting its ack
    Time keepalive_sent_{0};
    std::size_t malformed_ = 0;

    void request(json msg, Callback done, bool wait_event);
    void send(json msg);
    void answer(const std::string& tx, Result result);
    void created(const json& msg);
    void fail_all(const std::string& reason);
};

}  // namespace compeit::janus
