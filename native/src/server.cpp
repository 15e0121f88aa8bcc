#include "server.hpp"
#include "write_batch.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <malloc.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include "chat_store_factory.hpp"
#include "http_session.hpp"
#include "pg_chat_store.hpp"
#include "threaded_chat_store.hpp"
#include "log.hpp"
#include "secrets.hpp"
#include "server_agents.hpp"
#include "ws_session.hpp"

namespace compeit::native {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Timers in the engine are deadlines checked by a periodic tick; the tick is
// a fraction of the shortest timeout so deadlines are met to within ~10%.
std::chrono::milliseconds tick_period(const sio::EngineConfig& c) {
    auto shortest = std::min({c.heartbeat_interval, c.heartbeat_timeout, c.close_timeout,
                              c.polling_duration, c.handshake_timeout});
    return std::clamp(shortest / 10, std::chrono::milliseconds(10), std::chrono::milliseconds(250));
}

constexpr unsigned kAdminFailures = 5;  // wrong admin tokens per address...
constexpr std::chrono::seconds kAdminWindow{60};  // ...per minute, then 429 until the minute ends
constexpr sio::Time kTrimPeriod{5'000};
constexpr std::size_t kTrimAfterBytes = 4u << 20;
constexpr std::size_t kTrimAfterSessions = 1000;

// The machine's own IP addresses (for the origins of a server bound to all of them).
std::vector<std::string> interface_addresses() {
    std::vector<std::string> out;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return out;
    for (const ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) continue;
        char text[INET6_ADDRSTRLEN] = {};
        const void* addr = i->ifa_addr->sa_family == AF_INET
                               ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr)
                               : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr);
        if (inet_ntop(i->ifa_addr->sa_family, addr, text, sizeof text)) out.emplace_back(text);
    }
    freeifaddrs(list);
    return out;
}

// --bind: an IP address, or a host name resolved once at start-up (its first
// IPv4 address, else its first one: "localhost" is 127.0.0.1 where it has both).
asio::ip::address bind_address(asio::io_context& ioc, const std::string& host, boost::system::error_code& ec) {
    auto address = asio::ip::make_address(host, ec);
    if (!ec) return address;
    const auto results = tcp::resolver(ioc).resolve(host, "", tcp::resolver::passive, ec);
    if (ec) return {};
    for (const auto& r : results)
        if (r.endpoint().address().is_v4()) return r.endpoint().address();
    return results.begin()->endpoint().address();
}

}  // namespace

Server::Server(asio::io_context& ioc, Options options)
    : ioc_(ioc),
      options_(std::move(options)),
      router_(options_.limits),
      engine_(options_.engine, *this, session_log_),
      acceptor_(ioc),
      tick_timer_(ioc),
      accept_timer_(ioc),
      start_(std::chrono::steady_clock::now()),
      connection_slots_(options_.max_connections_per_address),
      trusted_proxies_(options_.trusted_proxies),
      admin_failures_(kAdminFailures, kAdminWindow),
      drain_timer_(ioc) {
    engine_.add_namespace(std::string(ca::kNamespace));
    router_.attach(engine_);
    // Session resume (docs/protocol.md §8): not in a cluster, whose link
    // delivers to sessions without the router.
    if (options_.resume_buffer > 0 && options_.cluster.empty()) {
        const auto timeout = options_.resume_timeout_s > 0
                                 ? sio::Time(static_cast<std::int64_t>(options_.resume_timeout_s * 1000))
                                 : options_.engine.close_timeout;
        router_.enable_resume({options_.resume_buffer, options_.resume_buffer_bytes, timeout}, random_bytes,
                              secrets_equal);
    }
    if (options_.io_uring) {
        std::string why;
        write_batch_ = WriteBatch::create(why);
        if (write_batch_)
            log_event(LogLevel::info, LogFields{.event = "io_uring"}, "websocket writes: one io_uring_enter per flush");
        else
            log_event(LogLevel::warn, LogFields{.event = "io_uring", .reason = why},
                      "--io-uring on, but io_uring is unavailable (", why, "): one sendmsg per write");
    }
    router_.on_fault([](const ca::Router::Fault& f) {
        log_event(LogLevel::error, LogFields{.event = "internal_error", .user = static_cast<std::uint64_t>(f.user)},
                  "internal error on ", f.event, f.type.empty() ? "" : " of type ", f.type, " from user ", f.user, ": ",
                  f.what);
    });
}

