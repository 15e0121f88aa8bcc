#include "http_session.hpp"

#include <boost/beast/core.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <optional>
#include <variant>

#include "compeit/util/url.hpp"
#include "http_routes.hpp"
#include "log.hpp"
#include "server.hpp"
#include "tls_stream.hpp"
#include "ws_session.hpp"

namespace compeit::native {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

namespace {

using http_route::Exchange;
using http_route::Request;
using http_route::Response;

// Reads requests, hands each to the route table (http_routes.hpp) and writes
// the answers; holds a long-poll until the server answers it.
class Session final : public HttpSession,
                      public http_route::Connection,
                      public std::enable_shared_from_this<Session> {
public:
    Session(asio::ip::tcp::socket socket, Server& server, AddressSlots::Slot slot, TlsContext tls)
        : stream_(make_stream(std::move(socket), std::move(tls))), server_(server), slot_(std::move(slot)) {
        boost::system::error_code ec;
        const auto ep = tcp().socket().remote_endpoint(ec);
        if (!ec) {
            tcp_peer_ = ep.address();
            address_ = ep.address().to_string();
            peer_ = address_ + ":" + std::to_string(ep.port());
            tcp_peer_text_ = peer_;
        }
    }

    void start() override {
        auto* tls = std::get_if<TlsConnection>(&stream_);
        if (!tls) return read();
        // The TLS handshake counts as part of the first request: a client
        // that never finishes it is closed after --request-timeout.
        tls->tcp().expires_after(request_timeout());
        tls->stream.async_handshake(ssl::stream_base::server,
                                    [self = shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
    }

    void answer_poll(std::string payload) override {
        if (!held_) return;
        held_ = 0;
        const auto ex = std::move(held_exchange_);
        http_route::answer_poll(*ex, payload);
    }

    void abort() override {
        held_ = 0;
        close();
    }

    // --- http_route::Connection ---------------------------------------------

    Server& server() override { return server_; }

    void write(Response&& res) override {
        if (closed_) return;
        if (!res.has_content_length()) res.prepare_payload();  // HEAD answers carry the GET's length
        const bool keep = res.keep_alive();
        auto owned = std::make_shared<Response>(std::move(res));
        tcp().expires_after(request_timeout());
        with_stream([&](auto& stream) {
            http::async_write(stream, *owned, [self = shared_from_this(), owned, keep](beast::error_code ec, std::size_t) {
                if (ec || !keep) return self->close();
                if (self->stashed_ && !self->held_) {
                    Request next = std::move(*self->stashed_);
                    self->stashed_.reset();
                    return self->handle(std::move(next));
                }
                self->read();
            });
        });
    }

    void close() override {
        if (closed_) return;
        closed_ = true;
        if (held_) {
            server_.release_poll(held_);
            server_.engine().on_poll_aborted(held_, server_.now());
            held_ = 0;
        }
        held_exchange_.reset();
        beast::error_code ec;
        tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
        tcp().close();
    }

    void hold_poll(sio::SessionId id, std::shared_ptr<Exchange> ex) override {
        held_ = id;
        held_exchange_ = std::move(ex);
        server_.hold_poll(id, shared_from_this());
        read();  // notices a client that goes away while we hold its request
    }

    void upgrade(const std::string& key, const std::string& sid) override {
        take_websocket()->start(key, sid, address_, peer_);
    }

    std::shared_ptr<WsSession> take_websocket() override {
        const auto data = buffer_.data();
        std::string leftover(static_cast<const char*>(data.data()), data.size());
        closed_ = true;  // the connection now belongs to the websocket session
        tcp().expires_never();
        std::shared_ptr<WsSession> ws;
        if (auto* tls = std::get_if<TlsConnection>(&stream_))
            ws = std::make_shared<WsSession>(std::move(*tls), server_, std::move(leftover), std::move(slot_));
        else
            ws = std::make_shared<WsSession>(std::get<beast::tcp_stream>(stream_).release_socket(), server_,
                                             std::move(leftover), std::move(slot_));
        return ws;
    }

private:
    // Plain http, or https; the other members are the same for both.
    using Stream = std::variant<beast::tcp_stream, TlsConnection>;
    Stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    Server& server_;
    AddressSlots::Slot slot_;
    std::string address_;  // the client's address: a session's sid is bound to it
    std::string peer_;     // address:port, for the log
    // The TCP peer. From a --trusted-proxy, each request names its client
    // (X-Forwarded-For): address_ and peer_ are then that request's client.
    asio::ip::address tcp_peer_;
    std::string tcp_peer_text_;
    bool reading_ = false;
    bool closed_ = false;
    std::optional<Request> stashed_;  // a request that arrived while a long-poll was held
    sio::SessionId held_ = 0;            // the session whose long-poll this connection holds...
    std::shared_ptr<Exchange> held_exchange_;  // ...and its request

    static Stream make_stream(asio::ip::tcp::socket socket, TlsContext tls) {
        if (tls) return Stream(std::in_place_type<TlsConnection>, std::move(socket), std::move(tls));
        return Stream(std::in_place_type<beast::tcp_stream>, std::move(socket));
    }

    // Calls f with the stream requests and answers go through.
    template <class F>
    void with_stream(F&& f) {
        if (auto* tls = std::get_if<TlsConnection>(&stream_)) return f(tls->stream);
        f(std::get<beast::tcp_stream>(stream_));
    }

    // The TCP layer, for deadlines and closing.
    beast::tcp_stream& tcp() {
        if (auto* tls = std::get_if<TlsConnection>(&stream_)) return tls->tcp();
        return std::get<beast::tcp_stream>(stream_);
    }

    void on_handshake(beast::error_code ec) {
        if (closed_) return;
        if (!ec) return read();
        log_event(LogLevel::info, LogFields{.event = "tls_handshake_failed", .remote = peer_}, "TLS handshake with ",
                  peer_, " failed: ", ec.message());
        if (ec.category() == asio::error::get_ssl_category() &&
            ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST) {
            // Plain http to the https port: one plain answer that says so (best effort).
            static constexpr std::string_view answer =
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 33\r\n"
                "Connection: close\r\n\r\nthis port speaks https, not http\n";
            auto& socket = tcp().socket();
            boost::system::error_code wec;
            socket.non_blocking(true, wec);
            socket.write_some(asio::buffer(answer.data(), answer.size()), wec);
        }
        close();
    }

    std::chrono::milliseconds request_timeout() const {
        return std::chrono::milliseconds(static_cast<std::int64_t>(server_.options().request_timeout_s * 1000));
    }

    void read() {
        if (closed_ || reading_) return;
        reading_ = true;
        parser_.emplace();
        parser_->body_limit(server_.options().max_frame_bytes);
        parser_->header_limit(16 * 1024);
        if (held_) tcp().expires_never();
        else tcp().expires_after(request_timeout());
        with_stream([this](auto& stream) {
            http::async_read(stream, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
        });
    }

    void on_read(beast::error_code ec) {
        reading_ = false;
        if (closed_) return;
        if (ec) {
            if (held_) {  // the client gave up on its long-poll
                server_.release_poll(held_);
                server_.engine().on_poll_aborted(held_, server_.now());
                held_ = 0;
                held_exchange_.reset();
            }
            if (ec == http::error::body_limit) return refuse(http::status::payload_too_large, "body too large");
            if (ec == http::error::header_limit) return refuse(http::status::request_header_fields_too_large, "headers too large");
            // TLS failed, or the client closed without close_notify: nothing more can be said.
            if (ec.category() == asio::error::get_ssl_category() || ec == ssl::error::stream_truncated) return close();
            if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::connection_reset &&
                ec != asio::error::eof && ec != asio::error::operation_aborted)
                return refuse(http::status::bad_request, "bad request");
            return close();
        }
        Request req = parser_->release();
        if (held_) {
            stashed_ = std::move(req);  // answered after the long-poll
            return;
        }
        handle(std::move(req));
    }

    // Answers a request the parser refused with an error and closes the connection.
    void refuse(http::status status, std::string_view body) {
        Response res{status, 11};
        res.set(http::field::content_type, "text/plain; charset=UTF-8");
        res.body() = std::string(body);
        res.keep_alive(false);
        const bool have_header = parser_ && parser_->is_header_done();
        const auto& head = parser_->get();
        Exchange ex(shared_from_this(), have_header ? std::string(head.method_string()) : std::string("-"),
                    have_header ? std::string(url::split_target(head.target()).path) : std::string("-"), address_,
                    peer_);
        ex.send(std::move(res));
    }

    // The request's client: the TCP peer, or the one a trusted proxy names
    // (a proxy may carry several clients' requests on one connection).
    void identify_client(const Request& req) {
        const TrustedProxies& proxies = server_.trusted_proxies();
        if (proxies.empty() || !proxies.trusts(tcp_peer_)) return;
        // Every X-Forwarded-For line in order: a proxy adds its own line after
        // whatever the client sent, so the last one is the nearest hop.
        std::string forwarded;
        for (auto [it, end] = req.equal_range("X-Forwarded-For"); it != end; ++it) {
            if (!forwarded.empty()) forwarded += ',';
            forwarded += it->value();
        }
        address_ = proxies.client(tcp_peer_, forwarded);
        peer_ = forwarded.empty() ? tcp_peer_text_ : address_ + " via " + tcp_peer_text_;
    }

    void handle(Request&& req) {
        identify_client(req);
        http_route::dispatch(std::make_shared<Exchange>(shared_from_this(), std::move(req), address_, peer_));
    }
};

}  // namespace

std::shared_ptr<HttpSession> make_http_session(asio::ip::tcp::socket socket, Server& server, AddressSlots::Slot slot,
                                               TlsContext tls) {
    return std::make_shared<Session>(std::move(socket), server, std::move(slot), std::move(tls));
}

}  // namespace compeit::native
