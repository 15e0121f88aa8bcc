// Sequences of client actions against the whole server core: Engine + Router
// with every agent registered (the Chat Agent on the unit tests' in-memory
// SQLite store, the Kurento Agent in the media mode the first byte picks:
// mesh, kurento through kms::KurentoBackend, janus through janus::JanusBackend,
// the last two facing fuzz_support.hpp's fake media server).
//
// After the first byte the input is lines. A line is an action of one of four
// clients (its first byte picks the client and how much time passes), named
// by its second byte:
//   C<query>   handshake, websocket and connect to /connection_agent (query: the handshake's)
//   h<query>   handshake     w  open a websocket   p<b>  long-poll   a  poll aborted
//   P<b><body> POST (p, P: xhr-polling, jsonp-polling when b is odd)
//   t<text>    websocket text     c  transport closed
//   k<n>       n seconds pass, timers run
//   e<json>    an event with an ack: 5:N+:/connection_agent:<json>
//   j<json>    join_room {room: <json>}
//   s<json>    server_message <json>        r<json>   room_message <json>
//   T<bytes>   a request built from bytes: every request and agent action,
//              with any JSON type in every field (fuzz::any_json)
// Lines starting with '!' act on the chat store and the media server:
//   !H  the store holds its answers   !S release them   !F fail them   !1 release one
//   !A<text>  an operator announcement in room 1
//   !y !e !o !l !t !m !E  the media server (fuzz::MediaServer)
// Nothing a client does may crash the core, make it write a malformed packet,
// or break the limits; once everyone is gone, nothing may be left behind.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "chat_db.hpp"
#include "compeit/agents/chat_agent.hpp"
#include "compeit/agents/kurento_agent.hpp"
#include "compeit/ca/router.hpp"
#include "compeit/janus/janus_backend.hpp"
#include "compeit/kms/kurento_backend.hpp"
#include "compeit/sio/engine.hpp"
#include "fuzz_support.hpp"

using namespace compeit;
using fuzz::json;

