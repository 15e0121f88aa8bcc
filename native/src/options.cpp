#include "options.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>

#include "media_url.hpp"
#include "origin_policy.hpp"

namespace compeit::native {
namespace {

struct Flag {
    std::string name;
    std::string arg;   // empty: takes no value
    std::string help;
    std::function<bool(const std::string&, Options&)> set;
};

bool to_double(const std::string& s, double& out) {
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return !s.empty() && end && *end == '\0' && std::isfinite(out);
}

bool to_size(const std::string& s, std::size_t& out) {
    double d;
    if (!to_double(s, d) || d < 0 || d != std::floor(d) || d > 1e15) return false;
    out = static_cast<std::size_t>(d);
    return true;
}

std::function<bool(const std::string&, Options&)> seconds(sio::Time sio::EngineConfig::*field) {
    return [field](const std::string& v, Options& o) {
        double d;
        if (!to_double(v, d) || d <= 0) return false;
        o.engine.*field = sio::Time(static_cast<std::int64_t>(d * 1000));
        return true;
    };
}

// socket.io 0.9's resource as a path prefix: "/" then segments of URL-safe
// characters, no trailing "/"; "" when unusable (the root, "." or ".."
// segments, or a prefix that would hide /admin/ or /wasm/).
std::string normalize_resource(std::string v) {
    if (v.empty() || v.front() != '/') v.insert(v.begin(), '/');
    while (v.size() > 1 && v.back() == '/') v.pop_back();
    if (v.size() < 2 || v.size() > 200) return {};
    for (char c : v)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '-' ||
              c == '_' || c == '.' || c == '~'))
            return {};
    const std::string segments = v + "/";
    if (segments.find("//") != std::string::npos || segments.find("/./") != std::string::npos ||
        segments.find("/../") != std::string::npos)
        return {};
    if (segments.rfind("/admin/", 0) == 0 || segments.rfind("/wasm/", 0) == 0) return {};
    return v;
}

std::function<bool(const std::string&, Options&)> size_limit(std::size_t ca::Limits::*field) {
    return [field](const std::string& v, Options& o) { return to_size(v, o.limits.*field); };
}

