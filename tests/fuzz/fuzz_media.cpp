// The media-server sessions and backends (kms::Session + KurentoBackend,
// janus::Session + JanusBackend) facing a media server that sends anything:
// the input is lines; most are messages "from the media server", lines
// starting with '!' are operations of the agent, or of the media server and
// the connection (fuzz_support.hpp's MediaServer: !y !e !o !l !t !m !E):
//   !p<u> publish   !s<u><v> subscribe u to v   !a<u><v> answer   !c<u><v> candidate
//   !f<u> filter    !r<u> record   !u<u> unpublish   !x<u><v> unsubscribe   !R release room
// (<u>, <v>: one character each: a user id, and which of the user's streams,
// camera or screen, so that a user's several streams interleave). The first
// byte picks the backend.
// Nothing may crash, hang, leak or use freed memory whatever the order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "compeit/janus/janus_backend.hpp"
#include "compeit/kms/kurento_backend.hpp"
#include "fuzz_support.hpp"

using namespace compeit;

namespace {

// The agent's part: a stream the media server lost is unpublished.
struct Events final : agents::MediaEvents {
    agents::MediaBackend& backend;
    explicit Events(agents::MediaBackend& b) : backend(b) {}
    void media_candidate(ca::UserId, const agents::StreamKey&, ca::json) override {}
    void media_room_lost(ca::RoomId) override {}
    void media_stream_lost(ca::RoomId room, const agents::StreamKey& s) override { backend.unpublish(room, s); }
};

// A user id and one of its streams from one character.
agents::StreamKey stream_of(char c) {
    const auto v = static_cast<unsigned char>(c);
    return agents::StreamKey(v % 4, (v / 4) % 2 ? "screen" : "camera");
}

template <class Session>
void run(Session& session, agents::MediaBackend& backend, std::string_view in, bool janus) {
    auto noop = [](auto) {};
    Events events(backend);
    backend.set_events(&events);
    fuzz::MediaServer<Session> server(session, janus);
    server.open();
    fuzz::Lines lines(in);
    while (const auto line = lines.next()) {
        if (server.handle(*line)) continue;
        if (line->size() < 2 || (*line)[0] != '!') {
            session.on_message(*line);
            continue;
        }
        const agents::StreamKey us = line->size() > 2 ? stream_of((*line)[2]) : agents::StreamKey(1);
        const agents::StreamKey vs = line->size() > 3 ? stream_of((*line)[3]) : agents::StreamKey(2);
        const ca::UserId u = us.user;
        switch ((*line)[1]) {
            case 'p': backend.publish(1, us, "v=0", noop); break;
            case 's': backend.subscribe(1, u, vs, backend.server_offers() ? "" : "v=0", noop); break;
            case 'a': backend.answer(1, u, vs, "v=0", noop); break;
            case 'c': backend.add_candidate(1, u, vs, ca::json{{"candidate", "candidate:1 1 udp 1 10.0.0.1 9 typ host"}}); break;
            case 'f': backend.set_filter(1, us, "videoflip method=horizontal-flip", noop); break;
            case 'r': backend.record(1, us, u % 2 == 0, noop); break;
            case 'u': backend.unpublish(1, us); break;
            case 'x': backend.unsubscribe(1, u, vs); break;
            case 'R': backend.release_room(1); break;
            default: break;
        }
    }
    server.drain();
    backend.set_events(nullptr);
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
