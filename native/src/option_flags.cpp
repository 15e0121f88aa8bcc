#include "option_flags.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "db_url.hpp"
#include "media_url.hpp"
#include "origin_policy.hpp"
#include "trusted_proxies.hpp"

namespace compeit::native {
namespace {

using Allowed = std::optional<std::string>;  // nullopt: the value was taken
using Value = std::optional<std::string>;
constexpr std::nullopt_t taken = std::nullopt;

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

std::string number_text(double d) {
    std::ostringstream os;
    os.precision(15);
    os << d;
    return os.str();
}

Value quoted_or_unset(const std::string& s) { return s.empty() ? Value() : Value(toml_string(s)); }

// A repeatable flag's values as a TOML array; unset when there are none.
Value toml_list(const std::vector<std::string>& items) {
    if (items.empty()) return {};
    std::string out = "[";
    for (const auto& s : items) out += (out.size() > 1 ? ", " : "") + toml_string(s);
    return out + "]";
}

// A URL that may hold a password: shown with "(set)" in its place.
Value url_value(const std::string& s) {
    if (s.empty()) return {};
    std::string r = redacted(s);
    for (std::size_t at; (at = r.find("***")) != std::string::npos;) r.replace(at, 3, "(set)");
    return toml_string(r);
}

// Field: a generic lambda returning a reference to the field of an Options.
template <class Field>
Flag whole(std::string name, std::string arg, std::string help, Field field, std::size_t min) {
    const std::string allowed = min == 0 ? "a whole number, 0 or more" : "a whole number, at least " + std::to_string(min);
    return {std::move(name), std::move(arg), std::move(help), Flag::Kind::value, false,
            [=](const std::string& v, Options& o) -> Allowed {
                std::size_t n;
                if (!to_size(v, n) || n < min) return allowed;
                field(o) = n;
                return taken;
            },
            [=](const Options& o) -> Value { return std::to_string(field(o)); }};
}

// A number above `min` (or equal to it, with `or_equal`).
template <class Field>
Flag real(std::string name, std::string arg, std::string help, Field field, double min, bool or_equal,
          std::string unit = "a number") {
    const std::string allowed =
        unit + (or_equal ? (min == 0 ? ", 0 or more" : ", at least " + number_text(min)) : " greater than " + number_text(min));
    return {std::move(name), std::move(arg), std::move(help), Flag::Kind::value, false,
            [=](const std::string& v, Options& o) -> Allowed {
                double d;
                if (!to_double(v, d) || d < min || (!or_equal && d == min)) return allowed;
                if (d > 1e9) return allowed + ", at most 1000000000";  // durations become int64 milliseconds
                field(o) = d;
                return taken;
            },
            [=](const Options& o) -> Value { return number_text(field(o)); }};
}

Flag seconds(std::string name, std::string help, sio::Time sio::EngineConfig::*field) {
    return {std::move(name), "S", std::move(help), Flag::Kind::value, false,
            [field](const std::string& v, Options& o) -> Allowed {
                double d;
                if (!to_double(v, d) || d <= 0 || d > 1e9) return "a number of seconds greater than 0";
                o.engine.*field = sio::Time(static_cast<std::int64_t>(d * 1000));
                return taken;
            },
            [field](const Options& o) -> Value { return number_text(static_cast<double>((o.engine.*field).count()) / 1000); }};
}

// A non-empty text (a path, a name) kept as given.
template <class Field>
Flag text(std::string name, std::string arg, std::string help, Field field, std::string allowed = "a non-empty path") {
    return {std::move(name), std::move(arg), std::move(help), Flag::Kind::value, false,
            [=](const std::string& v, Options& o) -> Allowed {
                if (v.empty()) return allowed;
                field(o) = v;
                return taken;
            },
            [=](const Options& o) -> Value { return quoted_or_unset(field(o)); }};
}

Flag secret(std::string name, std::string arg, std::string help, std::string Options::*field, bool may_be_empty) {
    return {std::move(name), std::move(arg), std::move(help), Flag::Kind::value, true,
            [=](const std::string& v, Options& o) -> Allowed {
                if (v.empty() && !may_be_empty) return "not empty";
                o.*field = v;
                return taken;
            },
            [=](const Options& o) -> Value { return (o.*field).empty() ? Value() : Value(toml_string("(set)")); }};
}

Flag media_url(std::string name, std::string help, std::string Options::*field) {
    return {std::move(name), "URL", std::move(help), Flag::Kind::value, false,
            [=](const std::string& v, Options& o) -> Allowed {
                if (const auto error = parse_media_url(v).error; !error.empty()) return "a ws:// or wss:// URL (" + error + ")";
                o.*field = v;
                return taken;
            },
            [=](const Options& o) -> Value { return url_value(o.*field); }};
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

Flag ice_server() {
    return {"ice-server", "URL[,USER,CREDENTIAL]", "an ICE server for clients, e.g. stun:stun.example.org:3478 (repeatable; default none)",
            Flag::Kind::list, false,
            [](const std::string& v, Options& o) -> Allowed {
                const auto c1 = v.find(','), c2 = c1 == std::string::npos ? c1 : v.find(',', c1 + 1);
                if (v.empty() || c1 == 0 || (c1 != std::string::npos && c2 == std::string::npos))
                    return "URL or URL,USER,CREDENTIAL";
                ca::json server{{"urls", v.substr(0, c1)}};
                if (c1 != std::string::npos) {
                    server["username"] = v.substr(c1 + 1, c2 - c1 - 1);
                    server["credential"] = v.substr(c2 + 1);
                }
                o.ice_servers.push_back(std::move(server));
                return taken;
            },
            [](const Options& o) -> Value {
                if (o.ice_servers.empty()) return {};
                std::string out = "[";
                for (const auto& s : o.ice_servers) {
                    std::string one = s.value("urls", "");
                    if (s.contains("username")) one += "," + s.value("username", "") + ",(set)";
                    out += (out.size() > 1 ? ", " : "") + toml_string(one);
                }
                return out + "]";
            }};
}

// The package is public (like any script): every origin by default, a
// list of origins, or off (same-origin pages only).
Flag wasm_cors() {
    return {"wasm-cors", "ORIGINS|*|off",
            "which web origins may load the WebAssembly client package at /wasm/ from their pages: * (default), "
            "a comma-separated list such as https://app.example.com,https://b.example, or off",
            Flag::Kind::value, false,
            [](const std::string& v, Options& o) -> Allowed {
                const Allowed allowed = "*, off or comma-separated origins such as https://app.example.com";
                if (v == "*" || v == "off") {
                    o.wasm_cors = v == "*" ? std::vector<std::string>{"*"} : std::vector<std::string>{};
                    return taken;
                }
                std::vector<std::string> list;
                for (std::size_t start = 0; start <= v.size();) {
                    const auto comma = std::min(v.find(',', start), v.size());
                    const std::string origin = OriginPolicy::normalize(std::string_view(v).substr(start, comma - start));
                    if (origin.empty() || list.size() >= 64) return allowed;
                    list.push_back(origin);
                    start = comma + 1;
                }
                o.wasm_cors = std::move(list);
                return taken;
            },
            [](const Options& o) -> Value {
                std::string out;
                for (const auto& s : o.wasm_cors) out += (out.empty() ? "" : ",") + s;
                return toml_string(out.empty() ? "off" : out);
            }};
}

Flag allowed_origin() {
    return {"allowed-origin", "ORIGIN",
            "a web origin allowed to use the server besides its own (localhost, 127.0.0.1, --bind), e.g. "
            "https://chat.example.com, or * (repeatable)",
            Flag::Kind::list, false,
            [](const std::string& v, Options& o) -> Allowed {
                if (v != "*" && OriginPolicy::normalize(v).empty()) return "an origin such as https://chat.example.com, or *";
                o.allowed_origins.push_back(v);
                return taken;
            },
            [](const Options& o) -> Value { return toml_list(o.allowed_origins); }};
}

Flag trusted_proxy() {
    return {"trusted-proxy", "ADDRESS[/BITS]",
            "a load balancer or reverse proxy (an address or a network, e.g. 10.0.0.0/8) whose X-Forwarded-For names "
            "the client: its connections are not limited per address, its requests count for the client (repeatable)",
            Flag::Kind::list, false,
            [](const std::string& v, Options& o) -> Allowed {
                if (!TrustedProxies::parse(v)) return "an IP address or a network such as 10.0.0.0/8 or fd00::/8";
                o.trusted_proxies.push_back(v);
                return taken;
            },
            [](const Options& o) -> Value { return toml_list(o.trusted_proxies); }};
}

#define FIELD(expr) [](auto& o) -> auto& { return o.expr; }

std::vector<Flag> make_flags() {
    std::vector<Flag> list;
    list.push_back({"port", "N", "TCP port to listen on; 0 picks a free one (default 8080)", Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        std::size_t n;
                        if (!to_size(v, n) || n > 65535) return "0–65535";
                        o.port = static_cast<std::uint16_t>(n);
                        return taken;
                    },
                    [](const Options& o) -> Value { return std::to_string(o.port); }});
    list.push_back(text("bind", "HOST", "address or host name to listen on (default 127.0.0.1; 0.0.0.0 for every interface)",
                        FIELD(bind), "an IP address or a host name"));
    list.push_back(text("data-dir", "DIR", "where durable data (chat history) is kept; created when missing (default ./data)",
                        FIELD(data_dir)));
    list.push_back(text("web-root", "DIR", "static files served at / (default: the source tree's web/)", FIELD(web_root)));
    list.push_back(text("wasm-dir", "DIR",
                        "the built WebAssembly client package, served at /wasm/ (default: build/wasm/package)", FIELD(wasm_dir)));
    list.push_back(wasm_cors());
    list.push_back({"resource", "PATH", "where the socket.io 0.9 endpoints live, socket.io 0.9's `resource` (default /socket.io)",
                    Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        const auto r = normalize_resource(v);
                        if (r.empty()) return "a path such as /socket.io: segments of A-Z a-z 0-9 - _ . ~, not / and not under /admin/ or /wasm/";
                        o.resource = r;
                        return taken;
                    },
                    [](const Options& o) -> Value { return toml_string(o.resource); }});
    list.push_back({"legacy-client", "DIR|off",
                    "the npm socket.io-client 0.9 package whose dist/ is served at <resource>/socket.io.js, "
                    "socket.io.min.js and socket.io.v<version>.js (default: the source tree's "
                    "node_modules/socket.io-client, if installed); off: not served",
                    Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        if (v.empty()) return "a folder or off";
                        o.legacy_client = v == "off" ? std::string() : v;
                        o.legacy_client_required = v != "off";
                        return taken;
                    },
                    [](const Options& o) -> Value { return toml_string(o.legacy_client.empty() ? "off" : o.legacy_client); }});
    list.push_back(seconds("heartbeat-interval", "seconds between heartbeats on websockets (default 25)",
                           &sio::EngineConfig::heartbeat_interval));
    list.push_back(seconds("heartbeat-timeout", "seconds a websocket client has to answer a heartbeat (default 60)",
                           &sio::EngineConfig::heartbeat_timeout));
    list.push_back(seconds("close-timeout", "seconds a polling client may stay away between requests (default 60)",
                           &sio::EngineConfig::close_timeout));
    list.push_back(seconds("polling-duration", "seconds a long-poll is held before it is answered with a noop (default 20)",
                           &sio::EngineConfig::polling_duration));
    list.push_back(seconds("handshake-timeout", "seconds a handshake stays valid before a transport uses it (default 30)",
                           &sio::EngineConfig::handshake_timeout));
    list.push_back(real("request-timeout", "S",
                        "seconds to receive a whole HTTP request before the connection is closed (default 10)",
                        FIELD(request_timeout_s), 0, false, "a number of seconds"));
    list.push_back(whole("max-frame", "BYTES", "largest websocket message or POST body accepted (default 1048576)",
                         FIELD(max_frame_bytes), 1));
    list.push_back(whole("max-data", "BYTES", "largest `data` of one message, as JSON (default 65536)",
                         FIELD(limits.max_data_bytes), 0));
    list.push_back(whole("max-text", "CHARS", "longest chat text (default 4000)", FIELD(limits.max_chat_chars), 0));
    list.push_back(whole("max-room-users", "N", "users per room (default 256)", FIELD(limits.max_room_users), 0));
    list.push_back(whole("max-rooms", "N", "rooms at once (default 100000)", FIELD(limits.max_rooms), 0));
    list.push_back(real("rate", "N", "messages per connection per second (default 200)", FIELD(limits.rate_per_second), 0, false));
    list.push_back(real("burst", "N", "messages a connection may send in a burst (default 400)", FIELD(limits.rate_burst), 1, true));
    list.push_back(whole("max-write-queue", "BYTES",
                         "bytes queued for a websocket reader that takes nothing for 5 s before it is dropped; 8x this "
                         "drops any reader (default 8388608)",
                         FIELD(max_write_queue_bytes), 1));
    list.push_back(whole("max-pending-handshakes", "N",
                         "handshakes not yet used by a transport, from all addresses; more get 503 (default 10000)",
                         FIELD(engine.max_pending_handshakes), 1));
    list.push_back(whole("max-handshakes-per-address", "N", "handshakes not yet used, from one client address (default 64)",
                         FIELD(engine.max_pending_per_peer), 1));
    list.push_back(whole("max-connections-per-address", "N",
                         "open TCP connections from one client address; 0: no limit (default 256)",
                         FIELD(max_connections_per_address), 0));
    list.push_back(whole("resume-buffer", "N",
                         "events kept per session for clients that resume after a lost connection (docs/protocol.md "
                         "§8); a client that missed more rejoins fresh; 0: no session resume (default 128)",
                         FIELD(resume_buffer), 0));
    list.push_back(whole("resume-buffer-bytes", "BYTES", "at most these bytes of them per session (default 1048576)",
                         FIELD(resume_buffer_bytes), 1));
    list.push_back(real("resume-timeout", "S",
                        "seconds a lost session waits for its client to resume; 0: the close timeout (default 0)",
                        FIELD(resume_timeout_s), 0, true, "a number of seconds"));
    list.push_back({"io-uring", "on|off",
                    "submit each flush's websocket writes (a room message's whole fan-out) with one io_uring_enter; "
                    "off, or where io_uring is unavailable: one sendmsg each (default off)",
                    Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        if (v != "on" && v != "off") return "on or off";
                        o.io_uring = v == "on";
                        return taken;
                    },
                    [](const Options& o) -> Value { return toml_string(o.io_uring ? "on" : "off"); }});
    list.push_back({"sid-address-check", "on|off",
                    "refuse a session's sid presented from an address other than the one it handshook from (default on)",
                    Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        if (v != "on" && v != "off") return "on or off";
                        o.engine.bind_sid_to_peer = v == "on";
                        return taken;
                    },
                    [](const Options& o) -> Value { return toml_string(o.engine.bind_sid_to_peer ? "on" : "off"); }});
    list.push_back(whole("history-event-retention", "N",
                         "join and leave events kept per room in the chat history; older ones are deleted (default 200)",
                         FIELD(history_event_retention), 1));
    list.push_back(real("history-retention-days", "DAYS",
                        "chat history older than this is deleted; 0 keeps it forever (default 0)",
                        FIELD(history_retention_days), 0, true, "a number of days"));
    list.push_back({"chat-commit-window", "MS",
                    "SQLite chat store: a transaction (one fdatasync) begins at most this often; what arrives "
                    "meanwhile joins it, waiting at most this long (default 10; 0: at once)",
                    Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        double d;
                        if (!to_double(v, d) || !(d >= 0 && d <= 1000)) return "a number of milliseconds from 0 to 1000";
                        o.chat_commit_window_ms = d;
                        return taken;
                    },
                    [](const Options& o) -> Value { return number_text(o.chat_commit_window_ms); }});
    // Checked when the store opens (chat_store_factory), where errors show the URL without its password.
    list.push_back({"chat-db", "URL",
                    "chat history store: postgresql://USER@HOST[:PORT]/DB (or postgres://; servers sharing one history) "
                    "or sqlite:PATH (default: SQLite in <data-dir>/chat.sqlite3); a password is better kept in "
                    "PGPASSWORD or ~/.pgpass",
                    Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed { return o.chat_db = v, taken; },
                    [](const Options& o) -> Value { return url_value(o.chat_db); }});
    list.push_back(secret("auth-secret", "SECRET",
                          "require access tokens signed with HS256 under this secret, at least 32 bytes",
                          &Options::auth_secret, false));
    list.push_back(text("auth-public-key", "FILE",
                        "require access tokens signed with ES256 (P-256) or RS256 by the key in this PEM public key file",
                        FIELD(auth_public_key)));
    list.push_back(allowed_origin());
    list.push_back(trusted_proxy());
    list.push_back(text("tls-cert", "FILE",
                        "PEM certificate chain: serve https and wss instead of http and ws (with --tls-key; reloaded on SIGHUP)",
                        FIELD(tls_cert)));
    list.push_back(text("tls-key", "FILE", "PEM private key of --tls-cert (reloaded on SIGHUP)", FIELD(tls_key)));
    list.push_back(secret("admin-token", "TOKEN", "bearer token for the admin HTTP interface; none: disabled",
                          &Options::admin_token, true));
    list.push_back({"media", "MODE",
                    "Kurento Agent media mode: mesh (browsers peer to peer; the default) kurento (through Kurento Media "
                    "Server) or janus (through the Janus VideoRoom)",
                    Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        if (v != "mesh" && v != "kurento" && v != "janus") return "mesh, kurento or janus";
                        o.media = v;
                        return taken;
                    },
                    [](const Options& o) -> Value { return toml_string(o.media); }});
    list.push_back(media_url("kms-url",
                             "Kurento Media Server for --media kurento, ws:// or wss:// (default ws://127.0.0.1:8888/kurento)",
                             &Options::kms_url));
    list.push_back(media_url("janus-url", "Janus WebSocket API for --media janus, ws:// or wss:// (default ws://127.0.0.1:8188)",
                             &Options::janus_url));
    list.push_back(text("record-dir", "DIR",
                        "where the media server writes recordings, a folder on its host or a file:// URI (default "
                        "<data-dir>/recordings)",
                        FIELD(record_dir)));
    list.push_back(ice_server());
    list.push_back({"cluster", "URL",
                    "run as one node of a cluster whose rooms and users live in Redis at redis://HOST:PORT (with --node; "
                    "for TLS to Redis put a TLS proxy in between)",
                    Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        if (v.rfind("redis://", 0) != 0 || v.size() <= 8) return "redis://HOST[:PORT]";
                        o.cluster = v;
                        return taken;
                    },
                    [](const Options& o) -> Value { return url_value(o.cluster); }});
    list.push_back({"node", "NAME",
                    "this node's name in the cluster, 1-16 of a-z 0-9 -, unique among the nodes; sids start with NAME. "
                    "so a load balancer can route them",
                    Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        bool fine = !v.empty() && v.size() <= 16;
                        for (char c : v) fine = fine && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
                        if (!fine) return "1 to 16 of a-z 0-9 -";
                        o.node = v;
                        o.engine.sid_prefix = v + ".";
                        return taken;
                    },
                    [](const Options& o) -> Value { return quoted_or_unset(o.node); }});
    list.push_back({"log-level", "LEVEL", "debug, info, warn, error or off (default info)", Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        return parse_log_level(v, o.log_level) ? taken : Allowed("debug, info, warn, error or off");
                    },
                    [](const Options& o) -> Value {
                        static const char* names[] = {"debug", "info", "warn", "error", "off"};
                        return toml_string(names[static_cast<int>(o.log_level)]);
                    }});
    list.push_back({"log-format", "FORMAT", "text (default) or json: one JSON object per line", Flag::Kind::value, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        return parse_log_format(v, o.log_format) ? taken : Allowed("text or json");
                    },
                    [](const Options& o) -> Value { return toml_string(o.log_format == LogFormat::json ? "json" : "text"); }});
    list.push_back({"access-log", "", "log every HTTP request (off by default)", Flag::Kind::boolean, false,
                    [](const std::string& v, Options& o) -> Allowed {
                        if (v == "true" || v == "on" || v == "yes" || v == "1") return o.access_log = true, taken;
                        if (v == "false" || v == "off" || v == "no" || v == "0") return o.access_log = false, taken;
                        return "true or false";
                    },
                    [](const Options& o) -> Value { return std::string(o.access_log ? "true" : "false"); }});
    list.push_back(real("drain-timeout", "SECONDS",
                        "on SIGTERM, how long connected clients get before the server closes (default 10)",
                        FIELD(drain_timeout_s), 0, true, "a number of seconds"));
    // The agent link (docs/agents.md).
    list.push_back(secret("agent-secret", "SECRET",
                          "enables the agent link at /agent_link for agents sending Authorization: Bearer SECRET; none: "
                          "no agent link (unless access tokens with an agent claim are accepted)",
                          &Options::agent_secret, false));
    list.push_back(real("agent-timeout", "SECONDS", "how long an external agent has to answer a request (default 5)",
                        FIELD(agent_timeout_s), 0, false, "a number of seconds"));
    return list;
}

#undef FIELD

}  // namespace

std::string toml_string(const std::string& s) {
    // CLI11's reader takes what is between the quotes as it is (no escapes):
    // a value holding '"' goes in single quotes.
    return s.find('"') == std::string::npos ? "\"" + s + "\"" : "'" + s + "'";
}

const std::vector<Flag>& option_flags() {
    static const std::vector<Flag> list = make_flags();
    return list;
}

}  // namespace compeit::native
