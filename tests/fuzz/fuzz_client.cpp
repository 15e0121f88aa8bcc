// The client side facing a hostile server: ca::Client with the chat and
// kurento client agents (what the WebAssembly module runs), fed anything a
// server could send, between the application's calls, with a browser that
// does at once what the kurento client asks. Whatever the server sends, the
// client must not crash, and what it hands its host must stay well-formed:
// the packets it sends decode, and event, ack and agent payloads are JSON.
//
// The input is lines; the first byte of a line names the action:
//   G         connect all the way (handshake, websocket, 1::, connected)
//   c  connect    H<body> handshake answer (200)   X<body> handshake failure
//   o  websocket open    x  websocket closed    d  disconnect    k<n>  n/10 s pass
//   m<text>   a websocket message from the server, as is
//   E<bytes>  an event from the server built from bytes: a protocol event
//             name, an argument with any JSON in every field
//   K<bytes>  a server, room or user message to the chat or kurento agent:
//             an action the client knows and any fields
//   A<bytes>  an ack of a recent request, with any argument
//   J<n> join room n   L leave   S<text> chat   U<text> chat to user 2
//   Y history   Q<json> server_message   R<json> room_message
//   p publish   u unpublish   f update   r record   F<text> set_filter
//   B<bytes>  a browser report: op, connection and payload from bytes
//   b  the browser stops (or starts again) doing what it is asked
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "compeit/agents/chat_client.hpp"
#include "compeit/agents/kurento_client.hpp"
#include "compeit/ca/client.hpp"
#include "fuzz_support.hpp"

using namespace compeit;
using fuzz::json;

