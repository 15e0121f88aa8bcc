// RFC 6455 framing, sans I/O: bytes in, messages out; headers out for the
// caller to gather-write in front of shared payloads. Used by the native
// server (server side: a client's frames must be masked, RFC 6455 5.1) and
// by the load generator (client side: masks what it sends, and a server's
// frames must not be masked).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "compeit/util/expected.hpp"

namespace compeit::ws {

enum class Opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

// Why a connection must be failed; the value is the close code to send.
enum class Error : std::uint16_t {
    protocol_error = 1002,  // reserved bits, unknown opcode, bad fragmentation
    bad_data = 1007,        // text that is not UTF-8
    too_big = 1009,         // a frame or message over the limit
};

// A complete message (fragments reassembled) or a control frame.
struct Message {
    Opcode opcode = Opcode::text;
    std::string payload;
};

// Whose frames a decoder reads. A frame masked the wrong way fails the
// connection with protocol_error (1002).
enum class From : std::uint8_t { client, server };

class Decoder {
public:
    explicit Decoder(std::size_t max_message, From from = From::client) : max_message_(max_message), from_(from) {}

    // Appends received bytes. The caller may read into `buffer_tail(n)` instead.
    void feed(std::string_view bytes);

    // The next complete message, nullopt when more bytes are needed, or an
    // error after which the decoder stays failed. A frame whose header
    // declares more than the limit fails at once, before its payload arrives.
    Expected<std::optional<Message>, Error> next();

    // Bytes buffered but not yet decoded (for slow-client accounting).
    std::size_t buffered() const { return buf_.size() - pos_; }

private:
    std::size_t max_message_;
    From from_;
    std::string buf_;
    std::size_t pos_ = 0;
    bool failed_ = false;
    Error error_ = Error::protocol_error;
    // A fragmented data message being reassembled.
    bool in_message_ = false;
    Opcode message_opcode_ = Opcode::text;
    std::string message_;

    Expected<std::optional<Message>, Error> fail(Error e);
};

// A frame header of at most 14 bytes.
struct Header {
    std::array<std::uint8_t, 14> bytes{};
    std::uint8_t size = 0;
    std::string_view view() const { return {reinterpret_cast<const char*>(bytes.data()), size}; }
};

// Header for a single-frame (FIN) message. With a mask the caller must XOR
// the payload with `mask` (see apply_mask).
Header make_header(Opcode op, std::uint64_t payload_size,
                   std::optional<std::array<std::uint8_t, 4>> mask = std::nullopt);

void apply_mask(std::string& payload, const std::array<std::uint8_t, 4>& mask, std::size_t offset = 0);

// A whole single-frame message (header + payload), masked when a mask is given.
std::string encode_message(Opcode op, std::string_view payload,
                           std::optional<std::array<std::uint8_t, 4>> mask = std::nullopt);

// Close frame payload: status code then reason.
std::string close_payload(std::uint16_t code, std::string_view reason = {});

}  // namespace compeit::ws
