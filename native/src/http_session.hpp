// One HTTP/1.1 connection: it reads requests, hands each to the route table
// (http_routes.hpp: socket.io, the websocket upgrade handed to WsSession,
// health, metrics, admin, static files) and writes the answers; it holds a
// session's long-poll until the server answers it. Requests are parsed with
// Beast under a body limit (LIM-2) and a deadline (LIM-4).
// With TLS the connection starts with the TLS handshake, under the same
// deadline, and every byte goes through the TLS stream (tls_stream.hpp).
// The Beast types stay in the .cpp so only one file pays for their headers.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "address_limits.hpp"
#include "tls_context.hpp"

namespace compeit::native {

class Server;

class HttpSession {
public:
    virtual ~HttpSession() = default;
    virtual void start() = 0;
    // Completes the held long-poll with this payload.
    virtual void answer_poll(std::string payload) = 0;
    // Close now (server shutdown).
    virtual void abort() = 0;
};

// `slot` is the connection's place in --max-connections-per-address; it
// moves to the websocket session on an upgrade and is freed with the socket.
// `tls`: speak https (and wss after an upgrade) with this context; null: http.
std::shared_ptr<HttpSession> make_http_session(boost::asio::ip::tcp::socket socket, Server& server,
                                               AddressSlots::Slot slot, TlsContext tls);

}  // namespace compeit::native
