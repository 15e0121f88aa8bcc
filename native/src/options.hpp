// compeit-server's configuration: every limit and timeout is a flag, and every
// flag can also come from the environment (COMPEIT_<FLAG>) or a config file
// (--config FILE, `flag = value`). Precedence: command line > environment >
// config file > the defaults below.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "compeit/ca/types.hpp"
#include "compeit/sio/engine.hpp"
#include "log.hpp"

namespace compeit::native {

struct Options {
    std::string bind = "127.0.0.1";
    std::uint16_t port = 8080;
    std::string data_dir = "data";
    std::string web_root = COMPEIT_DEFAULT_WEB_ROOT;
    std::string wasm_dir = COMPEIT_DEFAULT_WASM_DIR;  // served at /wasm/
    std::vector<std::string> wasm_cors{"*"};  // --wasm-cors: origins that may load /wasm/ ("*": all); empty: off
    std::string resource = "/socket.io";      // socket.io 0.9's `resource`: the prefix of its endpoints
    std::string legacy_client = COMPEIT_DEFAULT_LEGACY_CLIENT;  // socket.io-client 0.9 package, served at
                                              // <resource>/socket.io.js; empty: off
    bool legacy_client_required = false;      // named by --legacy-client: a missing package stops the start
    sio::EngineConfig engine;
    ca::Limits limits;
    std::size_t max_frame_bytes = 1u << 20;   // LIM-2: WS message / POST body
    double request_timeout_s = 10;            // LIM-4: unfinished HTTP requests
    std::size_t max_write_queue_bytes = 8u << 20;  // every byte queued for one websocket
    std::size_t max_connections_per_address = 256; // 0: no limit
    std::size_t resume_buffer = 128;               // events kept per resumable session; 0: no session resume
    std::size_t resume_buffer_bytes = 1u << 20;    // ...and at most these bytes of them
    double resume_timeout_s = 0;                   // how long a lost session waits; 0: the close timeout
    bool io_uring = false;                    // --io-uring: a flush's websocket writes in one io_uring_enter
    std::size_t history_event_retention = 200;     // join/leave events kept per room
    double history_retention_days = 0;             // 0: chat history is kept forever
    std::string chat_db;                      // chat store URL (may hold a password); empty: <data_dir>/chat.sqlite3
    double chat_commit_window_ms = 10;             // SQLite group commit: a transaction at most this often (0: at once)
    std::string admin_token;                  // empty: admin interface disabled
    std::string auth_secret;                  // HS256 tokens (env COMPEIT_AUTH_SECRET)
    std::string auth_public_key;              // ES256/RS256 tokens: a PEM public key file
    std::vector<std::string> allowed_origins; // empty: the server's own origins
    std::vector<std::string> trusted_proxies; // --trusted-proxy: addresses/networks whose X-Forwarded-For is believed
    std::string tls_cert;                     // PEM certificate chain: https and wss (with tls_key)
    std::string tls_key;                      // PEM private key of tls_cert
    std::string media = "mesh";               // Kurento Agent media mode
    std::string kms_url = "ws://127.0.0.1:8888/kurento";  // --media kurento
    std::string janus_url = "ws://127.0.0.1:8188";          // --media janus
    std::string record_dir;                   // recordings (KMS host); empty: <data-dir>/recordings
    ca::json ice_servers = ca::json::array(); // RTCIceServer list sent to clients
    LogLevel log_level = LogLevel::info;
    LogFormat log_format = LogFormat::text;   // --log-format text|json
    bool access_log = false;                  // --access-log: one line per HTTP request
    double drain_timeout_s = 10;              // --drain-timeout: SIGTERM waits this long for clients
    std::string cluster;                      // redis://host:port of the cluster engine; empty: one process
    std::string node;                         // this process's name in the cluster (sids start with "<node>.")
    std::string agent_secret;                 // --agent-secret (env COMPEIT_AGENT_SECRET): enables the agent link
    double agent_timeout_s = 5;               // --agent-timeout: an external agent's time to answer a request
    std::vector<std::string> named;           // the flags the operator set (any source), e.g. "web-root"
};

struct ParseResult {
    bool ok = true;
    bool exit_now = false;  // --help, --version or --print-config: `output` is for stdout, then exit 0
    std::string error;      // a bad configuration: for stderr, then exit 2
    std::string output;
};

// The environment, one variable at a time (nullopt: not set).
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_env();

ParseResult parse_options(const std::vector<std::string>& args, Options& out, const EnvLookup& env = process_env());

// The folders the server reads: one the operator named that is missing is an
// error (naming flag and path); a missing built-in default is a warning.
struct FolderCheck {
    std::string error;
    std::vector<std::string> warnings;
};
FolderCheck check_folders(const Options& options);

}  // namespace compeit::native
