// The agent link's endpoint (docs/agents.md): external agents connect with a
// websocket to kAgentLinkPath, authorised by `Authorization: Bearer <C>`
// where C is --agent-secret (compared in constant time) or an access token
// with an `agent` claim (the types it may register). Each link is one
// ca::LinkAgent (the core does the protocol); this file owns the sockets'
// side: authorisation before the upgrade, the clock (tick), and closing a
// link whose agent misbehaves. The websocket is a WsSession (bounded write
// queue, frame size limit) carrying no socket.io session; it is pinged every
// --agent-timeout (1 to 15 s) and closed when nothing (no pong, no frame)
// came from it for three times that.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "compeit/ca/link_agent.hpp"
#include "address_limits.hpp"

namespace compeit::native {

class Server;
class WsSession;

inline constexpr std::string_view kAgentLinkPath = "/agent_link";

class AgentLinks {
public:
    explicit AgentLinks(Server& server);
    ~AgentLinks();

    struct Verdict {
        unsigned status = 0;  // 0: allowed; else the HTTP status of the refusal
        std::string body;
        ca::LinkAgent::Config config;  // when allowed
    };
    // The upgrade request's Authorization header, from `address`.
    Verdict authorize(std::string_view authorization, const std::string& address);
    // A new link on `ws` (its 101 answer is sent by start_link).
    void open(const std::shared_ptr<WsSession>& ws, const std::string& client_key, ca::LinkAgent::Config config,
              const std::string& peer);
    void tick(sio::Time now);
    // Server shutdown: every link closed, its types unregistered.
    void stop();
    std::size_t count() const { return links_.size(); }

private:
    class Peer;
    Server& server_;
    FailureThrottle failures_;
    std::map<Peer*, std::weak_ptr<Peer>> links_;
    std::uint64_t next_ = 1;
    sio::Time ping_every_;
};

}  // namespace compeit::native
