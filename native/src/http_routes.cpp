#include "http_routes.hpp"

#include <nlohmann/json.hpp>

#include "admin_api.hpp"
#include "agent_link.hpp"
#include "legacy_client.hpp"
#include "metrics.hpp"
#include "server.hpp"

namespace compeit::native::http_route {

namespace {

// --- what a route matches ------------------------------------------------------

enum Methods : unsigned { kGet = 1, kHead = 2, kOptions = 4, kGetHead = kGet | kHead, kAny = ~0u };

unsigned method_bit(http::verb v) {
    if (v == http::verb::get) return kGet;
    if (v == http::verb::head) return kHead;
    if (v == http::verb::options) return kOptions;
    return 0;
}

struct Match {
    enum Kind { exact, prefix, test } kind;
    std::string_view path;
    bool (*when)(const Exchange&) = nullptr;

    bool operator()(const Exchange& ex) const {
        switch (kind) {
            case exact: return ex.path() == path;
            case prefix: return ex.path().substr(0, path.size()) == path;
            default: return when(ex);
        }
    }
};
constexpr Match path_is(std::string_view p) { return {Match::exact, p}; }
constexpr Match under(std::string_view p) { return {Match::prefix, p}; }
constexpr Match when(bool (*f)(const Exchange&)) { return {Match::test, {}, f}; }

bool is_upgrade(const Exchange& ex) { return ex.req().count(http::field::upgrade) > 0; }
bool is_client_library(const Exchange& ex) {
    const auto& p = ex.sio();
    return p && !p->welcome && p->transport.empty() && LegacyClient::is_library_name(p->protocol);
}
bool is_socketio(const Exchange& ex) { return ex.sio().has_value(); }
bool always(const Exchange&) { return true; }

// --- operations ----------------------------------------------------------------

// Health answers: JSON, never cached, no origin check, nothing secret.
void json(Exchange& ex, http::status status, const nlohmann::json& body) {
    Response res = ex.make(status, "application/json");
    res.set(http::field::cache_control, "no-store");
    // A reason may quote a database's message: never throw on what it holds.
    res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    ex.send(std::move(res));
}

// The process is up and its event loop turns (this answer comes from it).
void healthz(const ExchangePtr& ex) { json(*ex, http::status::ok, {{"status", "ok"}}); }

// Ready for traffic: every check passes (Server::readiness).
void readyz(const ExchangePtr& ex) {
    bool ready = true;
    nlohmann::json checks = nlohmann::json::object();
    for (const auto& c : ex->server().readiness()) {
        ready = ready && c.ok;
        checks[c.name] = c.ok ? nlohmann::json{{"ok", true}} : nlohmann::json{{"ok", false}, {"reason", c.reason}};
    }
    json(*ex, ready ? http::status::ok : http::status::service_unavailable, {{"ready", ready}, {"checks", checks}});
}

void metrics(const ExchangePtr& ex) {
    Response res = ex->make(http::status::ok, "text/plain; version=0.0.4; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.body() = render_metrics(ex->server());
    ex->send(std::move(res));
}

// The admin API (admin_api.hpp): this layer only routes.
void admin(const ExchangePtr& ex) {
    const Request& req = ex->req();
    const AdminRequest request{std::string_view(req.method_string()), ex->path(), ex->query(), req.body(),
                               req[http::field::authorization], ex->address()};
    handle_admin(ex->server(), request, [ex](AdminReply reply) {
        Response res = ex->make(static_cast<http::status>(reply.status), "application/json");
        if (reply.status == 401) res.set(http::field::www_authenticate, "Bearer");
        res.body() = std::move(reply.json);
        ex->send(std::move(res));
    });
}

// The agent link (agent_link.hpp, docs/agents.md): a websocket of its own
// protocol, authorised before the upgrade.
void agent_link(const ExchangePtr& ex) {
    AgentLinks* links = ex->server().agent_links();
    if (!links) return ex->text(http::status::not_found, "this server has no agent link (--agent-secret)\n", "text/plain");
    const Request& req = ex->req();
    auto verdict = links->authorize(req[http::field::authorization], ex->address());
    if (verdict.status) {
        Response res = ex->make(static_cast<http::status>(verdict.status), "text/plain");
        if (verdict.status == 401) res.set(http::field::www_authenticate, "Bearer");
        res.body() = std::move(verdict.body);
        res.keep_alive(false);
        return ex->send(std::move(res));
    }
    const std::string key(req[http::field::sec_websocket_key]);
    if (!req.count(http::field::upgrade) || key.empty() || req.method() != http::verb::get ||
        req[http::field::sec_websocket_version] != "13") {
        Response res = ex->make(http::status::upgrade_required, "text/plain; charset=UTF-8");
        res.body() = "a websocket (version 13) upgrade is required\n";
        res.keep_alive(false);
        return ex->send(std::move(res));
    }
    links->open(ex->take_websocket(), key, std::move(verdict.config), ex->peer());
}

// --- the table -------------------------------------------------------------------

struct Route {
    std::string_view what;
    unsigned methods;  // another method: 405
    Match match;
    void (*handle)(const ExchangePtr&);
};

// Top to bottom; the first match answers. The socket.io routes check the
// page's origin themselves (the client library is public, like any script).
const Route kRoutes[] = {
    // what                        methods   matches                        handler
    {"agent link",                 kAny,     path_is(kAgentLinkPath),       agent_link},
    {"websocket upgrade",          kAny,     when(is_upgrade),              sio_upgrade},
    {"socket.io client library",   kGetHead, when(is_client_library),       sio_client_library},
    {"socket.io",                  kAny,     when(is_socketio),             socketio},
    {"liveness",                   kGet,     path_is("/healthz"),           healthz},
    {"readiness",                  kGet,     path_is("/readyz"),            readyz},
    {"Prometheus metrics",         kGet,     path_is("/metrics"),           metrics},
    {"admin API",                  kAny,     under("/admin/"),              admin},
    {"WebAssembly client package", kGetHead | kOptions, under("/wasm/"),    wasm_package},
    {"web app",                    kGetHead, when(always),                  web_app},
};

}  // namespace

void dispatch(const ExchangePtr& ex) {
    for (const auto& route : kRoutes) {
        if (!route.match(*ex)) continue;
        if (route.methods != kAny && !(route.methods & method_bit(ex->req().method())))
            return ex->text(http::status::method_not_allowed, "method not allowed\n", "text/plain");
        return route.handle(ex);
    }
}

}  // namespace compeit::native::http_route
