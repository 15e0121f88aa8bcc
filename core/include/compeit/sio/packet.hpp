// socket.io protocol revision 1 (socket.io 0.9) packets: the value type and its
// pure codec. Grammar: `<type>:<id>[+]:<endpoint>[:<data>]`.
//
// A Packet is one struct rather than nine types because every packet type
// shares the same four fields on the wire; the typed views below (event, ack,
// error) are decoded on demand, so a packet is parsed once and only as deeply
// as its consumer needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "compeit/util/expected.hpp"

namespace compeit::sio {

enum class PacketType : std::uint8_t {
    disconnect = 0,
    connect = 1,
    heartbeat = 2,
    message = 3,
    json = 4,
    event = 5,
    ack = 6,
    error = 7,
    noop = 8,
};

enum class DecodeError : std::uint8_t {
    empty,        // no bytes at all
    bad_type,     // not a single digit 0..8 before the first ':'
    bad_id,       // message id is not decimal digits (optionally followed by '+')
    truncated,    // fewer fields than the grammar requires
    bad_json,     // event/json/ack data is not the JSON it must be
    bad_utf8,     // the text is not valid UTF-8
    bad_framing,  // polling payload framing is wrong (see payload.hpp)
    bad_length,   // a framed length is not a number, or cuts a character
};

const char* to_string(DecodeError e);

struct Packet {
    PacketType type = PacketType::noop;
    std::string id;         // message id as sent ("007" stays "007"); empty = none
    bool data_ack = false;  // '+': the sender wants a data ack
    std::string endpoint;   // namespace, "" for the root
    std::string data;       // the raw data field, "" when absent

    bool operator==(const Packet&) const = default;
};

// Decodes one packet. Never throws; malformed input gives an error value.
Expected<Packet, DecodeError> decode(std::string_view text);

// Encodes one packet; the `:data` part is left out when data is empty, as
// socket.io 0.9's encoder does (`1::`, `0::/chat`).
std::string encode(const Packet& p);
void encode_into(std::string& out, const Packet& p);

// Error packets: reason and advice indexes of socket.io 0.9.
enum class ErrorReason : std::uint8_t { transport_not_supported = 0, client_not_handshaken = 1, unauthorized = 2 };
enum class ErrorAdvice : std::uint8_t { reconnect = 0 };

struct ErrorData {
    std::optional<ErrorReason> reason;
    std::optional<ErrorAdvice> advice;
};
ErrorData parse_error(std::string_view data);
Packet make_error(std::string endpoint, std::optional<ErrorReason> reason,
                  std::optional<ErrorAdvice> advice = std::nullopt);

// Ack packets: `<ackId>` or `<ackId>+<JSON array>`.
struct AckData {
    std::string id;
    bool has_args = false;
    std::string args;  // raw JSON text of the argument array
};
Expected<AckData, DecodeError> parse_ack(std::string_view data);
Packet make_ack(std::string endpoint, std::string id, std::optional<std::string> args_json);

// Builds `5:<id>[+]:<endpoint>:{"name":<name>,"args":<args>}` directly,
// without a JSON tree; `args_json` is the already-encoded argument array
// (empty string: no args member, as socket.io does for an empty list).
std::string encode_event(std::string_view endpoint, std::string_view name,
                         std::string_view args_json, std::string_view id = {},
                         bool data_ack = false);

}  // namespace compeit::sio
