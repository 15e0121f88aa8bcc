#include "compeit/sio/payload.hpp"

#include "compeit/util/json_scan.hpp"
#include "compeit/util/utf.hpp"

namespace compeit::sio {
namespace {

constexpr std::string_view kMark = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

template <class Range>
std::string encode_many(const Range& packets) {
    if (packets.size() == 1) return std::string(packets.front());
    std::string out;
    std::size_t total = 0;
    for (std::string_view p : packets) total += p.size() + 12;
    out.reserve(total);
    for (std::string_view p : packets) {
        out += kMark;
        out += std::to_string(utf::utf16_length(p));
        out += kMark;
        out += p;
    }
    return out;
}

}  // namespace

bool is_framed(std::string_view body) { return body.substr(0, kMark.size()) == kMark; }

Expected<std::vector<std::string_view>, DecodeError> decode_payload(std::string_view body) {
    std::vector<std::string_view> packets;
    if (!is_framed(body)) {
        if (!body.empty()) packets.push_back(body);
        return packets;
    }
    std::size_t pos = 0;
    while (pos < body.size()) {
        if (body.substr(pos, kMark.size()) != kMark) return unexpected(DecodeError::bad_framing);
        pos += kMark.size();
        const auto end = body.find(kMark, pos);
        if (end == std::string_view::npos || end == pos) return unexpected(DecodeError::bad_length);
        std::size_t units = 0;
        for (std::size_t i = pos; i < end; ++i) {
            const char c = body[i];
            if (c < '0' || c > '9' || units > 100'000'000) return unexpected(DecodeError::bad_length);
            units = units * 10 + static_cast<std::size_t>(c - '0');
        }
        pos = end + kMark.size();
        const auto rest = body.substr(pos);
        std::size_t bytes = rest.size();
        if (const auto cut = utf::prefix_bytes(rest, units)) {
            bytes = *cut;
        } else if (utf::utf16_length(rest) >= units) {
            return unexpected(DecodeError::bad_length);  // the length cuts a surrogate pair
        }  // else: a length past the end takes the remainder, as socket.io 0.9 does
        packets.push_back(rest.substr(0, bytes));
        pos += bytes;
    }
    return packets;
}

std::string encode_payload(const std::vector<Frame>& frames) {
    std::vector<std::string_view> views;
    views.reserve(frames.size());
    for (const auto& f : frames) views.emplace_back(*f);
    return encode_many(views);
}

std::string encode_payload(const std::vector<std::string_view>& packets) {
    return encode_many(packets);
}

std::string jsonp_wrap(std::string_view index, std::string_view payload) {
    std::string out = "io.j[";
    out += index;
    out += "](";
    util::append_json_string(out, payload);
    out += ");";
    return out;
}

}  // namespace compeit::sio
