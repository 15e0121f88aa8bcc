#include "compeit/ws/frame.hpp"

#include "compeit/util/utf.hpp"

namespace compeit::ws {
namespace {

// RFC 6455 5.5.1 and 7.4: a close payload is empty, or a status code a peer
// may send followed by a UTF-8 reason.
std::optional<Error> close_payload_error(std::string_view p) {
    if (p.empty()) return std::nullopt;
    if (p.size() == 1) return Error::protocol_error;
    const unsigned code = (static_cast<unsigned>(static_cast<unsigned char>(p[0])) << 8) | static_cast<unsigned char>(p[1]);
    const bool sendable = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
    if (!sendable) return Error::protocol_error;
    if (!utf::valid_utf8(p.substr(2))) return Error::bad_data;
    return std::nullopt;
}

bool is_control(Opcode op) { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

bool known_opcode(std::uint8_t op) {
    return op == 0x0 || op == 0x1 || op == 0x2 || op == 0x8 || op == 0x9 || op == 0xA;
}

}  // namespace

void Decoder::feed(std::string_view bytes) {
    if (failed_) return;
    // Compact once the consumed prefix dominates, so the buffer stays small.
    if (pos_ > 0 && pos_ * 2 >= buf_.size()) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    buf_.append(bytes);
}

Expected<std::optional<Message>, Error> Decoder::fail(Error e) {
    failed_ = true;
    error_ = e;
    buf_.clear();
    pos_ = 0;
    message_.clear();
    return unexpected(e);
}

Expected<std::optional<Message>, Error> Decoder::next() {
    if (failed_) return unexpected(error_);
    for (;;) {
        const std::size_t avail = buf_.size() - pos_;
        if (avail == 0 && pos_ > 0) {
            // Everything decoded: an idle connection keeps no buffer.
            if (buf_.capacity() > 4096) std::string().swap(buf_);
            else buf_.clear();
            pos_ = 0;
        }
        if (avail < 2) return std::optional<Message>{};
        const auto* p = reinterpret_cast<const std::uint8_t*>(buf_.data() + pos_);
        const bool fin = (p[0] & 0x80) != 0;
        if ((p[0] & 0x70) != 0) return fail(Error::protocol_error);  // RSV bits: no extension agreed
        const std::uint8_t raw_op = p[0] & 0x0F;
        if (!known_opcode(raw_op)) return fail(Error::protocol_error);
        const auto op = static_cast<Opcode>(raw_op);
        const bool masked = (p[1] & 0x80) != 0;
        if (masked != (from_ == From::client)) return fail(Error::protocol_error);
        std::uint64_t len = p[1] & 0x7F;
        std::size_t header = 2;
        if (len == 126) {
            if (avail < 4) return std::optional<Message>{};
            len = (std::uint64_t{p[2]} << 8) | p[3];
            header = 4;
        } else if (len == 127) {
            if (avail < 10) return std::optional<Message>{};
            len = 0;
            for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
            header = 10;
        }
        if (is_control(op) && (!fin || len > 125)) return fail(Error::protocol_error);
        // Refuse oversized data before it is buffered: the header is enough.
        if (!is_control(op) &&
            (len > max_message_ || len + (in_message_ ? message_.size() : 0) > max_message_))
            return fail(Error::too_big);
        std::array<std::uint8_t, 4> mask{};
        if (masked) {
            if (avail < header + 4) return std::optional<Message>{};
            for (int i = 0; i < 4; ++i) mask[i] = p[header + i];
            header += 4;
        }
        if (avail < header + len) return std::optional<Message>{};

        std::string payload(buf_.data() + pos_ + header, static_cast<std::size_t>(len));
        pos_ += header + static_cast<std::size_t>(len);
        if (masked) apply_mask(payload, mask);

        if (op == Opcode::close) {
            if (const auto bad = close_payload_error(payload)) return fail(*bad);
        }
        if (is_control(op)) return std::optional<Message>{Message{op, std::move(payload)}};
        if (op == Opcode::continuation) {
            if (!in_message_) return fail(Error::protocol_error);
            message_ += payload;
        } else {
            if (in_message_) return fail(Error::protocol_error);
            in_message_ = true;
            message_opcode_ = op;
            message_ = std::move(payload);
        }
        if (!fin) continue;
        in_message_ = false;
        Message m{message_opcode_, std::move(message_)};
        message_.clear();
        if (m.opcode == Opcode::text && !utf::valid_utf8(m.payload)) return fail(Error::bad_data);
        return std::optional<Message>{std::move(m)};
    }
}

Header make_header(Opcode op, std::uint64_t size, std::optional<std::array<std::uint8_t, 4>> mask) {
    Header h;
    auto& b = h.bytes;
    std::size_t n = 0;
    b[n++] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op));
    const std::uint8_t mask_bit = mask ? 0x80 : 0x00;
    if (size < 126) {
        b[n++] = static_cast<std::uint8_t>(mask_bit | size);
    } else if (size <= 0xFFFF) {  // 65536 takes the 64-bit form (socket.io 0.9.19 got this wrong)
        b[n++] = mask_bit | 126;
        b[n++] = static_cast<std::uint8_t>(size >> 8);
        b[n++] = static_cast<std::uint8_t>(size);
    } else {
        b[n++] = mask_bit | 127;
        for (int i = 7; i >= 0; --i) b[n++] = static_cast<std::uint8_t>(size >> (8 * i));
    }
    if (mask)
        for (auto m : *mask) b[n++] = m;
    h.size = static_cast<std::uint8_t>(n);
    return h;
}

void apply_mask(std::string& payload, const std::array<std::uint8_t, 4>& mask, std::size_t offset) {
    for (std::size_t i = 0; i < payload.size(); ++i)
        payload[i] = static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ mask[(i + offset) & 3]);
}

std::string encode_message(Opcode op, std::string_view payload,
                           std::optional<std::array<std::uint8_t, 4>> mask) {
    const Header h = make_header(op, payload.size(), mask);
    std::string out(h.view());
    std::string body(payload);
    if (mask) apply_mask(body, *mask);
    out += body;
    return out;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
    std::string out;
    out += static_cast<char>(code >> 8);
    out += static_cast<char>(code & 0xFF);
    out += reason.substr(0, 123);
    return out;
}

}  // namespace compeit::ws
