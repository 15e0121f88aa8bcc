#include "compeit/ca/link_frame.hpp"

#include "compeit/ca/input.hpp"
#include "compeit/util/json_guard.hpp"
#include "compeit/util/json_scan.hpp"

namespace compeit::ca::link {
namespace {

constexpr std::size_t kMaxDepth = 32;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// `ref` is echoed back: a short string or an integer, nothing else.
json read_ref(const json& frame) {
    if (!frame.is_object()) return nullptr;
    const auto it = frame.find("ref");
    if (it == frame.end()) return nullptr;
    if (it->is_number_integer() || it->is_number_unsigned()) return *it;
    if (it->is_string() && it->get_ref<const std::string&>().size() <= kMaxRefBytes) return *it;
    return nullptr;
}

// An array of short strings (types), or of room ids.
bool read_types(const json* v, std::vector<std::string>& out) {
    if (!v || !v->is_array() || v->size() > kMaxTypesPerFrame) return false;
    for (const json& t : *v) {
        if (!t.is_string()) return false;
        const auto& s = t.get_ref<const std::string&>();
        if (s.empty() || s.size() > kMaxTypeBytes) return false;
        out.push_back(s);
    }
    return true;
}

bool read_rooms(const json* v, std::vector<RoomId>& out) {
    if (!v || !v->is_array() || v->size() > kMaxRoomsPerFrame) return false;
    for (const json& r : *v) {
        if (!(r.is_number_integer() || r.is_number_unsigned())) return false;
        const auto id = r.get<std::int64_t>();
        if (id < 0 || id > kMaxRoomId) return false;
        out.push_back(id);
    }
    return true;
}

// Reads the fields of one op; the first problem is kept in `in`.
struct Reader {
    Input& in;
    std::string type() { return in.opt_string("type", kMaxTypeBytes).value_or(""); }
    RoomId room() {
        const auto r = in.opt_integer("room", 0, kMaxRoomId);
        if (!r && in) in.fail("room must be an integer from 0 to 2^53-1");
        return r.value_or(0);
    }
    json data() {
        const json* d = in.any("data");
        return d ? *d : json();
    }
};

Expected<Op, std::string> read_op(const std::string& op, Input& in, const json& frame) {
    Reader r{in};
    if (op == "register") {
        Register reg;
        if (!read_types(frame.contains("types") ? &frame["types"] : nullptr, reg.types) || reg.types.empty())
            return unexpected(std::string("types must be an array of 1 to 8 non-empty strings of at most 64 bytes"));
        if (frame.contains("takes")) {
            std::vector<std::string> takes;
            if (!read_types(&frame["takes"], takes)) return unexpected(std::string("takes must be an array of strings"));
            for (const auto& t : takes) {
                if (t == "room_message") reg.takes_room = true;
                else if (t == "user_message") reg.takes_user = true;
                else return unexpected("takes: unknown " + t + " (room_message or user_message)");
            }
        }
        return Op{std::move(reg)};
    }
    if (op == "watch" || op == "unwatch") {
        Watch w;
        w.watch = op == "watch";
        if (!read_rooms(frame.contains("rooms") ? &frame["rooms"] : nullptr, w.rooms))
            return unexpected(std::string("rooms must be an array of at most 256 room ids"));
        return Op{std::move(w)};
    }
    if (op == "ok" || op == "fail") {
        Answer a;
        const auto id = in.opt_integer("id", 1, kMaxRoomId);
        if (!id && in) in.fail("id must be a request id");
        a.id = static_cast<std::uint64_t>(id.value_or(0));
        if (op == "fail") {
            const std::string code = in.string("code", 32);
            a.message = in.opt_string("message", kMaxMessageBytes).value_or("");
            if (!in) return unexpected(in.error());
            a.code = parse_error_code(code);
            if (!a.code) return unexpected("code: unknown error code " + code);
        } else if (frame.contains("data")) {
            a.data = frame["data"];
        }
        if (!in) return unexpected(in.error());
        return Op{std::move(a)};
    }
    if (op == "to_user") {
        ToUser t{r.type(), in.user("to"), r.data()};
        if (!in) return unexpected(in.error());
        return Op{std::move(t)};
    }
    if (op == "to_room") {
        ToRoom t{r.type(), r.room(), r.data()};
        if (!in) return unexpected(in.error());
        return Op{std::move(t)};
    }
    if (op == "relay") {
        Relay t{r.type(), r.room(), in.user("from"), r.data(), in.boolean("include_sender", false)};
        if (!in) return unexpected(in.error());
        return Op{std::move(t)};
    }
    if (op == "user_message") {
        UserMessage t{r.type(), in.user("to"), in.user("from"), r.data()};
        if (!in) return unexpected(in.error());
        return Op{std::move(t)};
    }
    if (op == "members") {
        Members m{r.room()};
        if (!in) return unexpected(in.error());
        return Op{m};
    }
    return unexpected(std::string());  // unknown op
}

}  // namespace

std::optional<ErrorCode> parse_error_code(std::string_view name) {
    for (int c = 0; c <= static_cast<int>(ErrorCode::internal); ++c)
        if (to_string(static_cast<ErrorCode>(c)) == name) return static_cast<ErrorCode>(c);
    return std::nullopt;
}

Expected<Frame, LinkError> decode(std::string_view text, std::size_t max_bytes, std::size_t max_data) {
    if (text.size() > max_bytes)
        return unexpected(LinkError{"too_large", "frame larger than " + std::to_string(max_bytes) + " bytes", nullptr});
    const auto span = util::json_value_span(text, kMaxDepth);
    if (!span) return unexpected(LinkError{"bad_json", "not one JSON value (or nested too deeply)", nullptr});
    json frame = util::parse_json(*span, kMaxDepth);
    if (frame.is_discarded()) return unexpected(LinkError{"bad_json", "not one JSON value", nullptr});
    json ref = read_ref(frame);
    if (!frame.is_object()) return unexpected(LinkError{"bad_request", "a frame must be an object", ref});
    if (const auto data = util::json_member(*span, "data"); data && data->size() > max_data)
        return unexpected(LinkError{"too_large", "data larger than " + std::to_string(max_data) + " bytes", ref});
    Input in(frame, "frame");
    const auto op = in.opt_string("op", 32);
    if (!op) return unexpected(LinkError{"bad_request", in ? "op must be a string" : in.error(), ref});
    auto result = read_op(*op, in, frame);
    if (!result) {
        if (result.error().empty()) return unexpected(LinkError{"unknown_op", "unknown op " + dump(json(*op)), ref});
        return unexpected(LinkError{"bad_request", result.error(), ref});
    }
    return Frame{std::move(*result), std::move(ref)};
}

std::string error_frame(std::string_view code, std::string_view message, const json& ref) {
    json j{{"op", "error"}, {"code", code}, {"message", message}};
    if (!ref.is_null()) j["ref"] = ref;
    return dump(j);
}

}  // namespace compeit::ca::link
