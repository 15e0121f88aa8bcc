// A server core (Engine + Router, agents optional) and any number of client
// cores (ca::Client with the chat and kurento client agents), wired together
// in memory: client ws_send outputs feed the engine, the engine's frames feed
// the clients. A fake browser answers the kurento client's rtc requests.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "compeit/agents/chat_client.hpp"
#include "compeit/agents/kurento_client.hpp"
#include "compeit/ca/client.hpp"
#include "compeit/ca/router.hpp"
#include "compeit/util/json_guard.hpp"
#include "compeit/util/json_scan.hpp"
#include "fake_host.hpp"

namespace compeit::test {

using Kind = ca::Output::Kind;

// A server core and any number of client cores, wired in memory.
struct Wire {
    using json = ca::json;
    test::FakeHost host;
    ca::Router router;
    sio::Engine engine{sio::EngineConfig{}, host, router};
    sio::Time now{1000};

    // What a fake browser did with the kurento client's rtc requests.
    struct Browser {
        std::vector<std::string> created, closed;
        std::vector<std::pair<std::string, std::string>> candidates_added;  // (pc, candidate)
        std::vector<std::pair<std::string, std::string>> remote_sdp;        // (pc, sdp)
    };
    struct Peer {
        std::unique_ptr<ca::Client> client;
        std::unique_ptr<agents::ChatClient> chat;
        std::unique_ptr<agents::KurentoClient> kurento;
        sio::SessionId session = 0;
        std::vector<ca::Output> seen;  // outputs other than transport actions
        Browser browser;
        std::string name;
    };
    std::vector<std::unique_ptr<Peer>> peers;

    Wire() {
        engine.add_namespace(std::string(ca::kNamespace));
        router.attach(engine);
    }

    Peer& add(const std::string& name) {
        auto p = std::make_unique<Peer>();
        p->client = std::make_unique<ca::Client>(ca::ClientConfig{"http://server:1", name});
        p->chat = std::make_unique<agents::ChatClient>(*p->client);
        p->kurento = std::make_unique<agents::KurentoClient>(*p->client);
        p->name = name;
        peers.push_back(std::move(p));
        return *peers.back();
    }

    // A connected peer that joined `room`.
    Peer& joined(const std::string& name, ca::RoomId room = 1) {
        Peer& p = add(name);
        p.client->connect(now);
        pump();
        p.client->join_room(room);
        pump();
        return p;
    }

    // Payloads of the events `p` reported under `name`, in order.
    static std::vector<json> events(const Peer& p, const std::string& name) {
        std::vector<json> out;
        for (const auto& o : p.seen)
            if (o.kind == Kind::event && o.text == name) out.push_back(util::parse_json(o.payload));
        return out;
    }

    // Performs every output until nothing moves.
    void pump() {
        for (int round = 0; round < 100; ++round) {
            bool moved = false;
            for (auto& p : peers) {
                for (auto& o : p->client->take_outputs()) {
                    moved = true;
                    perform(*p, std::move(o));
                }
            }
            engine.flush(now);
            for (auto& p : peers) {
                if (!p->session) continue;
                for (const auto& f : host.take_frames(p->session)) {
                    moved = true;
                    p->client->on_ws_message(f, now);
                }
            }
            if (!moved) return;
        }
        FAIL("the wire never settled");
    }

    void perform(Peer& p, ca::Output o) {
        switch (o.kind) {
            case Kind::http_get: {
                const auto q = o.text.find('?');
                const auto hs = engine.handshake(now, test_random(), o.text.substr(q + 1), "127.0.0.1");
                p.session = hs.id;
                p.client->on_http(200, hs.body, now);
                break;
            }
            case Kind::ws_open:
                REQUIRE(engine.open_websocket(p.session, now));
                p.client->on_ws_open(now);
                break;
            case Kind::ws_send:
                engine.on_ws_text(p.session, o.text, now);
                break;
            case Kind::ws_close:
                engine.on_transport_closed(p.session, now);
                break;
            case Kind::event:
                if (o.text == "rtc") browse(p, util::parse_json(o.payload));
                p.seen.push_back(std::move(o));
                break;
            default:
                p.seen.push_back(std::move(o));
        }
    }

    // A browser that does at once what it is asked: offers and answers are
    // named after who made them, so tests can follow them across the wire.
    void browse(Peer& p, const json& op) {
        const std::string pc = op["pc"];
        const std::string what = op["op"];
        auto& k = *p.kurento;
        if (what == "create") {
            p.browser.created.push_back(pc);
        } else if (what == "offer") {
            k.report("offer", pc, json{{"sdp", "offer " + p.name + " " + pc}}.dump());
        } else if (what == "answer") {
            p.browser.remote_sdp.emplace_back(pc, op["sdp"]);
            k.report("remote_set", pc, "{}");
            k.report("answer", pc, json{{"sdp", "answer " + p.name + " " + pc}}.dump());
        } else if (what == "remote_answer") {
            p.browser.remote_sdp.emplace_back(pc, op["sdp"]);
            k.report("remote_set", pc, "{}");
        } else if (what == "candidate") {
            p.browser.candidates_added.emplace_back(pc, op["candidate"].dump());
        } else if (what == "close") {
            p.browser.closed.push_back(pc);
        }
    }

    // The server goes away under every client.
    void drop_all() {
        for (auto& p : peers) {
            if (p->session) engine.on_transport_closed(p->session, now);
            p->session = 0;
            p->client->on_ws_close(now);
        }
    }
};

}  // namespace compeit::test
