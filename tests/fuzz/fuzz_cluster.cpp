// cluster::Node facing a Redis that answers anything: every line of the input
// is one action (a join, leave, publish, message to a user, a tick, a lost or
// new connection, or a reply or push built from the line's bytes, often shaped
// like the real ones, fed as the one RESP3 connection does: on_value tells
// pushes from replies). Invariants: nothing crashes or leaks (ASan, UBSan);
// frames go only to sessions that joined through the node or to its users;
// commands waiting for replies stay within their bound.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "compeit/cluster/node.hpp"
#include "fuzz_support.hpp"

using namespace compeit;
using fuzz::check;
using resp::Value;

namespace {

Value bulk(std::string s) { return Value::bulk(std::move(s)); }
Value integer(std::int64_t i) { return Value::number(i); }
Value array(std::vector<Value> e) { return Value::array(std::move(e)); }
Value push(std::vector<Value> e) { return Value::push(std::move(e)); }

// A value from the bytes: mostly shapes the node expects, with fields from the input.
Value any_value(fuzz::Bytes& b, int depth = 0) {
    switch (b.pick(depth > 2 ? 4 : 8)) {
        case 0: return integer(static_cast<std::int8_t>(b.byte()));
        case 1: return bulk(std::string(b.take(b.byte() % 24)));
        case 2: {
            Value v;
            v.kind = b.pick(2) ? Value::Kind::null : Value::Kind::error;
            v.str = "ERR fuzz";
            return v;
        }
        case 3: return bulk(std::to_string(b.byte() % 8) + " n" + std::to_string(b.byte() % 3) + " " +
                            std::to_string(b.byte() % 6) + " " + std::to_string(b.byte() % 4) + "\nframe");
        case 4: {  // RESP3's scalars and a map (HELLO's reply)
            Value v;
            v.kind = b.pick(2) ? Value::Kind::boolean : Value::Kind::map;
            if (v.kind == Value::Kind::map) v.elements = {bulk("proto"), integer(3)};
            return v;
        }
        default: {
            std::vector<Value> e;
            for (std::size_t n = b.pick(6); n > 0; --n) e.push_back(any_value(b, depth + 1));
            return array(std::move(e));
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    std::set<sio::SessionId> joined;                            // sessions the node was asked to join
    std::size_t deliveries = 0;
    cluster::NodeConfig config;
    config.name = "n1";
    config.max_held = 16;
    config.max_pending = 64;
    cluster::Node::Host host;
    host.deliver = [&](sio::SessionId s, const sio::Frame& f) {
        ++deliveries;
        check(joined.count(s) || s >= 1000);  // a room member, or a local user (ids 1000+ below)
        (void)f;
    };
    host.output = [] {};
    host.need_ids = [] {};
    host.reaped_leave = [](const ca::User&, ca::RoomId) {};
    host.drop = [](const std::vector<sio::SessionId>&, std::string_view) {};
    cluster::Node node(config, host);
    sio::Time now{0};
    node.connected(now);

    fuzz::Lines lines(in);
    while (auto line = lines.next()) {
        fuzz::Bytes b(*line);
        const ca::RoomId room = b.byte() % 3;
        const sio::SessionId session = 1 + b.byte() % 4;
        switch (b.pick(12)) {
            case 0:
                joined.insert(session);
                node.join(room, session, ca::User(session, "u"), sio::make_frame("J"), [](auto) {});
                break;
            case 1: node.leave(room, session, ca::User(session, "u"), sio::make_frame("L")); break;
            case 2: node.publish(room, sio::make_frame("M"), session, b.byte() % 4, [](bool) {}); break;
            case 3: node.to_user(b.byte(), sio::make_frame("U"), [](bool) {}); break;
            case 4:
                node.user_online(ca::User(1000 + session, "u"), 1000 + session);
                break;
            case 5: now += sio::Time(b.byte() * 20); node.tick(now); break;
            case 6: node.disconnected(); break;
            case 7: node.connected(now); break;
            case 8: node.on_value(push({bulk("subscribe"), bulk("compeit:r:" + std::to_string(room)), integer(1)})); break;
            case 9:
                node.on_value(push({bulk("message"), bulk(b.pick(4) ? "compeit:r:" + std::to_string(room) : "compeit:n:n1"),
                                    any_value(b)}));
                break;
            case 10: {
                Value v = any_value(b);
                if (v.kind == Value::Kind::array) v.kind = Value::Kind::push;
                node.on_value(std::move(v));
                break;
            }
            default: node.on_value(any_value(b)); break;
        }
        node.take_commands();
        check(node.pending_commands() <= config.max_pending);
    }
    (void)deliveries;
    return 0;
}
