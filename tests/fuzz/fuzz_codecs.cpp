// Every decoder of the core on arbitrary bytes: none may crash, hang or read
// out of bounds, whole or fed one byte at a time. Covered: socket.io packets
// and polling payloads, websocket frames (the server's decoder), the JSON
// span scanner (against nlohmann), URLs and query strings, the UTF helpers,
// and what Kurento Media Server and Janus send (the sessions' message
// parsing, candidates, errors and filter strings), and access tokens (JWT).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compeit/auth/token.hpp"
#include "compeit/janus/janus_backend.hpp"
#include "compeit/janus/session.hpp"
#include "compeit/kms/session.hpp"
#include "compeit/kms/wire.hpp"
#include "compeit/util/base64url.hpp"
#include "fuzz_support.hpp"

#include "compeit/sio/packet.hpp"
#include "compeit/sio/payload.hpp"
#include "compeit/util/json_guard.hpp"
#include "compeit/util/json_scan.hpp"
#include "compeit/util/url.hpp"
#include "compeit/util/utf.hpp"
#include "compeit/ws/frame.hpp"

using namespace compeit;

namespace {

// A media-server message to both sessions, in each of their states: just
// open, and (Janus) with its session made and requests waiting, so that
// answers and events about handles are parsed too.
void media_messages(std::string_view in) {
    kms::Session kms;
    kms.on_open(kms::Time{0});
    kms.request("create", ca::json{{"type", "MediaPipeline"}}, [](kms::Result) {});
    kms.listen("obj1", "IceCandidateFound", [](const std::string&, const std::string&, const ca::json& d) {
        (void)kms::to_browser_candidate(d);
    });
    kms.on_message(in);
    (void)kms.take_frames();

    janus::Session janus;
    janus.on_message(in);  // closed: ignored
    janus.on_open(janus::Time{0});
    janus.on_message(in);  // the answer to "create"
    janus::Session ready;
    ready.on_open(janus::Time{0});
    ready.on_message(R"({"janus":"success","transaction":"t1","data":{"id":7}})");
    ready.attach("janus.plugin.videoroom", [](auto) {});
    ready.message(1, ca::json{{"request", "join"}}, nullptr, [](janus::Result r) {
        if (!r) (void)janus::to_media_error(r.error());
    });
    ready.listen(1, [](const ca::json&) {});
    ready.on_message(in);
    (void)ready.take_frames();
}

// What the backends parse out of JSON the browser or the media server sent.
void media_values(std::string_view in) {
    const auto tree = util::parse_json(in);
    if (tree.is_discarded()) return;
    (void)kms::to_kms_candidate(tree);
    (void)kms::to_browser_candidate(tree);
    (void)janus::to_janus_candidate(tree);
    if (tree.is_string()) (void)kms::filter_spec(tree.get<std::string>());
}

// Every message of a websocket byte stream, fed whole or one byte at a time
// (the two must agree), then the error that ended it, if any.
struct WsResult {
    std::vector<ws::Message> messages;
    std::optional<ws::Error> error;
};
WsResult ws_decode(std::string_view in, bool bytewise) {
    WsResult r;
    ws::Decoder d(1 << 16);
    auto drain = [&] {
        while (!r.error) {
            auto m = d.next();
            if (!m) r.error = m.error();
            else if (!*m) return;
            else r.messages.push_back(std::move(**m));
        }
    };
    if (!bytewise) {
        d.feed(in);
        drain();
        return r;
    }
    for (char c : in) {
        if (r.error) break;
        d.feed(std::string_view(&c, 1));
        drain();
    }
    return r;
}

bool same(const std::vector<ws::Message>& a, const std::vector<ws::Message>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].opcode != b[i].opcode || a[i].payload != b[i].payload) return false;
    return true;
}

