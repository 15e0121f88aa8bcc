// The server's C++ agents, in one place. A new agent is a ca::ServerAgent
// (one file pair, in core/src/agents/ when it is sans I/O) and one line in
// the table in server_agents.cpp; the server registers every agent the table
// makes at start. Its flags go in options.* and its `make` reads them.
// (Chat and Kurento predate the table: their stores, media backends, the
// cluster and the admin API reach into them, so Server::open_agents makes them.)
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "compeit/ca/agent.hpp"

namespace compeit::native {

class Server;

struct AgentEntry {
    std::string_view type;
    // The agent, or null when the server's options leave it off.
    std::unique_ptr<ca::ServerAgent> (*make)(Server& server);
};

const std::vector<AgentEntry>& server_agents();

}  // namespace compeit::native
