// The server side of socket.io 0.9, sans I/O: THE connection state machine of
// the project. Every session's lifecycle (handshake, transport attach,
// namespaces, heartbeats, polling buffers, close timeouts) lives here and
// nowhere else. The caller feeds it requests, frames and the current time;
// it answers through TransportHost (bytes to write, long-polls to answer,
// transports to end) and Application (namespace connects, packets,
// disconnects). It owns no socket, timer, thread or clock.
//
// Lifecycle of a session:
//   handshaken --first GET or upgrade--> open --0::, timeout, transport loss--> gone
// A handshaken session that no transport opens within handshake_timeout is
// gone too. Once open, a session keeps the transport it opened with: a
// request of another transport (websocket, xhr-polling, jsonp-polling) for
// its sid is refused.
//
// The sid is the only credential of a polling client, so it is 128 bits from
// the caller's cryptographic source and nothing else (no counter), and a
// session is bound to the address it handshook from (`peer`): a request for
// its sid from elsewhere is refused as if the sid were unknown. Handshakes
// not yet used are capped, globally and per address, and their query is
// bounded: unused handshakes cannot grow memory.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "compeit/sio/packet.hpp"
#include "compeit/sio/payload.hpp"

namespace compeit::sio {

// Monotonic time since an epoch of the caller's choosing.
using Time = std::chrono::milliseconds;
using SessionId = std::uint64_t;  // opaque handle; 0 is never a session

enum class Transport : std::uint8_t { websocket, xhr_polling, jsonp_polling };
inline constexpr std::size_t kTransportCount = 3;
static_assert(static_cast<std::size_t>(Transport::jsonp_polling) + 1 == kTransportCount);
std::optional<Transport> parse_transport(std::string_view name);
std::string_view transport_name(Transport t);
inline bool is_polling(Transport t) { return t != Transport::websocket; }

enum class CloseReason : std::uint8_t {
    namespace_left,     // the client sent 0::/ns (that namespace only)
    booted,             // the client sent 0::
    server,             // the server ended it (Engine::disconnect)
    forced,             // a ?disconnect request
    transport_closed,   // websocket connection lost
    heartbeat_timeout,  // websocket client stopped answering 2::
    close_timeout,      // polling client did not come back
    handshake_timeout,  // handshaken, never opened
    overflow,           // too much buffered for a client that does not read
    garbage,            // too many malformed packets in a row
};
inline constexpr std::size_t kCloseReasonCount = 10;
static_assert(static_cast<std::size_t>(CloseReason::garbage) + 1 == kCloseReasonCount);
std::string_view to_string(CloseReason r);

struct EngineConfig {
    Time heartbeat_interval{25'000};
    Time heartbeat_timeout{60'000};
    Time close_timeout{60'000};
    Time polling_duration{20'000};
    Time handshake_timeout{30'000};
    std::size_t max_buffered_bytes = 4u << 20;  // per polling session
    std::size_t max_pending_handshakes = 10'000;  // handshaken, not yet opened: all addresses
    std::size_t max_pending_per_peer = 64;        // ...from one address
    std::size_t max_query_bytes = 4096;           // the handshake's query string, kept for the session
    bool bind_sid_to_peer = true;                 // refuse a sid presented from another address
    std::string sid_prefix;                       // cluster mode: "<node>." so a load balancer routes by sid
    unsigned max_bad_packets = 50;              // in a row, before the session is closed
    std::vector<Transport> transports{Transport::websocket, Transport::xhr_polling,
                                      Transport::jsonp_polling};
};

class TransportHost {
public:
    virtual ~TransportHost() = default;
    // Write these packets, in order, on the session's websocket.
    virtual void ws_write(SessionId, std::vector<Frame>&& frames) = 0;
    // Answer the session's held long-poll with this payload.
    virtual void poll_respond(SessionId, std::string payload) = 0;
    // The session is gone: close its transport once what was written is out.
    virtual void end(SessionId) = 0;
    // Some outbox has packets: call Engine::flush() soon, after the current
    // handler (so packets produced together go out together). Called once per
    // flush cycle.
    virtual void schedule_flush() = 0;
    // Connection events, for the host's log: a session's first transport
    // opened, and a session ended (before end()).
    virtual void opened(SessionId, std::string_view /*sid*/, Transport) {}
    virtual void closed(SessionId, std::string_view /*sid*/, CloseReason) {}
};

class Application {
public:
    virtual ~Application() = default;
    virtual void on_namespace_connect(SessionId, std::string_view endpoint, std::string_view query, Time now) = 0;
    // message, json, event and ack packets of a connected namespace.
    virtual void on_packet(SessionId, const Packet&, Time now) = 0;
    // The namespace is left, or the whole session is gone (then for each
    // connected namespace, in order).
    virtual void on_namespace_disconnect(SessionId, std::string_view endpoint, CloseReason, Time now) = 0;
};

class Engine {
public:
    Engine(EngineConfig config, TransportHost& host, Application& app);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Namespaces the application serves; "" (the root) always is.
    void add_namespace(std::string endpoint);
    const EngineConfig& config() const { return config_; }

    enum class Refusal : std::uint8_t { none, too_many_pending, too_many_from_peer, query_too_long, bad_random };
    static constexpr std::size_t kRefusalCount = static_cast<std::size_t>(Refusal::bad_random) + 1;
    struct Handshake {
        SessionId id = 0;  // 0: refused, see `refused`
        std::string sid;
        std::string body;  // `sid:heartbeat:close:transports`
        Refusal refused = Refusal::none;
        explicit operator bool() const { return id != 0; }
    };
    static constexpr std::size_t kSidRandomBytes = 16;
    // `random`: kSidRandomBytes from a cryptographic source (a repeat of a
    // live sid, or fewer bytes, is refused as bad_random). `peer`: the
    // client's address, without the port.
    Handshake handshake(Time now, std::string_view random, std::string_view query, std::string_view peer);

    // The session of `sid` as presented from `peer`; 0 when the sid is
    // unknown, gone, or bound to another address.
    SessionId find(std::string_view sid, std::string_view peer) const;
    bool alive(SessionId id) const { return sessions_.count(id) != 0; }
    // The handshake's query string (without '?'), for the application.
    std::string_view query(SessionId id) const;
    // The address the session handshook from (empty when gone), for logs.
    std::string_view peer(SessionId id) const;
    bool is_transport_allowed(Transport t) const;

    // --- websocket ---
    // Attaches a websocket; false when the session cannot take one (the host
    // then sends `7:::1+0` or `7:::0` as `refusal()` says, and closes).
    bool open_websocket(SessionId, Time now);
    void on_ws_text(SessionId, std::string_view text, Time now);
    void on_transport_closed(SessionId, Time now);

    // --- polling ---
    struct PollResult {
        bool respond = false;        // answer now with `body`; otherwise hold the request
        std::string body;
        bool release_previous = false;  // answer the previously held GET with `8::`
    };
    // A long-poll GET. nullopt: the session cannot take it (see refusal()).
    std::optional<PollResult> on_poll(SessionId, Transport kind, Time now);
    // The held GET's connection went away before it was answered.
    void on_poll_aborted(SessionId, Time now);
    // A POST body of a `kind` request: one packet or a framed payload.
    // Ignored when the session was opened by another transport.
    void on_post(SessionId, Transport kind, std::string_view body, Time now);

    // The error packet to send when a transport request cannot be attached.
    std::string refusal(SessionId id) const;

    // --- the server's side ---
    void send(SessionId, const Frame& packet);
    void send(SessionId id, const Packet& packet) { send(id, make_frame(encode(packet))); }
    // Ends the session from the server: `0::` to the client, then close.
    void disconnect(SessionId, CloseReason reason, Time now);
    // Delivers every outbox touched since the last flush.
    void flush(Time now);
    // Runs the timers: heartbeats, poll durations, close and handshake timeouts.
    void tick(Time now);

    std::size_t session_count() const { return sessions_.size(); }
    std::size_t pending_handshakes() const { return pending_; }
    // Sessions by transport, now (a pass over the sessions: for scrapes, not the hot path).
    std::array<std::size_t, kTransportCount> sessions_by_transport() const;

    // Counters for the host's metrics: plain integers bumped where things
    // happen (one thread drives the engine), read at scrape time. Arrays
    // indexed by the enums, so nothing is allocated or looked up by name.
    struct Stats {
        std::array<std::uint64_t, kTransportCount> opened{};
        // [transport][reason]; index kTransportCount: never opened (handshake timeout).
        std::array<std::array<std::uint64_t, kCloseReasonCount>, kTransportCount + 1> closed{};
        std::array<std::uint64_t, kRefusalCount> refused{};  // by Refusal; [none] stays 0
        std::array<std::uint64_t, kTransportCount> bytes_in{};   // packet text received
        std::array<std::uint64_t, kTransportCount> bytes_out{};  // frames and payloads handed to the host
        std::uint64_t deliveries = 0;  // frames the application sent to one session (Engine::send)
    };
    const Stats& stats() const { return stats_; }

private:
    struct Session;
    EngineConfig config_;
    TransportHost& host_;
    Application& app_;
    std::vector<std::string> namespaces_;
    std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
    std::unordered_map<std::string, SessionId> by_sid_;
    std::vector<SessionId> dirty_;
    SessionId next_id_ = 1;
    std::size_t pending_ = 0;  // sessions not yet opened
    Stats stats_;
    std::unordered_map<std::string, std::size_t> pending_by_peer_;  // only addresses with some

    Session* get(SessionId id) const;
    void open(Session& s, Transport t, Time now);
    void forget_pending(const Session& s);
    void on_packet_text(Session& s, std::string_view text, Time now);
    void handle(Session& s, Packet&& p, Time now);
    void push(Session& s, Frame f);
    void end(Session& s, CloseReason reason, Time now, bool say_goodbye);
    void deliver(Session& s, Time now);
    void answer_poll(Session& s, std::string body, Time now);
    bool serves(std::string_view endpoint) const;
};

}  // namespace compeit::sio
