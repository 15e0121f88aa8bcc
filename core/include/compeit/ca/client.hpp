// The client side of the Connection Agent over socket.io 0.9 websockets,
// sans I/O: the one state machine behind the WebAssembly connection agent
// (and the native tests). The host performs what `take_outputs()` asks for
// (an HTTP GET for the handshake, opening/sending/closing the websocket),
// feeds back what happened with the current time, and calls tick().
//
// States: idle -> handshaking -> opening -> connecting -> connected
//                   ^                                         |
//                   +------- reconnecting (backoff) <---------+ (lost)
// A `0::` from the server ("booted") or disconnect() ends in `closed`. A first
// connect() that fails ends in `closed` too: only a connection that was up is
// retried. The application sees four states through the `state` event
// (connecting, connected, reconnecting, disconnected), each with a reason.
//
// Session resume (docs/protocol.md §8): the client asks for a resume token
// (`?resume=1` on the namespace connect), counts the namespace events it got
// since `connected`, and after a lost connection presents both
// (`?resume=<token>&seen=<n>`): the server gives back the same user and room
// and replays what was not read, or answers `missed` and the client rejoins.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compeit/ca/types.hpp"
#include "compeit/sio/engine.hpp"  // sio::Time

namespace compeit::ca {

struct ClientConfig {
    std::string url;  // http(s)://host:port
    std::string name;
    bool reconnect = true;
    sio::Time reconnect_delay{500};  // doubles per attempt, as socket.io 0.9 clients do
    sio::Time reconnect_delay_max{10'000};
    unsigned max_attempts = 10;
    sio::Time connect_timeout{10'000};
    std::string token = {};  // an access token for servers that require one (sent as ?token=)
    double jitter = 0.5;     // 0..1: each delay is drawn from [d*(1-jitter), d]
    bool resume = true;      // ask for a resume token, and resume after a lost connection
    std::uint32_t seed = 0;  // the host's random seed for the jitter (the core has no randomness source)
};

// Applies the options of `json_text` ({"reconnect", "maxAttempts", "minDelay",
// "maxDelay", "jitter", "resume", "seed"}) to `config`: unknown keys are
// ignored, values of the wrong type ignored, numbers clamped to sane ranges.
// False when the text is not a JSON object (nothing applied).
bool apply_client_options(ClientConfig& config, std::string_view json_text);

// One thing for the host to do, or to tell the application. Payloads are
// JSON text: spans of what the server sent, copied, never re-serialised.
struct Output {
    enum class Kind : std::uint8_t {
        http_get,  // text: URL of the handshake
        ws_open,   // text: websocket URL
        ws_send,   // text: one socket.io packet
        ws_close,
        event,     // text: state, connected, room_joined, user_joined, user_left, room_left,
                   //       request_error, disconnect, reconnecting, reconnected; payload
        ack,       // request: the request id; payload: the ack object ({error} on failure)
        agent,     // text: type; channel: server|room|user; from; payload: data
    };
    Kind kind = Kind::event;
    std::string text;
    std::string payload;  // JSON text; empty: none
    std::uint64_t request = 0;
    std::string channel;
    UserId from = 0;
};

// An agent living in C++ on the client (e.g. the chat client agent). Agents
// registered from JavaScript get Output::Kind::agent instead. Payloads are
// JSON text (parse with util::parse_json when a tree is needed).
class ClientAgent {
public:
    virtual ~ClientAgent() = default;
    virtual void on_server_message(std::string_view /*data*/) {}
    virtual void on_room_message(UserId /*from*/, std::string_view /*data*/) {}
    virtual void on_user_message(UserId /*from*/, std::string_view /*data*/) {}
    // room_joined, user_joined, user_left, room_left, connected, disconnect.
    virtual void on_membership(std::string_view /*event*/, std::string_view /*payload*/) {}
};

class Client {
public:
    enum class State : std::uint8_t { idle, handshaking, opening, connecting, connected, reconnecting, closed };

    explicit Client(ClientConfig config);
    // Options set before connect() (or between connections); see apply_client_options.
    bool configure(std::string_view json_text);

    void connect(sio::Time now);
    void disconnect();
    void on_http(int status, std::string_view body, sio::Time now);
    void on_ws_open(sio::Time now);
    void on_ws_message(std::string_view text, sio::Time now);
    void on_ws_close(sio::Time now);
    void tick(sio::Time now);

    // Requests. Each returns its id; the matching Output::Kind::ack settles it
    // (with {error:{code:"not_connected"}} at once when offline,
    // {error:{code:"disconnected"}} if the connection drops first, and
    // {error:{code:"bad_request"}} when `data_json` is not JSON).
    std::uint64_t join_room(RoomId room);
    std::uint64_t leave_room();
    std::uint64_t send_server(std::string_view type, std::string_view data_json);
    std::uint64_t send_room(std::string_view type, std::string_view data_json);
    std::uint64_t send_user(UserId to, std::string_view type, std::string_view data_json);

    // For agents in C++: a server_message whose ack comes back to `on_ack`
    // (the ack object as JSON text) instead of going to the host.
    using AckHandler = std::function<void(std::string_view ack_json)>;
    std::uint64_t send_server(std::string_view type, std::string_view data_json, AckHandler on_ack);
    // For agents in C++ that answer a host request themselves: a
    // server_message whose ack reaches the host as `shape(ack_json)` (e.g. the
    // chat history's page instead of {ok:true}).
    using AckShape = std::function<std::string(std::string_view ack_json)>;
    std::uint64_t send_server_shaped(std::string_view type, std::string_view data_json, AckShape shape);

    // A C++ agent, or nullptr for an agent living in the host (JavaScript).
    bool register_agent(const std::string& type, ClientAgent* agent);

    std::vector<Output> take_outputs();
    // Lets agents report to the application (`payload` is JSON text).
    void emit_event(std::string name, std::string payload);

    State state() const { return state_; }
    const std::optional<User>& user() const { return user_; }
    const std::optional<RoomId>& room() const { return room_; }

    // The delay before reconnect attempt `attempt` (1-based), drawn from the
    // seeded generator: min_delay*2^(attempt-1), capped at max_delay, less a
    // random part of up to `jitter` of it.
    sio::Time backoff(unsigned attempt);

private:
    ClientConfig config_;
    std::uint64_t rng_;  // splitmix64 state, from config_.seed
    State state_ = State::idle;
    std::vector<Output> out_;
    std::map<std::string, ClientAgent*, std::less<>> agents_;
    std::optional<User> user_;
    std::optional<RoomId> room_;
    std::optional<RoomId> rejoin_;  // the room to join again after a reconnect
    std::string sid_;
    sio::Time heartbeat_timeout_{60'000};
    sio::Time deadline_{};  // connect timeout, or heartbeat silence while connected
    sio::Time retry_at_{};
    unsigned attempts_ = 0;
    int status_ = 0;  // the last failed handshake's HTTP status (0: none)
    bool was_connected_ = false;  // this connect() reached `connected` once: losses are retried
    std::string resume_token_;    // the server's, for the next reconnect; empty: none
    std::uint64_t seen_ = 0;      // namespace events but request_error received since `connected` (resume's seen=)
    std::uint64_t next_request_ = 1;
    // A request waiting for its ack. The server sends a failed request's
    // request_error just before its ack; `event`/`type` let that
    // request_error be matched to the oldest pending request it can belong
    // to, so that it reaches the application only when no request waits for
    // it (the ack settles the request itself).
    struct Pending {
        AckHandler handler;  // empty: the host's
        std::string event;
        std::string type;
        bool failed = false;  // its request_error came; the ack follows
    };
    std::map<std::uint64_t, Pending> pending_;  // by request id, which is also the send order

    // Sends `event` with one argument (JSON text; empty: no argument).
    std::uint64_t request(std::string_view event, const std::string& arg_json, AckHandler on_ack = {},
                          std::string_view type = {});
    bool claim_request_error(std::string_view arg);
    std::uint64_t message(std::string_view event, const UserId* to, std::string_view type, std::string_view data_json,
                          AckHandler on_ack = {});
    void fail_pending(std::string_view code, std::string_view message);
    void settle(std::uint64_t id, std::string result);
    void handle_event(std::string_view name, std::string_view arg);
    // The connection is gone (or never came), for `reason` (a state reason word).
    void lost(sio::Time now, bool allow_reconnect, std::string_view reason);
    void emit_state(std::string_view state, std::string_view reason, std::string extra = {});
    void on_connected(std::string_view arg);
    std::string connect_query() const;
    void start_handshake(sio::Time now);
    void send_packet(std::string text);
    void out(Output::Kind kind, std::string text = {}, std::string payload = {});
    void out_ack(std::uint64_t id, std::string payload);
};

}  // namespace compeit::ca