Server::~Server() {
    if (reserve_fd_ >= 0) ::close(reserve_fd_);
}

sio::Time Server::now() const {
    return std::chrono::duration_cast<sio::Time>(std::chrono::steady_clock::now() - start_);
}

const MediaLink* Server::media_link() const {
    if (kms_) return &kms_->link();
    if (janus_) return &janus_->link();
    return nullptr;
}

bool Server::open_agents() {
    std::error_code fs_ec;
    std::filesystem::create_directories(options_.data_dir, fs_ec);
    auto store = open_chat_store(options_.chat_db, options_.data_dir,
                                 Retention{options_.history_event_retention,
                                           static_cast<std::int64_t>(options_.history_retention_days * 86'400'000)},
                                 [this](std::function<void()> fn) { asio::post(ioc_, std::move(fn)); },
                                 std::chrono::microseconds(static_cast<std::int64_t>(options_.chat_commit_window_ms * 1000)));
    if (!store) {
        log_event(LogLevel::error, LogFields{.event = "chat_store_error"}, "chat store: ", store.error());
        return false;
    }
    chat_store_ = std::move(*store);
    metered_chat_ = std::make_unique<MeteredChatStore>(*chat_store_, stats_);
    chat_ = std::make_unique<agents::ChatAgent>(
        *metered_chat_,
        [] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                .count();
        },
        options_.limits.max_chat_chars);
    router_.register_agent(agents::ChatAgent::kType, *chat_);
    log_event(LogLevel::info, LogFields{.event = "chat_store_opened"}, "chat history in ",
              chat_store_location(options_.chat_db, options_.data_dir));
    if (!options_.cluster.empty() && !open_cluster()) return false;

    if (options_.media == "kurento") {
        kms_ = std::make_unique<KmsClient>(ioc_, options_.kms_url, [this] { return now(); });
        media_ = kms_->make_backend(options_.record_dir.empty()
                                        ? (std::filesystem::path(options_.data_dir) / "recordings").string()
                                        : options_.record_dir);
        kms_->start();
    } else if (options_.media == "janus") {
        janus_ = std::make_unique<JanusClient>(ioc_, options_.janus_url, [this] { return now(); });
        media_ = janus_->make_backend(options_.record_dir.empty()
                                          ? (std::filesystem::path(options_.data_dir) / "recordings").string()
                                          : options_.record_dir);
        janus_->start();
    } else {
        media_ = std::make_unique<agents::MeshBackend>();
    }
    kurento_ = std::make_unique<agents::KurentoAgent>(*media_, options_.ice_servers);
    if (cluster_) {  // its rooms' media state on one node each; the others forward to it
        owned_kurento_ = std::make_unique<ca::RoomOwnedAgent>(agents::KurentoAgent::kType, *kurento_, kurento_.get(),
                                                               *cluster_);
        router_.register_agent(agents::KurentoAgent::kType, *owned_kurento_);
    } else {
        router_.register_agent(agents::KurentoAgent::kType, *kurento_);
    }
    log_event(LogLevel::info, LogFields{.event = "media_mode"}, "kurento agent in ", media_->mode(), " mode");
    for (const auto& entry : server_agents()) {  // every other C++ agent: one line in server_agents.cpp
        auto agent = entry.make(*this);
        if (!agent) continue;
        if (!router_.register_agent(std::string(entry.type), *agent)) {
            log_event(LogLevel::error, LogFields{.event = "config_error"}, "agent type ", entry.type,
                      " registered twice");
            return false;
        }
        table_agents_.push_back(std::move(agent));
    }
    // The agent link: for the agent secret, or access tokens with an `agent`
    // claim. In a cluster an agent links to every node (docs/agents.md).
    if (!options_.agent_secret.empty() || tokens_.enabled()) {
        agent_links_ = std::make_unique<AgentLinks>(*this);
        log_event(LogLevel::info, LogFields{.event = "agent_link"}, "agent link at ", kAgentLinkPath, " (",
                  options_.agent_secret.empty() ? "" : "--agent-secret, ",
                  tokens_.enabled() ? "tokens with an agent claim" : "no tokens", "), agent timeout ",
                  options_.agent_timeout_s, " s");
    }
    return true;
}

