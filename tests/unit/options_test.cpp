// compeit-server's configuration (native/src/options.cpp, option_flags.cpp):
// flags read by CLI11, the config file, COMPEIT_* variables through an
// injected environment, their precedence, every kind of bad value's message,
// --print-config, and the start-up check of the folders.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "option_flags.hpp"
#include "options.hpp"
#include "version.hpp"

using namespace compeit::native;

namespace {

using Env = std::map<std::string, std::string>;

EnvLookup env_of(Env env) {
    return [env = std::move(env)](const std::string& name) -> std::optional<std::string> {
        const auto it = env.find(name);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
}

ParseResult parse(const std::vector<std::string>& args, Options& o, Env env = {}) {
    return parse_options(args, o, env_of(std::move(env)));
}

std::string error_of(const std::vector<std::string>& args, Env env = {}) {
    Options o;
    const auto r = parse(args, o, std::move(env));
    CHECK_FALSE(r.ok);
    return r.error;
}

// A scratch folder for one test, removed at its end.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string t = (std::filesystem::temp_directory_path() / "compeit-options-XXXXXX").string();
        REQUIRE(mkdtemp(t.data()));
        path = t;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
        return (path / name).string();
    }
};

// The line `key = ...` of a --print-config output.
std::string printed(const std::string& config, const std::string& key) {
    const auto at = config.find("\n" + key + " = ");
    if (at == std::string::npos) return "(absent)";
    const auto start = at + key.size() + 4;
    return config.substr(start, config.find('\n', start) - start);
}

}  // namespace

TEST_CASE("flags keep their names, defaults and meanings", "[options]") {
    Options o;
    REQUIRE(parse({}, o).ok);
    CHECK(o.port == 8080);
    CHECK(o.bind == "127.0.0.1");
    CHECK(o.named.empty());

    REQUIRE(parse({"--port", "0", "--bind=0.0.0.0", "--heartbeat-interval", "0.5", "--max-rooms", "7", "--rate", "2.5",
                   "--sid-address-check", "off", "--allowed-origin", "https://a.example", "--allowed-origin",
                   "https://b.example", "--ice-server", "turn:t.example,u,p", "--node", "n1", "--cluster",
                   "redis://r:6379", "--legacy-client", "off", "--access-log", "--drain-timeout", "0", "--log-format",
                   "json", "--resource", "io/", "--io-uring", "on"},
                  o)
                .ok);
    CHECK(o.port == 0);
    CHECK(o.bind == "0.0.0.0");
    CHECK(o.engine.heartbeat_interval.count() == 500);
    CHECK(o.limits.max_rooms == 7);
    CHECK(o.limits.rate_per_second == 2.5);
    CHECK_FALSE(o.engine.bind_sid_to_peer);
    CHECK(o.allowed_origins == std::vector<std::string>{"https://a.example", "https://b.example"});
    CHECK(o.ice_servers.dump() == R"([{"credential":"p","urls":"turn:t.example","username":"u"}])");
    CHECK(o.engine.sid_prefix == "n1.");
    CHECK(o.legacy_client.empty());
    CHECK(o.access_log);
    CHECK(o.drain_timeout_s == 0);
    CHECK(o.log_format == LogFormat::json);
    CHECK(o.resource == "/io");
    CHECK(o.io_uring);
}

TEST_CASE("--wasm-cors: every origin by default, a list of origins, or off", "[options]") {
    Options o;
    REQUIRE(parse({}, o).ok);
    CHECK(o.wasm_cors == std::vector<std::string>{"*"});
    REQUIRE(parse({"--wasm-cors", "https://A.example,http://b.example:8080"}, o).ok);
    CHECK(o.wasm_cors == std::vector<std::string>{"https://a.example", "http://b.example:8080"});
    REQUIRE(parse({"--wasm-cors", "off"}, o).ok);
    CHECK(o.wasm_cors.empty());
    REQUIRE(parse({"--wasm-cors", "*"}, o).ok);
    CHECK(o.wasm_cors == std::vector<std::string>{"*"});
    const auto printed_list = parse({"--print-config", "--wasm-cors", "https://a.example,https://b.example"}, o);
    CHECK(printed(printed_list.output, "wasm-cors") == "\"https://a.example,https://b.example\"");
}

TEST_CASE("a repeated single-value flag takes the last value", "[options]") {
    Options o;
    REQUIRE(parse({"--port", "1", "--port", "2"}, o).ok);
    CHECK(o.port == 2);
}

