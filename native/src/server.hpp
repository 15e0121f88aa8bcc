// The native server: one io_context thread drives the core's Engine and
// Router (so the core needs no locks), accepts TCP connections, and is the
// Engine's TransportHost: it maps session ids to the websocket or the held
// long-poll that currently carries them.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "compeit/agents/chat_agent.hpp"
#include "compeit/agents/kurento_agent.hpp"
#include "compeit/ca/room_owned_agent.hpp"
#include "compeit/ca/router.hpp"
#include "compeit/cluster/node.hpp"
#include "compeit/sio/engine.hpp"
#include "address_limits.hpp"
#include "agent_link.hpp"
#include "janus_client.hpp"
#include "origin_policy.hpp"
#include "trusted_proxies.hpp"
#include "token_verifier.hpp"
#include "kms_client.hpp"
#include "legacy_client.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "redis_link.hpp"
#include "session_log.hpp"
#include "static_files.hpp"
#include "tls_context.hpp"

namespace compeit::native {

class WsSession;
class WriteBatch;
class HttpSession;

class Server final : public sio::TransportHost {
public:
    Server(boost::asio::io_context& ioc, Options options);
    ~Server() override;

    // Opens the data directory and binds; false (with a log line) on failure.
    bool listen();
    std::uint16_t port() const { return port_; }
    // Stops accepting and drops every connection without `0::`, so clients
    // reconnect to the next server.
    void stop();

    // Graceful drain (SIGTERM): new handshakes are refused and /readyz says
    // so at once; the sessions open get `timeout` to end by themselves, then
    // the chat writes queued are committed and delivered, the rest of the
    // sessions are told `0::` and closed, the server stops, and `done` runs.
    void drain(std::chrono::milliseconds timeout, std::function<void()> done);
    bool draining() const { return draining_; }

    // /readyz: each check, passing or with the reason it fails (no secrets).
    struct ReadinessCheck {
        std::string name;
        bool ok = true;
        std::string reason;
    };
    std::vector<ReadinessCheck> readiness();

    boost::asio::io_context& ioc() { return ioc_; }
    const Options& options() const { return options_; }
    sio::Engine& engine() { return engine_; }
    // --io-uring on (and available): the websockets' writes during a flush go here.
    WriteBatch* write_batch() { return write_batch_.get(); }
    ca::Router& router() { return router_; }
    agents::ChatAgent& chat() { return *chat_; }
    StaticCache& static_files() { return static_files_; }
    const LegacyClient& legacy_client() const { return legacy_client_; }
    const OriginPolicy& origins() const { return *origins_; }
    const TrustedProxies& trusted_proxies() const { return trusted_proxies_; }
    const TokenVerifier& tokens() const { return tokens_; }
    // The agent link (--agent-secret); null when off.
    AgentLinks* agent_links() { return agent_links_.get(); }
    // Seconds since the Unix epoch (token expiry).
    static std::int64_t wall_seconds();
    // The admin interface's answer to `authorization` from `address`: the
    // admin token, or an access token with the `admin` capability (`who`
    // then names its subject, for the log).
    enum class AdminAuth { ok, refused, throttled };
    AdminAuth admin_authorize(std::string_view authorization, const std::string& address, std::string& who);
    sio::Time now() const;
    // A connection let go of this many bytes it had queued (a burst, or a
    // dropped reader): the next tick returns freed memory to the system.
    void memory_released(std::size_t bytes) { released_since_trim_ += bytes; }
    // The native counters (metrics.hpp), and the media-server link when there is one.
    NativeStats& stats() { return stats_; }
    const MediaLink* media_link() const;

    // TLS (--tls-cert/--tls-key): the context new connections are made with;
    // null when the server speaks plain http.
    const TlsContext& tls_context() const { return tls_; }
    // Loads the certificate and key again (SIGHUP): new handshakes use them,
    // connections keep the context they were made with. A bad file keeps the
    // old certificate, and the log says why.
    void reload_tls();

    // The transports currently carrying sessions.
    void attach_ws(sio::SessionId id, const std::shared_ptr<WsSession>& ws);
    void detach_ws(sio::SessionId id);
    void hold_poll(sio::SessionId id, const std::shared_ptr<HttpSession>& http);
    void release_poll(sio::SessionId id);

