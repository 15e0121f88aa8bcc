#include "http_session.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <optional>
#include <variant>

#include "compeit/auth/token.hpp"
#include "compeit/sio/payload.hpp"
#include "compeit/util/json_guard.hpp"
#include "compeit/util/url.hpp"
#include "compeit/util/utf.hpp"
#include "admin_api.hpp"
#include "agent_link.hpp"
#include "legacy_client.hpp"
#include "log.hpp"
#include "secrets.hpp"
#include "server.hpp"
#include "static_files.hpp"
#include "tls_stream.hpp"
#include "ws_session.hpp"

namespace compeit::native {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// `<resource>/<protocol>/<transport>/<sid>` split into its segments
// (the resource is --resource, /socket.io by default).
struct SioPath {
    bool welcome = false;  // `/socket.io/` alone, or too many segments
    std::string_view protocol, transport, sid;
};

std::optional<SioPath> parse_sio_path(std::string_view path, std::string_view resource) {
    if (path.substr(0, resource.size()) != resource) return std::nullopt;
    std::string_view rest = path.substr(resource.size());
    if (!rest.empty() && rest.front() != '/') return std::nullopt;
    SioPath p;
    std::string_view* parts[] = {&p.protocol, &p.transport, &p.sid};
    if (!rest.empty()) rest.remove_prefix(1);
    for (auto* part : parts) {
        const auto slash = rest.find('/');
        *part = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    if (!rest.empty() || p.protocol.empty()) p.welcome = true;
    return p;
}

class Session final : public HttpSession, public std::enable_shared_from_this<Session> {
public:
    Session(asio::ip::tcp::socket socket, Server& server, AddressSlots::Slot slot, TlsContext tls)
        : stream_(make_stream(std::move(socket), std::move(tls))), server_(server), slot_(std::move(slot)) {
        boost::system::error_code ec;
        const auto ep = tcp().socket().remote_endpoint(ec);
        if (!ec) {
            address_ = ep.address().to_string();
            peer_ = address_ + ":" + std::to_string(ep.port());
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
        respond_poll(payload);
    }

    void abort() override {
        held_ = 0;
        close();
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
    bool reading_ = false;
    bool closed_ = false;
    std::optional<Request> stashed_;  // a request that arrived while a long-poll was held

    // What the held long-poll needs to be answered.
    sio::SessionId held_ = 0;
    sio::Transport held_kind_ = sio::Transport::xhr_polling;
    std::string jsonp_index_ = "0";
    std::string origin_;
    bool origin_allowed_ = true;
    unsigned version_ = 11;
    bool keep_alive_ = true;

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
        log(LogLevel::info, "TLS handshake with ", peer_, " failed: ", ec.message());
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

    // Answers with an error and closes the connection.
    void refuse(http::status status, std::string_view body) {
        Response res{status, 11};
        res.set(http::field::content_type, "text/plain; charset=UTF-8");
        res.body() = std::string(body);
        res.keep_alive(false);
        send(std::move(res));
    }

    void handle(Request&& req) {
        version_ = req.version();
        keep_alive_ = req.keep_alive();
        origin_ = std::string(req[http::field::origin]);
        origin_allowed_ = server_.origins().allows(origin_);
        const auto target = url::split_target(req.target());
        const auto sio = parse_sio_path(target.path, server_.options().resource);
        if (target.path == kAgentLinkPath && server_.agent_links()) return agent_link(std::move(req));  // #18
        if (req.count(http::field::upgrade)) {  // websocket or not, upgrades are decided below
            if (!origin_allowed_) return bad_origin();
            if (sio && !sio->welcome && sio->transport == "websocket" && !sio->sid.empty())
                return upgrade(std::move(req), sio->sid);
            return close();  // upgrades anywhere else are not ours (socket.io 0.9's "destroy upgrade")
        }
        // The client library is public, like any script: no origin check.
        if (sio && !sio->welcome && sio->transport.empty() && LegacyClient::is_library_name(sio->protocol))
            return client_library(req, sio->protocol);
        if (sio && !sio->welcome && !origin_allowed_) return bad_origin();
        if (sio) return socketio(req, *sio, target.query);
        if (target.path.substr(0, 7) == "/admin/") return admin(req, target);
        serve_static(req, target.path);
    }

    // --- socket.io ---------------------------------------------------------

    void socketio(const Request& req, const SioPath& p, std::string_view query) {
        auto& engine = server_.engine();
        if (p.welcome) return text(http::status::ok, "Welcome to socket.io.", "text/plain");
        if (p.protocol != "1") return text(http::status::internal_server_error, "Protocol version not supported.", "");
        if (p.sid.empty()) return handshake(req, query);
        if (url::query_param(query, "disconnect")) {
            if (const auto id = engine.find(p.sid, address_)) engine.disconnect(id, sio::CloseReason::forced, server_.now());
            return text(http::status::ok, "", "");
        }
        const auto transport = sio::parse_transport(p.transport);
        if (!transport || !engine.is_transport_allowed(*transport) || *transport == sio::Transport::websocket)
            return close();  // unknown transport, or websocket without an upgrade: no answer, as socket.io 0.9
        held_kind_ = *transport;
        jsonp_index_ = "0";
        if (const auto i = url::query_param(query, "i"); i && all_digits(*i)) jsonp_index_ = *i;
        if (req.method() == http::verb::post) return post(req, p.sid);
        if (req.method() == http::verb::get) return poll(p.sid);
        text(http::status::method_not_allowed, "", "");
    }

    void handshake(const Request& req, std::string_view query) {
        auto& engine = server_.engine();
        std::optional<auth::Claims> claims;
        if (server_.tokens().enabled()) {
            auto verified = server_.tokens().verify(token_of(req, query), Server::wall_seconds());
            if (!verified) {
                log(LogLevel::info, "handshake unauthorized from ", peer_, ": ", verified.error());
                return handshake_error(http::status::forbidden, "handshake unauthorized", query);
            }
            claims = std::move(*verified);
        }
        const auto hs = engine.handshake(server_.now(), random_bytes(sio::Engine::kSidRandomBytes), query, address_);
        if (!hs) return refuse_handshake(hs.refused, query);
        if (claims) {
            log(LogLevel::info, "session ", sid_tag(hs.sid), " handshake from ", peer_, " as ", claims->sub);
            server_.router().identify(hs.id, identity_of(std::move(*claims)));
        } else {
            log(LogLevel::info, "session ", sid_tag(hs.sid), " handshake from ", peer_);
        }
        if (const auto jsonp = url::query_param(query, "jsonp"); jsonp && all_digits(*jsonp)) {
            Response res = make(http::status::ok, "application/javascript");
            res.body() = sio::jsonp_wrap(*jsonp, hs.body);
            return send(std::move(res));
        }
        Response res = make(http::status::ok, "text/plain");
        cors(res);
        res.body() = hs.body;
        send(std::move(res));
    }

    // The token: `?token=` (what socket.io-client 0.9.6 can send), else an
    // `Authorization: Bearer` header.
    static std::string token_of(const Request& req, std::string_view query) {
        if (auto t = url::query_param(query, "token")) return *t;
        return std::string(bearer_credentials(req[http::field::authorization]).value_or(""));
    }

    static ca::Identity identity_of(auth::Claims c) {
        ca::Identity id{std::move(c.sub), std::move(c.name), std::nullopt, c.caps};
        if (!c.all_rooms) id.rooms = std::move(c.rooms);
        return id;
    }

    // socket.io 0.9 answers a failed handshake with an HTTP error and a
    // plain-text reason, or for JSONP `io.j[N](new Error("<reason>"));` with
    // 200; the 0.9.6 client reports either as an `error`.
    void handshake_error(http::status status, std::string_view reason, std::string_view query) {
        if (const auto jsonp = url::query_param(query, "jsonp"); jsonp && all_digits(*jsonp)) {
            Response res = make(http::status::ok, "application/javascript");
            res.body() = "io.j[" + *jsonp + "](new Error(\"" + std::string(reason) + "\"));";
            return send(std::move(res));
        }
        text(status, reason, "text/plain");
    }

    void refuse_handshake(sio::Engine::Refusal why, std::string_view query) {
        using R = sio::Engine::Refusal;
        switch (why) {
            case R::query_too_long:
                return handshake_error(http::status::uri_too_long, "handshake query too long", query);
            case R::too_many_pending:
            case R::too_many_from_peer:
                log(LogLevel::warn, "handshake refused from ", peer_, ": too many pending handshakes");
                return handshake_error(http::status::service_unavailable, "too many pending handshakes", query);
            default:
                log(LogLevel::error, "handshake refused: the random source repeated itself");
                return handshake_error(http::status::internal_server_error, "handshake error", query);
        }
    }

    // A page of an origin not on --allowed-origin: 403 with no CORS headers
    // (socket.io 0.9's `handshake bad origin`), for upgrades too.
    void bad_origin() {
        log(LogLevel::warn, "refused origin ", origin_, " from ", peer_);
        Response res{http::status::forbidden, version_};
        res.set(http::field::content_type, "text/plain");
        res.body() = "handshake bad origin";
        res.keep_alive(false);
        send(std::move(res));
    }

    void poll(std::string_view sid) {
        auto& engine = server_.engine();
        const sio::SessionId id = engine.find(sid, address_);
        const auto result = id ? engine.on_poll(id, held_kind_, server_.now()) : std::nullopt;
        if (!result) return respond_poll(engine.refusal(id));
        if (result->release_previous) server_.poll_respond(id, "8::");
        if (result->respond) return respond_poll(result->body);
        held_ = id;
        server_.hold_poll(id, shared_from_this());
        read();  // notices a client that goes away while we hold its request
    }

    void post(const Request& req, std::string_view sid) {
        auto& engine = server_.engine();
        if (const sio::SessionId id = engine.find(sid, address_)) {
            std::string body = req.body();
            if (held_kind_ == sio::Transport::jsonp_polling) body = jsonp_form_payload(body);
            engine.on_post(id, held_kind_, body, server_.now());
        }
        Response res = make(http::status::ok, "text/plain; charset=UTF-8");
        cors(res);
        if (!origin_.empty()) res.set("X-XSS-Protection", "0");
        res.body() = "1";
        send(std::move(res));
    }

    // jsonp POSTs are forms: d=<urlencoded JSON string of the payload>. Anything
    // else is ignored (socket.io 0.9.19 crashed on it).
    static std::string jsonp_form_payload(const std::string& body) {
        const auto d = url::query_param(body, "d");
        if (!d) return {};
        auto j = util::parse_json(*d);
        return j.is_string() ? j.get<std::string>() : std::string();
    }

    void respond_poll(const std::string& payload) {
        if (held_kind_ == sio::Transport::jsonp_polling) {
            Response res = make(http::status::ok, "text/javascript; charset=UTF-8");
            res.set("X-XSS-Protection", "0");
            res.body() = sio::jsonp_wrap(jsonp_index_, payload);
            return send(std::move(res));
        }
        Response res = make(http::status::ok, "text/plain; charset=UTF-8");
        cors(res);
        res.body() = payload;
        send(std::move(res));
    }

    void upgrade(Request&& req, std::string_view sid) {
        const std::string key(req[http::field::sec_websocket_key]);
        const auto version = req[http::field::sec_websocket_version];
        if (key.empty() || req.method() != http::verb::get ||
            !(version == "13" || version == "8" || version == "7"))
            return close();  // as socket.io 0.9: no answer to a bad upgrade
        take_websocket()->start(key, std::string(sid), address_, peer_);
    }

    // The agent link (agent_link.hpp): authorised before the upgrade.
    void agent_link(Request&& req) {
        auto verdict = server_.agent_links()->authorize(req[http::field::authorization], address_);
        if (verdict.status) {
            Response res{static_cast<http::status>(verdict.status), version_};
            res.set(http::field::content_type, "text/plain");
            if (verdict.status == 401) res.set(http::field::www_authenticate, "Bearer");
            res.body() = std::move(verdict.body);
            res.keep_alive(false);
            return send(std::move(res));
        }
        const std::string key(req[http::field::sec_websocket_key]);
        if (!req.count(http::field::upgrade) || key.empty() || req.method() != http::verb::get ||
            req[http::field::sec_websocket_version] != "13")
            return refuse(http::status::upgrade_required, "a websocket (version 13) upgrade is required\n");
        server_.agent_links()->open(take_websocket(), key, std::move(verdict.config), peer_);
    }

    // The connection, with what was read past the request, as a websocket.
    std::shared_ptr<WsSession> take_websocket() {
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

    // --- admin interface -----------------------------------------------------

    // The admin API (admin_api.hpp): this session only routes.
    void admin(const Request& req, const url::Target& target) {
        const AdminRequest request{std::string_view(req.method_string()), target.path, target.query, req.body(),
                                   req[http::field::authorization], address_};
        handle_admin(server_, request, [self = shared_from_this()](AdminReply reply) {
            Response res = self->make(static_cast<http::status>(reply.status), "application/json");
            if (reply.status == 401) res.set(http::field::www_authenticate, "Bearer");
            res.body() = std::move(reply.json);
            self->send(std::move(res));
        });
    }


    // --- static files ----------------------------------------------------------

    void serve_static(const Request& req, std::string_view path) {
        if (req.method() != http::verb::get && req.method() != http::verb::head)
            return text(http::status::method_not_allowed, "method not allowed\n", "text/plain");
        // /wasm/... is the WebAssembly client package; everything else is the web app.
        const bool wasm = path.substr(0, 6) == "/wasm/";
        const auto file = wasm ? resolve_static(server_.options().wasm_dir, path.substr(5))
                               : resolve_static(server_.options().web_root, path);
        const bool gzip_ok = req[http::field::accept_encoding].find("gzip") != std::string_view::npos;
        const auto found = file ? server_.static_files().get(*file, gzip_ok) : std::nullopt;
        if (!found) return text(http::status::not_found, "not found\n", "text/plain");
        const bool fresh = req[http::field::if_none_match] == found->etag;
        Response res = make(fresh ? http::status::not_modified : http::status::ok, found->type);
        security_headers(res);
        res.set(http::field::cache_control, "no-cache");  // revalidate: names carry no content hash
        res.set(http::field::etag, found->etag);
        res.set(http::field::vary, "Accept-Encoding");
        if (found->gzipped) res.set(http::field::content_encoding, "gzip");
        if (!fresh && req.method() == http::verb::get) res.body() = *found->body;
        if (req.method() == http::verb::head) res.content_length(found->body->size());
        send(std::move(res));
    }

    // socket.io.js and its kin (legacy_client.hpp), from memory.
    void client_library(const Request& req, std::string_view name) {
        if (req.method() != http::verb::get && req.method() != http::verb::head)
            return text(http::status::method_not_allowed, "method not allowed\n", "text/plain");
        const auto file = server_.legacy_client().find(name, req[http::field::accept_encoding]);
        if (!file) return text(http::status::not_found, "not found\n", "text/plain");
        const bool fresh = etag_matches(req[http::field::if_none_match], file->etag);
        Response res = make(fresh ? http::status::not_modified : http::status::ok, "text/javascript; charset=utf-8");
        res.set(http::field::cache_control, file->cache_control);
        res.set(http::field::etag, file->etag);
        res.set(http::field::vary, "Accept-Encoding");
        if (file->gzipped) res.set(http::field::content_encoding, "gzip");
        if (!fresh && req.method() == http::verb::get) res.body() = *file->body;
        if (req.method() == http::verb::head) res.content_length(file->body->size());
        send(std::move(res));
    }

    // --- output ----------------------------------------------------------------

    // The web app runs no inline script or style and loads everything from
    // here; WebAssembly needs 'wasm-unsafe-eval'; media come from the camera
    // (mediastream:) and from blob: URLs. No page may frame it. No referrer
    // leaves for another site; within the server's own origin it may, since
    // with `no-referrer` a page's form POST (socket.io 0.9's jsonp-polling)
    // carries `Origin: null`, which the origin check refuses.
    static void security_headers(Response& res) {
        res.set("Content-Security-Policy",
                "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
                "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; "
                "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'");
        res.set("Referrer-Policy", "same-origin");
    }

    Response make(http::status status, std::string_view type) {
        Response res{status, version_};
        if (!type.empty()) res.set(http::field::content_type, type);
        res.set("X-Content-Type-Options", "nosniff");
        res.keep_alive(keep_alive_);
        return res;
    }

    void cors(Response& res) const {
        if (origin_.empty() || !origin_allowed_) return;
        res.set(http::field::access_control_allow_origin, origin_);
        res.set(http::field::access_control_allow_credentials, "true");
    }

    void text(http::status status, std::string_view body, std::string_view type) {
        Response res = make(status, type);
        cors(res);
        res.body() = std::string(body);
        send(std::move(res));
    }

    template <class Body>
    void send(http::response<Body>&& res) {
        if (closed_) return;
        if (!res.has_content_length()) res.prepare_payload();  // HEAD answers carry the GET's length
        const bool keep = res.keep_alive();
        auto owned = std::make_shared<http::response<Body>>(std::move(res));
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

    void close() {
        if (closed_) return;
        closed_ = true;
        if (held_) {
            server_.release_poll(held_);
            server_.engine().on_poll_aborted(held_, server_.now());
            held_ = 0;
        }
        beast::error_code ec;
        tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
        tcp().close();
    }
};

}  // namespace

std::shared_ptr<HttpSession> make_http_session(asio::ip::tcp::socket socket, Server& server, AddressSlots::Slot slot,
                                               TlsContext tls) {
    return std::make_shared<Session>(std::move(socket), server, std::move(slot), std::move(tls));
}

}  // namespace compeit::native
