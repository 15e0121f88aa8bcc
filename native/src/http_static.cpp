// The web app (--web-root) and the WebAssembly client package (--wasm-dir),
// from the static file cache (static_files.hpp).
#include <algorithm>

#include "http_routes.hpp"
#include "legacy_client.hpp"  // etag_matches
#include "origin_policy.hpp"
#include "server.hpp"
#include "static_files.hpp"

namespace compeit::native::http_route {

namespace {

// The web app runs no inline script or style and loads everything from
// here; WebAssembly needs 'wasm-unsafe-eval'; media come from the camera
// (mediastream:) and from blob: URLs. No page may frame it. No referrer
// leaves for another site; within the server's own origin it may, since
// with `no-referrer` a page's form POST (socket.io 0.9's jsonp-polling)
// carries `Origin: null`, which the origin check refuses.
void security_headers(Response& res) {
    res.set("Content-Security-Policy",
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
            "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'");
    res.set("Referrer-Policy", "same-origin");
}

// The WebAssembly package is public, like any script, and pages on other
// origins import it (a CDN-style <script type=module>, fetch of the .wasm):
// CORS for the origins --wasm-cors allows, `*` by default. No credentials
// are involved. With a list, the answer depends on Origin: `Vary: Origin`.
void wasm_cors(const Exchange& ex, Response& res) {
    const auto& allowed = ex.server().options().wasm_cors;
    if (allowed.empty()) return;
    res.set(http::field::vary, allowed.front() == "*" ? "Accept-Encoding" : "Accept-Encoding, Origin");
    if (allowed.front() == "*") return res.set(http::field::access_control_allow_origin, "*");
    const std::string origin = OriginPolicy::normalize(ex.req()[http::field::origin]);
    if (!origin.empty() && std::find(allowed.begin(), allowed.end(), origin) != allowed.end())
        res.set(http::field::access_control_allow_origin, ex.req()[http::field::origin]);
}

// A preflight (a page that sends custom headers with its fetch): allowed
// origins get the methods and the headers they asked for, cached a day.
void wasm_preflight(Exchange& ex) {
    Response res = ex.make(http::status::no_content, "text/plain");
    wasm_cors(ex, res);
    if (res.count(http::field::access_control_allow_origin)) {
        res.set(http::field::access_control_allow_methods, "GET, HEAD, OPTIONS");
        const auto asked = ex.req()[http::field::access_control_request_headers];
        if (!asked.empty() && asked.size() <= 1024) res.set(http::field::access_control_allow_headers, asked);
        res.set(http::field::access_control_max_age, "86400");
    }
    ex.send(std::move(res));
}

void serve(Exchange& ex, std::optional<std::string> file, bool cors = false) {
    const Request& req = ex.req();
    Server& server = ex.server();
    const bool gzip_ok = req[http::field::accept_encoding].find("gzip") != std::string_view::npos;
    const auto found = file ? server.static_files().get(*file, gzip_ok) : std::nullopt;
    if (!found) return ex.text(http::status::not_found, "not found\n", "text/plain");
    const bool fresh = etag_matches(req[http::field::if_none_match], found->etag);
    Response res = ex.make(fresh ? http::status::not_modified : http::status::ok, found->type);
    security_headers(res);
    res.set(http::field::cache_control, "no-cache");  // revalidate: names carry no content hash
    res.set(http::field::etag, found->etag);
    res.set(http::field::vary, "Accept-Encoding");
    if (cors) wasm_cors(ex, res);
    if (found->gzipped) res.set(http::field::content_encoding, "gzip");
    if (!fresh && req.method() == http::verb::get) res.body() = *found->body;
    if (req.method() == http::verb::head) res.content_length(found->body->size());
    ex.send(std::move(res));
}

}  // namespace

void web_app(const ExchangePtr& ex) {
    serve(*ex, resolve_static(ex->server().options().web_root, ex->path()));
}

void wasm_package(const ExchangePtr& ex) {
    if (ex->req().method() == http::verb::options) return wasm_preflight(*ex);
    serve(*ex, resolve_static(ex->server().options().wasm_dir, ex->path().substr(5)), true);
}

}  // namespace compeit::native::http_route
