// The client side of the Kurento Media Server protocol (JSON-RPC 2.0 over
// WebSocket text messages), sans I/O: the owner feeds it the connection's
// life (on_open, on_message, on_closed) and the time (tick), and takes the
// text frames to send (take_frames). This class is the one state machine of
// a KMS connection:
//   closed --on_open--> open --on_closed--> closed (pending requests fail)
// Requests get ids; responses may come in any order. KMS gives a session id in
// the first result that creates state; it goes into every later request's
// params, across reconnects, so KMS can tie the objects to this client. Until
// it is known, at most one state-creating request is on the wire (so no
// request starts a second session). A ping keeps the connection checked; a
// ping left unanswered too long asks the owner to drop the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "compeit/ca/types.hpp"
#include "compeit/util/expected.hpp"

namespace compeit::kms {

using json = ca::json;
using Time = std::chrono::milliseconds;

struct RpcError {
    int code = 0;              // JSON-RPC error code (KMS's own codes, e.g. 40101)
    std::string message;       // KMS's reason, or ours when the connection is gone
    std::string type;          // KMS's error.data.type, when given
    bool disconnected = false; // no answer: the connection was down or was lost
};

// A request's outcome: the result's `value` (null when absent), or the error.
using Result = Expected<json, RpcError>;
using Callback = std::function<void(Result)>;
// onEvent: (object id, event type, the event's `data`).
using EventHandler = std::function<void(const std::string& object, const std::string& type, const json& data)>;

struct SessionConfig {
    Time ping_interval{10'000};
    Time ping_timeout{10'000};  // unanswered this long: the connection is dead
};

class Session {
public:
    explicit Session(SessionConfig config = {}) : config_(config) {}

    // --- driven by the transport ---------------------------------------------
    void on_open(Time now);
    // A text message from KMS. Malformed input is ignored (counted).
    void on_message(std::string_view text);
    // The connection is gone: every request waiting for an answer fails with
    // `disconnected`, and so do later requests until on_open.
    void on_closed(const std::string& reason);
    // Keepalive; false when the connection should be dropped (ping unanswered).
    bool tick(Time now);
    // Frames to send, in order.
    std::vector<std::string> take_frames();

    // --- used by the backend ---------------------------------------------------
    // Sends `method` with `params` (an object); `done` runs once with the
    // outcome, possibly at once (when closed). Returns the request id.
    std::int64_t request(const std::string& method, json params, Callback done);
    // onEvent notifications of `type` raised by `object`; one handler per pair.
    void listen(const std::string& object, const std::string& type, EventHandler handler);
    void unlisten(const std::string& object);

    bool is_open() const { return open_; }
    const std::string& session_id() const { return session_id_; }
    std::size_t pending() const { return pending_.size(); }  // held ones included
    std::size_t malformed() const { return malformed_; }

    // Hooks for the owners (all optional).
    std::function<void()> on_output;                     // frames were queued
    std::function<void()> on_connected;                  // after on_open
    std::function<void(const std::string&)> on_lost;     // after on_closed failed the pending

private:
    struct Held {
        std::int64_t id;
        std::string method;
        json params;
    };

    SessionConfig config_;
    bool open_ = false;
    std::string session_id_;
    std::int64_t next_id_ = 1;
    std::map<std::int64_t, Callback> pending_;
    std::deque<Held> held_;          // waiting for the session id
    std::int64_t probe_ = 0;         // the state-creating request sent without a session id
    std::vector<std::string> out_;
    std::map<std::pair<std::string, std::string>, EventHandler> listeners_;
    Time last_ping_{0};
    std::int64_t ping_id_ = 0;       // the ping awaiting its answer
    Time ping_sent_{0};
    std::size_t malformed_ = 0;

    void send(std::int64_t id, const std::string& method, json params);
    void release_held();
    void on_response(const json& msg);
    void on_notification(const json& msg);
};

}  // namespace compeit::kms
