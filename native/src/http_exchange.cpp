#include "http_exchange.hpp"

#include "compeit/util/url.hpp"
#include "log.hpp"
#include "secrets.hpp"
#include "server.hpp"

namespace compeit::native::http_route {

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

Exchange::Exchange(std::shared_ptr<Connection> conn, Request req, std::string address, std::string peer)
    : conn_(std::move(conn)), req_(std::move(req)), address_(std::move(address)), peer_(std::move(peer)) {
    method_ = std::string(req_.method_string());
    const auto target = url::split_target(req_.target());
    path_ = std::string(target.path);
    query_ = std::string(target.query);
    sio_ = parse_sio_path(path_, server().options().resource);
    origin_ = std::string(req_[http::field::origin]);
    origin_allowed_ = server().origins().allows(origin_);
}

Exchange::Exchange(std::shared_ptr<Connection> conn, std::string method, std::string path, std::string address,
                   std::string peer)
    : conn_(std::move(conn)), method_(std::move(method)), path_(std::move(path)), address_(std::move(address)),
      peer_(std::move(peer)) {
    sio_ = parse_sio_path(path_, server().options().resource);  // the access log names a sid by its tag
}

Response Exchange::make(http::status status, std::string_view type) const {
    Response res{status, req_.version()};
    if (!type.empty()) res.set(http::field::content_type, type);
    res.set("X-Content-Type-Options", "nosniff");
    res.keep_alive(req_.keep_alive());
    return res;
}

void Exchange::cors(Response& res) const {
    if (origin_.empty() || !origin_allowed_) return;
    res.set(http::field::access_control_allow_origin, origin_);
    res.set(http::field::access_control_allow_credentials, "true");
}

void Exchange::text(http::status status, std::string_view body, std::string_view type) {
    Response res = make(status, type);
    cors(res);
    res.body() = std::string(body);
    send(std::move(res));
}

void Exchange::send(Response&& res) {
    log_access(static_cast<unsigned>(res.result_int()), res.body().size());
    conn_->write(std::move(res));
}

void Exchange::upgrade(const std::string& key, const std::string& sid) {
    log_access(101, 0);
    conn_->upgrade(key, sid);
}

std::shared_ptr<WsSession> Exchange::take_websocket() {
    log_access(101, 0);
    return conn_->take_websocket();
}

// The path only (a query may hold a token), a session's sid replaced by its tag.
void Exchange::log_access(unsigned status, std::uint64_t bytes) const {
    if (!access_log_enabled()) return;
    const std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start_;
    std::string path = path_;
    if (sio_ && !sio_->sid.empty()) {
        const auto at = static_cast<std::size_t>(sio_->sid.data() - path_.data());
        path = path_.substr(0, at) + sid_tag(sio_->sid) + path_.substr(at + sio_->sid.size());
    }
    native::log_access(AccessEntry{method_, path, status, bytes, ms.count(), peer_});
}

}  // namespace compeit::native::http_route
