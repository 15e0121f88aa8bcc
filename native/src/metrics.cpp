#include "metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "server.hpp"
#include "version.hpp"

namespace compeit::native {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Label values for the engine's enums, in enum order: snake case, bounded.
constexpr std::array<const char*, sio::kTransportCount + 1> kTransports = {"websocket", "xhr-polling",
                                                                            "jsonp-polling", "none"};
constexpr std::array<const char*, sio::kCloseReasonCount> kCloseReasons = {
    "namespace_left",    "client_left",   "server",        "forced",   "transport_closed",
    "heartbeat_timeout", "close_timeout", "handshake_timeout", "overflow", "malformed_packets"};
constexpr std::array<const char*, sio::Engine::kRefusalCount> kRefusals = {
    "none", "too_many_pending", "too_many_from_address", "query_too_long", "bad_random"};

class Exposition {
public:
    MetricFamily& family(std::string name, std::string help, MetricType type) {
        families_.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
        return families_.back();
    }
    // One family with one unlabelled sample.
    void one(std::string name, std::string help, MetricType type, double value) {
        add(family(std::move(name), std::move(help), type), value);
    }
    static void add(MetricFamily& f, double value, Labels labels = {}) {
        ClientMetric m;
        m.label = std::move(labels);
        if (f.type == MetricType::Counter) m.counter.value = value;
        else m.gauge.value = value;
        f.metric.push_back(std::move(m));
    }
    void histogram(std::string name, std::string help, const LatencyHistogram& h) {
        ClientMetric m;
        m.histogram.sample_count = h.count();
        m.histogram.sample_sum = h.sum_seconds();
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < h.counts().size(); ++i) {
            cumulative += h.counts()[i];
            const double bound = i < LatencyHistogram::kBounds.size() ? LatencyHistogram::kBounds[i]
                                                                      : std::numeric_limits<double>::infinity();
            m.histogram.bucket.push_back({cumulative, bound});
        }
        family(std::move(name), std::move(help), MetricType::Histogram).metric.push_back(std::move(m));
    }
    std::string text() const {
        std::ostringstream out;
        prometheus::TextSerializer().Serialize(out, families_);
        return out.str();
    }

private:
    std::vector<MetricFamily> families_;
};

constexpr auto kCounter = MetricType::Counter;
constexpr auto kGauge = MetricType::Gauge;

void engine_metrics(Exposition& x, const sio::Engine& engine, const NativeStats& native) {
    const auto& st = engine.stats();
    auto& now = x.family("compeit_sessions", "Sessions open now, by transport.", kGauge);
    const auto open = engine.sessions_by_transport();
    for (std::size_t t = 0; t < open.size(); ++t) Exposition::add(now, double(open[t]), {{"transport", kTransports[t]}});
    x.one("compeit_pending_handshakes", "Handshakes no transport has opened yet.", kGauge,
          double(engine.pending_handshakes()));
    auto& opened = x.family("compeit_sessions_opened_total", "Sessions opened, by transport.", kCounter);
    for (std::size_t t = 0; t < st.opened.size(); ++t)
        Exposition::add(opened, double(st.opened[t]), {{"transport", kTransports[t]}});
    auto& closed = x.family("compeit_sessions_closed_total",
                            "Sessions ended, by transport (none: never opened) and reason.", kCounter);
    for (std::size_t t = 0; t < st.closed.size(); ++t)
        for (std::size_t r = 0; r < st.closed[t].size(); ++r)
            Exposition::add(closed, double(st.closed[t][r]), {{"reason", kCloseReasons[r]}, {"transport", kTransports[t]}});
    auto& refused = x.family("compeit_handshake_refusals_total", "Handshakes refused, by reason.", kCounter);
    for (std::size_t r = 1; r < st.refused.size(); ++r)
        Exposition::add(refused, double(st.refused[r]), {{"reason", kRefusals[r]}});
    Exposition::add(refused, double(native.refused_origin), {{"reason", "bad_origin"}});
    Exposition::add(refused, double(native.refused_token), {{"reason", "unauthorized"}});
    Exposition::add(refused, double(native.refused_draining), {{"reason", "draining"}});
    auto& in = x.family("compeit_received_bytes_total", "Packet bytes received from clients, by transport.", kCounter);
    auto& out = x.family("compeit_sent_bytes_total", "Packet bytes sent to clients, by transport.", kCounter);
    for (std::size_t t = 0; t < sio::kTransportCount; ++t) {
        Exposition::add(in, double(st.bytes_in[t]), {{"transport", kTransports[t]}});
        Exposition::add(out, double(st.bytes_out[t]), {{"transport", kTransports[t]}});
    }
    x.one("compeit_deliveries_total", "Frames queued for one session (a room message counts once per member).",
          kCounter, double(st.deliveries));
}