// Cluster mode: the router's rooms and users span every node through Redis;
// the chat history and the user ids come from the shared PostgreSQL.
bool Server::open_cluster() {
    auto* pg = dynamic_cast<PgChatStore*>(chat_store_.get());
    if (!pg) {
        log_event(LogLevel::error, LogFields{.event = "config_error"},
                  "--cluster needs --chat-db postgresql://...: the nodes share the chat history and take user ids "
                  "from it");
        return false;
    }
    auto address = parse_redis_url(options_.cluster);
    if (!address) {
        log_event(LogLevel::error, LogFields{.event = "config_error"}, "--cluster ", options_.cluster, ": ",
                  address.error());
        return false;
    }
    cluster::NodeConfig config;
    config.name = options_.node;
    config.max_room_users = options_.limits.max_room_users;
    cluster::Node::Host host;
    host.deliver = [this](sio::SessionId s, const sio::Frame& f) { engine_.send(s, f); };
    host.output = [this] { redis_->flush_soon(); };
    host.need_ids = [this] { reserve_user_ids(); };
    host.reaped_leave = [this](const ca::User& u, ca::RoomId room) { router_.reaped_leave(u, room); };
    host.drop = [this](const std::vector<sio::SessionId>& sessions, std::string_view reason) {
        log_event(LogLevel::warn, LogFields{.event = "cluster_state", .reason = reason}, "cluster: ending ",
                  sessions.size(), " sessions: ", reason);
        for (const auto s : sessions) engine_.disconnect(s, sio::CloseReason::server, now());
    };
    host.note = [](std::string_view text) { log_event(LogLevel::info, LogFields{.event = "cluster_state"}, text); };
    cluster_ = std::make_unique<cluster::Node>(std::move(config), std::move(host));
    router_.link(cluster_.get());
    chat_->set_shared_store(true);
    redis_ = std::make_unique<RedisLink>(ioc_, std::move(*address), *cluster_, [this] { return now(); });
    reserve_user_ids();
    redis_->start();
    log_event(LogLevel::info, LogFields{.event = "cluster_state"}, "cluster node ", options_.node, " on Redis ",
              options_.cluster);
    return true;
}

// A block of user ids from PostgreSQL; retried while it cannot be had (a
// connect meanwhile is refused rather than given an id another node may use).
void Server::reserve_user_ids() {
    static_cast<PgChatStore*>(chat_store_.get())
        ->reserve_user_ids(cluster::NodeConfig{}.id_block, [this](Expected<std::int64_t, std::string> first) {
            if (!cluster_) return;
            if (first) return cluster_->add_ids(static_cast<ca::UserId>(*first), cluster::NodeConfig{}.id_block);
            log_event(LogLevel::error, LogFields{.event = "cluster_state"}, "cluster: no user ids: ", first.error());
            auto retry = std::make_shared<asio::steady_timer>(ioc_, std::chrono::seconds(1));
            retry->async_wait([this, retry](boost::system::error_code ec) {
                if (!ec && !stopped_) reserve_user_ids();
            });
        });
}

