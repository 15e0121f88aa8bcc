// The WebSocket connection to Kurento Media Server (--kms-url) that carries a
// kms::Session: connects, feeds received text messages in and the session's
// frames out, ticks its keepalive, and reconnects with backoff when the
// connection fails or is lost. Runs on the server's io_context thread, like
// everything else, so nothing here is locked.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "compeit/agents/media_backend.hpp"
#include "compeit/kms/session.hpp"

namespace compeit::native {

class KmsClient {
public:
    using Clock = std::function<std::chrono::milliseconds()>;

    // `url`: ws://host[:port][/path]; `now`: the server's monotonic time.
    KmsClient(boost::asio::io_context& ioc, std::string url, Clock now);
    ~KmsClient();

    // A bad URL (only ws:// is supported) as a message; empty when usable.
    static std::string check_url(const std::string& url);
    // The file:// URI recordings go under: `dir` as given when it is a file://
    // URI, else made absolute (it names a folder on the media server's host).
    static std::string record_uri(const std::string& dir);

    kms::Session& session() { return session_; }
    // The `kurento` media backend on this connection.
    std::unique_ptr<agents::MediaBackend> make_backend(const std::string& record_dir);

    void start();
    void stop();

private:
    struct Conn;

    boost::asio::io_context& ioc_;
    std::string host_, port_, path_;
    Clock now_;
    kms::Session session_;
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

    void connect();
    void opened(const std::shared_ptr<Conn>& conn);
    void read(const std::shared_ptr<Conn>& conn);
    void flush();
    void write(const std::shared_ptr<Conn>& conn);
    void fail(const std::shared_ptr<Conn>& conn, const std::string& what);
    void schedule_retry();
    void arm_tick();
};

}  // namespace compeit::native