    // sio::TransportHost
    void ws_write(sio::SessionId, std::vector<sio::Frame>&& frames) override;
    void poll_respond(sio::SessionId, std::string payload) override;
    void end(sio::SessionId) override;
    void schedule_flush() override;
    void opened(sio::SessionId, std::string_view sid, sio::Transport transport) override;
    void closed(sio::SessionId, std::string_view sid, sio::CloseReason reason) override;

private:
    boost::asio::io_context& ioc_;
    Options options_;
    ca::Router router_;
    SessionLog session_log_{router_};  // the engine's application: logs, then the router
    sio::Engine engine_;
    NativeStats stats_;  // before chat_store_: its completions, run as it closes, count here
    std::unique_ptr<agents::ChatStore> chat_store_;
    std::unique_ptr<MeteredChatStore> metered_chat_;  // the chat agent's view of chat_store_
    std::unique_ptr<agents::ChatAgent> chat_;
    std::unique_ptr<KmsClient> kms_;  // --media kurento: before media_, which uses its session
    std::unique_ptr<JanusClient> janus_;  // --media janus: likewise
    std::unique_ptr<agents::MediaBackend> media_;
    std::unique_ptr<agents::KurentoAgent> kurento_;
    std::unique_ptr<cluster::Node> cluster_;      // --cluster: this process as one node
    std::unique_ptr<RedisLink> redis_;
    // --cluster: the Kurento Agent as registered, one owner node per room (ca::RoomOwnedAgent)
    std::unique_ptr<ca::RoomOwnedAgent> owned_kurento_;
    std::vector<std::unique_ptr<ca::ServerAgent>> table_agents_;  // server_agents.hpp
    std::unique_ptr<AgentLinks> agent_links_;  // --agent-secret
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer tick_timer_;
    boost::asio::steady_timer accept_timer_;  // backing off while descriptors are exhausted
    std::chrono::steady_clock::time_point start_;
    std::uint16_t port_ = 0;
    AddressSlots connection_slots_;
    TrustedProxies trusted_proxies_;
    FailureThrottle admin_failures_;
    int reserve_fd_ = -1;  // given up to accept-and-close one connection when descriptors run out
    std::chrono::milliseconds accept_backoff_{0};
    std::uint64_t accept_failures_ = 0;  // since the last log line about them
    std::chrono::steady_clock::time_point accept_logged_{};
    sio::Time last_trim_{};
    std::size_t released_since_trim_ = 0;
    std::size_t peak_sessions_ = 0;  // the most sessions since the last trim
    bool flush_scheduled_ = false;
    std::unique_ptr<WriteBatch> write_batch_;  // --io-uring on
    bool stopped_ = false;
    // The drain: sessions opened and not closed yet; counts for the log.
    std::unordered_set<sio::SessionId> open_sessions_;
    bool draining_ = false, drain_closing_ = false;
    std::size_t drain_open_ = 0, drain_left_ = 0;
    std::function<void()> drain_done_;
    boost::asio::steady_timer drain_timer_;
    sio::Time last_store_probe_{};
    bool store_probe_pending_ = false;
    std::unordered_map<sio::SessionId, std::weak_ptr<WsSession>> websockets_;
    std::unordered_map<sio::SessionId, std::weak_ptr<HttpSession>> polls_;
    StaticCache static_files_;
    LegacyClient legacy_client_;  // socket.io.js for pages written for socket.io 0.9 (--legacy-client)
    std::optional<OriginPolicy> origins_;  // made by listen(), which knows the port
    TokenVerifier tokens_;
    TlsContext tls_;

    bool open_agents();
    bool open_cluster();
    void reserve_user_ids();
    bool load_legacy_client();
    void accept();
    void accepted(boost::asio::ip::tcp::socket socket);
    void accept_failed(const boost::system::error_code& ec);
    void arm_tick();
    void trim_memory(sio::Time now);
    void probe_chat_store(sio::Time now);
    void end_drain();
    void await_quiet(sio::Time deadline);
    std::optional<std::string> chat_store_failure();
    void chat_store_barrier(std::function<void()> done);
};

}  // namespace compeit::native
