// The Redis protocol decoder (compeit::resp) on arbitrary bytes, under
// limits the input picks (tiny ones reach every limit): fed whole, one byte
// at a time and in pieces of random sizes, the three must agree; no value
// passes a limit; failure is sticky; every decoded value re-encodes
// (append_value) to bytes that decode to the same value; a push comes only
// as a whole message, never inside another; append_command round-trips
// arguments cut from the input. RESP2 and every RESP3 type are covered.
// Input: 6 bytes of settings (limits, chunk sizes), then the byte stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compeit/cluster/resp.hpp"
#include "fuzz_support.hpp"

using namespace compeit;
using fuzz::check;

namespace {

// The deepest aggregate nesting (arrays, pushes, maps, sets), and elements and the longest string at every depth.
struct Shape {
    std::size_t depth = 0;
    std::size_t elements = 0;
    std::size_t longest = 0;
};
void measure(const resp::Value& v, std::size_t depth, Shape& s) {
    s.longest = std::max(s.longest, v.str.size());
    if (!v.is_aggregate()) return;
    s.depth = std::max(s.depth, depth + 1);
    s.elements += v.elements.size();
    for (const auto& e : v.elements) measure(e, depth + 1, s);
}

bool has_push(const resp::Value& v) {
    return std::any_of(v.elements.begin(), v.elements.end(),
                       [](const resp::Value& e) { return e.is_push() || has_push(e); });
}

void check_within(const resp::Value& v, const resp::DecoderLimits& limits) {
    check(!has_push(v));
    Shape s;
    measure(v, 0, s);
    check(s.depth <= limits.max_depth);
    check(s.elements <= limits.max_elements);
    check(s.longest <= limits.max_bulk_bytes);
}

// Re-encoded, a decoded value decodes to itself.
void check_round_trip(const resp::Value& v, resp::DecoderLimits limits) {
    std::string wire;
    resp::append_value(wire, v);
    limits.max_buffered = std::numeric_limits<std::size_t>::max();  // `_` grows into `$-1`
    resp::Decoder d(limits);
    d.feed(wire);
    const auto again = d.next();
    check(again.has_value() && *again == v);
    check(!d.next() && !d.failed() && d.buffered() == 0);
}

struct Run {
    std::vector<resp::Value> replies;
    std::string error;
};

bool limit_of_buffer(const std::string& error) { return error.rfind("more than ", 0) == 0; }

// Decodes `in` in pieces of sizes from `piece` (0: whole), checking the
// decoder's invariants after every call.
template <class Piece>
Run decode(std::string_view in, const resp::DecoderLimits& limits, Piece piece) {
    resp::Decoder d(limits);
    Run r;
    for (std::size_t i = 0; i < in.size();) {
        const std::size_t n = std::max<std::size_t>(1, std::min(piece(), in.size() - i));
        const bool was_failed = d.failed();
        const std::string was_error = d.error();
        d.feed(in.substr(i, n));
        i += n;
        for (;;) {
            check(d.buffered() <= limits.max_buffered);
            auto v = d.next();
            check(d.failed() == !d.error().empty());
            if (was_failed) check(d.failed() && d.error() == was_error && !v && d.buffered() == 0);
            if (!v) break;
            check(!d.failed());
            check_within(*v, limits);
            r.replies.push_back(std::move(*v));
        }
        if (d.failed()) check(d.buffered() == 0);
    }
    r.error = d.error();
    return r;
}

bool is_prefix(const std::vector<resp::Value>& a, const std::vector<resp::Value>& b) {
    return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
}

void check_agree(const Run& a, const Run& b) {
    // Feeding everything at once may pass max_buffered where pieces do not.
    if (limit_of_buffer(a.error) || limit_of_buffer(b.error)) {
        check(is_prefix(a.replies, b.replies) || is_prefix(b.replies, a.replies));
        return;
    }
    check(a.replies == b.replies);
    check(a.error == b.error);
}

// Arguments cut from the input at every '\n' (binary otherwise) make a
// command that decodes to an array of exactly those bulk strings.
void check_command(std::string_view in) {
    std::vector<std::string_view> args;
    while (args.size() < 16 && !in.empty()) {
        const auto cut = std::min(in.find('\n'), in.size());
        args.push_back(in.substr(0, cut));
        in.remove_prefix(std::min(cut + 1, in.size()));
    }
    std::string wire;
    resp::append_command(wire, args);
    resp::Decoder d;
    d.feed(wire);
    const auto v = d.next();
    check(v && v->kind == resp::Value::Kind::array && v->elements.size() == args.size());
    for (std::size_t i = 0; i < args.size(); ++i)
        check(v->elements[i].kind == resp::Value::Kind::bulk && v->elements[i].str == args[i]);
    check(!d.next() && !d.failed() && d.buffered() == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    fuzz::Bytes settings(all.substr(0, 6));
    const std::string_view in = all.substr(std::min<std::size_t>(6, size));

    const std::uint8_t mode = settings.byte(), bulk = settings.byte(), elements = settings.byte(),
                       depth = settings.byte(), buffered = settings.byte();
    resp::DecoderLimits limits;
    if (mode & 1) {  // tiny limits
        limits.max_bulk_bytes = bulk % 64;
        limits.max_elements = elements % 32;
        limits.max_depth = depth % 10;
        limits.max_buffered = 1 + std::size_t{buffered} * 8;
    }
    std::uint32_t seed = 0x9e3779b9u ^ settings.byte();
    auto random_piece = [&seed] {  // xorshift32: 1 to 128 bytes, small ones more often
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        return std::size_t{1} + (seed % (std::size_t{1} << (seed >> 29)));
    };

    const Run whole = decode(in, limits, [&] { return in.size(); });
    const Run bytes = decode(in, limits, [] { return std::size_t{1}; });
    const Run pieces = decode(in, limits, random_piece);
    check_agree(whole, bytes);
    check_agree(bytes, pieces);
    for (const auto& v : bytes.replies) check_round_trip(v, limits);
    check_command(in);
    return 0;
}
