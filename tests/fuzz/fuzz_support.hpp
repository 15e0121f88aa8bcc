// Scaffolding shared by the fuzz targets: inputs read as lines of actions,
// arbitrary JSON values of every type built from bytes, a transport host that
// checks every packet the server writes, a chat store whose answers the input
// can hold back or fail, and a fake media server (Kurento or Janus) that
// answers the backends' requests or sends them anything.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compeit/agents/chat_store.hpp"
#include "compeit/ca/types.hpp"
#include "compeit/sio/engine.hpp"
#include "compeit/sio/packet.hpp"
#include "compeit/util/json_guard.hpp"
#include "compeit/util/json_scan.hpp"

namespace compeit::fuzz {

using ca::json;

// A broken invariant: a crash libFuzzer reports, with the input that caused it.
[[noreturn]] inline void fail() { __builtin_trap(); }
inline void check(bool ok) {
    if (!ok) fail();
}

// COMPEIT_FUZZ_TRACE=1 prints what goes over the wire (to replay an input
// and see what it does: build/asan/tests/fuzz/<target> <file>).
inline bool tracing() {
    static const bool on = std::getenv("COMPEIT_FUZZ_TRACE") != nullptr;
    return on;
}
inline void trace(const char* what, std::string_view text) {
    if (tracing()) std::fprintf(stderr, "%s %.*s\n", what, static_cast<int>(std::min<std::size_t>(text.size(), 400)), text.data());
}

// The input as lines; every line is one action.
class Lines {
public:
    explicit Lines(std::string_view in) : rest_(in) {}
    std::optional<std::string_view> next() {
        if (done_) return std::nullopt;
        const auto nl = rest_.find('\n');
        const std::string_view line = rest_.substr(0, nl);
        if (nl == std::string_view::npos) done_ = true;
        else rest_.remove_prefix(nl + 1);
        return line;
    }

private:
    std::string_view rest_;
    bool done_ = false;
};

// The bytes of one line, read as choices; 0 once they run out.
class Bytes {
public:
    explicit Bytes(std::string_view s) : s_(s) {}
    bool empty() const { return pos_ >= s_.size(); }
    std::uint8_t byte() { return empty() ? 0 : static_cast<std::uint8_t>(s_[pos_++]); }
    std::size_t pick(std::size_t n) { return byte() % n; }
    std::string_view take(std::size_t n) {
        n = std::min(n, s_.size() - std::min(pos_, s_.size()));
        const std::string_view out = s_.substr(std::min(pos_, s_.size()), n);
        pos_ += n;
        return out;
    }
    std::string_view rest() { return take(s_.size()); }

private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

// Member names the agents and clients read, and string values they look for.
inline constexpr const char* kKeys[] = {
    "action", "type", "data", "to", "room", "text", "before", "limit", "user", "peer", "sdp", "candidate",
    "audio", "video", "filter", "name", "args", "id", "from", "messages", "streams", "stream", "mode",
    "iceServers", "offerer", "event", "error", "code", "message", "sdpMid", "sdpMLineIndex", "ts", "recording"};
inline constexpr const char* kWords[] = {
    "chat", "kurento", "history", "publish", "subscribe", "subscribe_answer", "answer", "ice_candidate",
    "unpublish", "unsubscribe", "update_stream", "set_filter", "record_start", "record_stop", "config",
    "streams", "published", "subscribe_request", "subscribed", "unsubscribed", "stream_added",
    "stream_updated", "stream_removed", "v=0", "candidate:1 1 udp 1 10.0.0.1 9 typ host",
    "videoflip method=horizontal-flip", "FaceOverlayFilter", "", "none", "offer", "server", "sfu", "mesh",
    "user_joined", "announcement", "0", "\xF0\x9F\x98\x80", "camera", "screen", "Screen", "screen 2"};

template <std::size_t N>
const char* pick_of(Bytes& b, const char* const (&table)[N]) {
    return table[b.pick(N)];
}

// Any JSON value: every type, edge numbers, words the code compares with,
// strings from the input's bytes, nested arrays and objects.
inline json any_json(Bytes& b, int depth = 0) {
    static constexpr std::int64_t kEdges[] = {0, -1, std::int64_t{1} << 31, (std::int64_t{1} << 53) - 1,
                                              std::int64_t{1} << 53, std::numeric_limits<std::int64_t>::max(),
                                              std::numeric_limits<std::int64_t>::min()};
    static constexpr double kReals[] = {0.5, -0.0, 1.5, 1e308, -1e308, 4.9e-324, 2.0};
    switch (b.pick(depth > 4 ? 9 : 12)) {
        case 0: return nullptr;
        case 1: return false;
        case 2: return true;
        case 3: return static_cast<std::int64_t>(b.byte() % 6);  // user ids, rooms, counts
        case 4: return kEdges[b.pick(std::size(kEdges))];
        case 5: return kReals[b.pick(std::size(kReals))];
        case 6: return std::numeric_limits<std::uint64_t>::max() - b.byte();
        case 7: return std::string(b.take(b.byte() % 8));
        case 8: return pick_of(b, kWords);
        case 9: {
            json a = json::array();
            for (std::size_t n = b.pick(4); n > 0; --n) a.push_back(any_json(b, depth + 1));
            return a;
        }
        case 10: {
            json o = json::object();
            for (std::size_t n = b.pick(5); n > 0; --n) o[pick_of(b, kKeys)] = any_json(b, depth + 1);
            return o;
        }
        default: return std::string(std::size_t{1} << (6 + b.pick(8)), 'x');  // up to 8 KB
    }
}

// An object {action: <one of `actions` or anything>, <field>: <anything>, ...}:
// what an agent or client reads, with every field of every type.
template <std::size_t N>
json any_action(Bytes& b, const char* const (&actions)[N]) {
    json o = json::object();
    const std::uint8_t a = b.byte();
    o["action"] = a < 224 ? json(actions[a % N]) : any_json(b, 1);
    for (std::size_t n = b.pick(5); n > 0; --n) o[pick_of(b, kKeys)] = any_json(b, 1);
    return o;
}

// How the harness writes JSON: strings from input bytes may not be UTF-8.
inline std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A transport host that swallows the output but checks it: every packet the
// server writes must decode, and an event's data must be {"name": ..., ...}.
class CheckingHost final : public sio::TransportHost {
public:
    std::size_t frames = 0;

