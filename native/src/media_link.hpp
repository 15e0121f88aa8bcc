// A reconnecting WebSocket client that carries one sans-I/O media-server
// session (kms::Session for Kurento, janus::Session for Janus): it connects,
// feeds received text messages in and the session's frames out, ticks its
// keepalive, and reconnects with backoff when the connection fails or is lost.
// Runs on the server's io_context thread, like everything else, so nothing
// here is locked. The sessions are core classes, so the link reaches them
// through the functions of an Endpoint.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "latency_histogram.hpp"

namespace compeit::native {

class MediaLink {
public:
    using Clock = std::function<std::chrono::milliseconds()>;
    struct Endpoint {
        std::function<void(std::chrono::milliseconds now)> on_open;
        std::function<void(std::string_view text)> on_message;
        std::function<void(const std::string& reason)> on_closed;
        std::function<bool(std::chrono::milliseconds now)> tick;  // false: the peer stopped answering
        std::function<std::vector<std::string>()> take_frames;
    };

    // `url`: ws:// or wss://host[:port][/path] (media_url.hpp; wss: TLS, the certificate
    // checked against the system's trust store, or SSL_CERT_FILE/SSL_CERT_DIR,
    // and the host name); `name` for logs ("the media server");
    // `subprotocol` for Sec-WebSocket-Protocol (empty: none).
    MediaLink(boost::asio::io_context& ioc, const std::string& url, std::string name, std::string subprotocol,
              Clock now, Endpoint endpoint);
    ~MediaLink();

    std::string url() const;

    void start();
    void stop();
    // The session has frames to send: flush them after the current handler.
    void frames_ready();

    // For the metrics: the link's state and how long requests wait for their
    // first answer (matched by the top-level "id" of JSON-RPC, Kurento, or
    // "transaction", Janus).
    struct Stats {
        bool up = false;
        std::uint64_t connects = 0;  // connections opened
        std::uint64_t losses = 0;    // open connections lost
        LatencyHistogram requests;
    };
    const Stats& stats() const { return stats_; }

private:
    struct Conn;

    boost::asio::io_context& ioc_;
    std::string host_, port_, path_, name_, subprotocol_;
    Clock now_;
    Endpoint endpoint_;
    std::unique_ptr<boost::asio::ssl::context> tls_;  // wss:// only
    boost::asio::ip::tcp::resolver resolver_;
    boost::asio::steady_timer retry_timer_;
    boost::asio::steady_timer tick_timer_;
    std::shared_ptr<Conn> conn_;
    std::deque<std::string> queue_;
    bool writing_ = false;
    bool flush_posted_ = false;
    bool stopped_ = true;
    bool warned_ = false;  // one warning per outage
    std::chrono::milliseconds backoff_;
    Stats stats_;
    // Requests on the wire by key, with when they were sent; bounded, and
    // cleared with the connection.
    static constexpr std::size_t kMaxTimed = 1024;
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> sent_;
    void timed_out(std::string_view frame);
    void timed_in(std::string_view text);

    void connect();
    void handshake(const std::shared_ptr<Conn>& conn);  // the WebSocket one, over TCP or TLS
    void opened(const std::shared_ptr<Conn>& conn);
    void read(const std::shared_ptr<Conn>& conn);
    void flush();
    void write(const std::shared_ptr<Conn>& conn);
    void fail(const std::shared_ptr<Conn>& conn, const std::string& what);
    void schedule_retry();
    void arm_tick();
};

// The Endpoint of a session class with on_open, on_message, on_closed, tick
// and take_frames (kms::Session, janus::Session).
template <class Session>
MediaLink::Endpoint endpoint_of(Session& s) {
    return {[&s](std::chrono::milliseconds now) { s.on_open(now); },
            [&s](std::string_view text) { s.on_message(text); },
            [&s](const std::string& reason) { s.on_closed(reason); },
            [&s](std::chrono::milliseconds now) { return s.tick(now); },
            [&s] { return s.take_frames(); }};
}

}  // namespace compeit::native
