// Sequences of client actions against the server core (Engine + Router +
// the mesh Kurento agent): each input line is one action by one of four
// clients. Nothing a client does may crash the core or break its invariants.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compeit/agents/kurento_agent.hpp"
#include "compeit/ca/router.hpp"
#include "compeit/sio/engine.hpp"

using namespace compeit;

namespace {

struct NullHost final : sio::TransportHost {
    void ws_write(sio::SessionId, std::vector<sio::Frame>&&) override {}
    void poll_respond(sio::SessionId, std::string) override {}
    void end(sio::SessionId) override {}
    void schedule_flush() override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    NullHost host;
    ca::Limits limits;
    limits.max_room_users = 3;
    limits.max_rooms = 4;
    ca::Router router(limits);
    sio::Engine engine(sio::EngineConfig{}, host, router);
    engine.add_namespace(std::string(ca::kNamespace));
    router.attach(engine);
    agents::MeshBackend mesh;
    agents::KurentoAgent kurento(mesh);
    router.register_agent("kurento", kurento);

    sio::SessionId ids[4] = {};
    sio::Time now{0};
    std::string_view in(reinterpret_cast<const char*>(data), size);
    while (!in.empty()) {
        const auto nl = in.find('\n');
        std::string_view line = in.substr(0, nl);
        in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
        if (line.size() < 2) continue;
        const unsigned who = static_cast<unsigned char>(line[0]) % 4;
        const char op = line[1];
        const std::string_view rest = line.substr(2);
        sio::SessionId& id = ids[who];
        now += sio::Time(static_cast<unsigned char>(line[0]) * 10);
        switch (op) {
            case 'h': id = engine.handshake(now, "0123456789ab", rest).id; break;
            case 'w': engine.open_websocket(id, now); break;
            case 'p': engine.on_poll(id, sio::Transport::xhr_polling, now); break;
            case 'a': engine.on_poll_aborted(id, now); break;
            case 'P': engine.on_post(id, rest, now); break;
            case 't': engine.on_ws_text(id, rest, now); break;
            case 'c': engine.on_transport_closed(id, now); break;
            case 'k': engine.tick(now); break;
            default: engine.on_ws_text(id, line, now); break;
        }
        engine.flush(now);
        if (router.room_count() > limits.max_rooms) __builtin_trap();
    }
    return 0;
}
