// The C ABI the ES module calls. Strings cross as UTF-8 in the module's
// memory; everything the core wants done comes back as one JSON array from
// compeit_take_outputs(). No protocol logic lives here or in the JS glue.
#include <emscripten/emscripten.h>

#include <memory>
#include <string>
#include <vector>

#include "compeit/agents/chat_client.hpp"
#include "compeit/agents/kurento_client.hpp"
#include "compeit/ca/client.hpp"
#include "compeit/util/json_scan.hpp"

namespace {

using compeit::sio::Time;

struct Instance {
    compeit::ca::Client client;
    compeit::agents::ChatClient chat;
    compeit::agents::KurentoClient kurento;
    std::string outputs;  // the last compeit_take_outputs() answer, kept alive for JS to read
    Instance(std::string url, std::string name, std::string token)
        : client(config(std::move(url), std::move(name), std::move(token))), chat(client), kurento(client) {}
    static compeit::ca::ClientConfig config(std::string url, std::string name, std::string token) {
        compeit::ca::ClientConfig c{std::move(url), std::move(name)};
        c.token = std::move(token);
        return c;
    }
};

std::vector<std::unique_ptr<Instance>> g_instances;

Instance* get(int h) {
    return h >= 0 && static_cast<std::size_t>(h) < g_instances.size() ? g_instances[h].get() : nullptr;
}

Time ms(double now) { return Time(static_cast<std::int64_t>(now)); }

const char* kind_name(compeit::ca::Output::Kind k) {
    using K = compeit::ca::Output::Kind;
    switch (k) {
        case K::http_get: return "http_get";
        case K::ws_open: return "ws_open";
        case K::ws_send: return "ws_send";
        case K::ws_close: return "ws_close";
        case K::event: return "event";
        case K::ack: return "ack";
        case K::agent: return "agent";
    }
    return "event";
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE int compeit_new(const char* url, const char* name, const char* token) {
    g_instances.push_back(std::make_unique<Instance>(url, name, token));
    return static_cast<int>(g_instances.size() - 1);
}

EMSCRIPTEN_KEEPALIVE void compeit_delete(int h) {
    if (get(h)) g_instances[h].reset();
}

// Connection options as a JSON object (see ca::apply_client_options):
// {reconnect, maxAttempts, minDelay, maxDelay, jitter, resume, seed}; unknown
// keys ignored, bad values ignored or clamped. 1 when applied, 0 when not an object.
EMSCRIPTEN_KEEPALIVE int compeit_configure(int h, const char* json) {
    auto* i = get(h);
    return i && json && i->client.configure(json) ? 1 : 0;
}

EMSCRIPTEN_KEEPALIVE void compeit_connect(int h, double now) {
    if (auto* i = get(h)) i->client.connect(ms(now));
}

EMSCRIPTEN_KEEPALIVE void compeit_disconnect(int h) {
    if (auto* i = get(h)) i->client.disconnect();
}

EMSCRIPTEN_KEEPALIVE void compeit_on_http(int h, int status, const char* body, double now) {
    if (auto* i = get(h)) i->client.on_http(status, body, ms(now));
}

EMSCRIPTEN_KEEPALIVE void compeit_on_ws_open(int h, double now) {
    if (auto* i = get(h)) i->client.on_ws_open(ms(now));
}

EMSCRIPTEN_KEEPALIVE void compeit_on_ws_message(int h, const char* text, double now) {
    if (auto* i = get(h)) i->client.on_ws_message(text, ms(now));
}

EMSCRIPTEN_KEEPALIVE void compeit_on_ws_close(int h, double now) {
    if (auto* i = get(h)) i->client.on_ws_close(ms(now));
}

EMSCRIPTEN_KEEPALIVE void compeit_tick(int h, double now) {
    if (auto* i = get(h)) i->client.tick(ms(now));
}

EMSCRIPTEN_KEEPALIVE int compeit_state(int h) {
    auto* i = get(h);
    return i ? static_cast<int>(i->client.state()) : -1;
}

// [{op, text?, data?, request?, channel?, from?}, ...], built as text: the
// payloads are spans of what the server sent and go to JS untouched.
EMSCRIPTEN_KEEPALIVE const char* compeit_take_outputs(int h) {
    auto* i = get(h);
    if (!i) return "[]";
    std::string& out = i->outputs;
    out.assign("[");
    for (auto& o : i->client.take_outputs()) {
        if (out.size() > 1) out += ',';
        out += "{\"op\":\"";
        out += kind_name(o.kind);
        out += '"';
        if (!o.text.empty()) {
            out += ",\"text\":";
            compeit::util::append_json_string(out, o.text);
        }
        if (!o.payload.empty()) {
            out += ",\"data\":";
            out += o.payload;
        }
        if (o.request) out += ",\"request\":" + std::to_string(o.request);
        if (!o.channel.empty()) {
            out += ",\"channel\":\"" + o.channel + "\",\"from\":" + std::to_string(o.from);
        }
        out += '}';
    }
    out += ']';
    return out.c_str();
}

EMSCRIPTEN_KEEPALIVE double compeit_join_room(int h, double room) {
    auto* i = get(h);
    return i ? static_cast<double>(i->client.join_room(static_cast<compeit::ca::RoomId>(room))) : 0;
}

EMSCRIPTEN_KEEPALIVE double compeit_leave_room(int h) {
    auto* i = get(h);
    return i ? static_cast<double>(i->client.leave_room()) : 0;
}

// channel: 0 server, 1 room, 2 user (to)
EMSCRIPTEN_KEEPALIVE double compeit_send(int h, int channel, double to, const char* type, const char* data_json) {
    auto* i = get(h);
    if (!i) return 0;
    const std::string_view data = data_json ? data_json : "null";
    switch (channel) {
        case 0: return static_cast<double>(i->client.send_server(type, data));
        case 1: return static_cast<double>(i->client.send_room(type, data));
        default: return static_cast<double>(i->client.send_user(static_cast<compeit::ca::UserId>(to), type, data));
    }
}

EMSCRIPTEN_KEEPALIVE int compeit_register(int h, const char* type) {
    auto* i = get(h);
    return i && i->client.register_agent(type, nullptr) ? 1 : 0;
}

EMSCRIPTEN_KEEPALIVE double compeit_chat_send(int h, const char* text) {
    auto* i = get(h);
    return i ? static_cast<double>(i->chat.send(text)) : 0;
}

EMSCRIPTEN_KEEPALIVE double compeit_chat_send_to(int h, double to, const char* text) {
    auto* i = get(h);
    return i ? static_cast<double>(i->chat.send_to(static_cast<compeit::ca::UserId>(to), text)) : 0;
}

// before/limit < 0: not given
EMSCRIPTEN_KEEPALIVE double compeit_chat_history(int h, double before, double limit) {
    auto* i = get(h);
    if (!i) return 0;
    std::optional<std::int64_t> b, l;
    if (before >= 0) b = static_cast<std::int64_t>(before);
    if (limit >= 0) l = static_cast<std::int64_t>(limit);
    return static_cast<double>(i->chat.history(b, l));
}

EMSCRIPTEN_KEEPALIVE void compeit_media_publish(int h, int audio, int video) {
    if (auto* i = get(h)) i->kurento.publish(audio != 0, video != 0);
}

EMSCRIPTEN_KEEPALIVE void compeit_media_unpublish(int h) {
    if (auto* i = get(h)) i->kurento.unpublish();
}

EMSCRIPTEN_KEEPALIVE void compeit_media_update(int h, int audio, int video) {
    if (auto* i = get(h)) i->kurento.update(audio != 0, video != 0);
}

EMSCRIPTEN_KEEPALIVE void compeit_media_record(int h, int start) {
    if (auto* i = get(h)) i->kurento.record(start != 0);
}

EMSCRIPTEN_KEEPALIVE void compeit_media_filter(int h, const char* filter) {
    if (auto* i = get(h)) i->kurento.set_filter(filter ? filter : "");
}

// What the browser did for an rtc request: op is offer, answer, candidate, remote_set or failed.
EMSCRIPTEN_KEEPALIVE void compeit_media_report(int h, const char* op, const char* pc, const char* payload_json) {
    if (auto* i = get(h)) i->kurento.report(op, pc, payload_json ? payload_json : "{}");
}

}  // extern "C"
