// compeit-loadgen: a socket.io 0.9 load generator for the COMPEIT Connection
// Agent API, speaking websocket to 127.0.0.1 only. It builds N rooms x M
// members (each a real socket.io session: HTTP handshake, websocket upgrade,
// namespace connect, join_room), lets S members per room send room_message at
// a fixed rate or flat out, and measures latency, loss and per-sender order
// at every receiver. The server's CPU time and RSS are read from /proc.
// A cluster is several servers (--urls, members spread over them) whose CPU
// is summed over every process named by --server-pid (nodes and Redis).
// The socket.io packets and the websocket frames go through the project's
// core codec (compeit::sio, compeit::ws); nothing here parses them again.
//
// One JSON line of results on stdout; progress and errors on stderr.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "compeit/sio/packet.hpp"
#include "compeit/ws/frame.hpp"
#include "ws_accept.hpp"  // native/src: OpenSSL

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kNamespace = "/connection_agent";
constexpr std::size_t kMaxHttpResponse = 64 * 1024;
constexpr std::size_t kMaxOutBuffer = 4 * 1024 * 1024;  // a sender stalls beyond this (rate mode)

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

double seconds_between(std::int64_t a, std::int64_t b) { return static_cast<double>(b - a) / 1e9; }

// ---- options ---------------------------------------------------------------------------------------------

struct Options {
    std::string url;                   // as given: one URL, or the --urls list
    std::vector<std::uint16_t> ports;  // one per server
    int rooms = 10;
    int members = 10;
    int senders = 1;
    double rate = 200;  // per sender; 0 = flat out
    int window = 16;    // flat out: messages per sender not yet delivered to every recipient
    double duration = 10;
    double warmup = 2;
    double settle = 1;
    double drain = 30;  // longest wait for the last deliveries after the window
    double setup_timeout = 120;
    double connect_timeout = 15;
    std::string type = "bench";
    int payload = 0;  // extra bytes of padding in each bench message
    bool idle = false;
    std::vector<int> server_pids;  // their CPU and RSS are summed
    int connect_concurrency = 256;
    int first_room = 1;
    std::string label;
    std::string scenario;
};

[[noreturn]] void usage(int code) {
    std::fprintf(code ? stderr : stdout, "%s",
                 "usage: compeit-loadgen --url http://127.0.0.1:PORT [flags]\n"
                 "       compeit-loadgen --urls http://127.0.0.1:P1,http://127.0.0.1:P2,... [flags]\n"
                 "  --urls A,B,...           several servers (cluster nodes): member m of the k-th room\n"
                 "                           connects to server (k + m) mod count, so every room spans them\n"
                 "  --rooms N                rooms (default 10)\n"
                 "  --members M              clients per room (default 10)\n"
                 "  --senders S              senders per room (default 1)\n"
                 "  --rate R                 room_messages per second per sender; 0 = flat out (default 200)\n"
                 "  --window W               flat out: messages per sender in flight (default 16)\n"
                 "  --duration S             measured seconds (idle: seconds to hold) (default 10)\n"
                 "  --warmup S               seconds of load before the measurement (default 2)\n"
                 "  --type TYPE              room_message type (default bench; chat: data {text})\n"
                 "  --payload BYTES          extra padding per bench message (default 0)\n"
                 "  --idle                   connect and join every client, measure RSS, hold, no messages\n"
                 "  --server-pid PID[,PID..] sample the server's CPU time and RSS from /proc/PID;\n"
                 "                           several: summed (e.g. every node and Redis), each reported too\n"
                 "  --connect-concurrency N  clients being set up at once (default 256)\n"
                 "  --connect-timeout S      per-client setup deadline (default 15)\n"
                 "  --setup-timeout S        deadline for every client to be joined (default 120)\n"
                 "  --drain S                longest wait for late deliveries after the window (default 30)\n"
                 "  --first-room N           number of the first room (default 1)\n"
                 "  --label TEXT, --scenario TEXT   copied into the JSON line\n");
    std::exit(code);
}

