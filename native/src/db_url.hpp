// The chat database URL (--chat-db) may carry a password
// (postgresql://user:secret@host/db, ?password=secret): these helpers let the
// server name the database in logs and errors without it. Everything here is
// plain string work on a value the operator gave; nothing is decoded for use.
#pragma once

#include <string>
#include <string_view>

namespace compeit::native {

// The scheme before the first ':' ("postgresql", "sqlite"), lower case as
// given; empty when the text has no scheme (no ':' or a character a scheme
// may not hold before it).
std::string url_scheme(std::string_view url);

// `url` fit for a log line: the password of the user info and the value of
// every query parameter whose name holds "password" replaced by ***; control
// characters shown as '?'; at most 200 characters. When in doubt it hides more.
std::string redacted(std::string_view url);

// `message` with every occurrence of the URL's password, as written or
// percent-decoded, replaced by ***: libpq may quote a piece of a bad URL.
std::string scrub(std::string message, std::string_view url);

}  // namespace compeit::native
