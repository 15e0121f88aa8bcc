// Polling payload framing of socket.io 0.9: with two or more packets each one
// is written `\ufffd<len>\ufffd<packet>`, where <len> counts UTF-16 code units
// (JavaScript string length). A single packet travels bare.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "compeit/sio/packet.hpp"

namespace compeit::sio {

// One encoded packet, shared between every recipient of a broadcast.
using Frame = std::shared_ptr<const std::string>;

inline Frame make_frame(std::string packet_text) {
    return std::make_shared<const std::string>(std::move(packet_text));
}

// A body is framed iff it starts with U+FFFD (bytes EF BF BD).
bool is_framed(std::string_view body);

// Splits a polling body into packet texts (views into `body`). A body that is
// not framed is one packet. A declared length past the end takes the
// remainder, as socket.io 0.9 does; a non-numeric length or one that cuts a
// character is an error.
Expected<std::vector<std::string_view>, DecodeError> decode_payload(std::string_view body);

// Encodes packets as one polling body (bare when there is exactly one).
std::string encode_payload(const std::vector<Frame>& frames);
std::string encode_payload(const std::vector<std::string_view>& packets);

// `io.j[<index>]("<payload as a JSON string>");` for jsonp-polling. Non-ASCII
// characters travel raw, as socket.io 0.9 sends them.
std::string jsonp_wrap(std::string_view index, std::string_view payload);

}  // namespace compeit::sio