// "a,b,c" -> {"a", "b", "c"}; "" -> {""}.
std::vector<std::string_view> split_commas(std::string_view s) {
    std::vector<std::string_view> parts;
    for (std::size_t at = 0;;) {
        const auto comma = s.find(',', at);
        parts.push_back(s.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
        if (comma == std::string_view::npos) return parts;
        at = comma + 1;
    }
}

// The port of http://127.0.0.1:PORT[/]; anything else ends the program.
std::uint16_t parse_url(std::string_view u) {
    constexpr std::string_view prefix = "http://127.0.0.1:";
    if (u.substr(0, prefix.size()) != prefix) {
        std::fprintf(stderr, "compeit-loadgen: --url must be http://127.0.0.1:PORT\n");
        usage(2);
    }
    u.remove_prefix(prefix.size());
    while (!u.empty() && u.back() == '/') u.remove_suffix(1);
    unsigned port = 0;
    const auto [p, ec] = std::from_chars(u.data(), u.data() + u.size(), port);
    if (ec != std::errc{} || p != u.data() + u.size() || port == 0 || port > 65535) {
        std::fprintf(stderr, "compeit-loadgen: bad port in --url\n");
        usage(2);
    }
    return static_cast<std::uint16_t>(port);
}

Options parse_options(int argc, char** argv) {
    Options o;
    auto need = [&](int& i) -> std::string {
        if (i + 1 >= argc) {
            std::fprintf(stderr, "compeit-loadgen: %s needs a value\n", argv[i]);
            usage(2);
        }
        return argv[++i];
    };
    auto num = [&](int& i) -> double {
        const std::string flag = argv[i];
        const std::string v = need(i);
        char* end = nullptr;
        const double d = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || d < 0) {
            std::fprintf(stderr, "compeit-loadgen: bad value for %s: %s\n", flag.c_str(), v.c_str());
            usage(2);
        }
        return d;
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--url" || a == "--urls") o.url = need(i);
        else if (a == "--rooms") o.rooms = static_cast<int>(num(i));
        else if (a == "--members") o.members = static_cast<int>(num(i));
        else if (a == "--senders") o.senders = static_cast<int>(num(i));
        else if (a == "--rate") o.rate = num(i);
        else if (a == "--window") o.window = static_cast<int>(num(i));
        else if (a == "--duration") o.duration = num(i);
        else if (a == "--warmup") o.warmup = num(i);
        else if (a == "--settle") o.settle = num(i);
        else if (a == "--drain") o.drain = num(i);
        else if (a == "--type") o.type = need(i);
        else if (a == "--payload") o.payload = static_cast<int>(num(i));
        else if (a == "--idle") o.idle = true;
        else if (a == "--server-pid") {
            const std::string v = need(i);
            for (const auto part : split_commas(v)) {
                int pid = 0;
                const auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), pid);
                if (ec != std::errc{} || p != part.data() + part.size() || pid < 0) {
                    std::fprintf(stderr, "compeit-loadgen: bad value for --server-pid: %s\n", v.c_str());
                    usage(2);
                }
                if (pid > 0) o.server_pids.push_back(pid);  // 0: none, as before
            }
        }
        else if (a == "--connect-concurrency") o.connect_concurrency = static_cast<int>(num(i));
        else if (a == "--connect-timeout") o.connect_timeout = num(i);
        else if (a == "--setup-timeout") o.setup_timeout = num(i);
        else if (a == "--first-room") o.first_room = static_cast<int>(num(i));
        else if (a == "--label") o.label = need(i);
        else if (a == "--scenario") o.scenario = need(i);
        else if (a == "--help" || a == "-h") usage(0);
        else {
            std::fprintf(stderr, "compeit-loadgen: unknown flag %s\n", argv[i]);
            usage(2);
        }
    }
    // Only the loopback interface: this tool must never load anything else.
    for (const auto u : split_commas(o.url)) o.ports.push_back(parse_url(u));
    if (o.rooms < 1 || o.members < 1 || o.connect_concurrency < 1 || o.window < 1) usage(2);
    if (!o.idle && (o.senders < 1 || o.senders > o.members)) {
        std::fprintf(stderr, "compeit-loadgen: --senders must be 1..members\n");
        usage(2);
    }
    if (!o.idle && o.type != "chat" && o.members < 2) {
        std::fprintf(stderr, "compeit-loadgen: a room of one has nobody to deliver to\n");
        usage(2);
    }
    if (o.scenario.empty()) o.scenario = o.idle ? "idle" : (o.rate == 0 ? "flat" : "rate");
    return o;
}

// ---- /proc sampling ---------------------------------------------------------------------------------------

struct ProcSample {
    bool ok = false;
    double cpu_s = 0;  // utime + stime of every thread
    long rss_kb = 0;
    long hwm_kb = 0;
    std::vector<double> each_cpu_s;  // sample_servers: each process's cpu_s, in --server-pid order
};

ProcSample sample_process(int pid) {
    ProcSample s;
    if (pid <= 0) return s;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return s;
    const auto close = line.rfind(')');
    if (close == std::string::npos) return s;
    std::istringstream rest(line.substr(close + 2));
    std::vector<std::string> f;
    for (std::string t; rest >> t;) f.push_back(t);
    if (f.size() < 13) return s;  // f[0] is field 3 (state): utime is field 14, stime 15
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    s.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / tick;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stol(line.substr(6));
        if (line.rfind("VmHWM:", 0) == 0) s.hwm_kb = std::stol(line.substr(6));
    }
    s.ok = true;
    return s;
}

// Every server process summed (ok when each one could be read).
ProcSample sample_servers(const std::vector<int>& pids) {
    ProcSample total;
    total.ok = !pids.empty();
    for (const int pid : pids) {
        const ProcSample s = sample_process(pid);
        total.ok = total.ok && s.ok;
        total.cpu_s += s.cpu_s;
        total.rss_kb += s.rss_kb;
        total.hwm_kb += s.hwm_kb;
        total.each_cpu_s.push_back(s.cpu_s);
    }
    return total;
}

