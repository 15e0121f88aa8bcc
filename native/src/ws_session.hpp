// One websocket connection carrying one socket.io session. The framing is
// the core's (compeit::ws), so frames queued while a write is in flight go
// out together in one gather write, and a broadcast's payload is shared by
// every recipient; only the 2-10 byte header is per socket.
//
// Memory per connection is bounded by construction: every byte queued for
// the client (data, pongs, the close frame, the 101 answer) counts against
// --max-write-queue; while a client is over it, nothing more is read from it
// (so its pings and requests stop producing answers), and it is dropped if
// it stays over for kStallTime or goes over 8x the limit. A closing
// connection whose client takes nothing is cut after kStallTime too.
//
// Two transports, one state machine. Plain websockets (the hot path) read and
// write the non-blocking socket directly: a readiness wait, then read_some
// into one buffer shared by every connection, and gathered write_some calls.
// TLS (wss) goes through the connection's ssl_stream (tls_stream.hpp): an
// async read into the connection's own buffer (OpenSSL fills it later, so it
// cannot be shared), and the queue's next bytes copied into one buffer for an
// async write. Both count, pause, stall and drop exactly alike: bytes leave
// the queue (and count as progress) only once the transport took them.
#pragma once

#include <sys/uio.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <vector>

#include "compeit/sio/engine.hpp"
#include "address_limits.hpp"
#include "compeit/ws/frame.hpp"

namespace compeit::native {

class Server;
struct TlsConnection;

class WsSession : public std::enable_shared_from_this<WsSession> {
public:
    WsSession(boost::asio::ip::tcp::socket socket, Server& server, std::string leftover, AddressSlots::Slot slot);
    // wss: the TLS connection whose HTTP session asked for the upgrade.
    WsSession(TlsConnection&& tls, Server& server, std::string leftover, AddressSlots::Slot slot);
    ~WsSession();

    // Sends the 101 answer for `client_key` and attaches the socket.io session
    // `sid` as presented from `address` (or refuses it with an error packet
    // and closes). `peer` (address:port) is for the log.
    void start(const std::string& client_key, const std::string& sid, const std::string& address,
               const std::string& peer);

    // The agent link (agent_link.hpp): a websocket that carries no socket.io
    // session; its text frames go to `peer`, which hears once when it ends.
    struct LinkPeer {
        virtual ~LinkPeer() = default;
        virtual void on_text(std::string_view text) = 0;
        virtual void on_close() = 0;
        virtual void on_pong() {}
    };
    void start_link(const std::string& client_key, std::shared_ptr<LinkPeer> link, const std::string& peer);

    // Queues socket.io packets, one text frame each.
    void send(std::vector<sio::Frame>&& frames);
    // A ping frame (the agent link checks that its peer is alive).
    void ping() { push_control(ws::Opcode::ping, {}); }
    // The session is over: close once the queue is written.
    void finish();
    // Close now (server shutdown).
    void abort();
    // The result of a write that went through the WriteBatch (write_batch.hpp):
    // bytes the kernel took, or -errno; `entries` queue entries were offered.
    void on_batched_write(long result, std::size_t entries);

private:
    struct Out {
        sio::Frame data;
        ws::Header header;  // empty for raw bytes (the HTTP 101 answer)
    };

    struct Tls;

    boost::asio::ip::tcp::socket socket_;  // plain; with TLS unopened, for its executor
    std::unique_ptr<Tls> tls_;             // null: plain
    Server& server_;
    AddressSlots::Slot slot_;
    ws::Decoder decoder_;
    std::string peer_;
    std::string tag_;  // sid_tag of the session, for the log
    sio::SessionId session_ = 0;  // 0: not (or no longer) attached to the engine
    std::shared_ptr<LinkPeer> link_;  // the agent link instead of a session
    std::vector<Out> queue_;  // a vector: an idle connection holds no node (deque always did)
    std::vector<iovec> gather_;  // reused for every gathered write
    std::size_t queued_bytes_ = 0;   // headers and payloads, everything in queue_
    std::size_t peak_queued_ = 0;    // the most queued_bytes_ since the queue was last empty
    std::size_t front_written_ = 0;   // bytes of queue_.front() the kernel already took
    bool waiting_writable_ = false;   // the kernel's buffer was full: waiting to write the rest
    bool batched_ = false;            // a write is queued in the server's WriteBatch: gather_ and the queue stay put
    sio::Time last_progress_{};       // when the kernel last took bytes
    bool closing_ = false;       // close once the queue is empty
    bool closed_ = false;
    bool read_paused_ = false;   // over the queue limit: not reading until it drains
    // Made only while needed (over the limit, or closing with bytes queued):
    // an idle connection holds no timer.
    std::unique_ptr<boost::asio::steady_timer> deadline_;

    void read();
    void read_tls();
    void on_bytes(std::string_view bytes);
    void push_raw(std::string bytes);
    void push_control(ws::Opcode op, std::string payload);
    void enqueue(Out out);
    void burst_over();
    void write();
    std::size_t gather();
    bool after_write(long result, std::size_t entries);
    void settle_batch();
    void write_tls();
    void drained();
    void consume(std::size_t written);
    bool over_limit() const;
    bool stalled() const;
    void drop(const char* why);
    void watch();
    void fail(ws::Error error);
    void detach(bool transport_lost);
    void close_socket();
};

}  // namespace compeit::native