Server::AdminAuth Server::admin_authorize(std::string_view authorization, const std::string& address,
                                          std::string& who) {
    const auto now = std::chrono::steady_clock::now();
    if (admin_failures_.blocked(address, now)) return AdminAuth::throttled;
    // Hashed, then compared in constant time: neither the token nor its length shows in the timing.
    const auto credentials = bearer_credentials(authorization).value_or("");
    if (!options_.admin_token.empty() && secrets_equal(credentials, options_.admin_token)) {
        who = "the admin token";
        return AdminAuth::ok;
    }
    if (tokens_.enabled() && !credentials.empty()) {
        const auto claims = tokens_.verify(credentials, wall_seconds());
        if (claims && claims->caps.admin) {
            who = "token of " + claims->sub;
            return AdminAuth::ok;
        }
    }
    admin_failures_.failed(address, now);
    log_event(LogLevel::warn, LogFields{.event = "admin_refused", .remote = address}, "admin: refused authorisation from ",
              address);
    return AdminAuth::refused;
}

std::int64_t Server::wall_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool Server::listen() {
    auto tokens = TokenVerifier::make(options_.auth_secret, options_.auth_public_key);
    if (!tokens) {
        log_event(LogLevel::error, LogFields{.event = "config_error"}, tokens.error());
        return false;
    }
    tokens_ = std::move(*tokens);
    if (!options_.tls_cert.empty()) {
        auto tls = make_tls_context(options_.tls_cert, options_.tls_key);
        if (!tls) {
            log_event(LogLevel::error, LogFields{.event = "config_error"}, tls.error());
            return false;
        }
        tls_ = std::move(*tls);
        log_event(LogLevel::info, LogFields{.event = "tls_loaded"}, "TLS certificate: ", describe_certificate(*tls_));
    }
    if (!load_legacy_client()) return false;
    if (!open_agents()) return false;
    boost::system::error_code ec;
    const auto address = bind_address(ioc_, options_.bind, ec);
    if (ec) {
        log_event(LogLevel::error, LogFields{.event = "config_error"}, "--bind ", options_.bind, ": ", ec.message());
        return false;
    }
    const tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        log_event(LogLevel::error, LogFields{.event = "listen_failed"}, "cannot listen on ", options_.bind, ":",
                  options_.port, ": ", ec.message());
        return false;
    }
    port_ = acceptor_.local_endpoint().port();
    origins_.emplace(options_.allowed_origins, options_.bind, port_, tls_ != nullptr, interface_addresses());
    if (tokens_.enabled())
        log_event(LogLevel::info, LogFields{.event = "auth_mode"}, "access tokens required (", tokens_.describe(), ")");
    else
        log_event(LogLevel::warn, LogFields{.event = "auth_mode"},
                  "open mode: no --auth-secret or --auth-public-key, so anyone may connect under any name and join "
                  "any room");
    if (origins_->allows_any())
        log_event(LogLevel::warn, LogFields{.event = "origin_policy"},
                  "every web origin may use the server (--allowed-origin *)");
    acceptor_.non_blocking(true, ec);  // the reserve-descriptor accept must not block
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    accept();
    arm_tick();
    return true;
}

// The default package may simply not be installed (a server without npm):
// a warning. A package named with --legacy-client must be there.
bool Server::load_legacy_client() {
    if (options_.legacy_client.empty()) return true;
    if (const auto error = legacy_client_.load(options_.legacy_client)) {
        if (options_.legacy_client_required) {
            log_event(LogLevel::error, LogFields{.event = "config_error"}, "--legacy-client: ", *error);
            return false;
        }
        log_event(LogLevel::warn, LogFields{.event = "legacy_client"}, "socket.io client library not served at ",
                  options_.resource, "/socket.io.js: ", *error,
                  " (npm ci installs it; --legacy-client DIR names another, off turns this off)");
        return true;
    }
    log_event(LogLevel::info, LogFields{.event = "legacy_client"}, "serving socket.io-client ", legacy_client_.version(),
              " at ", options_.resource, "/socket.io.js");
    return true;
}

