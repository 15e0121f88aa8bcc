// Access tokens (JWT, RFC 7519, compact JWS form), sans I/O: the token's
// text becomes typed values here, and nowhere else. What this file does not
// do is check the signature: that is OpenSSL's job, in native/ (the bytes it
// needs are `signing_input` and `signature`). Nothing here reads a clock:
// the caller passes the time.
//
// Claims the server understands (docs/protocol.md, section 5 "Access tokens"):
//   sub    string, the application's stable user key          (required)
//   name   string, the display name the server uses            (optional)
//   rooms  array of room ids, or "*"                           (required)
//   caps   array of "publish" "record" "filter" "moderate" "admin"
//   exp, nbf, iat  NumericDate (seconds since the epoch)       (exp required)
//   agent  array of types an agent link may register (docs/agents.md)
// Every other claim is ignored. A claim of the wrong type refuses the token.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "compeit/ca/types.hpp"
#include "compeit/util/expected.hpp"

namespace compeit::auth {

enum class Algorithm : std::uint8_t { hs256, es256, rs256 };
std::string_view to_string(Algorithm a);

inline constexpr std::size_t kMaxTokenBytes = 8192;

struct Claims {
    std::string sub;
    std::optional<std::string> name;
    bool all_rooms = false;
    std::set<ca::RoomId> rooms;
    ca::Capabilities caps;
    std::int64_t exp = 0;
    std::optional<std::int64_t> nbf;
    std::optional<std::set<std::string>> agent;  // absent: the token cannot open an agent link
};

// A token taken apart: what the signature covers, the signature's bytes, and
// the claims, all validated for form (not yet for signature or time).
struct Token {
    Algorithm alg = Algorithm::hs256;
    std::string signing_input;  // "<header>.<payload>" as received
    std::string signature;      // raw bytes (ES256: r || s, 64 bytes)
    Claims claims;
};

// Why a token is refused. For the log: never the token itself.
using Refusal = std::string;

Expected<Token, Refusal> parse_token(std::string_view text);

// exp and nbf against `now` (seconds since the epoch), `skew` seconds of
// clock difference allowed either way.
Expected<bool, Refusal> check_time(const Claims& c, std::int64_t now, std::int64_t skew);

// The token for `claims`, signed by `sign` (which gets the signing input
// and returns the signature bytes). Used by `compeit-server token` and tests.
template <class Sign>
std::string make_token(Algorithm alg, const Claims& claims, Sign&& sign);
std::string encode_unsigned(Algorithm alg, const Claims& claims);  // "<header>.<payload>"
std::string encode_signature(std::string_view signing_input, std::string_view signature);

template <class Sign>
std::string make_token(Algorithm alg, const Claims& claims, Sign&& sign) {
    const std::string input = encode_unsigned(alg, claims);
    return encode_signature(input, sign(input));
}

}  // namespace compeit::auth
