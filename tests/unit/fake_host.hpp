// In-memory stand-ins for the engine's two callbacks: a TransportHost that
// records what would go on the wire, and an Application that records what
// the engine reports. Time is whatever the test passes in.
#pragma once

#include <algorithm>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "compeit/sio/engine.hpp"

namespace compeit::test {

using sio::SessionId;

// Distinct "random" bytes for each handshake, as the engine requires
// (Engine::kSidRandomBytes of them; a repeat is refused).
inline std::string test_random() {
    static std::uint64_t n = 0;
    std::string out(sio::Engine::kSidRandomBytes, 'r');
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((++n >> (8 * i)) & 0xFF);
    return out;
}

class FakeHost : public sio::TransportHost {
public:
    std::map<SessionId, std::vector<std::string>> ws_frames;   // every ws_write, packet by packet
    std::map<SessionId, std::vector<std::string>> poll_bodies;  // every poll_respond
    std::vector<SessionId> ended;                               // every end(), in order
    int flush_requests = 0;

    void ws_write(SessionId id, std::vector<sio::Frame>&& frames) override {
        for (const auto& f : frames) ws_frames[id].push_back(*f);
    }
    void poll_respond(SessionId id, std::string payload) override { poll_bodies[id].push_back(std::move(payload)); }
    void end(SessionId id) override { ended.push_back(id); }
    void schedule_flush() override { ++flush_requests; }

    // The frames written to `id` since the last take.
    std::vector<std::string> take_frames(SessionId id) {
        std::vector<std::string> out;
        out.swap(ws_frames[id]);
        return out;
    }
    std::vector<std::string> take_polls(SessionId id) {
        std::vector<std::string> out;
        out.swap(poll_bodies[id]);
        return out;
    }
    int times_ended(SessionId id) const {
        return static_cast<int>(std::count(ended.begin(), ended.end(), id));
    }
};

// One call the engine made on its Application.
struct AppCall {
    enum Kind { kConnect, kPacket, kDisconnect } kind;
    SessionId session = 0;
    std::string endpoint;
    std::string query;       // connect
    sio::Packet packet;      // packet
    sio::CloseReason reason = sio::CloseReason::server;  // disconnect
    sio::Time now{};
};

class FakeApp : public sio::Application {
public:
    std::vector<AppCall> calls;
    // When set, every packet is answered with `3:<endpoint>:reply` from inside
    // the callback, to see where the engine puts it relative to its own frames.
    sio::Engine* reply_through = nullptr;

    void on_namespace_connect(SessionId s, std::string_view endpoint, std::string_view query,
                              sio::Time now) override {
        calls.push_back({AppCall::kConnect, s, std::string(endpoint), std::string(query), {}, {}, now});
    }
    void on_packet(SessionId s, const sio::Packet& p, sio::Time now) override {
        calls.push_back({AppCall::kPacket, s, p.endpoint, {}, p, {}, now});
        if (reply_through)
            reply_through->send(s, sio::Packet{sio::PacketType::message, {}, false, p.endpoint, "reply"});
    }
    void on_namespace_disconnect(SessionId s, std::string_view endpoint, sio::CloseReason reason,
                                 sio::Time now) override {
        calls.push_back({AppCall::kDisconnect, s, std::string(endpoint), {}, {}, reason, now});
    }

    std::vector<AppCall> of_kind(AppCall::Kind k) const {
        std::vector<AppCall> out;
        std::copy_if(calls.begin(), calls.end(), std::back_inserter(out),
                     [k](const AppCall& c) { return c.kind == k; });
        return out;
    }
};

}  // namespace compeit::test