void Server::accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
        if (stopped_ || ec == asio::error::operation_aborted) return;
        if (ec) return accept_failed(ec);
        accept_backoff_ = std::chrono::milliseconds(0);
        accepted(std::move(socket));
        accept();
    });
}

void Server::accepted(tcp::socket socket) {
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) return;  // gone already
    auto slot = connection_slots_.claim(remote.address().to_string(), trusted_proxies_.trusts(remote.address()));
    if (!slot) {
        // Over --max-connections-per-address: a short answer, then close.
        static constexpr std::string_view refusal =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 21\r\nConnection: close\r\n\r\n"
            "too many connections\n";
        // (A TLS client would not understand it: it only sees the close.)
        socket.non_blocking(true, ec);
        if (!tls_) socket.write_some(asio::buffer(refusal.data(), refusal.size()), ec);
        socket.close(ec);
        return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    make_http_session(std::move(socket), *this, std::move(slot), tls_)->start();
}

void Server::reload_tls() {
    if (!tls_) {
        log_event(LogLevel::info, LogFields{.event = "tls_reloaded", .reason = "no --tls-cert"},
                  "SIGHUP: no --tls-cert to reload");
        return;
    }
    auto tls = make_tls_context(options_.tls_cert, options_.tls_key);
    if (!tls) {
        log_event(LogLevel::error, LogFields{.event = "tls_reload_failed"},
                  "SIGHUP: keeping the current TLS certificate: ", tls.error());
        return;
    }
    tls_ = std::move(*tls);  // connections made with the old one keep it alive
    log_event(LogLevel::info, LogFields{.event = "tls_reloaded"}, "SIGHUP: TLS certificate reloaded: ",
              describe_certificate(*tls_));
}

// accept() fails mostly when descriptors run out (EMFILE, ENFILE) or the
// kernel is short of memory: retrying at once would spin. One pending
// connection is accepted and closed with the reserve descriptor, so its
// client hears "no" instead of waiting, and accepting resumes after a
// backoff (10 ms doubling to 1 s). The log says so at most once a second.
void Server::accept_failed(const boost::system::error_code& ec) {
    ++accept_failures_;
    const auto now = std::chrono::steady_clock::now();
    if (now - accept_logged_ >= std::chrono::seconds(1)) {
        log_event(LogLevel::warn, LogFields{.event = "accept_failed"}, "accept: ", ec.message(), " (",
                  accept_failures_, " times since the last report)");
        accept_failures_ = 0;
        accept_logged_ = now;
    }
    const int err = ec.value();
    if (ec.category() == boost::system::system_category() && (err == EMFILE || err == ENFILE) && reserve_fd_ >= 0) {
        ::close(reserve_fd_);
        const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) ::close(fd);
        reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    accept_backoff_ = std::clamp(accept_backoff_ * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
    accept_timer_.expires_after(accept_backoff_);
    accept_timer_.async_wait([this](boost::system::error_code wec) {
        if (!wec && !stopped_) accept();
    });
}

void Server::arm_tick() {
    tick_timer_.expires_after(tick_period(options_.engine));
    tick_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopped_) return;
        const auto t = now();
        router_.advance(t);
        engine_.tick(t);
        router_.tick(t);  // parked sessions whose time is up leave
        if (cluster_) cluster_->tick(t);
        if (owned_kurento_) owned_kurento_->tick(t);
        if (agent_links_) agent_links_->tick(t);
        trim_memory(t);
        probe_chat_store(t);
        arm_tick();
    });
}

