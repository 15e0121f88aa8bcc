// Security-sensitive values come from OpenSSL (STYLE 17): randomness for
// sids, comparisons of secrets in constant time, and the short tag a sid is
// logged as (a sid is a credential and never reaches a log).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace compeit::native {

// n bytes from OpenSSL's CSPRNG (seeded by getrandom). Ends the process if
// the generator fails: a server must not hand out guessable sids.
std::string random_bytes(std::size_t n);

// True when a == b, in time that depends on neither their contents nor
// their lengths (both are hashed to fixed-size digests first).
bool secrets_equal(std::string_view a, std::string_view b);

// The credentials of an `Authorization: Bearer <credentials>` header (the
// scheme's case does not matter, RFC 7235); nullopt for any other header.
std::optional<std::string_view> bearer_credentials(std::string_view authorization);

// 8 hex characters of SHA-256(sid): enough to follow a session in the log,
// useless to take it over.
std::string sid_tag(std::string_view sid);

}  // namespace compeit::native