TEST_CASE("every kind of bad value names the flag, the value and what is allowed", "[options]") {
    const std::pair<std::vector<std::string>, std::string> table[] = {
        {{"--port", "99999"}, "port must be 0–65535 (got 99999)"},
        {{"--port", "-1"}, "port must be 0–65535 (got -1)"},
        {{"--port", "http"}, "port must be 0–65535 (got http)"},
        {{"--port", ""}, "port must be 0–65535 (got an empty value)"},
        {{"--heartbeat-interval", "0"}, "heartbeat-interval must be a number of seconds greater than 0 (got 0)"},
        {{"--request-timeout", "soon"}, "request-timeout must be a number of seconds greater than 0 (got soon)"},
        {{"--drain-timeout", "-5"}, "drain-timeout must be a number of seconds, 0 or more (got -5)"},
        {{"--drain-timeout", "1e300"},
         "drain-timeout must be a number of seconds, 0 or more, at most 1000000000 (got 1e300)"},
        {{"--max-frame", "0"}, "max-frame must be a whole number, at least 1 (got 0)"},
        {{"--max-data", "1.5"}, "max-data must be a whole number, 0 or more (got 1.5)"},
        {{"--rate", "0"}, "rate must be a number greater than 0 (got 0)"},
        {{"--burst", "0.5"}, "burst must be a number, at least 1 (got 0.5)"},
        {{"--history-retention-days", "-1"}, "history-retention-days must be a number of days, 0 or more (got -1)"},
        {{"--chat-commit-window", "-1"}, "chat-commit-window must be a number of milliseconds from 0 to 1000 (got -1)"},
        {{"--chat-commit-window", "1001"}, "chat-commit-window must be a number of milliseconds from 0 to 1000 (got 1001)"},
        {{"--chat-commit-window", "nan"}, "chat-commit-window must be a number of milliseconds from 0 to 1000 (got nan)"},
        {{"--chat-commit-window", "5ms"}, "chat-commit-window must be a number of milliseconds from 0 to 1000 (got 5ms)"},
        {{"--log-level", "loud"}, "log-level must be debug, info, warn, error or off (got loud)"},
        {{"--log-format", "xml"}, "log-format must be text or json (got xml)"},
        {{"--media", "webrtc"}, "media must be mesh, kurento or janus (got webrtc)"},
        {{"--sid-address-check", "yes"}, "sid-address-check must be on or off (got yes)"},
        {{"--io-uring", "1"}, "io-uring must be on or off (got 1)"},
        {{"--access-log=maybe"}, "access-log must be true or false (got maybe)"},
        {{"--kms-url", "http://kms"}, "kms-url must be a ws:// or wss:// URL (only ws:// and wss:// URLs are supported) (got http://kms)"},
        {{"--janus-url", "ws://:8188"}, "janus-url must be a ws:// or wss:// URL (no host) (got ws://:8188)"},
        {{"--allowed-origin", "chat.example"}, "allowed-origin must be an origin such as https://chat.example.com, or * (got chat.example)"},
        {{"--trusted-proxy", "10.0.0.0/40"}, "trusted-proxy must be an IP address or a network such as 10.0.0.0/8 or fd00::/8 (got 10.0.0.0/40)"},
        {{"--wasm-cors", "https://a.example,"}, "wasm-cors must be *, off or comma-separated origins such as https://app.example.com (got https://a.example,)"},
        {{"--wasm-cors", "example.com"}, "wasm-cors must be *, off or comma-separated origins such as https://app.example.com (got example.com)"},
        {{"--ice-server", "stun:s,user"}, "ice-server must be URL or URL,USER,CREDENTIAL (got stun:s,user)"},
        {{"--cluster", "http://r"}, "cluster must be redis://HOST[:PORT] (got http://r)"},
        {{"--node", "Node_1"}, "node must be 1 to 16 of a-z 0-9 - (got Node_1)"},
        {{"--resource", "/admin/x"}, "resource must be a path such as /socket.io: segments of A-Z a-z 0-9 - _ . ~, not / and not under /admin/ or /wasm/ (got /admin/x)"},
        {{"--data-dir", ""}, "data-dir must be a non-empty path (got an empty value)"},
        {{"--bind", ""}, "bind must be an IP address or a host name (got an empty value)"},
        {{"--legacy-client", ""}, "legacy-client must be a folder or off (got an empty value)"},
        {{"--auth-secret", ""}, "auth-secret must be not empty (got an empty value)"},
        {{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
        {{"--cluster", "redis://r"}, "--cluster needs --node NAME"},
        {{"--port"}, "--port needs a value"},
        {{"--port="}, "--port needs a value"},
        {{"--prot", "1"}, "unknown flag: --prot"},
        {{"8080"}, "unexpected argument: 8080 (flags start with --)"},
    };
    for (const auto& [args, message] : table) {
        INFO(args.front());
        CHECK(error_of(args) == message);
    }
}

TEST_CASE("a bad value from the environment or the file says where it came from", "[options]") {
    TempDir dir;
    const auto file = dir.write("c.conf", "port = 70000\n");
    CHECK(error_of({}, {{"COMPEIT_PORT", "99999"}}) == "port must be 0–65535 (got 99999) in COMPEIT_PORT");
    CHECK(error_of({"--config", file}) == "port must be 0–65535 (got 70000) in config file " + file);
    // a secret is never echoed
    CHECK(error_of({"--auth-secret", "hunter2", "--port", "x"}).find("hunter2") == std::string::npos);
}

TEST_CASE("precedence: command line > environment > config file > defaults", "[options]") {
    TempDir dir;
    const auto file = dir.write("c.conf",
                                "# a comment\n"
                                "port = 1001\n"
                                "max-rooms = 5\n"
                                "log-level = \"warn\"\n"
                                "data-dir = \"/var/lib/compeit\"\n"
                                "access-log = true\n"
                                "allowed-origin = [\"https://a.example\", \"https://b.example\"]\n");
    Options o;
    REQUIRE(parse({"--config", file, "--port", "3003"}, o,
                  {{"COMPEIT_PORT", "2002"}, {"COMPEIT_MAX_ROOMS", "6"}, {"COMPEIT_ALLOWED_ORIGIN", "https://c.example"}})
                .ok);
    CHECK(o.port == 3003);                 // flag over env and file
    CHECK(o.limits.max_rooms == 6);        // env over file
    CHECK(o.log_level == LogLevel::warn);  // file over default
    CHECK(o.data_dir == "/var/lib/compeit");
    CHECK(o.access_log);
    CHECK(o.allowed_origins == std::vector<std::string>{"https://c.example"});  // a list is replaced, not merged
    CHECK(o.max_frame_bytes == Options{}.max_frame_bytes);  // default

    Options from_file;
    REQUIRE(parse({}, from_file, {{"COMPEIT_CONFIG", file}}).ok);  // the file named in the environment
    CHECK(from_file.port == 1001);
    CHECK(from_file.allowed_origins.size() == 2);
}

TEST_CASE("COMPEIT_ADMIN_TOKEN and COMPEIT_AUTH_SECRET keep working; every flag has its variable", "[options]") {
    Options o;
    REQUIRE(parse({}, o, {{"COMPEIT_ADMIN_TOKEN", "t0k"}, {"COMPEIT_AUTH_SECRET", std::string(32, 's')},
                          {"COMPEIT_CHAT_DB", "sqlite:/tmp/x.db"}, {"COMPEIT_LOG_FORMAT", "json"},
                          {"COMPEIT_ACCESS_LOG", "true"}, {"COMPEIT_HEARTBEAT_INTERVAL", "3"}})
                .ok);
    CHECK(o.admin_token == "t0k");
    CHECK(o.auth_secret == std::string(32, 's'));
    CHECK(o.chat_db == "sqlite:/tmp/x.db");
    CHECK(o.log_format == LogFormat::json);
    CHECK(o.access_log);
    CHECK(o.engine.heartbeat_interval.count() == 3000);

    // Each flag reads COMPEIT_<FLAG>: a bad value in it is reported under that name.
    for (const auto& f : option_flags()) {
        std::string var = "COMPEIT_";
        for (char c : f.name) var += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        Options any;
        const auto r = parse({}, any, {{var, "\x01"}});
        INFO(var << ": " << r.error);
        if (!r.ok)  // the value's own error, or a pair's ("--tls-cert and --tls-key go together")
            CHECK((r.error.find("in " + var) != std::string::npos || r.error.find("--" + f.name) != std::string::npos));
        else CHECK(std::find(any.named.begin(), any.named.end(), f.name) != any.named.end());  // taken as is (chat-db, tokens)
    }
}

TEST_CASE("the config file: unknown keys, sections and unreadable files are errors", "[options]") {
    TempDir dir;
    const auto typo = dir.write("typo.conf", "port = 8080\nprot = 8081\n");
    CHECK(error_of({"--config", typo}) == "config file " + typo + ": unknown key \"prot\" (keys are the flags without --)");
    const auto section = dir.write("section.conf", "[server]\nport = 8080\n");
    CHECK(error_of({"--config", section}).find("sections are not used") != std::string::npos);
    const auto two = dir.write("two.conf", "port = [1, 2]\n");
    CHECK(error_of({"--config", two}) == "port takes one value (got 2) in config file " + two);
    const auto missing = (dir.path / "none.conf").string();
    CHECK(error_of({"--config", missing}) == "config file " + missing + " cannot be read");
}

TEST_CASE("--print-config writes a file that reads back to the same configuration, secrets hidden", "[options]") {
    Options o;
    const auto r = parse({"--print-config", "--port", "9", "--admin-token", "adm1n", "--chat-db",
                          "postgresql://u:pw@db/chat", "--ice-server", "turn:t,u,cred", "--allowed-origin", "*"},
                         o, {{"COMPEIT_AUTH_SECRET", std::string(40, 'k')}});
    REQUIRE(r.ok);
    REQUIRE(r.exit_now);
    CHECK(printed(r.output, "port") == "9");
    CHECK(printed(r.output, "admin-token") == "\"(set)\"");
    CHECK(printed(r.output, "auth-secret") == "\"(set)\"");
    CHECK(printed(r.output, "chat-db") == "\"postgresql://u:(set)@db/chat\"");
    CHECK(printed(r.output, "ice-server") == "[\"turn:t,u,(set)\"]");
    CHECK(printed(r.output, "allowed-origin") == "[\"*\"]");
    for (const char* secret : {"adm1n", "pw@", "cred", "kkkk"}) CHECK(r.output.find(secret) == std::string::npos);
    CHECK(r.output.find("# node is not set") != std::string::npos);

    // The defaults, printed, then read back as a config file, print the same.
    Options defaults;
    const auto first = parse({"--print-config"}, defaults);
    TempDir dir;
    const auto file = dir.write("all.conf", first.output);
    Options again;
    const auto second = parse({"--print-config", "--config", file}, again);
    REQUIRE(second.ok);
    CHECK(second.output.substr(second.output.find("\nport")) == first.output.substr(first.output.find("\nport")));
}

TEST_CASE("--help, --version", "[options]") {
    Options o;
    const auto help = parse({"--help"}, o);
    CHECK(help.exit_now);
    for (const auto& f : option_flags()) CHECK(help.output.find("--" + f.name) != std::string::npos);
    CHECK(help.output.find("COMPEIT_") != std::string::npos);
    const auto version = parse({"--version"}, o);
    CHECK(version.exit_now);
    CHECK(version.output == "compeit-server " + std::string(kVersion) + " (" + std::string(kGitCommit) + ")\n");
    CHECK_FALSE(kGitCommit.empty());
}

TEST_CASE("folders: a named one that is missing stops the start, missing defaults give one warning", "[options]") {
    TempDir dir;
    Options o;
    REQUIRE(parse({"--web-root", dir.path.string(), "--wasm-dir", (dir.path / "nope").string()}, o).ok);
    CHECK(check_folders(o).error == "--wasm-dir " + (dir.path / "nope").string() + ": no such folder");

    Options r;
    REQUIRE(parse({"--record-dir", (dir.path / "rec").string()}, r).ok);
    CHECK(check_folders(r).error.find("--record-dir") != std::string::npos);
    REQUIRE(parse({"--record-dir", "file:///on/the/media/host"}, r).ok);  // not this host's: not checked
    r.web_root = r.wasm_dir = dir.path.string();
    CHECK(check_folders(r).error.empty());

    Options defaults;  // as if the defaults were missing
    defaults.web_root = (dir.path / "web").string();
    defaults.wasm_dir = (dir.path / "wasm").string();
    defaults.legacy_client.clear();
    const auto check = check_folders(defaults);
    CHECK(check.error.empty());
    REQUIRE(check.warnings.size() == 1);
    CHECK(check.warnings[0].find("--web-root") != std::string::npos);
    CHECK(check.warnings[0].find("--wasm-dir") != std::string::npos);
}

TEST_CASE("session resume flags: the buffer, its bytes and the timeout; printed", "[options][resume]") {
    Options o;
    REQUIRE(parse({}, o).ok);
    CHECK(o.resume_buffer == 128);
    CHECK(o.resume_buffer_bytes == 1u << 20);
    CHECK(o.resume_timeout_s == 0);  // the close timeout
    REQUIRE(parse({"--resume-buffer", "0", "--resume-buffer-bytes", "4096", "--resume-timeout", "2.5"}, o).ok);
    CHECK(o.resume_buffer == 0);
    CHECK(o.resume_buffer_bytes == 4096);
    CHECK(o.resume_timeout_s == 2.5);
    Options bad;
    CHECK(parse({"--resume-buffer", "-1"}, bad).error.find("resume-buffer must be a whole number, 0 or more") != std::string::npos);
    CHECK(parse({"--resume-buffer-bytes", "0"}, bad).error.find("resume-buffer-bytes must be a whole number, at least 1") !=
          std::string::npos);
    CHECK(parse({"--resume-timeout", "-1"}, bad).error.find("resume-timeout must be a number of seconds, 0 or more") !=
          std::string::npos);
    Options p;
    const auto r = parse({"--print-config", "--resume-buffer", "7", "--resume-timeout", "3"}, p);
    REQUIRE(r.ok);
    CHECK(printed(r.output, "resume-buffer") == "7");
    CHECK(printed(r.output, "resume-timeout") == "3");
    CHECK(printed(r.output, "resume-buffer-bytes") == "1048576");
}
