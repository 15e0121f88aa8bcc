// Messages between nodes for room-owned agents (ca::parse_forwarded, the one
// boundary for what arrives on a node channel as "@<type>\n<JSON>") on
// arbitrary bytes. Invariants: nothing crashes or leaks (ASan, UBSan); what
// parses is within its bounds, and re-encodes (encode_forwarded) to text
// that parses to the same message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compeit/ca/room_owned_agent.hpp"
#include "fuzz_support.hpp"

using namespace compeit;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto f = ca::parse_forwarded(in);
    if (!f) return 0;
    check(in.size() <= ca::kMaxForwardedBytes);
    check(!f->from.empty() && f->room >= 0 && f->room <= ca::kMaxRoomId);
    check(f->kind == ca::Forwarded::Kind::claim || f->user.id > 0);
    check(f->kind != ca::Forwarded::Kind::joined || f->hold > 0);
    const auto again = ca::parse_forwarded(ca::encode_forwarded(*f));
    check(again.has_value());
    check(again->kind == f->kind && again->from == f->from && again->room == f->room && again->hold == f->hold &&
          again->hops == f->hops && again->user.id == f->user.id && again->user.name == f->user.name &&
          again->user.caps.publish == f->user.caps.publish && again->event == f->event &&
          again->ack_id == f->ack_id && again->type == f->type && again->previous == f->previous &&
          again->record == f->record);
    return 0;
}