namespace {

constexpr std::size_t kClients = 4;
constexpr const char* kServerActions[] = {"history", "publish", "subscribe", "subscribe_answer", "answer",
                                          "ice_candidate", "unpublish", "unsubscribe", "update_stream",
                                          "set_filter", "record_start", "record_stop"};
constexpr const char* kEvents[] = {"join_room", "leave_room", "server_message", "room_message", "connected",
                                   "x"};

// `data` of an agent message: mostly {action, fields...}, sometimes anything.
json any_data(fuzz::Bytes& b) {
    if (b.pick(8) == 0) return fuzz::any_json(b, 1);
    return fuzz::any_action(b, kServerActions);
}

// The argument of a request built from bytes (T lines); `name` gets its event.
json typed_request(fuzz::Bytes& b, std::string& name) {
    const std::size_t kind = b.pick(8);
    json type = b.pick(8) < 7 ? json(b.pick(2) ? "chat" : "kurento") : fuzz::any_json(b, 1);
    switch (kind) {
        case 0:
            name = "join_room";
            return json{{"room", b.pick(2) ? json(b.pick(4)) : fuzz::any_json(b, 1)}};
        case 1:
            name = "leave_room";
            return json::object();
        case 2: case 3: case 4: {
            name = kind == 3 ? "room_message" : "server_message";
            json arg{{"type", std::move(type)}, {"data", any_data(b)}};
            if (kind == 4) arg["to"] = b.pick(2) ? json(1 + b.pick(kClients)) : fuzz::any_json(b, 1);
            return arg;
        }
        case 5: {
            name = fuzz::pick_of(b, kEvents);
            json arg{{"type", std::move(type)}, {"data", any_data(b)}};
            for (std::size_t n = b.pick(3); n > 0; --n) arg[fuzz::pick_of(b, fuzz::kKeys)] = fuzz::any_json(b, 1);
            return arg;
        }
        default:
            name = fuzz::pick_of(b, kEvents);
            return fuzz::any_json(b);
    }
}

class Harness {
public:
    Harness(agents::MediaBackend& media, agents::ChatStore& store)
        : store_(store), kurento_(media, json::array({{{"urls", "stun:127.0.0.1:3478"}}})) {
        limits_.max_room_users = 3;
        limits_.max_rooms = 4;
        limits_.max_data_bytes = 16 * 1024;
        router_ = std::make_unique<ca::Router>(limits_);
        engine_ = std::make_unique<sio::Engine>(sio::EngineConfig{}, host_, *router_);
        engine_->add_namespace(std::string(ca::kNamespace));
        router_->attach(*engine_);
        // Session resume on, with a small buffer (a counter for randomness:
        // the fuzzer may guess secrets, which only makes it reach more).
        router_->enable_resume({4, 4096, sio::Time(5'000)},
                               [this](std::size_t n) { return std::string(n, static_cast<char>(++secrets_)); },
                               [](std::string_view a, std::string_view b) { return a == b; });
        // The router's last-resort barrier keeps the native server up when
        // an exception escapes agent code; here that exception is the bug
        // (and the WebAssembly build, without exceptions, would abort).
        router_->on_fault([](const ca::Router::Fault& f) {
            std::fprintf(stderr, "Fault: event %.*s, agent %.*s, user %lld: %.*s\n", static_cast<int>(f.event.size()),
                         f.event.data(), static_cast<int>(f.type.size()), f.type.data(), static_cast<long long>(f.user),
                         static_cast<int>(f.what.size()), f.what.data());
            fuzz::fail();
        });
        router_->register_agent(agents::ChatAgent::kType, chat_);
        router_->register_agent(agents::KurentoAgent::kType, kurento_);
    }

    // One client's action.
    void client(std::string_view line) {
        const auto who = static_cast<std::uint8_t>(line[0]);
        const char op = line[1];
        const std::string_view rest = line.substr(2);
        sio::SessionId& id = ids_[who % kClients];
        now_ += sio::Time(who * 10);
        router_->advance(now_);
        auto& engine = *engine_;
        switch (op) {
            case 'C':
                id = handshake(who, rest);
                if (engine.open_websocket(id, now_)) engine.on_ws_text(id, "1::/connection_agent", now_);
                break;
            case 'R':  // connect asking for, or presenting, a resume token (docs/protocol.md §8)
                id = handshake(who, {});
                if (engine.open_websocket(id, now_))
                    engine.on_ws_text(id, "1::/connection_agent:?resume=" + std::string(rest), now_);
                break;
            case 'h': id = handshake(who, rest); break;
            case 'w': engine.open_websocket(id, now_); break;
            case 'p': engine.on_poll(id, polling(rest), now_); break;
            case 'a': engine.on_poll_aborted(id, now_); break;
            case 'P': engine.on_post(id, polling(rest), rest.substr(std::min<std::size_t>(1, rest.size())), now_); break;
            case 't': engine.on_ws_text(id, rest, now_); break;
            case 'c': engine.on_transport_closed(id, now_); break;
            case 'k':
                now_ += sio::Time(1000 * (rest.empty() ? 1 : static_cast<std::uint8_t>(rest[0])));
                router_->advance(now_);
                engine.tick(now_);
                router_->tick(now_);
                break;
            case 'e': engine.on_ws_text(id, event_prefix() + std::string(rest), now_); break;
            case 'j': emit(id, "join_room", "{\"room\":" + std::string(rest) + "}"); break;
            case 's': emit(id, "server_message", std::string(rest)); break;
            case 'r': emit(id, "room_message", std::string(rest)); break;
            case 'T': {
                fuzz::Bytes b(rest);
                std::string name;
                const json arg = typed_request(b, name);
                emit(id, name, fuzz::dump(arg));
                break;
            }
            default: engine.on_ws_text(id, line, now_); break;
        }
    }

    // Store operations; false when the line is not one.
    bool store(std::string_view line) {
        if (line.size() < 2 || line[0] != '!') return false;
        switch (line[1]) {
            case 'H': store_.hold = true; return true;
            case 'S': store_.hold = false, store_.release_all(true); return true;
            case 'F': store_.release_all(false); return true;
            case '1': store_.release_one(true); return true;
            case 'A': chat_.announce(1, std::string(line.substr(2)), [](auto) {}); return true;
            default: return false;
        }
    }

    void settle() {
        engine_->flush(now_);
        fuzz::check(router_->room_count() <= limits_.max_rooms);
        for (ca::UserId u = 1; u < 64; ++u)
            if (const auto room = router_->room_of(u)) fuzz::check(router_->members(*room).size() <= limits_.max_room_users);
    }

    // Everyone leaves and every timer runs out: nothing may stay behind.
    template <class Lose>
    void teardown(Lose lose_media) {
        store_.hold = false;
        store_.release_all(true);
        for (auto id : ids_) engine_->on_transport_closed(id, now_);
        for (int i = 0; i < 4; ++i) {
            now_ += sio::Time(3'600'000);
            router_->advance(now_);
            engine_->tick(now_);
            router_->tick(now_);
            engine_->flush(now_);
            store_.release_all(true);
        }
        lose_media();  // pending media operations fail now, with nobody left to tell
        engine_->flush(now_);
        fuzz::check(engine_->session_count() == 0);
        fuzz::check(router_->user_count() == 0);
        fuzz::check(router_->room_count() == 0);
        fuzz::check(kurento_.room_count() == 0);
    }

private:
    // The agents outlive the router and the engine that call them.
    fuzz::CheckingHost host_;
    ca::Limits limits_;
    fuzz::DeferredStore store_;
    sio::Time now_{0};
    unsigned char secrets_ = 0;
    agents::ChatAgent chat_{store_, [this] { return std::int64_t{1'700'000'000'000} + now_.count(); }, 100};
    agents::KurentoAgent kurento_;
    std::unique_ptr<ca::Router> router_;
    std::unique_ptr<sio::Engine> engine_;
    sio::SessionId ids_[kClients] = {};
    unsigned acks_ = 0;
    unsigned handshakes_ = 0;

    // A handshake from the client's own address, with fresh "random" bytes.
    sio::SessionId handshake(std::uint8_t who, std::string_view query) {
        std::string random(sio::Engine::kSidRandomBytes, 'r');
        random.replace(0, 8, std::to_string(10'000'000 + ++handshakes_));
        const std::string peer = "10.0.0." + std::to_string(who % kClients);
        return engine_->handshake(now_, random, query, peer).id;
    }
    // p and P lines: xhr-polling, or jsonp-polling when the line's first byte is odd.
    static sio::Transport polling(std::string_view rest) {
        return !rest.empty() && rest[0] % 2 ? sio::Transport::jsonp_polling : sio::Transport::xhr_polling;
    }
    std::string event_prefix() { return "5:" + std::to_string(++acks_) + "+:/connection_agent:"; }
    void emit(sio::SessionId id, std::string_view name, const std::string& arg_json) {
        engine_->on_ws_text(id, event_prefix() + "{\"name\":\"" + std::string(name) + "\",\"args\":[" + arg_json + "]}",
                            now_);
    }
};

template <class Session>
void run(Session* session, agents::MediaBackend& media, std::string_view in, bool janus) {
    auto db = native::ChatDb::open(":memory:");
    if (!db) fuzz::fail();
    native::SyncChatStore sqlite(**db);
    Harness h(media, sqlite);
    std::unique_ptr<fuzz::MediaServer<Session>> server;
    if (session) {
        server = std::make_unique<fuzz::MediaServer<Session>>(*session, janus);
        server->open();
    }
    fuzz::Lines lines(in);
    while (const auto line = lines.next()) {
        if (line->size() < 2) continue;
        if (!h.store(*line) && !(server && server->handle(*line))) {
            if ((*line)[0] == '!') continue;
            h.client(*line);
        }
        h.settle();
        if (server) server->drain();
    }
    h.teardown([&] {
        if (server) server->handle("!l");
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
        case 0: {
            agents::MeshBackend mesh;
            run<kms::Session>(nullptr, mesh, in, false);
            break;
        }
        case 1: {
            kms::Session session;
            kms::KurentoBackend backend(session, {});
            run(&session, backend, in, false);
            break;
        }
        default: {
            janus::Session session;
            janus::JanusBackend backend(session, {});
            run(&session, backend, in, true);
            break;
        }
    }
    return 0;
}