// What a decoder accepts, its encoder writes back to the same value; what
// the helpers promise about their results.
void round_trips(std::string_view in) {
    if (const auto p = sio::decode(in)) {
        const auto again = sio::decode(sio::encode(*p));
        fuzz::check(again && *again == *p);
    }
    if (const auto packets = sio::decode_payload(in); packets && packets->size() > 1) {
        const std::string body = sio::encode_payload(*packets);
        const auto again = sio::decode_payload(body);
        fuzz::check(again && *again == *packets);
    }

    const auto whole = ws_decode(in, false);
    const auto bytewise = ws_decode(in, true);
    fuzz::check(same(whole.messages, bytewise.messages) && whole.error == bytewise.error);
    for (const auto& m : whole.messages) {
        const auto mask = std::array<std::uint8_t, 4>{1, 2, 3, 4};
        const auto again = ws_decode(ws::encode_message(m.opcode, m.payload, mask), false);
        fuzz::check(!again.error && same(again.messages, {m}));
    }

    fuzz::check(utf::valid_utf8(utf::sanitize(in)));
    fuzz::check(url::decode_component(in).size() <= in.size());
    if (utf::valid_utf8(in)) {
        fuzz::check(utf::sanitize(in) == in);
        fuzz::check(utf::prefix_bytes(in, utf::utf16_length(in)) == in.size());
        const std::size_t n = in.size() / 3;
        const std::string cut = utf::truncate_code_points(in, n);
        fuzz::check(utf::valid_utf8(cut) && utf::code_points(cut) <= n && in.substr(0, cut.size()) == cut);
        std::string quoted;
        util::append_json_string(quoted, in);
        fuzz::check(util::json_value_span(quoted).has_value() && util::json_string(quoted) == std::string(in));
    }
}

// Access tokens: what parse_token accepts, make_token writes back to the same claims.
void tokens(std::string_view in) {
    if (const auto bytes = util::base64url_decode(in))
        fuzz::check(util::base64url_decode(util::base64url_encode(*bytes)) == *bytes);
    const auto token = auth::parse_token(in);
    if (!token) return;
    (void)auth::check_time(token->claims, 1'700'000'000, 60);
    const auto& c = token->claims;
    const auto again = auth::parse_token(
        auth::make_token(token->alg, c, [&](std::string_view) { return token->signature; }));
    fuzz::check(again.has_value());
    const auto& d = again->claims;
    fuzz::check(again->alg == token->alg && again->signature == token->signature && d.sub == c.sub &&
                d.name == c.name && d.all_rooms == c.all_rooms && d.rooms == c.rooms && d.exp == c.exp &&
                d.nbf == c.nbf);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    if (auto p = sio::decode(in)) {
        (void)sio::encode(*p);
        (void)sio::parse_ack(p->data);
        (void)sio::parse_error(p->data);
    }
    if (auto packets = sio::decode_payload(in)) (void)sio::encode_payload(*packets);
    (void)sio::jsonp_wrap("0", in);

    (void)utf::utf16_length(in);
    (void)utf::prefix_bytes(in, size / 2);
    (void)utf::sanitize(in);
    (void)url::query_param(in, "name");
    (void)url::decode_component(in);
    const auto target = url::split_target(in);
    (void)url::query_param(target.query, "i");
    (void)utf::valid_utf8(in);
    (void)utf::code_points(in);
    (void)utf::truncate_code_points(in, size / 3);
    (void)kms::filter_spec(std::string(in));
    media_messages(in);
    media_values(in);

    // What the span scanner accepts, nlohmann must parse too, and its
    // serialisation must scan again (the scanner is the project's definition
    // of JSON; parse_json goes through it).
    // (On UTF-8 text: bytes are validated before JSON is scanned, by the packet decoder.)
    // nlohmann refuses two things the JSON grammar (and JavaScript) allow:
    // numbers beyond double range (5E11112) and lone surrogate escapes
    // (\udddd). Inputs that may hold either are left out of this check.
    bool exponent = false;
    std::size_t digits = 0;
    for (std::size_t i = 1; i < in.size(); ++i) {
        exponent |= (in[i] == 'e' || in[i] == 'E') && ((in[i - 1] >= '0' && in[i - 1] <= '9') || in[i - 1] == '.');
        exponent |= in[i] == 'u' && in[i - 1] == '\\';
        digits = in[i] >= '0' && in[i] <= '9' ? digits + 1 : 0;
        exponent |= digits > 300;  // a number this long is beyond double range too
    }
    const auto span = util::json_value_span(in);
    if (span && utf::valid_utf8(in) && !exponent) {
        const auto tree = nlohmann::json::parse(span->begin(), span->end(), nullptr, false);
        if (tree.is_discarded()) __builtin_trap();
        if (!util::json_value_span(tree.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), 200))
            __builtin_trap();
    }
    if (span) {
        util::for_each_member(*span, [](std::string_view k, std::string_view v) {
            (void)util::json_string(v);
            (void)util::json_integer(v);
            (void)k;
        });
        util::for_each_element(*span, [](std::string_view v) { (void)util::json_first_element(v); });
    }

    round_trips(in);
    tokens(in);
    return 0;
}
