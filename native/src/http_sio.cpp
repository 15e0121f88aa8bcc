// The socket.io 0.9 routes: handshakes, long-polls, POSTs, the websocket
// upgrade and the client library. The wire is socket.io 0.9's, byte for byte
// (tests/node and tests/hostile check it).
#include <nlohmann/json.hpp>

#include "compeit/auth/token.hpp"
#include "compeit/sio/payload.hpp"
#include "compeit/util/json_guard.hpp"
#include "compeit/util/url.hpp"
#include "compeit/util/utf.hpp"
#include "http_routes.hpp"
#include "log.hpp"
#include "secrets.hpp"
#include "server.hpp"

namespace compeit::native::http_route {

namespace {

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// The token: `?token=` (what socket.io-client 0.9.6 can send), else an
// `Authorization: Bearer` header.
std::string token_of(const Request& req, std::string_view query) {
    if (auto t = url::query_param(query, "token")) return *t;
    return std::string(bearer_credentials(req[http::field::authorization]).value_or(""));
}

ca::Identity identity_of(auth::Claims c) {
    ca::Identity id{std::move(c.sub), std::move(c.name), std::nullopt, c.caps};
    if (!c.all_rooms) id.rooms = std::move(c.rooms);
    return id;
}

// socket.io 0.9 answers a failed handshake with an HTTP error and a
// plain-text reason, or for JSONP `io.j[N](new Error("<reason>"));` with
// 200; the 0.9.6 client reports either as an `error`.
void handshake_error(Exchange& ex, http::status status, std::string_view reason) {
    if (const auto jsonp = url::query_param(ex.query(), "jsonp"); jsonp && all_digits(*jsonp)) {
        Response res = ex.make(http::status::ok, "application/javascript");
        res.body() = "io.j[" + *jsonp + "](new Error(\"" + std::string(reason) + "\"));";
        return ex.send(std::move(res));
    }
    ex.text(status, reason, "text/plain");
}

void refuse_handshake(Exchange& ex, sio::Engine::Refusal why) {
    using R = sio::Engine::Refusal;
    switch (why) {
        case R::query_too_long:
            return handshake_error(ex, http::status::uri_too_long, "handshake query too long");
        case R::too_many_pending:
        case R::too_many_from_peer:
            log_event(LogLevel::warn,
                      LogFields{.event = "handshake_refused", .reason = "too many pending handshakes", .remote = ex.peer()},
                      "handshake refused from ", ex.peer(), ": too many pending handshakes");
            return handshake_error(ex, http::status::service_unavailable, "too many pending handshakes");
        default:
            log_event(LogLevel::error,
                      LogFields{.event = "handshake_refused", .reason = "random source repeated", .remote = ex.peer()},
                      "handshake refused: the random source repeated itself");
            return handshake_error(ex, http::status::internal_server_error, "handshake error");
    }
}

void handshake(Exchange& ex) {
    Server& server = ex.server();
    // Draining for a shutdown: existing sessions go on, new ones go elsewhere.
    if (server.draining()) {
        ++server.stats().refused_draining;
        return handshake_error(ex, http::status::service_unavailable, "server shutting down");
    }
    std::optional<auth::Claims> claims;
    if (server.tokens().enabled()) {
        auto verified = server.tokens().verify(token_of(ex.req(), ex.query()), Server::wall_seconds());
        if (!verified) {
            log_event(LogLevel::info,
                      LogFields{.event = "handshake_refused", .reason = "unauthorized", .remote = ex.peer()},
                      "handshake unauthorized from ", ex.peer(), ": ", verified.error());
            ++server.stats().refused_token;
            return handshake_error(ex, http::status::forbidden, "handshake unauthorized");
        }
        claims = std::move(*verified);
    }
    const auto hs = server.engine().handshake(server.now(), random_bytes(sio::Engine::kSidRandomBytes), ex.query(),
                                              ex.address());
    if (!hs) return refuse_handshake(ex, hs.refused);
    if (claims) {
        const auto tag = sid_tag(hs.sid);
        log_event(LogLevel::info, LogFields{.event = "handshake", .session = tag, .remote = ex.peer()}, "session ", tag,
                  " handshake from ", ex.peer(), " as ", claims->sub);
        server.router().identify(hs.id, identity_of(std::move(*claims)));
    } else {
        const auto tag = sid_tag(hs.sid);
        log_event(LogLevel::info, LogFields{.event = "handshake", .session = tag, .remote = ex.peer()}, "session ", tag,
                  " handshake from ", ex.peer());
    }
    if (const auto jsonp = url::query_param(ex.query(), "jsonp"); jsonp && all_digits(*jsonp)) {
        Response res = ex.make(http::status::ok, "application/javascript");
        res.body() = sio::jsonp_wrap(*jsonp, hs.body);
        return ex.send(std::move(res));
    }
    Response res = ex.make(http::status::ok, "text/plain");
    ex.cors(res);
    res.body() = hs.body;
    ex.send(std::move(res));
}

void poll(const ExchangePtr& ex, std::string_view sid) {
    Server& server = ex->server();
    auto& engine = server.engine();
    const sio::SessionId id = engine.find(sid, ex->address());
    const auto result = id ? engine.on_poll(id, ex->poll_kind, server.now()) : std::nullopt;
    if (!result) return answer_poll(*ex, engine.refusal(id));
    if (result->release_previous) server.poll_respond(id, "8::");
    if (result->respond) return answer_poll(*ex, result->body);
    ex->connection()->hold_poll(id, ex);
}

// jsonp POSTs are forms: d=<urlencoded JSON string of the payload>. Anything
// else is ignored (socket.io 0.9.19 crashed on it).
std::string jsonp_form_payload(const std::string& body) {
    const auto d = url::query_param(body, "d");
    if (!d) return {};
    auto j = util::parse_json(*d);
    return j.is_string() ? j.get<std::string>() : std::string();
}

void post(Exchange& ex, std::string_view sid) {
    Server& server = ex.server();
    auto& engine = server.engine();
    if (const sio::SessionId id = engine.find(sid, ex.address())) {
        std::string body = ex.req().body();
        if (ex.poll_kind == sio::Transport::jsonp_polling) body = jsonp_form_payload(body);
        engine.on_post(id, ex.poll_kind, body, server.now());
    }
    Response res = ex.make(http::status::ok, "text/plain; charset=UTF-8");
    ex.cors(res);
    if (!ex.origin().empty()) res.set("X-XSS-Protection", "0");
    res.body() = "1";
    ex.send(std::move(res));
}

}  // namespace

void socketio(const ExchangePtr& ex) {
    const SioPath& p = *ex->sio();
    if (!p.welcome && !ex->origin_allowed()) return bad_origin(*ex);
    Server& server = ex->server();
    auto& engine = server.engine();
    if (p.welcome) return ex->text(http::status::ok, "Welcome to socket.io.", "text/plain");
    if (p.protocol != "1") return ex->text(http::status::internal_server_error, "Protocol version not supported.", "");
    if (p.sid.empty()) return handshake(*ex);
    if (url::query_param(ex->query(), "disconnect")) {
        if (const auto id = engine.find(p.sid, ex->address()))
            engine.disconnect(id, sio::CloseReason::forced, server.now());
        return ex->text(http::status::ok, "", "");
    }
    const auto transport = sio::parse_transport(p.transport);
    if (!transport || !engine.is_transport_allowed(*transport) || *transport == sio::Transport::websocket)
        return ex->close();  // unknown transport, or websocket without an upgrade: no answer, as socket.io 0.9
    ex->poll_kind = *transport;
    if (const auto i = url::query_param(ex->query(), "i"); i && all_digits(*i)) ex->jsonp_index = *i;
    if (ex->req().method() == http::verb::post) return post(*ex, p.sid);
    if (ex->req().method() == http::verb::get) return poll(ex, p.sid);
    ex->text(http::status::method_not_allowed, "", "");
}

void answer_poll(Exchange& ex, const std::string& payload) {
    if (ex.poll_kind == sio::Transport::jsonp_polling) {
        Response res = ex.make(http::status::ok, "text/javascript; charset=UTF-8");
        res.set("X-XSS-Protection", "0");
        res.body() = sio::jsonp_wrap(ex.jsonp_index, payload);
        return ex.send(std::move(res));
    }
    Response res = ex.make(http::status::ok, "text/plain; charset=UTF-8");
    ex.cors(res);
    res.body() = payload;
    ex.send(std::move(res));
}

// Upgrades anywhere else than a session's websocket are not ours (socket.io
// 0.9's "destroy upgrade"), and a bad upgrade gets no answer either.
void sio_upgrade(const ExchangePtr& ex) {
    if (!ex->origin_allowed()) return bad_origin(*ex);
    const auto& p = ex->sio();
    if (!p || p->welcome || p->transport != "websocket" || p->sid.empty()) return ex->close();
    const Request& req = ex->req();
    const std::string key(req[http::field::sec_websocket_key]);
    const auto version = req[http::field::sec_websocket_version];
    if (key.empty() || req.method() != http::verb::get || !(version == "13" || version == "8" || version == "7"))
        return ex->close();
    ex->upgrade(key, std::string(p->sid));
}

void sio_client_library(const ExchangePtr& ex) {
    const Request& req = ex->req();
    const auto file = ex->server().legacy_client().find(ex->sio()->protocol, req[http::field::accept_encoding]);
    if (!file) return ex->text(http::status::not_found, "not found\n", "text/plain");
    const bool fresh = etag_matches(req[http::field::if_none_match], file->etag);
    Response res =
        ex->make(fresh ? http::status::not_modified : http::status::ok, "text/javascript; charset=utf-8");
    res.set(http::field::cache_control, file->cache_control);
    res.set(http::field::etag, file->etag);
    res.set(http::field::vary, "Accept-Encoding");
    if (file->gzipped) res.set(http::field::content_encoding, "gzip");
    if (!fresh && req.method() == http::verb::get) res.body() = *file->body;
    if (req.method() == http::verb::head) res.content_length(file->body->size());
    ex->send(std::move(res));
}

// socket.io 0.9's `handshake bad origin`, for upgrades too.
void bad_origin(Exchange& ex) {
    ++ex.server().stats().refused_origin;
    log_event(LogLevel::warn, LogFields{.event = "origin_refused", .remote = ex.peer()}, "refused origin ", ex.origin(),
              " from ", ex.peer());
    Response res{http::status::forbidden, ex.req().version()};
    res.set(http::field::content_type, "text/plain");
    res.body() = "handshake bad origin";
    res.keep_alive(false);
    ex.send(std::move(res));
}

}  // namespace compeit::native::http_route
