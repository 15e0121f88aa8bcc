// The web app (--web-root) and the WebAssembly client package (--wasm-dir),
// from the static file cache (static_files.hpp).
#include "http_routes.hpp"
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

void serve(Exchange& ex, std::optional<std::string> file) {
    const Request& req = ex.req();
    Server& server = ex.server();
    const bool gzip_ok = req[http::field::accept_encoding].find("gzip") != std::string_view::npos;
    const auto found = file ? server.static_files().get(*file, gzip_ok) : std::nullopt;
    if (!found) return ex.text(http::status::not_found, "not found\n", "text/plain");
    const bool fresh = req[http::field::if_none_match] == found->etag;
    Response res = ex.make(fresh ? http::status::not_modified : http::status::ok, found->type);
    security_headers(res);
    res.set(http::field::cache_control, "no-cache");  // revalidate: names carry no content hash
    res.set(http::field::etag, found->etag);
    res.set(http::field::vary, "Accept-Encoding");
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
    serve(*ex, resolve_static(ex->server().options().wasm_dir, ex->path().substr(5)));
}

}  // namespace compeit::native::http_route