    static void check_packet(std::string_view text) {
        const auto p = sio::decode(text);
        check(p.has_value());
        if (p->type == sio::PacketType::event) {
            const auto ev = util::json_value_span(p->data, 200);
            check(ev && util::json_member(*ev, "name"));
        }
    }
    void ws_write(sio::SessionId id, std::vector<sio::Frame>&& out) override {
        for (const auto& f : out) {
            trace(("<- " + std::to_string(id)).c_str(), *f);
            check_packet(*f);
            ++frames;
        }
    }
    void poll_respond(sio::SessionId id, std::string payload) override {
        trace(("<~ " + std::to_string(id)).c_str(), payload);
        const auto packets = sio::decode_payload(payload);
        check(packets.has_value());
        for (const auto p : *packets) check_packet(p);
    }
    void end(sio::SessionId) override {}
    void schedule_flush() override {}
};

// A chat store in front of another (the unit tests' in-memory SQLite store):
// calls go through at once, or, while held, wait in order until the input
// releases or fails them, as the server's store on its own thread answers later.
class DeferredStore final : public agents::ChatStore {
public:
    explicit DeferredStore(agents::ChatStore& inner) : inner_(inner) {}

    bool hold = false;

    void append(agents::ChatMessage m, AppendDone done) override {
        queue_.push_back(Job{std::move(m), 0, std::nullopt, 0, std::move(done), {}});
        if (!hold) release_all();
    }
    void history(ca::RoomId room, std::optional<std::int64_t> before, std::size_t limit, HistoryDone done) override {
        queue_.push_back(Job{{}, room, before, limit, {}, std::move(done)});
        if (!hold) release_all();
    }
    // Answers the oldest waiting call; `ok` false fails it.
    void release_one(bool ok) {
        if (queue_.empty()) return;
        Job j = std::move(queue_.front());
        queue_.pop_front();
        if (j.append_done) {
            if (ok) inner_.append(std::move(j.message), std::move(j.append_done));
            else j.append_done(unexpected(std::string("disk full")));
        } else if (ok) {
            inner_.history(j.room, j.before, j.limit, std::move(j.history_done));
        } else {
            j.history_done(unexpected(std::string("disk full")));
        }
    }
    void release_all(bool ok = true) {
        while (!queue_.empty()) release_one(ok);
    }
    std::size_t waiting() const { return queue_.size(); }

private:
    struct Job {
        agents::ChatMessage message;  // append (append_done set), or history
        ca::RoomId room = 0;
        std::optional<std::int64_t> before;
        std::size_t limit = 0;
        AppendDone append_done;
        HistoryDone history_done;
    };
    agents::ChatStore& inner_;
    std::deque<Job> queue_;
};

// A plausible success (or error) answer to the media-server request `frame`,
// so that inputs get past the first step of every operation.
inline std::string reply_to(const std::string& frame, bool janus, bool ok, std::uint64_t n) {
    const auto req = util::parse_json(frame);
    if (req.is_discarded() || !req.is_object()) return {};
    if (janus) {
        json out{{"transaction", req.value("transaction", "")}, {"session_id", 7}};
        if (!ok) return (out["janus"] = "error", out["error"] = {{"code", 400}, {"reason", "no"}}, out.dump());
        out["janus"] = req.value("janus", "") == "message" ? "event" : "success";
        out["data"] = {{"id", n}};
        out["plugindata"] = {{"plugin", "janus.plugin.videoroom"}, {"data", {{"videoroom", "joined"}, {"id", n}}}};
        out["jsep"] = {{"type", n % 2 ? "offer" : "answer"}, {"sdp", "v=0"}};
        out["sender"] = n;
        return out.dump();
    }
    json out{{"jsonrpc", "2.0"}, {"id", req.value("id", json())}};
    if (!ok) return (out["error"] = {{"code", 40101}, {"message", "no"}}, out.dump());
    out["result"] = {{"value", "obj" + std::to_string(n) + "_kurento.WebRtcEndpoint"}, {"sessionId", "s1"}};
    return out.dump();
}

// The media server's end of a kms::Session or janus::Session. Lines that
// start with '!' and name one of these act on the connection:
//   !y answer the last request with a success   !e with an error
//   !o the connection opens   !l it is lost   !t 7 s pass (keepalives; an
//   unanswered one drops the connection)   !m<text> a message from the server
//   !E<bytes> an event about a recent object, with arbitrary fields
template <class Session>
class MediaServer {
public:
    MediaServer(Session& session, bool janus) : session_(session), janus_(janus) {}

