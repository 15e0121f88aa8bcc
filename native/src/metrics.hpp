// Prometheus metrics: GET /metrics answers with the text exposition format.
#pragma once

#include <string>

namespace compeit::native {

class Server;

// The whole exposition, made at scrape time from the server's counters.
std::string render_metrics(Server& server);

}  // namespace compeit::native