namespace {

constexpr const char* kEvents[] = {"connected", "room_joined", "user_joined", "user_left", "room_left",
                                   "request_error", "server_message", "room_message", "user_message",
                                   "disconnect", "reconnected", "x"};
constexpr const char* kChannels[] = {"server_message", "room_message", "user_message"};
constexpr const char* kClientActions[] = {"config", "streams", "published", "subscribe_request", "subscribed",
                                          "unsubscribed", "ice_candidate", "stream_added", "stream_updated",
                                          "stream_removed", "history"};
constexpr const char* kReports[] = {"offer", "answer", "candidate", "remote_set", "failed", "x"};
constexpr const char* kPcs[] = {"pub", "sub:1", "sub:2", "sub:3", "pub:1", "pub:2", "pub:3", "x"};

std::string event_packet(std::string_view name, const json& arg, bool with_ack) {
    json ev{{"name", name}};
    if (!arg.is_discarded()) ev["args"] = json::array({arg});
    return std::string("5:") + (with_ack ? "9+" : "") + ":/connection_agent:" + fuzz::dump(ev);
}

json any_argument(fuzz::Bytes& b) {
    if (b.pick(8) == 0) return fuzz::any_json(b);
    json o = json::object();
    if (b.pick(2)) o["room"] = b.pick(2) ? json(b.pick(4)) : fuzz::any_json(b, 1);
    if (b.pick(2)) o["user"] = json{{"id", b.pick(2) ? json(b.pick(4)) : fuzz::any_json(b, 1)}, {"name", "B"}};
    for (std::size_t n = b.pick(4); n > 0; --n) o[fuzz::pick_of(b, fuzz::kKeys)] = fuzz::any_json(b, 1);
    return o;
}

class Harness {
public:
    void line(std::string_view line) {
        const char op = line[0];
        const std::string_view rest = line.substr(1);
        fuzz::Bytes b(rest);
        now_ += sio::Time(100);
        switch (op) {
            case 'G':
                client_.connect(now_);
                client_.on_http(200, "sid1:60:60:websocket,xhr-polling", now_);
                client_.on_ws_open(now_);
                client_.on_ws_message("1::", now_);
                client_.on_ws_message("1::/connection_agent", now_);
                client_.on_ws_message(event_packet("connected", json{{"user", {{"id", 1}, {"name", "A"}}}}, false), now_);
                break;
            case 'c': client_.connect(now_); break;
            case 'H': client_.on_http(200, rest, now_); break;
            case 'X': client_.on_http(503, rest, now_); break;
            case 'o': client_.on_ws_open(now_); break;
            case 'x': client_.on_ws_close(now_); break;
            case 'd':
                client_.disconnect();
                fuzz::check(client_.state() == ca::Client::State::closed || client_.state() == ca::Client::State::idle);
                break;
            case 'k':
                now_ += sio::Time(100 * b.byte());
                client_.tick(now_);
                break;
            case 'm': client_.on_ws_message(rest, now_); break;
            case 'E': {
                const std::string name = fuzz::pick_of(b, kEvents);
                const bool ack = b.pick(4) == 0;
                client_.on_ws_message(event_packet(name, any_argument(b), ack), now_);
                break;
            }
            case 'K': {
                const std::string channel = fuzz::pick_of(b, kChannels);
                json arg{{"type", b.pick(8) < 7 ? json(b.pick(2) ? "chat" : "kurento") : fuzz::any_json(b, 1)}};
                arg["from"] = b.pick(2) ? json(b.pick(4)) : fuzz::any_json(b, 1);
                arg["data"] = b.pick(8) ? fuzz::any_action(b, kClientActions) : fuzz::any_json(b, 1);
                client_.on_ws_message(event_packet(channel, arg, false), now_);
                break;
            }
            case 'A': {
                const std::string id = std::to_string(1 + b.pick(16));
                const json args = b.pick(4) ? json::array({any_argument(b)}) : fuzz::any_json(b);
                client_.on_ws_message("6:::/connection_agent:" + id + "+" + fuzz::dump(args), now_);
                break;
            }
            case 'J': client_.join_room(static_cast<ca::RoomId>(b.byte() % 4)); break;
            case 'L': client_.leave_room(); break;
            case 'S': chat_.send(std::string(rest)); break;
            case 'U': chat_.send_to(2, std::string(rest)); break;
            case 'Y': chat_.history(b.pick(2) ? std::optional<std::int64_t>(b.byte()) : std::nullopt,
                                    b.pick(2) ? std::optional<std::int64_t>(b.byte()) : std::nullopt);
                break;
            case 'Q': client_.send_server(b.pick(2) ? "kurento" : "chat", rest.substr(std::min<std::size_t>(1, rest.size()))); break;
            case 'R': client_.send_room(b.pick(2) ? "kurento" : "chat", rest.substr(std::min<std::size_t>(1, rest.size()))); break;
            case 'p': kurento_.publish(b.pick(2), b.pick(2)); break;
            case 'u': kurento_.unpublish(); break;
            case 'f': kurento_.update(b.pick(2), b.pick(2)); break;
            case 'r': kurento_.record(b.pick(2)); break;
            case 'F': kurento_.set_filter(rest); break;
            case 'B': {
                const std::string report = fuzz::pick_of(b, kReports);
                const std::string pc = fuzz::pick_of(b, kPcs);
                kurento_.report(report, pc, fuzz::dump(any_argument(b)));
                break;
            }
            case 'b': browser_ = !browser_; break;
            default: break;
        }
        pump();
    }

private:
    ca::Client client_{ca::ClientConfig{"http://server:1", "A", true, sio::Time(500), sio::Time(4000), 3,
                                        sio::Time(10'000)}};
    agents::ChatClient chat_{client_};
    agents::KurentoClient kurento_{client_};
    sio::Time now_{1000};
    bool browser_ = true;

    static void check_json(std::string_view text) { fuzz::check(util::json_value_span(text, 200).has_value()); }

    // Checks what the client hands its host, and plays the browser.
    void pump() {
        for (int round = 0; round < 20; ++round) {
            auto outputs = client_.take_outputs();
            if (outputs.empty()) return;
            for (const auto& o : outputs) {
                using Kind = ca::Output::Kind;
                switch (o.kind) {
                    case Kind::ws_send: fuzz::CheckingHost::check_packet(o.text); break;
                    case Kind::ack: check_json(o.payload); break;
                    case Kind::agent: check_json(o.payload); break;
                    case Kind::event:
                        if (!o.payload.empty()) check_json(o.payload);
                        if (o.text == "rtc" && browser_) browse(util::parse_json(o.payload, 200));
                        break;
                    default: break;
                }
            }
        }
    }

    // A browser that does at once what it is asked.
    void browse(const json& rtc) {
        fuzz::check(rtc.is_object() && rtc.contains("op") && rtc["op"].is_string() && rtc.contains("pc") &&
                    rtc["pc"].is_string());
        const std::string op = rtc["op"].get<std::string>();
        const std::string pc = rtc["pc"].get<std::string>();
        if (op == "offer") {
            kurento_.report("offer", pc, R"({"sdp":"v=0 offer"})");
        } else if (op == "answer") {
            kurento_.report("remote_set", pc, "{}");
            kurento_.report("answer", pc, R"({"sdp":"v=0 answer"})");
        } else if (op == "remote_answer") {
            kurento_.report("remote_set", pc, "{}");
        } else if (op == "create") {
            kurento_.report("candidate", pc, R"({"candidate":{"candidate":"candidate:1 1 udp 1 10.0.0.2 9 typ host"}})");
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Harness h;
    fuzz::Lines lines(std::string_view(reinterpret_cast<const char*>(data), size));
    while (const auto line = lines.next())
        if (!line->empty()) h.line(*line);
    return 0;
}
