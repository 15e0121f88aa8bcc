// Where each HTTP request goes: one table, read top to bottom, the first
// route that matches answers (http_routes.cpp). The handlers live by topic:
// socket.io (http_sio.cpp), static files (http_static.cpp), and operations
// and admin (http_routes.cpp).
#pragma once

#include <memory>
#include <string>

#include "http_exchange.hpp"

namespace compeit::native::http_route {

using ExchangePtr = std::shared_ptr<Exchange>;

// Answers `ex` through the route table.
void dispatch(const ExchangePtr& ex);

// --- socket.io (http_sio.cpp) ---
// The websocket upgrade of a session (or no answer, as socket.io 0.9).
void sio_upgrade(const ExchangePtr& ex);
// socket.io.js and its kin (legacy_client.hpp), from memory; public, like any script.
void sio_client_library(const ExchangePtr& ex);
// Handshakes, long-polls and POSTs under --resource.
void socketio(const ExchangePtr& ex);
// Answers the long-poll `ex` held with `payload`.
void answer_poll(Exchange& ex, const std::string& payload);
// 403 with no CORS headers for a page of an origin not on --allowed-origin.
void bad_origin(Exchange& ex);

// --- static files (http_static.cpp) ---
void web_app(const ExchangePtr& ex);       // --web-root at /
void wasm_package(const ExchangePtr& ex);  // --wasm-dir at /wasm/

}  // namespace compeit::native::http_route
