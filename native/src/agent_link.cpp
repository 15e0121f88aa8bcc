#include "agent_link.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

#include "log.hpp"
#include "secrets.hpp"
#include "server.hpp"
#include "ws_session.hpp"

namespace compeit::native {

namespace {
constexpr unsigned kFailures = 5;                 // wrong credentials per address...
constexpr std::chrono::seconds kFailureWindow{60};  // ...per minute, then 429 until the minute ends
}  // namespace

// One link: the core's LinkAgent between the websocket and the router.
class AgentLinks::Peer final : public WsSession::LinkPeer, public std::enable_shared_from_this<Peer> {
public:
    Peer(AgentLinks& links, std::string name, ca::LinkAgent::Config config)
        : links_(links),
          name_(std::move(name)),
          agent_(links.server_.router(), std::move(config), [this](std::string frame) { send(std::move(frame)); }) {}

    void attach(const std::shared_ptr<WsSession>& ws, sio::Time now) {
        ws_ = ws;
        last_heard_ = last_ping_ = now;
    }

    void on_pong() override { last_heard_ = links_.server_.now(); }

    void on_text(std::string_view text) override {
        last_heard_ = links_.server_.now();
        const auto types = agent_.types().size();
        agent_.on_frame(text, links_.server_.now());
        if (agent_.types().size() != types)
            log_event(LogLevel::info, LogFields{.event = "agent_registered", .remote = name_}, "agent link ", name_,
                      " serves ", describe());
        if (agent_.misbehaving() && !closing_) {
            closing_ = true;
            log_event(LogLevel::warn,
                      LogFields{.event = "agent_link_closed", .reason = "too many bad frames", .remote = name_},
                      "agent link ", name_, ": too many bad frames, closing");
            // Not from inside the session's read loop.
            boost::asio::post(links_.server_.ioc(), [w = ws_] {
                if (auto ws = w.lock()) ws->finish();
            });
        }
    }

    void on_close() override {
        if (!agent_.types().empty())
            log_event(LogLevel::info, LogFields{.event = "agent_link_closed", .remote = name_}, "agent link ", name_,
                      " closed; unregistered ", describe());
        agent_.close();
        links_.links_.erase(this);
    }

    // A peer that answers nothing for three pings is gone (a half-open TCP
    // connection would otherwise hold its types until the kernel gives up).
    void tick(sio::Time now, sio::Time ping_every) {
        agent_.tick(now);
        auto ws = ws_.lock();
        if (!ws) return;
        if (now - last_heard_ > 3 * ping_every) {
            log_event(LogLevel::warn, LogFields{.event = "agent_link_closed", .reason = "no pong", .remote = name_},
                      "agent link ", name_, " answers no pings: closing");
            return ws->finish();
        }
        if (now - last_ping_ >= ping_every) {
            last_ping_ = now;
            ws->ping();
        }
    }

    void close() {
        if (auto ws = ws_.lock()) ws->finish();
        agent_.close();
    }

private:
    AgentLinks& links_;
    std::string name_;
    ca::LinkAgent agent_;
    std::weak_ptr<WsSession> ws_;
    sio::Time last_heard_{}, last_ping_{};
    bool closing_ = false;

    void send(std::string frame) {
        if (auto ws = ws_.lock()) {
            std::vector<sio::Frame> frames;
            frames.push_back(sio::make_frame(std::move(frame)));
            ws->send(std::move(frames));
        }
    }
    std::string describe() const {
        std::string out;
        for (const auto& t : agent_.types()) out += (out.empty() ? "" : ", ") + t;
        return out.empty() ? "no types" : "types " + out;
    }
};

// Pings every --agent-timeout, from 1 to 15 s.
AgentLinks::AgentLinks(Server& server)
    : server_(server),
      failures_(kFailures, kFailureWindow),
      ping_every_(std::clamp(std::chrono::duration_cast<sio::Time>(std::chrono::duration<double>(server.options().agent_timeout_s)),
                             sio::Time{1'000}, sio::Time{15'000})) {}

AgentLinks::~AgentLinks() { stop(); }

AgentLinks::Verdict AgentLinks::authorize(std::string_view authorization, const std::string& address) {
    const auto now = std::chrono::steady_clock::now();
    if (failures_.blocked(address, now)) return {429, "too many failed attempts\n", {}};
    const auto credentials = bearer_credentials(authorization);
    if (!credentials || credentials->empty()) return {401, "agent credential required\n", {}};
    Verdict v;
    const auto& secret = server_.options().agent_secret;
    if (secret.empty() || !secrets_equal(*credentials, secret)) {
        // An access token with an `agent` claim: the types it lists, no others.
        auto claims = server_.tokens().enabled() ? server_.tokens().verify(*credentials, Server::wall_seconds())
                                                 : Expected<auth::Claims, std::string>(unexpected(std::string()));
        if (!claims || !claims->agent) {
            failures_.failed(address, now);
            log_event(LogLevel::warn, LogFields{.event = "agent_link_refused", .remote = address},
                      "agent link: refused credential from ", address);
            return {403, "agent credential refused\n", {}};
        }
        v.config.allowed_types = std::move(*claims->agent);
    }
    v.config.timeout = std::chrono::duration_cast<sio::Time>(std::chrono::duration<double>(server_.options().agent_timeout_s));
    v.config.max_frame = server_.options().limits.max_data_bytes + 64 * 1024;
    return v;
}

void AgentLinks::open(const std::shared_ptr<WsSession>& ws, const std::string& client_key, ca::LinkAgent::Config config,
                      const std::string& peer) {
    auto link = std::make_shared<Peer>(*this, "#" + std::to_string(next_++) + " from " + peer, std::move(config));
    link->attach(ws, server_.now());
    links_.emplace(link.get(), link);
    log_event(LogLevel::info, LogFields{.event = "agent_link_open", .remote = peer}, "agent link open from ", peer);
    ws->start_link(client_key, std::move(link), peer);
}

void AgentLinks::tick(sio::Time now) {
    for (const auto& [raw, weak] : std::map(links_)) {  // a tick may close links
        if (auto link = weak.lock()) link->tick(now, ping_every_);
        else links_.erase(raw);  // its websocket went without a close (never expected; no entry is kept)
    }
}

void AgentLinks::stop() {
    for (const auto& [raw, weak] : std::exchange(links_, {}))
        if (auto link = weak.lock()) link->close();
}

}  // namespace compeit::native