void router_metrics(Exposition& x, const ca::Router& router) {
    using R = ca::Router;
    const auto& st = router.stats();
    x.one("compeit_users_connected", "Users on /connection_agent now.", kGauge, double(router.user_count()));
    x.one("compeit_rooms", "Rooms with members now.", kGauge, double(router.room_count()));
    std::size_t members = 0;
    for (const auto& room : router.rooms(-1, std::numeric_limits<std::size_t>::max())) members += room.second;
    x.one("compeit_room_members", "Users in a room now.", kGauge, double(members));
    auto& in = x.family("compeit_messages_in_total", "Client events, by event (user_message: server_message with to).",
                        kCounter);
    for (std::size_t e = 0; e < R::kInCount; ++e)
        Exposition::add(in, double(st.in[e]), {{"event", std::string(R::event_name(static_cast<R::In>(e)))}});
    auto& agents = x.family("compeit_agent_messages_in_total",
                            "Server, user and room messages, by agent type (none: no agent serves the type).", kCounter);
    for (const auto& a : st.agents) Exposition::add(agents, double(a.messages), {{"agent", a.type}});
    Exposition::add(agents, double(st.unrouted), {{"agent", "none"}});
    auto& out = x.family("compeit_messages_out_total", "Messages made for clients, by event (a broadcast counts once).",
                         kCounter);
    for (std::size_t e = 0; e < R::kOutCount; ++e)
        Exposition::add(out, double(st.out[e]), {{"event", std::string(R::event_name(static_cast<R::Out>(e)))}});
    auto& errors = x.family("compeit_request_errors_total", "Requests answered with request_error, by code.", kCounter);
    for (std::size_t c = 0; c < st.errors.size(); ++c)
        Exposition::add(errors, double(st.errors[c]), {{"code", std::string(ca::to_string(static_cast<ca::ErrorCode>(c)))}});
    x.one("compeit_rate_limited_requests_total", "Requests refused for exceeding the rate limit.", kCounter,
          double(st.errors[static_cast<std::size_t>(ca::ErrorCode::rate_limited)]));
    x.one("compeit_sessions_parked", "Users whose connection was lost, waiting for their client to resume.", kGauge,
          double(router.parked_count()));
    auto& resumes = x.family("compeit_session_resumes_total",
                             "Session resumes, by result (ok: same user and room; missed: refused, rejoined fresh).",
                             kCounter);
    Exposition::add(resumes, double(st.resumed), {{"result", "ok"}});
    Exposition::add(resumes, double(st.resume_missed), {{"result", "missed"}});
}

void native_metrics(Exposition& x, Server& server) {
    const NativeStats& st = server.stats();
    x.one("compeit_dropped_slow_readers_total", "Websockets closed because they did not read what was queued.",
          kCounter, double(st.dropped_slow_readers));
    x.histogram("compeit_chat_commit_seconds", "Time from a chat message to its durable commit.", st.chat_commit);
    x.one("compeit_chat_commit_queue_depth", "Chat messages waiting for their commit.", kGauge, double(st.chat_pending));
    x.one("compeit_chat_commit_failures_total", "Chat messages the store could not keep.", kCounter,
          double(st.chat_failures));
    if (const MediaLink* link = server.media_link()) {
        const auto& m = link->stats();
        x.one("compeit_media_link_up", "1 while the media-server link is open.", kGauge, m.up ? 1 : 0);
        x.one("compeit_media_link_connects_total", "Media-server connections opened.", kCounter, double(m.connects));
        x.one("compeit_media_link_losses_total", "Open media-server connections lost.", kCounter, double(m.losses));
        x.histogram("compeit_media_request_seconds", "Time from a media-server request to its first answer.",
                    m.requests);
    }
}

// utime and stime (clock ticks) and rss (pages), fields 14, 15 and 24 of
// /proc/self/stat; the fields are counted after the command's closing ')'.
void process_metrics(Exposition& x) {
    std::ifstream in("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) return;
    std::istringstream fields(stat.substr(paren + 1));
    std::string field;
    double utime = 0, stime = 0, rss = 0;
    for (int i = 3; fields >> field && i <= 24; ++i) {
        if (i == 14) utime = std::strtod(field.c_str(), nullptr);
        else if (i == 15) stime = std::strtod(field.c_str(), nullptr);
        else if (i == 24) rss = std::strtod(field.c_str(), nullptr);
    }
    const double ticks = double(sysconf(_SC_CLK_TCK));
    const double page = double(sysconf(_SC_PAGESIZE));
    x.one("compeit_process_cpu_seconds_total", "User and system CPU time of the process.", kCounter,
          (utime + stime) / ticks);
    x.one("compeit_process_resident_memory_bytes", "Resident set size of the process.", kGauge, rss * page);
}

}  // namespace

void MeteredChatStore::append(agents::ChatMessage m, AppendDone done) {
    ++stats_.chat_pending;
    store_.append(std::move(m), [stats = &stats_, start = std::chrono::steady_clock::now(),
                                 done = std::move(done)](Expected<agents::ChatMessage, std::string> r) {
        --stats->chat_pending;
        if (r) stats->chat_commit.observe(std::chrono::steady_clock::now() - start);
        else ++stats->chat_failures;
        done(std::move(r));
    });
}

std::string render_metrics(Server& server) {
    Exposition x;
    auto& build = x.family("compeit_build_info", "The server's version and the commit it was built from.", kGauge);
    Exposition::add(build, 1, {{"commit", std::string(kGitCommit)}, {"version", std::string(kVersion)}});
    engine_metrics(x, server.engine(), server.stats());
    router_metrics(x, server.router());
    native_metrics(x, server);
    process_metrics(x);
    return x.text();
}

}  // namespace compeit::native
