#include "media_link.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/ssl.h>
#include <variant>

#include "compeit/util/json_scan.hpp"
#include "log.hpp"
#include "media_url.hpp"

namespace compeit::native {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr std::chrono::milliseconds kFirstBackoff{200};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr std::chrono::milliseconds kTick{1000};
constexpr std::chrono::seconds kConnectTimeout{5};

// The request key of a media server message: its top-level "id" or
// "transaction", as written; empty when it has none (or is not JSON).
std::string_view request_key(std::string_view text) {
    const auto v = util::json_value_span(text, 16);
    if (!v) return {};
    if (auto id = util::json_member(*v, "id")) return *id;
    if (auto t = util::json_member(*v, "transaction")) return *t;
    return {};
}

}  // namespace

void MediaLink::timed_out(std::string_view frame) {
    const auto key = request_key(frame);
    if (!key.empty() && sent_.size() < kMaxTimed) sent_.emplace(std::string(key), std::chrono::steady_clock::now());
}

void MediaLink::timed_in(std::string_view text) {
    if (sent_.empty()) return;
    const auto key = request_key(text);
    if (key.empty()) return;
    const auto it = sent_.find(std::string(key));
    if (it == sent_.end()) return;
    stats_.requests.observe(std::chrono::steady_clock::now() - it->second);
    sent_.erase(it);
}

// One connection attempt: a WebSocket over TCP (ws://) or over TLS (wss://).
// `visit` runs a generic callable on whichever stream it is.
struct MediaLink::Conn {
    using Plain = websocket::stream<beast::tcp_stream>;
    using Secure = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

    Conn(asio::io_context& ioc, ssl::context* tls)
        : ws(tls ? std::variant<Plain, Secure>(std::in_place_type<Secure>, ioc, *tls)
                 : std::variant<Plain, Secure>(std::in_place_type<Plain>, ioc)) {}
    template <class F> decltype(auto) visit(F&& f) { return std::visit(std::forward<F>(f), ws); }
    beast::tcp_stream& tcp() { return visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); }); }

    std::variant<Plain, Secure> ws;
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
    const MediaUrl u = parse_media_url(url);
    host_ = u.host;
    port_ = u.port;
    path_ = u.path;
    if (u.tls) {
        // The system's trust store (or SSL_CERT_FILE / SSL_CERT_DIR), and the
        // certificate must name the host.
        tls_ = std::make_unique<ssl::context>(ssl::context::tls_client);
        tls_->set_default_verify_paths();
        tls_->set_verify_mode(ssl::verify_peer);
    }
}

MediaLink::~MediaLink() {
    stopped_ = true;
    if (conn_) {
        beast::error_code ec;
        conn_->tcp().socket().close(ec);
    }
}

std::string MediaLink::url() const { return (tls_ ? "wss://" : "ws://") + host_ + ":" + port_ + path_; }

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
        conn->tcp().socket().close(ec);
    }
    queue_.clear();
    writing_ = false;
    sent_.clear();
    stats_.up = false;
    endpoint_.on_closed("server stopping");
}

void MediaLink::connect() {
    auto conn = std::make_shared<Conn>(ioc_, tls_.get());
    conn_ = conn;
    resolver_.async_resolve(host_, port_, [this, conn](beast::error_code ec, tcp::resolver::results_type results) {
        if (conn != conn_) return;
        if (ec) return fail(conn, "resolve: " + ec.message());
        conn->tcp().expires_after(kConnectTimeout);
        conn->tcp().async_connect(results, [this, conn](beast::error_code ec2, const tcp::endpoint&) {
            if (conn != conn_) return;
            if (ec2) return fail(conn, "connect: " + ec2.message());
            if (!tls_) return handshake(conn);
            auto& stream = std::get<Conn::Secure>(conn->ws).next_layer();
            // SNI, and the name the certificate must carry.
            if (!SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str()))
                return fail(conn, "TLS: cannot set the server name");
            stream.set_verify_callback(ssl::host_name_verification(host_));
            stream.async_handshake(ssl::stream_base::client, [this, conn](beast::error_code ec3) {
                if (conn != conn_) return;
                if (ec3) return fail(conn, "TLS handshake: " + ec3.message());
                handshake(conn);
            });
        });
    });
}

void MediaLink::handshake(const std::shared_ptr<Conn>& conn) {
    conn->tcp().expires_never();
    conn->visit([&](auto& ws) {
        ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
        ws.text(true);
        if (!subprotocol_.empty())
            ws.set_option(websocket::stream_base::decorator([p = subprotocol_](websocket::request_type& req) {
                req.set(beast::http::field::sec_websocket_protocol, p);
            }));
        ws.async_handshake(host_ + ":" + port_, path_, [this, conn](beast::error_code ec) {
            if (conn != conn_) return;
            if (ec) return fail(conn, "websocket handshake: " + ec.message());
            opened(conn);
        });
    });
}

void MediaLink::opened(const std::shared_ptr<Conn>& conn) {
    conn->open = true;
    backoff_ = kFirstBackoff;
    warned_ = false;
    stats_.up = true;
    ++stats_.connects;
    log_event(LogLevel::info, LogFields{.event = "media_link_state", .reason = "connected"}, name_, " connected: ",
              url());
    read(conn);
    endpoint_.on_open(now_());
    flush();
}

void MediaLink::read(const std::shared_ptr<Conn>& conn) {
    conn->visit([&](auto& ws) { ws.async_read(conn->buffer, [this, conn](beast::error_code ec, std::size_t) {
        if (conn != conn_) return;
        if (ec) return fail(conn, ec == websocket::error::closed ? "closed by " + name_ : ec.message());
        const std::string text = beast::buffers_to_string(conn->buffer.data());
        conn->buffer.consume(conn->buffer.size());
        timed_in(text);
        endpoint_.on_message(text);
        flush();
        if (conn == conn_) read(conn);
    }); });
}

void MediaLink::flush() {
    for (auto& frame : endpoint_.take_frames()) {
        timed_out(frame);
        queue_.push_back(std::move(frame));
    }
    if (conn_ && conn_->open && !writing_ && !queue_.empty()) write(conn_);
}

void MediaLink::write(const std::shared_ptr<Conn>& conn) {
    writing_ = true;
    conn->visit([&](auto& ws) { ws.async_write(asio::buffer(queue_.front()), [this, conn](beast::error_code ec, std::size_t) {
        if (conn != conn_) return;
        writing_ = false;
        if (ec) return fail(conn, "write: " + ec.message());
        queue_.pop_front();
        if (!queue_.empty()) write(conn);
    }); });
}

void MediaLink::fail(const std::shared_ptr<Conn>& conn, const std::string& what) {
    if (conn != conn_) return;
    const bool was_open = conn->open;
    conn_.reset();
    beast::error_code ec;
    conn->tcp().socket().close(ec);
    queue_.clear();
    writing_ = false;
    sent_.clear();
    stats_.up = false;
    if (was_open) {
        ++stats_.losses;
        log_event(LogLevel::warn, LogFields{.event = "media_link_state", .reason = what}, name_, " connection lost: ",
                  what);
        endpoint_.on_closed(what);
    } else if (!warned_) {
        log_event(LogLevel::warn, LogFields{.event = "media_link_state", .reason = what}, "cannot reach ", name_, " at ",
                  url(), ": ", what, " (retrying)");
        warned_ = true;
    } else {
        log_event(LogLevel::debug, LogFields{.event = "media_link_state", .reason = what}, name_,
                  " still unreachable: ", what);
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