    void open() { session_.on_open(now_); }
    // Takes what the session sent; the last frame is the one !y and !e answer.
    void drain() {
        for (auto& f : session_.take_frames()) {
            trace("media <-", f);
            last_ = std::move(f);
        }
    }
    // Handles `line` when it is one of the operations above.
    bool handle(std::string_view line) {
        drain();
        if (line.size() < 2 || line[0] != '!') return false;
        switch (line[1]) {
            case 'y': case 'e': {
                const std::string r = reply_to(last_, janus_, line[1] == 'y', ++n_);
                trace("media ->", r);
                if (!r.empty()) session_.on_message(r);
                break;
            }
            case 'o': session_.on_open(now_); break;
            case 'l': session_.on_closed("fuzz"); break;
            case 't':
                now_ += std::chrono::milliseconds(7000);
                if (!session_.tick(now_)) session_.on_closed("keepalive unanswered");
                break;
            case 'm': session_.on_message(line.substr(2)); break;
            case 'E': {
                Bytes b(line.substr(2));
                session_.on_message(dump(event(b)));
                break;
            }
            default: return false;
        }
        drain();
        return true;
    }

private:
    Session& session_;
    bool janus_;
    std::string last_;
    std::uint64_t n_ = 1;
    std::chrono::milliseconds now_{0};

    // A candidate object, built as a named value and moved in: with Debian's
    // clang 14 and these sanitizer flags, `j[key] = {braced list}` over a
    // string already at `key` leaked that string (LeakSanitizer, fuzz_media;
    // tests/fuzz/corpus/fuzz_media/leak-braced-assign replays it).
    static json candidate(const char* key, json value) {
        json c{{"candidate", "candidate:1 1 udp 1 10.0.0.1 9 typ host"}};
        c[key] = std::move(value);
        return c;
    }

    // An event about an object of a recent request: Janus' trickle, webrtcup,
    // hangup or plugin event; KMS's onEvent (IceCandidateFound, ...).
    json event(Bytes& b) const {
        const std::uint64_t id = n_ - b.pick(3);
        if (janus_) {
            static constexpr const char* kinds[] = {"trickle", "webrtcup", "hangup", "event", "media", "slowlink",
                                                    "detached", "timeout"};
            json out{{"janus", pick_of(b, kinds)}, {"session_id", 7}, {"sender", id}};
            for (std::size_t n = b.pick(4); n > 0; --n) out[pick_of(b, kKeys)] = any_json(b, 1);
            if (b.pick(2)) out["candidate"] = candidate("sdpMLineIndex", 0);
            return out;
        }
        static constexpr const char* kinds[] = {"IceCandidateFound", "MediaFlowInStateChange", "Error",
                                                "IceComponentStateChange"};
        const std::string object = "obj" + std::to_string(id) + "_kurento.WebRtcEndpoint";
        const std::string type = pick_of(b, kinds);
        json data{{"source", object}, {"type", type}};
        if (b.pick(2)) data["candidate"] = candidate("sdpMid", "0");
        for (std::size_t n = b.pick(3); n > 0; --n) data[pick_of(b, kKeys)] = any_json(b, 1);
        return json{{"jsonrpc", "2.0"}, {"method", "onEvent"},
                    {"params", {{"value", {{"data", std::move(data)}, {"object", object}, {"type", type}}}}}};
    }
};

}  // namespace compeit::fuzz