// Busy CPU seconds of the whole machine (every core) from /proc/stat: what
// other processes used shows up as machine - server - generator.
double machine_busy_s() {
    std::ifstream stat("/proc/stat");
    std::string cpu;
    stat >> cpu;
    if (cpu != "cpu") return 0;
    std::vector<double> v;
    for (int i = 0; i < 8; ++i) {
        double x = 0;
        stat >> x;
        v.push_back(x);
    }
    // user nice system idle iowait irq softirq steal
    const double busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return busy / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu_s() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long self_rss_kb() { return sample_process(static_cast<int>(getpid())).rss_kb; }

// ---- small helpers ---------------------------------------------------------------------------------------

std::uint64_t rng_state = 0x9E3779B97F4A7C15ull;
std::uint64_t rnd() {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

std::array<std::uint8_t, 4> random_mask() {
    const auto r = rnd();
    return {static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(r >> 8), static_cast<std::uint8_t>(r >> 16),
            static_cast<std::uint8_t>(r >> 24)};
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// A received HTTP/1.1 response head: status and the headers we look at.
struct HttpHead {
    int status = 0;
    std::optional<std::size_t> content_length;
    bool chunked = false;
    std::string accept;  // Sec-WebSocket-Accept
    std::size_t head_size = 0;
};

std::optional<HttpHead> parse_head(std::string_view buf) {
    const auto end = buf.find("\r\n\r\n");
    if (end == std::string_view::npos) return std::nullopt;
    HttpHead h;
    h.head_size = end + 4;
    std::string_view head = buf.substr(0, end);
    const auto eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    const auto sp = status_line.find(' ');
    if (sp != std::string_view::npos) {
        const auto code = status_line.substr(sp + 1, 3);
        std::from_chars(code.data(), code.data() + code.size(), h.status);
    }
    std::size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
        auto next = head.find("\r\n", pos);
        if (next == std::string_view::npos) next = head.size();
        const std::string_view line = head.substr(pos, next - pos);
        pos = next + 2;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const auto name = line.substr(0, colon);
        auto value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        if (iequals(name, "content-length")) {
            std::size_t n = 0;
            std::from_chars(value.data(), value.data() + value.size(), n);
            h.content_length = n;
        } else if (iequals(name, "transfer-encoding")) {
            h.chunked = value.find("chunked") != std::string_view::npos;
        } else if (iequals(name, "sec-websocket-accept")) {
            h.accept = std::string(value);
        }
    }
    return h;
}

// Body of a chunked response, once complete (nullopt: more bytes needed).
std::optional<std::string> dechunk(std::string_view body) {
    std::string out;
    std::size_t pos = 0;
    for (;;) {
        const auto eol = body.find("\r\n", pos);
        if (eol == std::string_view::npos) return std::nullopt;
        std::size_t n = 0;
        std::from_chars(body.data() + pos, body.data() + eol, n, 16);
        pos = eol + 2;
        if (n == 0) return out;
        if (body.size() < pos + n + 2) return std::nullopt;
        out.append(body.substr(pos, n));
        pos += n + 2;
    }
}

// The marker carried in every measured message: `~B<sender>,<seq>,<send ns>~`.
std::string make_token(int sender, std::int64_t seq, std::int64_t t) {
    char buf[80];
    const int n = std::snprintf(buf, sizeof buf, "~B%d,%" PRId64 ",%" PRId64 "~", sender, seq, t);
    return std::string(buf, static_cast<std::size_t>(n));
}

struct Token {
    int sender = 0;
    std::int64_t seq = 0;
    std::int64_t t = 0;
};

std::optional<Token> find_token(std::string_view s) {
    const auto at = s.find("~B");
    if (at == std::string_view::npos) return std::nullopt;
    const char* p = s.data() + at + 2;
    const char* end = s.data() + s.size();
    Token tk;
    auto r = std::from_chars(p, end, tk.sender);
    if (r.ec != std::errc{} || r.ptr == end || *r.ptr != ',') return std::nullopt;
    r = std::from_chars(r.ptr + 1, end, tk.seq);
    if (r.ec != std::errc{} || r.ptr == end || *r.ptr != ',') return std::nullopt;
    r = std::from_chars(r.ptr + 1, end, tk.t);
    if (r.ec != std::errc{} || r.ptr == end || *r.ptr != '~') return std::nullopt;
    return tk;
}

// ---- the generator ---------------------------------------------------------------------------------------

class Generator;

enum class Phase { handshake, upgrading, open, joined, failed };

struct Client {
    Client(asio::io_context& io, int idx) : sock(io), index(idx) {}

    tcp::socket sock;
    int index;
    int room = 0;
    int member = 0;       // index within the room
    std::size_t server = 0;  // which of the --urls it connects to
    int sender = -1;      // global sender index, -1 for a pure receiver
    Phase phase = Phase::handshake;
    unsigned gen = 0;     // bumps when the socket is closed: stale handlers return
    bool reading = false;
    bool writing = false;
    bool eof = false;
    std::int64_t setup_started = 0;
    // setup milestones (ns): handshake answered, websocket open, `connected`, `room_joined`
    std::array<std::int64_t, 4> milestones{};
    std::string http;     // HTTP response bytes being collected
    std::string sid;
    std::string ws_key;
    std::optional<compeit::ws::Decoder> decoder;
    std::string out;      // bytes queued while a write is in flight
    std::string wbuf;     // bytes being written
    std::int64_t user_id = 0;
    bool join_acked = false;
    std::vector<std::int64_t> last_seq;  // per sender of the room (local index): last seq seen
};

struct Sender {
    Client* client = nullptr;
    std::int64_t seq = 0;        // next sequence number
    std::int64_t sent = 0;
    std::int64_t delivered = 0;  // deliveries of its messages, every recipient
    std::int64_t next_due = 0;   // rate mode: ns
    std::int64_t skipped = 0;    // rate mode: sends skipped because the socket would not drain
};

class Generator {
public:
    Generator(asio::io_context& io, Options o)
        : io_(io), o_(std::move(o)), ticker_(io), send_timer_(io) {
        for (const auto port : o_.ports) endpoints_.emplace_back(asio::ip::make_address_v4("127.0.0.1"), port);
        const int total = o_.rooms * o_.members;
        clients_.reserve(static_cast<std::size_t>(total));
        for (int i = 0; i < total; ++i) {
            auto c = std::make_unique<Client>(io_, i);
            c->room = o_.first_room + i / o_.members;
            c->member = i % o_.members;
            // Round robin within the room, shifted by the room: every room spans
            // the servers and its senders (the first members) are spread too.
            c->server = static_cast<std::size_t>(i / o_.members + c->member) % endpoints_.size();
            if (!o_.idle) {
                c->last_seq.assign(static_cast<std::size_t>(o_.senders), -1);
                if (c->member < o_.senders) {
                    c->sender = (i / o_.members) * o_.senders + c->member;
                }
            }
            clients_.push_back(std::move(c));
        }
        if (!o_.idle) {
            senders_.resize(static_cast<std::size_t>(o_.rooms * o_.senders));
            for (auto& c : clients_)
                if (c->sender >= 0) senders_[static_cast<std::size_t>(c->sender)].client = c.get();
        }
        recipients_ = o_.type == "chat" ? o_.members : o_.members - 1;
        read_buf_.resize(256 * 1024);
    }

    int run() {
        base_ = sample_servers(o_.server_pids);
        if (!o_.server_pids.empty() && !base_.ok) {
            std::fprintf(stderr, "compeit-loadgen: cannot read /proc of every --server-pid\n");
        }
        setup_machine0_ = machine_busy_s();
        t_start_ = now_ns();
        setup_deadline_ = t_start_ + static_cast<std::int64_t>(o_.setup_timeout * 1e9);
        launch_more();
        tick();
        io_.run();
        return finish();
    }

private:
    asio::io_context& io_;
    Options o_;
    asio::steady_timer ticker_;
    asio::steady_timer send_timer_;
    std::vector<tcp::endpoint> endpoints_;
    std::vector<std::unique_ptr<Client>> clients_;
    std::vector<Sender> senders_;
    int recipients_ = 0;
    std::vector<char> read_buf_;

    // setup
    std::size_t next_launch_ = 0;
    int in_setup_ = 0;
    int joined_ = 0;
    int failed_ = 0;
    std::int64_t t_start_ = 0;
    std::int64_t t_setup_done_ = 0;
    std::int64_t setup_deadline_ = 0;
    std::string first_error_;

    // run
    enum class Stage { setup, settle, load, measure, drain, hold, done } stage_ = Stage::setup;
    std::int64_t stage_until_ = 0;
    std::int64_t drain_seen_ = -1, drain_progress_ = 0;
    std::int64_t load_started_ = 0;
    std::int64_t window_start_ = 0, window_end_ = 0;
    bool measuring_ = false;
    bool sending_ = false;
    ProcSample base_, w0_, w1_, idle_sample_;
    double gen_cpu0_ = 0, gen_cpu1_ = 0;
    double machine0_ = 0, machine1_ = 0;
    double setup_machine0_ = 0, setup_machine1_ = 0, setup_gen_cpu_ = 0;
    ProcSample setup_server1_;
    long gen_rss_kb_ = 0;

    // results
    std::int64_t total_received_ = 0;
    std::int64_t window_deliveries_ = 0;
    std::int64_t window_sent_ = 0;
    std::int64_t out_of_order_ = 0;
    std::int64_t gaps_ = 0;
    std::int64_t request_errors_ = 0;
    std::int64_t disconnects_ = 0;
    std::int64_t heartbeats_ = 0;
    std::int64_t bad_packets_ = 0;
    std::string first_request_error_;
    std::vector<std::int64_t> latencies_;

    // ---- setup: handshake, upgrade, namespace connect, join ----

    void launch_more() {
        while (in_setup_ < o_.connect_concurrency && next_launch_ < clients_.size()) {
            Client& c = *clients_[next_launch_++];
            ++in_setup_;
            c.setup_started = now_ns();
            connect(c, [this](Client& cl) { send_handshake(cl); });
        }
    }

    template <class Then>
    void connect(Client& c, Then then) {
        const unsigned g = c.gen;
        c.sock.async_connect(endpoints_[c.server], [this, &c, g, then](boost::system::error_code ec) {
            if (g != c.gen || c.phase == Phase::failed) return;
            if (ec) return fail(c, "connect: " + ec.message());
            boost::system::error_code ignore;
            c.sock.set_option(tcp::no_delay(true), ignore);
            c.sock.non_blocking(true, ignore);
            then(c);
        });
    }

    std::string host_header(const Client& c) const {
        return "Host: 127.0.0.1:" + std::to_string(endpoints_[c.server].port()) + "\r\n";
    }
    std::string user_query(const Client& c) const { return "name=u" + std::to_string(c.index); }

    void send_handshake(Client& c) {
        c.phase = Phase::handshake;
        c.http.clear();
        c.eof = false;
        const auto t_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
        write_raw(c, "GET /socket.io/1/?" + user_query(c) + "&t=" + std::to_string(t_ms) + " HTTP/1.1\r\n" +
                         host_header(c) + "Connection: close\r\n\r\n");
        arm_read(c);
    }

    void on_handshake_bytes(Client& c) {
        const auto head = parse_head(c.http);
        if (!head) {
            if (c.eof || c.http.size() > kMaxHttpResponse) fail(c, "handshake: no response head");
            return;
        }
        std::string body;
        if (head->content_length) {
            if (c.http.size() < head->head_size + *head->content_length) {
                if (c.eof) fail(c, "handshake: short body");
                return;
            }
            body = c.http.substr(head->head_size, *head->content_length);
        } else if (head->chunked) {
            auto b = dechunk(std::string_view(c.http).substr(head->head_size));
            if (!b) {
                if (c.eof) fail(c, "handshake: short chunked body");
                return;
            }
            body = std::move(*b);
        } else {
            if (!c.eof) return;  // the body ends with the connection
            body = c.http.substr(head->head_size);
        }
        if (head->status != 200) return fail(c, "handshake: HTTP " + std::to_string(head->status) + " " + body);
        const auto colon = body.find(':');
        if (colon == std::string::npos || colon == 0) return fail(c, "handshake: bad body " + body);
        c.sid = body.substr(0, colon);
        c.milestones[0] = now_ns();
        close_socket(c, false);
        connect(c, [this](Client& cl) { send_upgrade(cl); });
    }

    void send_upgrade(Client& c) {
        c.phase = Phase::upgrading;
        c.http.clear();
        c.eof = false;
        std::string key_bytes(16, '\0');
        for (auto& ch : key_bytes) ch = static_cast<char>(rnd());
        c.ws_key = compeit::ws::base64_encode(key_bytes);
        write_raw(c, "GET /socket.io/1/websocket/" + c.sid + "?" + user_query(c) + " HTTP/1.1\r\n" + host_header(c) +
                         "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + c.ws_key +
                         "\r\nSec-WebSocket-Version: 13\r\n\r\n");
        arm_read(c);
    }

    void on_upgrade_bytes(Client& c) {
        const auto head = parse_head(c.http);
        if (!head) {
            if (c.eof || c.http.size() > kMaxHttpResponse) fail(c, "upgrade: no response head");
            return;
        }
        if (head->status != 101) return fail(c, "upgrade: HTTP " + std::to_string(head->status));
        if (head->accept != compeit::ws::accept_key(c.ws_key)) return fail(c, "upgrade: wrong Sec-WebSocket-Accept");
        c.phase = Phase::open;
        c.milestones[1] = now_ns();
        c.decoder.emplace(std::size_t{16} << 20, compeit::ws::From::server);
        const std::string rest = c.http.substr(head->head_size);
        c.http.clear();
        c.http.shrink_to_fit();
        if (!rest.empty()) on_ws_bytes(c, rest);
    }

    void on_setup_step_done(Client&, bool ok) {
        --in_setup_;
        if (ok) ++joined_;
        if (joined_ + failed_ == static_cast<int>(clients_.size()) && t_setup_done_ == 0) {
            t_setup_done_ = now_ns();
            setup_machine1_ = machine_busy_s();
            setup_gen_cpu_ = self_cpu_s();
            setup_server1_ = sample_servers(o_.server_pids);
        }
        launch_more();
    }

    void fail(Client& c, const std::string& why) {
        if (c.phase == Phase::failed) return;
        const bool in_setup = c.phase != Phase::joined;
        c.phase = Phase::failed;
        if (first_error_.empty()) first_error_ = "client " + std::to_string(c.index) + ": " + why;
        close_socket(c, false);
        if (in_setup) {
            ++failed_;
            on_setup_step_done(c, false);
        } else {
            ++disconnects_;
        }
    }

    // ---- socket plumbing: reactor-style reads into one shared buffer ----

    void arm_read(Client& c) {
        if (c.reading) return;
        c.reading = true;
        const unsigned g = c.gen;
        c.sock.async_wait(tcp::socket::wait_read, [this, &c, g](boost::system::error_code ec) {
            if (g != c.gen) return;
            c.reading = false;
            if (c.phase == Phase::failed) return;
            if (ec) return fail(c, "wait: " + ec.message());
            on_readable(c);
        });
    }

    void on_readable(Client& c) {
        const unsigned g = c.gen;
        for (int rounds = 0; rounds < 16; ++rounds) {
            boost::system::error_code ec;
            const std::size_t n = c.sock.read_some(asio::buffer(read_buf_), ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) break;
            if (ec == asio::error::eof) c.eof = true;
            else if (ec) return fail(c, "read: " + ec.message());
            const std::string_view bytes(read_buf_.data(), n);
            switch (c.phase) {
                case Phase::handshake:
                    c.http.append(bytes);
                    on_handshake_bytes(c);
                    break;
                case Phase::upgrading:
                    c.http.append(bytes);
                    on_upgrade_bytes(c);
                    break;
                case Phase::open:
                case Phase::joined:
                    if (n) on_ws_bytes(c, bytes);
                    if (c.eof && c.phase != Phase::failed) fail(c, "connection closed by the server");
                    break;
                case Phase::failed:
                    return;
            }
            if (g != c.gen || c.phase == Phase::failed || c.eof) return;
            if (n < read_buf_.size()) break;
        }
        arm_read(c);
    }

    void write_raw(Client& c, std::string_view bytes) {
        c.out.append(bytes);
        start_write(c);
    }

    void send_packet(Client& c, std::string_view packet) {
        c.out += compeit::ws::encode_message(compeit::ws::Opcode::text, packet, random_mask());
        start_write(c);
    }

    void start_write(Client& c) {
        if (c.writing || c.out.empty() || c.phase == Phase::failed) return;
        c.writing = true;
        c.wbuf.clear();
        std::swap(c.wbuf, c.out);
        const unsigned g = c.gen;
        asio::async_write(c.sock, asio::buffer(c.wbuf), [this, &c, g](boost::system::error_code ec, std::size_t) {
            if (g != c.gen) return;
            c.writing = false;
            if (ec) return fail(c, "write: " + ec.message());
            start_write(c);
        });
    }

    void close_socket(Client& c, bool hard) {
        ++c.gen;
        c.reading = false;
        c.writing = false;
        c.out.clear();
        c.wbuf.clear();
        boost::system::error_code ignore;
        if (hard) c.sock.set_option(asio::socket_base::linger(true, 0), ignore);
        c.sock.close(ignore);
    }

    // ---- socket.io over the websocket ----

    void on_ws_bytes(Client& c, std::string_view bytes) {
        c.decoder->feed(bytes);
        const auto now = now_ns();
        for (;;) {
            auto next = c.decoder->next();
            if (!next) return fail(c, "websocket framing error " + std::to_string(static_cast<int>(next.error())));
            if (!*next) return;
            auto& m = **next;
            switch (m.opcode) {
                case compeit::ws::Opcode::text: on_packet(c, m.payload, now); break;
                case compeit::ws::Opcode::ping:
                    c.out += compeit::ws::encode_message(compeit::ws::Opcode::pong, m.payload, random_mask());
                    start_write(c);
                    break;
                case compeit::ws::Opcode::close: return fail(c, "websocket closed by the server");
                default: break;
            }
            if (c.phase == Phase::failed) return;
        }
    }

    void on_packet(Client& c, std::string_view text, std::int64_t now) {
        auto decoded = compeit::sio::decode(text);
        if (!decoded) {
            ++bad_packets_;
            return;
        }
        const auto& p = *decoded;
        using compeit::sio::PacketType;
        switch (p.type) {
            case PacketType::connect:
                if (p.endpoint.empty() && c.phase == Phase::open) {
                    // The transport is open: connect the application namespace, as socket.io-client does.
                    compeit::sio::Packet ns;
                    ns.type = PacketType::connect;
                    ns.endpoint = std::string(kNamespace);
                    send_packet(c, compeit::sio::encode(ns));
                }
                return;
            case PacketType::heartbeat: {
                ++heartbeats_;
                compeit::sio::Packet hb;
                hb.type = PacketType::heartbeat;
                send_packet(c, compeit::sio::encode(hb));
                return;
            }
            case PacketType::event:
                if (p.endpoint == kNamespace) on_event(c, p.data, now);
                return;
            case PacketType::ack:
                if (p.endpoint == kNamespace) {
                    auto ack = compeit::sio::parse_ack(p.data);
                    if (ack && ack->id == "1") c.join_acked = true;
                }
                return;
            case PacketType::error: return fail(c, "socket.io error packet " + std::string(text));
            case PacketType::disconnect:
                if (p.endpoint.empty() || p.endpoint == kNamespace) return fail(c, "disconnected by the server");
                return;
            default: return;
        }
    }

    void on_event(Client& c, std::string_view data, std::int64_t now) {
        // The hot path: a relayed room_message carrying a token.
        if (starts_with(data, R"({"name":"room_message")")) {
            if (auto tk = find_token(data)) on_delivery(c, *tk, now);
            return;
        }
        if (starts_with(data, R"({"name":"user_joined")") || starts_with(data, R"({"name":"user_left")") ||
            starts_with(data, R"({"name":"server_message")"))
            return;
        auto j = nlohmann::json::parse(data, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            ++bad_packets_;
            return;
        }
        const std::string name = j.value("name", "");
        const nlohmann::json arg = j.contains("args") && j["args"].is_array() && !j["args"].empty()
                                       ? j["args"][0]
                                       : nlohmann::json();
        if (name == "connected") {
            c.milestones[2] = now;
            if (arg.is_object() && arg.contains("user") && arg["user"].is_object())
                c.user_id = arg["user"].value("id", std::int64_t{0});
            if (c.phase == Phase::open) {
                const std::string args = "[{\"room\":" + std::to_string(c.room) + "}]";
                send_packet(c, compeit::sio::encode_event(kNamespace, "join_room", args, "1", true));
            }
        } else if (name == "room_joined") {
            if (c.phase == Phase::open && arg.is_object() && arg.value("room", -1) == c.room) {
                c.phase = Phase::joined;
                c.milestones[3] = now;
                on_setup_step_done(c, true);
            }
        } else if (name == "request_error") {
            ++request_errors_;
            if (first_request_error_.empty()) first_request_error_ = arg.dump();
        }
    }

    void on_delivery(Client& c, const Token& tk, std::int64_t now) {
        ++total_received_;
        if (tk.sender < 0 || static_cast<std::size_t>(tk.sender) >= senders_.size()) {
            ++bad_packets_;
            return;
        }
        Sender& s = senders_[static_cast<std::size_t>(tk.sender)];
        ++s.delivered;
        const auto local = static_cast<std::size_t>(tk.sender % o_.senders);
        if (s.client->room != c.room || local >= c.last_seq.size()) {
            ++bad_packets_;  // delivered to a client outside the sender's room
            return;
        }
        auto& last = c.last_seq[local];
        if (tk.seq <= last) ++out_of_order_;
        else {
            if (tk.seq > last + 1) ++gaps_;
            last = tk.seq;
        }
        if (measuring_) {
            ++window_deliveries_;
            latencies_.push_back(now - tk.t);
        }
        if (o_.rate == 0 && sending_) pump(s);
    }

    // ---- load ----

    std::string message_packet(Sender& s) {
        const std::string token = make_token(static_cast<int>(&s - senders_.data()), s.seq, now_ns());
        std::string args;
        if (o_.type == "chat") {
            args = "[{\"type\":\"chat\",\"data\":{\"text\":\"" + token + "\"}}]";
        } else {
            args = "[{\"type\":" + nlohmann::json(o_.type).dump() + ",\"data\":{\"k\":\"" + token + "\"";
            if (o_.payload > 0) args += ",\"pad\":\"" + std::string(static_cast<std::size_t>(o_.payload), 'x') + "\"";
            args += "}}]";
        }
        return compeit::sio::encode_event(kNamespace, "room_message", args);
    }

    void send_one(Sender& s) {
        Client& c = *s.client;
        if (c.phase != Phase::joined) return;
        send_packet(c, message_packet(s));
        ++s.seq;
        ++s.sent;
        if (measuring_) ++window_sent_;
    }

    // Flat out: keep `window` messages of this sender on their way.
    void pump(Sender& s) {
        const std::int64_t limit = static_cast<std::int64_t>(o_.window) * recipients_;
        while (s.client->phase == Phase::joined && s.sent * recipients_ - s.delivered < limit) send_one(s);
    }

    void start_load() {
        sending_ = true;
        load_started_ = now_ns();
        if (o_.rate == 0) {
            for (auto& s : senders_) pump(s);
            return;
        }
        const auto period = static_cast<std::int64_t>(1e9 / o_.rate);
        const auto n = static_cast<std::int64_t>(senders_.size());
        for (std::int64_t i = 0; i < n; ++i) senders_[static_cast<std::size_t>(i)].next_due = load_started_ + period * i / n;
        schedule_sends();
    }

    void schedule_sends() {
        if (!sending_) return;
        std::int64_t next = INT64_MAX;
        for (auto& s : senders_) next = std::min(next, s.next_due);
        send_timer_.expires_at(Clock::time_point(std::chrono::nanoseconds(next)));
        send_timer_.async_wait([this](boost::system::error_code ec) {
            if (ec || !sending_) return;
            const auto now = now_ns();
            const auto period = static_cast<std::int64_t>(1e9 / o_.rate);
            for (auto& s : senders_) {
                while (s.next_due <= now) {
                    if (s.client->out.size() > kMaxOutBuffer) ++s.skipped;
                    else send_one(s);
                    s.next_due += period;
                }
            }
            schedule_sends();
        });
    }

    // ---- stages, driven by a 10 ms ticker ----

    void tick() {
        const auto now = now_ns();
        switch (stage_) {
            case Stage::setup: {
                for (std::size_t i = 0; i < next_launch_; ++i) {
                    Client& c = *clients_[i];
                    if (c.phase != Phase::joined && c.phase != Phase::failed &&
                        now - c.setup_started > static_cast<std::int64_t>(o_.connect_timeout * 1e9))
                        fail(c, "setup took longer than --connect-timeout");
                }
                if (t_setup_done_ != 0) {
                    if (failed_ > 0) return stop("only " + std::to_string(joined_) + " of " +
                                                 std::to_string(clients_.size()) + " clients joined; " + first_error_);
                    std::fprintf(stderr, "compeit-loadgen: %zu clients joined in %.3f s\n", clients_.size(),
                                 seconds_between(t_start_, t_setup_done_));
                    stage_ = Stage::settle;
                    stage_until_ = now + static_cast<std::int64_t>(o_.settle * 1e9);
                } else if (now > setup_deadline_) {
                    return stop("setup timeout: " + std::to_string(joined_) + " of " +
                                std::to_string(clients_.size()) + " joined");
                }
                break;
            }
            case Stage::settle:
                if (now >= stage_until_) {
                    if (o_.idle) {
                        idle_sample_ = sample_servers(o_.server_pids);
                        gen_rss_kb_ = self_rss_kb();
                        stage_ = Stage::hold;
                        stage_until_ = now + static_cast<std::int64_t>(o_.duration * 1e9);
                    } else {
                        stage_ = Stage::load;
                        stage_until_ = now + static_cast<std::int64_t>(o_.warmup * 1e9);
                        start_load();
                    }
                }
                break;
            case Stage::load:
                if (now >= stage_until_) {
                    latencies_.reserve(static_cast<std::size_t>(
                        std::min(5e7, (o_.rate > 0 ? o_.rate * static_cast<double>(senders_.size()) * recipients_
                                                   : 2e5) * o_.duration * 1.2)));
                    w0_ = sample_servers(o_.server_pids);
                    gen_cpu0_ = self_cpu_s();
                    machine0_ = machine_busy_s();
                    window_start_ = now_ns();
                    measuring_ = true;
                    stage_ = Stage::measure;
                    stage_until_ = window_start_ + static_cast<std::int64_t>(o_.duration * 1e9);
                }
                break;
            case Stage::measure:
                if (now >= stage_until_) {
                    window_end_ = now_ns();
                    w1_ = sample_servers(o_.server_pids);
                    gen_cpu1_ = self_cpu_s();
                    machine1_ = machine_busy_s();
                    gen_rss_kb_ = self_rss_kb();
                    measuring_ = false;
                    sending_ = false;
                    send_timer_.cancel();
                    stage_ = Stage::drain;
                    stage_until_ = now + static_cast<std::int64_t>(o_.drain * 1e9);
                }
                break;
            case Stage::drain:
                // Until everything arrived, nothing arrived for a second, or --drain passed.
                if (total_received_ != drain_seen_) {
                    drain_seen_ = total_received_;
                    drain_progress_ = now;
                }
                if (now >= stage_until_ || expected() == total_received_ ||
                    now - drain_progress_ > 1'000'000'000)
                    return stop("");
                break;
            case Stage::hold:
                if (now >= stage_until_) {
                    // The later of the two samples: what the server holds after the hold.
                    const auto later = sample_servers(o_.server_pids);
                    if (later.ok) idle_sample_ = later;
                    return stop("");
                }
                break;
            case Stage::done: return;
        }
        ticker_.expires_after(std::chrono::milliseconds(10));
        ticker_.async_wait([this](boost::system::error_code ec) {
            if (!ec) tick();
        });
    }

    std::int64_t expected() const {
        std::int64_t e = 0;
        for (const auto& s : senders_) e += s.sent * recipients_;
        return e;
    }

    std::string error_;

    void stop(const std::string& error) {
        error_ = error;
        stage_ = Stage::done;
        sending_ = false;
        send_timer_.cancel();
        ticker_.cancel();
        for (auto& c : clients_) {
            if (c->phase != Phase::failed) close_socket(*c, false);
        }
        io_.stop();
    }

    // ---- report ----

    double percentile_ms(std::vector<std::int64_t>& v, double q) {
        if (v.empty()) return 0;
        const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
        return static_cast<double>(v[k]) / 1e6;
    }

    static double round3(double x) { return static_cast<double>(std::llround(x * 1000)) / 1000; }

    int finish() {
        nlohmann::ordered_json r;
        r["server"] = o_.label;
        r["scenario"] = o_.scenario;
        r["url"] = o_.url;
        if (o_.ports.size() > 1) r["servers"] = o_.ports.size();
        r["rooms"] = o_.rooms;
        r["members"] = o_.members;
        r["clients"] = clients_.size();
        if (!o_.idle) {
            r["senders"] = o_.senders;
            r["rate"] = o_.rate;
            if (o_.rate == 0) r["window"] = o_.window;
            r["type"] = o_.type;
            r["warmup_s"] = o_.warmup;
        }
        r["duration_s"] = o_.duration;
        r["idle"] = o_.idle;
        r["joined"] = joined_;
        r["setup_s"] = t_setup_done_ ? round3(seconds_between(t_start_, t_setup_done_)) : -1.0;
        r["setup_failures"] = failed_;
        if (t_setup_done_) {
            const double wall = seconds_between(t_start_, t_setup_done_);
            const double server = (base_.ok && setup_server1_.ok) ? setup_server1_.cpu_s - base_.cpu_s : 0;
            r["setup_server_cpu_s"] = round3(server);
            r["setup_gen_cpu_s"] = round3(setup_gen_cpu_);
            if (wall > 0) {
                const double machine = (setup_machine1_ - setup_machine0_) / wall;
                r["setup_machine_busy_cores"] = round3(machine);
                r["setup_other_busy_cores"] = round3(std::max(0.0, machine - (server + setup_gen_cpu_) / wall));
            }
        }
        {
            // Mean time of each setup step, ms: handshake, upgrade, namespace connect, join.
            std::array<double, 4> sum{};
            int n = 0;
            for (const auto& c : clients_) {
                if (c->milestones[3] == 0) continue;
                ++n;
                std::int64_t prev = c->setup_started;
                for (std::size_t k = 0; k < 4; ++k) {
                    sum[k] += static_cast<double>(c->milestones[k] - prev) / 1e6;
                    prev = c->milestones[k];
                }
            }
            if (n) {
                r["setup_step_ms"] = {{"handshake", round3(sum[0] / n)}, {"upgrade", round3(sum[1] / n)},
                                      {"connected", round3(sum[2] / n)}, {"joined", round3(sum[3] / n)}};
            }
        }
        if (!o_.idle) {
            const double wall = window_end_ > window_start_ ? seconds_between(window_start_, window_end_) : 0;
            r["window_s"] = round3(wall);
            r["sent"] = window_sent_;
            r["sent_per_s"] = wall > 0 ? std::llround(static_cast<double>(window_sent_) / wall) : 0;
            r["deliveries"] = window_deliveries_;
            r["deliveries_per_s"] = wall > 0 ? std::llround(static_cast<double>(window_deliveries_) / wall) : 0;
            if (w0_.ok && w1_.ok) {
                const double cpu = w1_.cpu_s - w0_.cpu_s;
                r["server_cpu_s"] = round3(cpu);
                r["server_cpu_util"] = wall > 0 ? round3(cpu / wall) : 0.0;
                r["server_cpu_us_per_delivery"] =
                    window_deliveries_ ? round3(cpu * 1e6 / static_cast<double>(window_deliveries_)) : 0.0;
                r["server_rss_kb"] = w1_.rss_kb;
                if (o_.server_pids.size() > 1) {
                    // Each process's share of server_cpu_s, in --server-pid order.
                    auto& each = r["server_cpu_s_each"] = nlohmann::ordered_json::array();
                    for (std::size_t k = 0; k < o_.server_pids.size(); ++k)
                        each.push_back(round3(w1_.each_cpu_s[k] - w0_.each_cpu_s[k]));
                }
            }
            r["gen_cpu_s"] = round3(gen_cpu1_ - gen_cpu0_);
            if (wall > 0) {
                // Cores busy on the whole machine; others = what neither side used.
                const double machine = (machine1_ - machine0_) / wall;
                r["machine_busy_cores"] = round3(machine);
                const double server = (w0_.ok && w1_.ok) ? (w1_.cpu_s - w0_.cpu_s) / wall : 0;
                r["other_busy_cores"] = round3(std::max(0.0, machine - server - (gen_cpu1_ - gen_cpu0_) / wall));
            }
            r["gen_cpu_util"] = wall > 0 ? round3((gen_cpu1_ - gen_cpu0_) / wall) : 0.0;
            r["p50_ms"] = round3(percentile_ms(latencies_, 0.50));
            r["p99_ms"] = round3(percentile_ms(latencies_, 0.99));
            r["p999_ms"] = round3(percentile_ms(latencies_, 0.999));
            r["max_ms"] = latencies_.empty() ? 0.0 : round3(static_cast<double>(*std::max_element(latencies_.begin(), latencies_.end())) / 1e6);
            std::int64_t total_sent = 0, skipped = 0;
            for (const auto& s : senders_) {
                total_sent += s.sent;
                skipped += s.skipped;
            }
            r["total_sent"] = total_sent;
            r["total_delivered"] = total_received_;
            r["lost"] = std::max<std::int64_t>(0, expected() - total_received_);
            r["out_of_order"] = out_of_order_;
            r["gaps"] = gaps_;
            r["send_skipped"] = skipped;
        } else {
            if (base_.ok && idle_sample_.ok) {
                r["server_rss_base_kb"] = base_.rss_kb;
                r["server_rss_kb"] = idle_sample_.rss_kb;
                r["rss_per_conn_kb"] = joined_ ? round3(static_cast<double>(idle_sample_.rss_kb - base_.rss_kb) /
                                                        joined_)
                                               : 0.0;
                r["server_cpu_s"] = round3(idle_sample_.cpu_s - base_.cpu_s);
            }
        }
        r["gen_cpu_total_s"] = round3(self_cpu_s());
        r["gen_rss_kb"] = gen_rss_kb_;
        r["request_errors"] = request_errors_;
        if (!first_request_error_.empty()) r["first_request_error"] = first_request_error_;
        r["disconnects"] = disconnects_;
        if (!first_error_.empty()) r["first_client_error"] = first_error_;
        r["bad_packets"] = bad_packets_;
        r["heartbeats"] = heartbeats_;
        const bool ok = error_.empty();
        r["ok"] = ok;
        if (!ok) r["error"] = error_;
        std::printf("%s\n", r.dump().c_str());
        std::fflush(stdout);
        return ok ? 0 : 1;
    }
};

}  // namespace

int main(int argc, char** argv) {
    Options o = parse_options(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    // One descriptor per client (two during its setup): take the hard limit.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    const auto clients = static_cast<rlim_t>(o.rooms) * static_cast<rlim_t>(o.members);
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY && files.rlim_cur < clients + 64)
        std::fprintf(stderr, "compeit-loadgen: warning: %llu clients but only %llu file descriptors\n",
                     static_cast<unsigned long long>(clients), static_cast<unsigned long long>(files.rlim_cur));
    rng_state ^= static_cast<std::uint64_t>(now_ns()) * 0x2545F4914F6CDD1Dull;
    if (rng_state == 0) rng_state = 1;
    asio::io_context io{1};
    Generator g(io, std::move(o));
    return g.run();
}