// Memory freed after a burst goes back to the system: glibc keeps freed
// pages inside its heaps, so a flood's gigabytes would stay held. Only after
// something big was let go (a queue of a megabyte or more, or a thousand
// sessions fewer than the peak), at most every kTrimPeriod: malloc_trim walks
// the whole heap and costs milliseconds, which steady traffic must not pay.
void Server::trim_memory(sio::Time t) {
    const std::size_t sessions = engine_.session_count();
    peak_sessions_ = std::max(peak_sessions_, sessions);
    const bool worth_it = released_since_trim_ >= kTrimAfterBytes || sessions + kTrimAfterSessions <= peak_sessions_;
    if (!worth_it || t - last_trim_ < kTrimPeriod) return;
    last_trim_ = t;
    released_since_trim_ = 0;
    peak_sessions_ = sessions;
    malloc_trim(0);
}

void Server::stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    tick_timer_.cancel();
    accept_timer_.cancel();
    drain_timer_.cancel();
    if (kms_) kms_->stop();
    if (janus_) janus_->stop();
    if (redis_) redis_->stop();
    if (agent_links_) agent_links_->stop();
    // Aborting detaches from these maps: iterate over copies.
    const auto websockets = std::exchange(websockets_, {});
    const auto polls = std::exchange(polls_, {});
    for (const auto& [id, weak] : websockets)
        if (auto ws = weak.lock()) ws->abort();
    for (const auto& [id, weak] : polls)
        if (auto http = weak.lock()) http->abort();
}

void Server::attach_ws(sio::SessionId id, const std::shared_ptr<WsSession>& ws) { websockets_[id] = ws; }
void Server::detach_ws(sio::SessionId id) { websockets_.erase(id); }
void Server::hold_poll(sio::SessionId id, const std::shared_ptr<HttpSession>& http) { polls_[id] = http; }
void Server::release_poll(sio::SessionId id) { polls_.erase(id); }

void Server::ws_write(sio::SessionId id, std::vector<sio::Frame>&& frames) {
    const auto it = websockets_.find(id);
    if (it == websockets_.end()) return;
    if (auto ws = it->second.lock()) ws->send(std::move(frames));
}

void Server::poll_respond(sio::SessionId id, std::string payload) {
    const auto it = polls_.find(id);
    if (it == polls_.end()) return;
    auto http = it->second.lock();
    polls_.erase(it);
    if (http) http->answer_poll(std::move(payload));
}

void Server::end(sio::SessionId id) {
    if (const auto it = websockets_.find(id); it != websockets_.end()) {
        auto ws = it->second.lock();
        websockets_.erase(it);
        if (ws) ws->finish();
    }
    if (const auto it = polls_.find(id); it != polls_.end()) {
        auto http = it->second.lock();
        polls_.erase(it);
        if (http) http->answer_poll("8::");
    }
}

void Server::opened(sio::SessionId id, std::string_view sid, sio::Transport transport) {
    open_sessions_.insert(id);
    session_log_.opened(id, sid, transport, engine_.peer(id));
}

void Server::closed(sio::SessionId id, std::string_view sid, sio::CloseReason reason) {
    if (open_sessions_.erase(id) && draining_ && !drain_closing_) {
        ++drain_left_;
        if (open_sessions_.empty()) asio::post(ioc_, [this] { end_drain(); });
    }
    session_log_.closed(id, sid, reason);
}

void Server::schedule_flush() {
    if (flush_scheduled_) return;
    flush_scheduled_ = true;
    asio::post(ioc_, [this] {
        flush_scheduled_ = false;
        if (write_batch_) write_batch_->begin();
        engine_.flush(now());
        if (write_batch_) write_batch_->end();  // the whole fan-out, one io_uring_enter
    });
}


// --- readiness and the drain -------------------------------------------------------

