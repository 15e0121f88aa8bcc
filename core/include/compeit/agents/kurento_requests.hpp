// What a client may ask of the Kurento Agent (KU-2..KU-6), as typed values.
// parse_kurento_request() is the agent's input boundary: it reads the
// client's `data` through ca::Input, so every wrong or missing field becomes
// a bad_request naming that field, and the agent's logic only ever sees
// these structs (never the client's JSON).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "compeit/ca/types.hpp"
#include "compeit/util/expected.hpp"

namespace compeit::agents::kurento {

inline constexpr std::size_t kMaxSdpBytes = 64 * 1024;  // also bounded by LIM-3's data limit
inline constexpr std::size_t kMaxCandidateBytes = 2048;
inline constexpr std::size_t kMaxFilterBytes = 1024;
// Stream names (an extension of KU-2..KU-6): `stream` names one of a user's
// streams; absent, it is "camera" (the one stream of clients that name none),
// "screen" is a shared screen, and any other name of 1 to kMaxStreamNameBytes
// characters from a-z, 0-9, '-' and '_' is allowed. A user publishes at most
// kMaxStreamsPerUser streams at once.
inline constexpr std::size_t kMaxStreamNameBytes = 32;
inline constexpr std::size_t kMaxStreamsPerUser = 4;

struct Publish {
    std::string stream;
    std::optional<std::string> sdp;  // mesh: absent (the subscribers offer)
    bool audio = true;
    bool video = true;
};
struct Subscribe {
    ca::UserId user = 0;             // the publisher
    std::string stream;
    std::optional<std::string> sdp;  // absent where the media server offers
};
struct SubscribeAnswer {  // mesh: the publisher answers a subscriber
    ca::UserId user = 0;  // the subscriber
    std::string stream;   // the publisher's stream
    std::string sdp;
};
struct Answer {  // the subscriber answers the media server's offer
    ca::UserId user = 0;  // the publisher
    std::string stream;
    std::string sdp;
};
// An RTCIceCandidateInit; a null candidate (or an empty line) ends the trickle.
struct Candidate {
    std::string candidate;
    std::optional<std::string> sdp_mid;
    std::optional<std::int64_t> sdp_mline_index;
    std::optional<std::string> username_fragment;
};
struct IceCandidate {
    ca::UserId user = 0;             // the stream's owner
    std::string stream;
    std::optional<ca::UserId> peer;  // mesh: the other end
    std::optional<Candidate> candidate;
};
struct Unpublish {
    std::string stream;
};
struct Unsubscribe {
    ca::UserId user = 0;
    std::string stream;
};
struct UpdateStream {
    std::string stream;
    std::optional<bool> audio, video;
};
struct SetFilter {
    std::string stream;
    std::string filter;  // "" removes it
};
struct Record {
    std::string stream;
    bool start = false;
};

using Request = std::variant<Publish, Subscribe, SubscribeAnswer, Answer, IceCandidate, Unpublish, Unsubscribe,
                             UpdateStream, SetFilter, Record>;

// Whether `name` is a stream name a client may use.
bool valid_stream_name(std::string_view name);

// The request in `data`, or the bad_request message naming the field.
Expected<Request, std::string> parse_request(const ca::json& data);

// The candidate as browsers and media servers take it (null: end of candidates).
ca::json to_json(const std::optional<Candidate>& c);

}  // namespace compeit::agents::kurento
