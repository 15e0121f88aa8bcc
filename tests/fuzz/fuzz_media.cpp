// The media-server sessions and backends (kms::Session + KurentoBackend,
// janus::Session + JanusBackend) facing a media server that sends anything:
// the input is lines; most are messages "from the media server", and lines
// starting with '!' are operations of the agent or the transport:
//   !p<u> publish   !s<u><v> subscribe u to v   !a<u><v> answer   !c<u><v> candidate
//   !f<u> filter    !r<u> record   !u<u> unpublish   !x<u><v> unsubscribe   !R release room
//   !o open   !l lose the connection   !t tick   !y answer the last request with a success
//   !e answer the last request with an error
// (<u>, <v>: one character each, a user id). The first byte picks the backend.
// Nothing may crash, hang, leak or use freed memory whatever the order.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "compeit/janus/janus_backend.hpp"
#include "compeit/kms/kurento_backend.hpp"
#include "compeit/util/json_guard.hpp"

using namespace compeit;
using std::chrono::milliseconds;

namespace {

// A plausible success (or error) answer to the last request of `frames`, so
// that the fuzzer gets past the first step of every operation.
std::string reply_to(const std::string& frame, bool janus, bool ok, std::uint64_t n) {
    const auto req = util::parse_json(frame);
    if (req.is_discarded() || !req.is_object()) return {};
    if (janus) {
        ca::json out{{"transaction", req.value("transaction", "")}, {"session_id", 7}};
        if (!ok) return (out["janus"] = "error", out["error"] = {{"code", 400}, {"reason", "no"}}, out.dump());
        out["janus"] = req.value("janus", "") == "message" ? "event" : "success";
        out["data"] = {{"id", n}};
        out["plugindata"] = {{"plugin", "janus.plugin.videoroom"}, {"data", {{"videoroom", "joined"}, {"id", n}}}};
        out["jsep"] = {{"type", n % 2 ? "offer" : "answer"}, {"sdp", "v=0"}};
        out["sender"] = n;
        return out.dump();
    }
    ca::json out{{"jsonrpc", "2.0"}, {"id", req.value("id", ca::json())}};
    if (!ok) return (out["error"] = {{"code", 40101}, {"message", "no"}}, out.dump());
    out["result"] = {{"value", "obj" + std::to_string(n) + "_kurento.WebRtcEndpoint"}, {"sessionId", "s1"}};
    return out.dump();
}

template <class Session>
void run(Session& session, agents::MediaBackend& backend, std::string_view in, bool janus) {
    auto noop = [](auto) {};
    backend.on_candidate = [](ca::UserId, ca::UserId, ca::json) {};
    backend.on_room_lost = [](ca::RoomId) {};
    backend.on_stream_lost = [&backend](ca::RoomId room, ca::UserId user) { backend.unpublish(room, user); };
    std::string last;
    std::uint64_t n = 1;
    milliseconds now{0};
    session.on_open(now);
    while (!in.empty()) {
        const auto nl = in.find('\n');
        const std::string_view line = in.substr(0, nl);
        in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
        for (auto& f : session.take_frames()) last = std::move(f);
        if (line.size() < 2 || line[0] != '!') {
            session.on_message(line);
            continue;
        }
        const ca::UserId u = line.size() > 2 ? static_cast<unsigned char>(line[2]) % 4 : 1;
        const ca::UserId v = line.size() > 3 ? static_cast<unsigned char>(line[3]) % 4 : 2;
        switch (line[1]) {
            case 'p': backend.publish(1, u, "v=0", noop); break;
            case 's': backend.subscribe(1, u, v, backend.server_offers() ? "" : "v=0", noop); break;
            case 'a': backend.answer(1, u, v, "v=0", noop); break;
            case 'c': backend.add_candidate(1, u, v, ca::json{{"candidate", "candidate:1 1 udp 1 10.0.0.1 9 typ host"}}); break;
            case 'f': backend.set_filter(1, u, "videoflip method=horizontal-flip", noop); break;
            case 'r': backend.record(1, u, n % 2 == 0, noop); break;
            case 'u': backend.unpublish(1, u); break;
            case 'x': backend.unsubscribe(1, u, v); break;
            case 'R': backend.release_room(1); break;
            case 'o': session.on_open(now); break;
            case 'l': session.on_closed("fuzz"); break;
            case 't': now += milliseconds(7000); (void)session.tick(now); break;
            case 'y': case 'e': {
                const std::string r = reply_to(last, janus, line[1] == 'y', ++n);
                if (!r.empty()) session.on_message(r);
                break;
            }
            default: break;
        }
    }
    (void)session.take_frames();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 2) {
        janus::Session session;
        janus::JanusBackend backend(session, {});
        run(session, backend, in, true);
    } else {
        kms::Session session;
        kms::KurentoBackend backend(session, {});
        run(session, backend, in, false);
    }
    return 0;
}
