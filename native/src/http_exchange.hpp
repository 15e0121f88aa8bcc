// One HTTP request and the means to answer it, shared by the connection
// (http_session.cpp, which reads requests and writes answers) and the route
// handlers (http_routes.cpp and its kin, which decide the answers). Private
// to those files: the Beast types stay out of every other translation unit.
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "compeit/sio/engine.hpp"

namespace compeit::native {

class WsSession;

class Server;

namespace http_route {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// `<resource>/<protocol>/<transport>/<sid>` split into its segments
// (the resource is --resource, /socket.io by default).
struct SioPath {
    bool welcome = false;  // `/socket.io/` alone, or too many segments
    std::string_view protocol, transport, sid;
};
std::optional<SioPath> parse_sio_path(std::string_view path, std::string_view resource);

class Exchange;

// What a route handler may do with the connection its request came on.
class Connection {
public:
    virtual ~Connection() = default;
    virtual Server& server() = 0;
    // Writes the answer; the connection stays open when `res.keep_alive()`.
    virtual void write(Response&& res) = 0;
    // Closes without an answer.
    virtual void close() = 0;
    // Keeps `ex` open as the session's long-poll (answered by answer_poll).
    virtual void hold_poll(sio::SessionId id, std::shared_ptr<Exchange> ex) = 0;
    // Hands the socket to a websocket session for `sid`.
    virtual void upgrade(const std::string& key, const std::string& sid) = 0;
    // The connection, with what was read past the request, as a websocket
    // session not started yet (the agent link starts it its own way).
    virtual std::shared_ptr<WsSession> take_websocket() = 0;
};

// A request being answered. Answers leave through send() only, which writes
// the access log line (--access-log): one per request answered.
class Exchange {
public:
    Exchange(std::shared_ptr<Connection> conn, Request req, std::string address, std::string peer);
    // A request the parser refused before it was whole (no route sees it).
    Exchange(std::shared_ptr<Connection> conn, std::string method, std::string path, std::string address,
             std::string peer);
    Exchange(const Exchange&) = delete;  // sio() views into path()
    Exchange& operator=(const Exchange&) = delete;

    Server& server() const { return conn_->server(); }
    const std::shared_ptr<Connection>& connection() const { return conn_; }
    const Request& req() const { return req_; }
    std::string_view path() const { return path_; }
    std::string_view query() const { return query_; }
    const std::optional<SioPath>& sio() const { return sio_; }
    const std::string& address() const { return address_; }  // the client's: a session's sid is bound to it
    const std::string& peer() const { return peer_; }        // address:port, for the log
    const std::string& origin() const { return origin_; }
    bool origin_allowed() const { return origin_allowed_; }

    // What the long-poll held by this request answers with (set by the socket.io route).
    sio::Transport poll_kind = sio::Transport::xhr_polling;
    std::string jsonp_index = "0";

    // An answer with the headers every answer has.
    Response make(http::status status, std::string_view type) const;
    // The CORS headers, for an allowed page's origin.
    void cors(Response& res) const;
    // A short answer with CORS headers (`type` empty: no Content-Type).
    void text(http::status status, std::string_view body, std::string_view type);
    void send(Response&& res);
    void close() { conn_->close(); }
    // The websocket upgrade, logged as 101.
    void upgrade(const std::string& key, const std::string& sid);
    // The connection as a websocket session for its own protocol, logged as 101.
    std::shared_ptr<WsSession> take_websocket();

private:
    std::shared_ptr<Connection> conn_;
    Request req_;
    std::string method_, path_, query_;
    std::optional<SioPath> sio_;
    std::string address_, peer_;
    std::string origin_;
    bool origin_allowed_ = true;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();

    void log_access(unsigned status, std::uint64_t bytes) const;
};

}  // namespace http_route
}  // namespace compeit::native
