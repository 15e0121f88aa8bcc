// A real Engine and Router wired to a FakeHost: clients are websocket
// sessions that speak socket.io packets, and every frame the server writes
// to them is decoded back into events and acks for the tests to inspect.
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "compeit/ca/router.hpp"
#include "compeit/sio/engine.hpp"
#include "fake_host.hpp"

namespace compeit::test {

using ca::json;

// One packet a client received, decoded.
struct Rx {
    sio::PacketType type = sio::PacketType::noop;
    std::string endpoint;
    std::string name;     // events: the event name
    json arg;             // events: args[0] (null when absent)
    std::string ack_id;   // acks: the acked id
    json ack_args;        // acks: the argument array (null when none)
    std::string raw;      // the packet as written
};

struct Client {
    SessionId session = 0;
    ca::UserId user = 0;
    std::string name;
};

class Net {
public:
    FakeHost host;
    ca::Router router;
    sio::Engine engine;
    sio::Time now{0};

    explicit Net(ca::Limits limits = {}, sio::EngineConfig config = {})
        : router(limits), engine(std::move(config), host, router) {
        engine.add_namespace(std::string(ca::kNamespace));
        router.attach(engine);
    }

    // A websocket session, not yet on /connection_agent.
    SessionId open(std::string_view handshake_query = {}) {
        const SessionId id = engine.handshake(now, test_random(), handshake_query, "127.0.0.1").id;
        REQUIRE(engine.open_websocket(id, now));
        return id;
    }

    // A session connected to /connection_agent; its `connected` is consumed.
    Client connect(std::string_view handshake_query = {}, std::string_view packet_query = {}) {
        const SessionId id = open(handshake_query);
        std::string p = "1::" + std::string(ca::kNamespace);
        if (!packet_query.empty()) p += ":?" + std::string(packet_query);
        send(id, p);
        const auto got = events(id, "connected");
        REQUIRE(got.size() == 1);
        const json& user = got[0]["user"];
        Client c{id, user["id"].get<ca::UserId>(), user["name"].get<std::string>()};
        clear(id);
        return c;
    }

    // A packet from the client, then the host's flush.
    void send(SessionId id, std::string_view text) {
        engine.on_ws_text(id, text, now);
        engine.flush(now);
    }

    // An event on /connection_agent; `ack_id` non-empty asks for a data ack.
    void emit(const Client& c, std::string_view name, const json& args, std::string_view ack_id = {}) {
        json ev{{"name", std::string(name)}};
        if (!args.is_null()) ev["args"] = args;
        std::string p = "5:" + std::string(ack_id) + (ack_id.empty() ? "" : "+") + ":" +
                        std::string(ca::kNamespace) + ":" + ev.dump();
        send(c.session, p);
    }
    // The common case: one argument object.
    void request(const Client& c, std::string_view name, const json& arg, std::string_view ack_id = {}) {
        emit(c, name, json::array({arg}), ack_id);
    }

    void join(const Client& c, ca::RoomId room) { request(c, "join_room", {{"room", room}}); }

    // Everything `id` received so far (and not cleared), decoded.
    const std::vector<Rx>& inbox(SessionId id) {
        auto& box = inboxes_[id];
        for (const std::string& f : host.take_frames(id)) box.push_back(decode_rx(f));
        return box;
    }
    void clear(SessionId id) {
        inbox(id);
        inboxes_[id].clear();
    }
    void clear_all() {
        for (auto& [id, frames] : host.ws_frames) clear(id);
    }

    // args[0] of every event `name` that `id` received on /connection_agent.
    std::vector<json> events(SessionId id, std::string_view name) {
        std::vector<json> out;
        for (const Rx& r : inbox(id))
            if (r.type == sio::PacketType::event && r.endpoint == ca::kNamespace && r.name == name)
                out.push_back(r.arg);
        return out;
    }
    std::vector<json> events(const Client& c, std::string_view name) { return events(c.session, name); }

    // The names of the events `c` received, in order.
    std::vector<std::string> event_names(const Client& c) {
        std::vector<std::string> out;
        for (const Rx& r : inbox(c.session))
            if (r.type == sio::PacketType::event) out.push_back(r.name);
        return out;
    }

    // The argument arrays of acks for `ack_id` that `c` received.
    std::vector<json> acks(const Client& c, std::string_view ack_id) {
        std::vector<json> out;
        for (const Rx& r : inbox(c.session))
            if (r.type == sio::PacketType::ack && r.ack_id == ack_id) out.push_back(r.ack_args);
        return out;
    }

    // The single request_error `c` received; fails the test otherwise.
    json the_error(const Client& c) {
        const auto errs = events(c, "request_error");
        INFO("events received: " << event_names(c).size());
        REQUIRE(errs.size() == 1);
        return errs[0];
    }

private:
    std::map<SessionId, std::vector<Rx>> inboxes_;

    static Rx decode_rx(const std::string& frame) {
        Rx r;
        r.raw = frame;
        const auto p = sio::decode(frame);
        INFO("frame: " << frame);
        REQUIRE(p.has_value());
        r.type = p->type;
        r.endpoint = p->endpoint;
        if (p->type == sio::PacketType::event) {
            const json ev = json::parse(p->data);
            r.name = ev.at("name").get<std::string>();
            if (ev.contains("args") && !ev["args"].empty()) r.arg = ev["args"][0];
        } else if (p->type == sio::PacketType::ack) {
            const auto a = sio::parse_ack(p->data);
            REQUIRE(a.has_value());
            r.ack_id = a->id;
            if (a->has_args) r.ack_args = json::parse(a->args);
        }
        return r;
    }
};

inline json user_json(const Client& c) { return json{{"id", c.user}, {"name", c.name}}; }

}  // namespace compeit::test