namespace {
constexpr sio::Time kStoreProbePeriod{2'000};
constexpr sio::Time kDrainGrace{1'000};  // for the goodbyes to be written and the cluster told
}  // namespace

std::optional<std::string> Server::chat_store_failure() {
    if (auto* pg = dynamic_cast<PgChatStore*>(chat_store_.get())) return pg->failure();
    if (auto* sqlite = dynamic_cast<ThreadedChatStore*>(chat_store_.get())) return sqlite->failure();
    return std::nullopt;
}

// PostgreSQL may go away while nobody writes: an empty transaction every
// kStoreProbePeriod keeps /readyz's answer fresh (and reconnects sooner).
void Server::probe_chat_store(sio::Time t) {
    auto* pg = dynamic_cast<PgChatStore*>(chat_store_.get());
    if (!pg || store_probe_pending_ || t - last_store_probe_ < kStoreProbePeriod) return;
    store_probe_pending_ = true;
    last_store_probe_ = t;
    pg->barrier([this] { store_probe_pending_ = false; });
}

std::vector<Server::ReadinessCheck> Server::readiness() {
    std::vector<ReadinessCheck> checks;
    const auto check = [&](std::string name, bool ok, std::string reason) {
        checks.push_back({std::move(name), ok, ok ? std::string() : std::move(reason)});
    };
    check("listener", acceptor_.is_open() && !stopped_, "not accepting connections");
    check("draining", !draining_, "shutting down: existing sessions are finishing");
    const auto failure = chat_store_failure();
    check("chat_store", !failure, "the last chat write failed: " + failure.value_or(""));
    if (kms_) check("media_server", kms_->session().is_open(), "no connection to the Kurento media server");
    if (janus_) check("media_server", janus_->session().is_ready(), "no session with the Janus media server");
    if (cluster_) {
        const bool up = redis_ && redis_->up();
        check("cluster", up && cluster_->available(),
              up ? "the cluster node is not registered and subscribed yet" : "no connection to Redis");
    }
    return checks;
}

void Server::drain(std::chrono::milliseconds timeout, std::function<void()> done) {
    if (draining_ || stopped_) return;
    draining_ = true;
    drain_done_ = std::move(done);
    drain_open_ = open_sessions_.size();
    log_event(LogLevel::info, LogFields{.event = "draining"}, "draining: ", drain_open_,
              " sessions open; new sessions are refused; they have ", static_cast<double>(timeout.count()) / 1000.0,
              " s to end");
    if (open_sessions_.empty()) return asio::post(ioc_, [this] { end_drain(); });
    drain_timer_.expires_after(timeout);
    drain_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) end_drain();
    });
}

// The chat writes queued so far are committed and their completions (acks,
// deliveries) run first; then the sessions still open hear `0::`.
void Server::end_drain() {
    if (drain_closing_ || stopped_) return;
    drain_closing_ = true;
    drain_timer_.cancel();
    chat_store_barrier([this] {
        engine_.flush(now());
        const std::vector<sio::SessionId> rest(open_sessions_.begin(), open_sessions_.end());
        for (const auto id : rest) engine_.disconnect(id, sio::CloseReason::server, now());
        engine_.flush(now());
        log_event(LogLevel::info, LogFields{.event = "drained"}, "drained: of ", drain_open_,
                  " sessions open at the signal, ", drain_left_, " left by themselves, ", rest.size(),
                  " closed at the timeout");
        await_quiet(now() + kDrainGrace);
    });
}

// Until the connections are gone and the cluster has its answers (the
// users' leaves), for at most kDrainGrace; then stop.
void Server::await_quiet(sio::Time deadline) {
    const bool quiet = connection_slots_.addresses() == 0 && (!cluster_ || cluster_->pending_commands() == 0);
    if (quiet || now() >= deadline) {
        stop();
        if (auto done = std::exchange(drain_done_, nullptr)) done();
        return;
    }
    auto timer = std::make_shared<asio::steady_timer>(ioc_, std::chrono::milliseconds(20));
    timer->async_wait([this, timer, deadline](boost::system::error_code) { await_quiet(deadline); });
}

void Server::chat_store_barrier(std::function<void()> done) {
    if (auto* pg = dynamic_cast<PgChatStore*>(chat_store_.get())) return pg->barrier(std::move(done));
    if (auto* sqlite = dynamic_cast<ThreadedChatStore*>(chat_store_.get())) return sqlite->barrier(std::move(done));
    done();
}

}  // namespace compeit::native
