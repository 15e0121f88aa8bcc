#include "media_link.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "log.hpp"

namespace compeit::native {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr std::chrono::milliseconds kFirstBackoff{200};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr std::chrono::milliseconds kTick{1000};
constexpr std::chrono::seconds kConnectTimeout{5};

struct Url {
    std::string host, port, path, error;
};

Url parse_url(const std::string& url) {
    Url u;
    const std::string scheme = "ws://";
    if (url.rfind(scheme, 0) != 0) return u.error = "only ws:// URLs are supported", u;
    const std::string rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    u.path = slash == std::string::npos ? "/" : rest.substr(slash);
    u.port = "80";
    if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
        const auto close = authority.find(']');
        if (close == std::string::npos) return u.error = "bad IPv6 address", u;
        u.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = authority.substr(close + 2);
    } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
    } else {
        u.host = authority;
    }
    if (u.host.empty()) return u.error = "no host", u;
    if (u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos) return u.error = "bad port", u;
    return u;
}

}  // namespace

struct MediaLink::Conn {
    explicit Conn(asio::io_context& ioc) : ws(ioc) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    bool open = false;
};

MediaLink::MediaLink(asio::io_context& ioc, const std::string& url, std::string name, std::string subprotocol,
                     Clock now, Endpoint endpoint)
    : ioc_(ioc),
      name_(std::move(name)),
      subprotocol_(std::move(subprotocol)),
      now_(std::move(now)),
      endpoint_(std::move(endpoint)),
      resolver_(ioc),
      retry_timer_(ioc),
      tick_timer_(ioc),
      backoff_(kFirstBackoff) {
    const Url u = parse_url(url);
    host_ = u.host;
    port_ = u.port;
    path_ = u.path;
}

MediaLink::~MediaLink() {
    stopped_ = true;
    if (conn_) {
        beast::error_code ec;
        beast::get_lowest_layer(conn_->ws).socket().close(ec);
    }
}

std::string MediaLink::check_url(const std::string& url) { return parse_url(url).error; }

void MediaLink::frames_ready() {
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(ioc_, [this] {
        flush_posted_ = false;
        flush();
    });
}

void MediaLink::start() {
    if (!stopped_) return;
    stopped_ = false;
    connect();
    arm_tick();
}

void MediaLink::stop() {
    if (stopped_) return;
    stopped_ = true;
    retry_timer_.cancel();
    tick_timer_.cancel();
    resolver_.cancel();
    if (auto conn = std::exchange(conn_, nullptr)) {
        beast::error_code ec;
        beast::get_lowest_layer(conn->ws).socket().close(ec);
    }
    queue_.clear();
    writing_ = false;
    endpoint_.on_closed("server stopping");
}

void MediaLink::connect() {
    auto conn = std::make_shared<Conn>(ioc_);
    conn_ = conn;
    resolver_.async_resolve(host_, port_, [this, conn](beast::error_code ec, tcp::resolver::results_type results) {
        if (conn != conn_) return;
        if (ec) return fail(conn, "resolve: " + ec.message());
        beast::get_lowest_layer(conn->ws).expires_after(kConnectTimeout);
        beast::get_lowest_layer(conn->ws).async_connect(results, [this, conn](beast::error_code ec2, const tcp::endpoint&) {
            if (conn != conn_) return;
            if (ec2) return fail(conn, "connect: " + ec2.message());
            beast::get_lowest_layer(conn->ws).expires_never();
            conn->ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
            conn->ws.text(true);
            if (!subprotocol_.empty())
                conn->ws.set_option(websocket::stream_base::decorator([p = subprotocol_](websocket::request_type& req) {
                    req.set(beast::http::field::sec_websocket_protocol, p);
                }));
            conn->ws.async_handshake(host_ + ":" + port_, path_, [this, conn](beast::error_code ec3) {
                if (conn != conn_) return;
                if (ec3) return fail(conn, "websocket handshake: " + ec3.message());
                opened(conn);
            });
        });
    });
}

void MediaLink::opened(const std::shared_ptr<Conn>& conn) {
    conn->open = true;
    backoff_ = kFirstBackoff;
    warned_ = false;
    log(LogLevel::info, name_, " connected: ", url());
    read(conn);
    endpoint_.on_open(now_());
    flush();
}

void MediaLink::read(const std::shared_ptr<Conn>& conn) {
    conn->ws.async_read(conn->buffer, [this, conn](beast::error_code ec, std::size_t) {
        if (conn != conn_) return;
        if (ec) return fail(conn, ec == websocket::error::closed ? "closed by " + name_ : ec.message());
        const std::string text = beast::buffers_to_string(conn->buffer.data());
        conn->buffer.consume(conn->buffer.size());
        endpoint_.on_message(text);
        flush();
        if (conn == conn_) read(conn);
    });
}

void MediaLink::flush() {
    for (auto& frame : endpoint_.take_frames()) queue_.push_back(std::move(frame));
    if (conn_ && conn_->open && !writing_ && !queue_.empty()) write(conn_);
}

void MediaLink::write(const std::shared_ptr<Conn>& conn) {
    writing_ = true;
    conn->ws.async_write(asio::buffer(queue_.front()), [this, conn](beast::error_code ec, std::size_t) {
        if (conn != conn_) return;
        writing_ = false;
        if (ec) return fail(conn, "write: " + ec.message());
        queue_.pop_front();
        if (!queue_.empty()) write(conn);
    });
}

void MediaLink::fail(const std::shared_ptr<Conn>& conn, const std::string& what) {
    if (conn != conn_) return;
    const bool was_open = conn->open;
    conn_.reset();
    beast::error_code ec;
    beast::get_lowest_layer(conn->ws).socket().close(ec);
    queue_.clear();
    writing_ = false;
    if (was_open) {
        log(LogLevel::warn, name_, " connection lost: ", what);
        endpoint_.on_closed(what);
    } else if (!warned_) {
        log(LogLevel::warn, "cannot reach ", name_, " at ", url(), ": ", what, " (retrying)");
        warned_ = true;
    } else {
        log(LogLevel::debug, name_, " still unreachable: ", what);
    }
    schedule_retry();
}

void MediaLink::schedule_retry() {
    if (stopped_) return;
    retry_timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    retry_timer_.async_wait([this](beast::error_code ec) {
        if (ec || stopped_) return;
        connect();
    });
}

void MediaLink::arm_tick() {
    tick_timer_.expires_after(kTick);
    tick_timer_.async_wait([this](beast::error_code ec) {
        if (ec || stopped_) return;
        if (!endpoint_.tick(now_()) && conn_) fail(conn_, name_ + " stopped answering its keepalive");
        flush();
        arm_tick();
    });
}

}  // namespace compeit::native
