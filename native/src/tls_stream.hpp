// The stream of one TLS connection on the server's listener: Beast's
// ssl_stream over a tcp_stream (timeouts for the handshake and requests),
// and the context it was made with, which must outlive it (tls_context.hpp).
// The HTTP session does the handshake; an upgrade moves the whole
// connection, with what OpenSSL has buffered, to the websocket session.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <utility>

#include "tls_context.hpp"

namespace compeit::native {

struct TlsConnection {
    TlsConnection(boost::asio::ip::tcp::socket socket, TlsContext ctx)
        : context(std::move(ctx)), stream(std::move(socket), *context) {}

    TlsContext context;  // before `stream`: destroyed after it
    boost::beast::ssl_stream<boost::beast::tcp_stream> stream;

    boost::beast::tcp_stream& tcp() { return boost::beast::get_lowest_layer(stream); }
};

}  // namespace compeit::native