const std::vector<Flag>& flags() {
    static const std::vector<Flag> list = {
        {"--port", "N", "TCP port to listen on; 0 picks a free one (default 8080)",
         [](const std::string& v, Options& o) {
             std::size_t n;
             if (!to_size(v, n) || n > 65535) return false;
             o.port = static_cast<std::uint16_t>(n);
             return true;
         }},
        {"--bind", "ADDR", "address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)",
         [](const std::string& v, Options& o) { o.bind = v; return !v.empty(); }},
        {"--data-dir", "DIR", "where durable data (chat history) is kept (default ./data)",
         [](const std::string& v, Options& o) { o.data_dir = v; return !v.empty(); }},
        {"--web-root", "DIR", "static files served at / (default: the source tree's web/)",
         [](const std::string& v, Options& o) { o.web_root = v; return !v.empty(); }},
        {"--wasm-dir", "DIR", "the built WebAssembly client package, served at /wasm/ (default: build/wasm/package)",
         [](const std::string& v, Options& o) { o.wasm_dir = v; return !v.empty(); }},
        {"--resource", "PATH", "where the socket.io 0.9 endpoints live, socket.io 0.9's `resource` (default /socket.io)",
         [](const std::string& v, Options& o) {
             o.resource = normalize_resource(v);
             return !o.resource.empty();
         }},
        {"--legacy-client", "DIR|off", "the npm socket.io-client 0.9 package whose dist/ is served at <resource>/socket.io.js, "
                                       "socket.io.min.js and socket.io.v<version>.js (default: the source tree's "
                                       "node_modules/socket.io-client, if installed); off: not served",
         [](const std::string& v, Options& o) {
             o.legacy_client = v == "off" ? std::string() : v;
             o.legacy_client_required = v != "off";
             return !v.empty();
         }},
        {"--heartbeat-interval", "S", "seconds between heartbeats on websockets (default 25)",
         seconds(&sio::EngineConfig::heartbeat_interval)},
        {"--heartbeat-timeout", "S", "seconds a websocket client has to answer a heartbeat (default 60)",
         seconds(&sio::EngineConfig::heartbeat_timeout)},
        {"--close-timeout", "S", "seconds a polling client may stay away between requests (default 60)",
         seconds(&sio::EngineConfig::close_timeout)},
        {"--polling-duration", "S", "seconds a long-poll is held before it is answered with a noop (default 20)",
         seconds(&sio::EngineConfig::polling_duration)},
        {"--handshake-timeout", "S", "seconds a handshake stays valid before a transport uses it (default 30)",
         seconds(&sio::EngineConfig::handshake_timeout)},
        {"--request-timeout", "S", "seconds to receive a whole HTTP request before the connection is closed (default 10)",
         [](const std::string& v, Options& o) { return to_double(v, o.request_timeout_s) && o.request_timeout_s > 0; }},
        {"--max-frame", "BYTES", "largest websocket message or POST body accepted (default 1048576)",
         [](const std::string& v, Options& o) { return to_size(v, o.max_frame_bytes) && o.max_frame_bytes > 0; }},
        {"--max-data", "BYTES", "largest `data` of one message, as JSON (default 65536)",
         size_limit(&ca::Limits::max_data_bytes)},
        {"--max-text", "CHARS", "longest chat text (default 4000)", size_limit(&ca::Limits::max_chat_chars)},
        {"--max-room-users", "N", "users per room (default 256)", size_limit(&ca::Limits::max_room_users)},
        {"--max-rooms", "N", "rooms at once (default 100000)", size_limit(&ca::Limits::max_rooms)},
        {"--rate", "N", "messages per connection per second (default 200)",
         [](const std::string& v, Options& o) { return to_double(v, o.limits.rate_per_second) && o.limits.rate_per_second > 0; }},
        {"--burst", "N", "messages a connection may send in a burst (default 400)",
         [](const std::string& v, Options& o) { return to_double(v, o.limits.rate_burst) && o.limits.rate_burst >= 1; }},
        {"--max-write-queue", "BYTES", "bytes queued for a websocket reader that takes nothing for 5 s before it is dropped; 8x this drops any reader (default 8388608)",
         [](const std::string& v, Options& o) { return to_size(v, o.max_write_queue_bytes) && o.max_write_queue_bytes > 0; }},
        {"--max-pending-handshakes", "N", "handshakes not yet used by a transport, from all addresses; more get 503 (default 10000)",
         [](const std::string& v, Options& o) { return to_size(v, o.engine.max_pending_handshakes) && o.engine.max_pending_handshakes > 0; }},
        {"--max-handshakes-per-address", "N", "handshakes not yet used, from one client address (default 64)",
         [](const std::string& v, Options& o) { return to_size(v, o.engine.max_pending_per_peer) && o.engine.max_pending_per_peer > 0; }},
        {"--max-connections-per-address", "N", "open TCP connections from one client address; 0: no limit (default 256)",
         [](const std::string& v, Options& o) { return to_size(v, o.max_connections_per_address); }},
        {"--sid-address-check", "on|off", "refuse a session's sid presented from an address other than the one it handshook from (default on)",
         [](const std::string& v, Options& o) {
             o.engine.bind_sid_to_peer = v == "on";
             return v == "on" || v == "off";
         }},
        {"--history-event-retention", "N", "join and leave events kept per room in the chat history; older ones are deleted (default 200)",
         [](const std::string& v, Options& o) { return to_size(v, o.history_event_retention) && o.history_event_retention > 0; }},
        {"--history-retention-days", "DAYS", "chat history older than this is deleted; 0 keeps it forever (default 0)",
         [](const std::string& v, Options& o) { return to_double(v, o.history_retention_days) && o.history_retention_days >= 0; }},
        // Checked when the store opens (chat_store_factory), where errors show the URL without its password.
        {"--chat-db", "URL", "chat history store: postgresql://USER@HOST[:PORT]/DB (or postgres://; servers sharing one history) or sqlite:PATH (default: SQLite in <data-dir>/chat.sqlite3); a password is better kept in PGPASSWORD or ~/.pgpass",
         [](const std::string& v, Options& o) { o.chat_db = v; return true; }},
        {"--auth-secret", "SECRET", "require access tokens signed with HS256 under this secret, at least 32 bytes (or env COMPEIT_AUTH_SECRET)",
         [](const std::string& v, Options& o) { o.auth_secret = v; return !v.empty(); }},
        {"--auth-public-key", "FILE", "require access tokens signed with ES256 (P-256) or RS256 by the key in this PEM public key file",
         [](const std::string& v, Options& o) { o.auth_public_key = v; return !v.empty(); }},
        {"--allowed-origin", "ORIGIN", "a web origin allowed to use the server besides its own (localhost, 127.0.0.1, --bind), e.g. https://chat.example.com, or * (repeatable)",
         [](const std::string& v, Options& o) {
             o.allowed_origins.push_back(v);
             return v == "*" || !OriginPolicy::normalize(v).empty();
         }},
        {"--tls-cert", "FILE", "PEM certificate chain: serve https and wss instead of http and ws (with --tls-key; reloaded on SIGHUP)",
         [](const std::string& v, Options& o) { o.tls_cert = v; return !v.empty(); }},
        {"--tls-key", "FILE", "PEM private key of --tls-cert (reloaded on SIGHUP)",
         [](const std::string& v, Options& o) { o.tls_key = v; return !v.empty(); }},
        {"--admin-token", "TOKEN", "bearer token for the admin HTTP interface (or env COMPEIT_ADMIN_TOKEN); none: disabled",
         [](const std::string& v, Options& o) { o.admin_token = v; return true; }},
        {"--media", "MODE", "Kurento Agent media mode: mesh (browsers peer to peer; the default) kurento (through Kurento Media Server) or janus (through the Janus VideoRoom)",
         [](const std::string& v, Options& o) { o.media = v; return v == "mesh" || v == "kurento" || v == "janus"; }},
        {"--kms-url", "URL", "Kurento Media Server for --media kurento, ws:// or wss:// (default ws://127.0.0.1:8888/kurento)",
         [](const std::string& v, Options& o) { o.kms_url = v; return parse_media_url(v).error.empty(); }},
        {"--janus-url", "URL", "Janus WebSocket API for --media janus, ws:// or wss:// (default ws://127.0.0.1:8188)",
         [](const std::string& v, Options& o) { o.janus_url = v; return parse_media_url(v).error.empty(); }},
        {"--record-dir", "DIR", "where the media server writes recordings, a folder on its host or a file:// URI (default <data-dir>/recordings)",
         [](const std::string& v, Options& o) { o.record_dir = v; return !v.empty(); }},
        {"--ice-server", "URL[,USER,CREDENTIAL]", "an ICE server for clients, e.g. stun:stun.example.org:3478 (repeatable; default none)",
         [](const std::string& v, Options& o) {
             const auto c1 = v.find(','), c2 = c1 == std::string::npos ? c1 : v.find(',', c1 + 1);
             ca::json server{{"urls", v.substr(0, c1)}};
             if (c1 != std::string::npos) {
                 if (c2 == std::string::npos) return false;
                 server["username"] = v.substr(c1 + 1, c2 - c1 - 1);
                 server["credential"] = v.substr(c2 + 1);
             }
             o.ice_servers.push_back(std::move(server));
             return c1 != 0 && !v.empty();
         }},
        {"--cluster", "URL", "run as one node of a cluster whose rooms and users live in Redis at redis://HOST:PORT (with --node; for TLS to Redis put a TLS proxy in between)",
         [](const std::string& v, Options& o) { o.cluster = v; return v.rfind("redis://", 0) == 0 && v.size() > 8; }},
        {"--node", "NAME", "this node's name in the cluster, 1-16 of a-z 0-9 -, unique among the nodes; sids start with NAME. so a load balancer can route them",
         [](const std::string& v, Options& o) {
             if (v.empty() || v.size() > 16) return false;
             for (char c : v)
                 if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
             o.node = v;
             o.engine.sid_prefix = v + ".";
             return true;
         }},
        {"--log-level", "LEVEL", "debug, info, warn, error or off (default info)",
         [](const std::string& v, Options& o) { return parse_log_level(v, o.log_level); }},
        {"--log-format", "FORMAT", "text (default) or json: one JSON object per line",
         [](const std::string& v, Options& o) { return parse_log_format(v, o.log_format); }},
        {"--access-log", "", "log every HTTP request (off by default)",
         [](const std::string&, Options& o) { return o.access_log = true; }},
        {"--drain-timeout", "SECONDS", "on SIGTERM, how long connected clients get before the server closes (default 10)",
         [](const std::string& v, Options& o) { return to_double(v, o.drain_timeout_s) && o.drain_timeout_s >= 0; }},
        // The agent link (docs/agents.md).
        {"--agent-secret", "S", "enables the agent link at /agent_link for agents sending Authorization: Bearer S "
                                "(or env COMPEIT_AGENT_SECRET); none: no agent link",
         [](const std::string& v, Options& o) { o.agent_secret = v; return !v.empty(); }},
        {"--agent-timeout", "SECONDS", "how long an external agent has to answer a request (default 5)",
         [](const std::string& v, Options& o) { return to_double(v, o.agent_timeout_s) && o.agent_timeout_s > 0 && o.agent_timeout_s <= 3600; }},
    };
    return list;
}

}  // namespace

