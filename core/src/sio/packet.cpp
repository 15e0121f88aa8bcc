#include "compeit/sio/packet.hpp"

#include "compeit/util/json_scan.hpp"
#include "compeit/util/utf.hpp"

namespace compeit::sio {
namespace {

bool all_digits(std::string_view s) {
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}


}  // namespace

const char* to_string(DecodeError e) {
    switch (e) {
        case DecodeError::empty: return "empty packet";
        case DecodeError::bad_type: return "bad packet type";
        case DecodeError::bad_id: return "bad message id";
        case DecodeError::truncated: return "truncated packet";
        case DecodeError::bad_json: return "bad JSON";
        case DecodeError::bad_utf8: return "invalid UTF-8";
        case DecodeError::bad_framing: return "bad payload framing";
        case DecodeError::bad_length: return "bad payload length";
    }
    return "unknown error";
}

Expected<Packet, DecodeError> decode(std::string_view text) {
    if (text.empty()) return unexpected(DecodeError::empty);
    if (!utf::valid_utf8(text)) return unexpected(DecodeError::bad_utf8);

    const auto c1 = text.find(':');
    if (c1 == std::string_view::npos) return unexpected(DecodeError::truncated);
    const auto type = text.substr(0, c1);
    if (type.size() != 1 || type[0] < '0' || type[0] > '8') return unexpected(DecodeError::bad_type);

    const auto c2 = text.find(':', c1 + 1);
    if (c2 == std::string_view::npos) return unexpected(DecodeError::truncated);
    auto id = text.substr(c1 + 1, c2 - c1 - 1);
    Packet p;
    p.type = static_cast<PacketType>(type[0] - '0');
    if (!id.empty() && id.back() == '+') {
        p.data_ack = true;
        id.remove_suffix(1);
    }
    if (!all_digits(id) || (p.data_ack && id.empty())) return unexpected(DecodeError::bad_id);
    p.id = std::string(id);

    const auto rest = text.substr(c2 + 1);
    const auto c3 = rest.find(':');
    if (c3 == std::string_view::npos) {
        p.endpoint = std::string(rest);
    } else {
        p.endpoint = std::string(rest.substr(0, c3));
        p.data = std::string(rest.substr(c3 + 1));
    }
    return p;
}

void encode_into(std::string& out, const Packet& p) {
    out += static_cast<char>('0' + static_cast<int>(p.type));
    out += ':';
    out += p.id;
    if (p.data_ack) out += '+';
    out += ':';
    out += p.endpoint;
    if (!p.data.empty()) {
        out += ':';
        out += p.data;
    }
}

std::string encode(const Packet& p) {
    std::string out;
    out.reserve(4 + p.id.size() + p.endpoint.size() + p.data.size());
    encode_into(out, p);
    return out;
}

ErrorData parse_error(std::string_view data) {
    ErrorData e;
    const auto plus = data.find('+');
    const auto reason = data.substr(0, plus);
    if (reason == "0" || reason == "1" || reason == "2")
        e.reason = static_cast<ErrorReason>(reason[0] - '0');
    if (plus != std::string_view::npos && data.substr(plus + 1) == "0") e.advice = ErrorAdvice::reconnect;
    return e;
}

Packet make_error(std::string endpoint, std::optional<ErrorReason> reason,
                  std::optional<ErrorAdvice> advice) {
    Packet p;
    p.type = PacketType::error;
    p.endpoint = std::move(endpoint);
    if (reason) p.data += static_cast<char>('0' + static_cast<int>(*reason));
    if (advice) {
        p.data += '+';
        p.data += static_cast<char>('0' + static_cast<int>(*advice));
    }
    return p;
}

Expected<AckData, DecodeError> parse_ack(std::string_view data) {
    AckData a;
    const auto plus = data.find('+');
    const auto id = data.substr(0, plus);
    if (id.empty() || !all_digits(id)) return unexpected(DecodeError::bad_id);
    a.id = std::string(id);
    if (plus != std::string_view::npos) {
        a.has_args = true;
        a.args = std::string(data.substr(plus + 1));
    }
    return a;
}

Packet make_ack(std::string endpoint, std::string id, std::optional<std::string> args_json) {
    Packet p;
    p.type = PacketType::ack;
    p.endpoint = std::move(endpoint);
    p.data = std::move(id);
    if (args_json) {
        p.data += '+';
        p.data += *args_json;
    }
    return p;
}

std::string encode_event(std::string_view endpoint, std::string_view name,
                         std::string_view args_json, std::string_view id, bool data_ack) {
    std::string out;
    out.reserve(24 + endpoint.size() + name.size() + args_json.size() + id.size());
    out += "5:";
    out += id;
    if (data_ack) out += '+';
    out += ':';
    out += endpoint;
    out += ":{\"name\":";
    util::append_json_string(out, name);
    if (!args_json.empty()) {
        out += ",\"args\":";
        out += args_json;
    }
    out += '}';
    return out;
}

}  // namespace compeit::sio
