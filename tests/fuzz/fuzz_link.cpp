// The agent link (ca::LinkAgent, ca::link::decode) facing a hostile agent:
// two links and three clients on a real Engine + Router. The input is
// lines; a line's first byte picks the link or client (and how much time
// passes), its second the action:
//   f<text>   a raw frame from the link       T<bytes>  a frame built from bytes: every op, any JSON in every field
//   x         the link goes away (and a new one takes its place)
//   s<bytes>  a client's server_message       r<bytes>  a client's room_message (types the links may hold)
//   j<n>      a client joins room n % 4       k<n>      n * 100 ms pass, timers run
// Nothing may crash; every frame the link writes is a JSON object with an op;
// the pending table stays within its bound; a closed link leaves no type behind.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "compeit/ca/link_agent.hpp"
#include "compeit/ca/router.hpp"
#include "compeit/sio/engine.hpp"
#include "fuzz_support.hpp"

using namespace compeit;
using fuzz::json;

namespace {

constexpr const char* kTypes[] = {"poll", "vote", "x", ""};
constexpr const char* kOps[] = {"register", "watch", "unwatch", "ok", "fail", "to_user", "to_room",
                                "relay", "user_message", "members", "nope"};
constexpr const char* kFields[] = {"types", "takes", "rooms", "id", "code", "message", "data", "type",
                                   "to", "from", "room", "include_sender", "ref"};
constexpr const char* kTakes[] = {"room_message", "user_message", "chat"};

ca::LinkAgent::Config link_config() {
    ca::LinkAgent::Config c;
    c.max_pending = 4;
    c.max_rooms = 4;
    c.max_types = 3;
    c.max_frame = 32 * 1024;
    return c;
}

class Harness {
public:
    Harness() {
        limits_.max_data_bytes = 4 * 1024;
        router_ = std::make_unique<ca::Router>(limits_);
        engine_ = std::make_unique<sio::Engine>(sio::EngineConfig{}, host_, *router_);
        engine_->add_namespace(std::string(ca::kNamespace));
        router_->attach(*engine_);
        router_->on_fault([](const ca::Router::Fault&) { fuzz::fail(); });
        for (auto& link : links_) link = make_link();
        for (int i = 0; i < 3; ++i) {
            std::string random(sio::Engine::kSidRandomBytes, 'r');
            random.replace(0, 8, std::to_string(10'000'000 + i));
            clients_[i] = engine_->handshake(now_, random, "", "127.0.0.1").id;
            engine_->open_websocket(clients_[i], now_);
            engine_->on_ws_text(clients_[i], "1::/connection_agent", now_);
        }
    }

    void handle(std::string_view line) {
        if (line.size() < 2) return;
        const auto who = static_cast<std::uint8_t>(line[0]);
        now_ += sio::Time{who >> 4};
        fuzz::Bytes b(line.substr(2));
        ca::LinkAgent& link = *links_[who % 2];
        switch (line[1]) {
            case 'f': link.on_frame(b.rest(), now_); break;
            case 'T': link.on_frame(fuzz::dump(typed_frame(b)), now_); break;
            case 'x': links_[who % 2] = make_link(); break;  // the old one closes as it goes
            case 's': case 'r': client_message(who % 3, line[1] == 's' ? "server_message" : "room_message", b); break;
            case 'j': emit(who % 3, "join_room", json{{"room", b.pick(4)}}); break;
            case 'k':
                now_ += sio::Time{100 * b.pick(60)};
                router_->advance(now_);
                engine_->tick(now_);
                for (auto& l : links_) l->tick(now_);
                break;
            default: break;
        }
        engine_->flush(now_);
        for (auto& l : links_) fuzz::check(l->pending() <= link_config().max_pending);
    }

    // Every link gone: every type is free again.
    void finish() {
        for (auto& l : links_) l.reset();
        ca::LinkAgent fresh(*router_, link_config(), [](std::string) {});
        fresh.on_frame(R"({"op":"register","types":["poll","vote","x"]})", now_);
        fuzz::check(fresh.types().size() == 3);
    }

private:
    fuzz::CheckingHost host_;
    ca::Limits limits_;
    std::unique_ptr<ca::Router> router_;
    std::unique_ptr<sio::Engine> engine_;
    std::unique_ptr<ca::LinkAgent> links_[2];
    sio::SessionId clients_[3] = {};
    sio::Time now_{0};

    std::unique_ptr<ca::LinkAgent> make_link() {
        return std::make_unique<ca::LinkAgent>(*router_, link_config(), [](std::string frame) {
            fuzz::trace("link <-", frame);
            const json j = util::parse_json(frame);
            fuzz::check(j.is_object() && j.contains("op") && j["op"].is_string());
        });
    }

    json typed_frame(fuzz::Bytes& b) {
        json f{{"op", b.pick(16) ? json(fuzz::pick_of(b, kOps)) : fuzz::any_json(b, 1)}};
        for (std::size_t n = b.pick(6); n > 0; --n) {
            const char* field = fuzz::pick_of(b, kFields);
            switch (b.pick(4)) {
                case 0: f[field] = fuzz::any_json(b, 1); break;
                case 1: f[field] = json::array({fuzz::pick_of(b, kTypes), fuzz::pick_of(b, kTakes)}); break;
                case 2: f[field] = json::array({b.pick(5), b.pick(5)}); break;
                default: f[field] = static_cast<std::int64_t>(b.pick(8)); break;
            }
        }
        return f;
    }

    void client_message(std::size_t who, const char* event, fuzz::Bytes& b) {
        json arg{{"type", fuzz::pick_of(b, kTypes)}, {"data", fuzz::any_json(b, 1)}};
        if (b.pick(4) == 0) arg["to"] = 1 + b.pick(4);
        emit(who, event, arg);
    }

    void emit(std::size_t who, const char* name, const json& arg) {
        const json ev{{"name", name}, {"args", json::array({arg})}};
        engine_->on_ws_text(clients_[who], "5:1+:/connection_agent:" + fuzz::dump(ev), now_);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Harness h;
    fuzz::Lines lines(std::string_view(reinterpret_cast<const char*>(data), size));
    while (auto line = lines.next()) h.handle(*line);
    h.finish();
    return 0;
}