std::string help_text() {
    std::ostringstream os;
    os << "compeit-server " << COMPEIT_VERSION
       << ": the COMPEIT real-time server (socket.io 0.9, namespace /connection_agent)\n\n"
       << "usage: compeit-server [flags]\n\n";
    for (const auto& f : flags()) {
        std::string left = "  " + f.name + (f.arg.empty() ? "" : " " + f.arg);
        if (left.size() < 28) left.resize(28, ' ');
        else left += "\n" + std::string(28, ' ');
        os << left << f.help << "\n";
    }
    os << "  --help                    this text\n"
       << "  --version                 the version\n";
    return os.str();
}

ParseResult parse_options(const std::vector<std::string>& args, Options& out) {
    if (const char* token = std::getenv("COMPEIT_ADMIN_TOKEN")) out.admin_token = token;
    if (const char* secret = std::getenv("COMPEIT_AUTH_SECRET")) out.auth_secret = secret;
    if (const char* secret = std::getenv("COMPEIT_AGENT_SECRET")) out.agent_secret = secret;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string name = args[i];
        std::string value;
        bool has_value = false;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            has_value = true;
        }
        if (name == "--help" || name == "-h") {
            std::fputs(help_text().c_str(), stdout);
            return {true, true, {}};
        }
        if (name == "--version") {
            std::printf("compeit-server %s\n", COMPEIT_VERSION);
            return {true, true, {}};
        }
        const Flag* flag = nullptr;
        for (const auto& f : flags())
            if (f.name == name) flag = &f;
        if (!flag) return {false, false, "unknown flag: " + name};
        if (!has_value && !flag->arg.empty()) {
            if (i + 1 >= args.size()) return {false, false, name + " needs a value"};
            value = args[++i];
        }
        if (!flag->set(value, out)) return {false, false, "bad value for " + name + ": " + value};
    }
    if (out.tls_cert.empty() != out.tls_key.empty()) return {false, false, "--tls-cert and --tls-key go together"};
    if (!out.cluster.empty() && out.node.empty()) return {false, false, "--cluster needs --node NAME"};
    if (!out.cluster.empty() && !out.agent_secret.empty())
        return {false, false, "--agent-secret with --cluster is not supported yet (an agent would serve one node's users)"};
    return {};
}

}  // namespace compeit::native
