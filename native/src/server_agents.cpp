#include "server_agents.hpp"

#include "server.hpp"

namespace compeit::native {

const std::vector<AgentEntry>& server_agents() {
    static const std::vector<AgentEntry> table = {
        // {"echo", [](Server& s) -> std::unique_ptr<ca::ServerAgent> {
        //      return s.options().echo ? std::make_unique<agents::EchoAgent>() : nullptr; }},
    };
    return table;
}

}  // namespace compeit::native
