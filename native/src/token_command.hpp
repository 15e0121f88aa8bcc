// `compeit-server token ...`: prints an HS256 access token, so operators and
// tests can make one without writing code (docs/protocol.md, section 5).
#pragma once

#include <string>
#include <vector>

namespace compeit::native {

// Runs the subcommand on the arguments after `token`; the exit status.
int token_command(const std::vector<std::string>& args);

}  // namespace compeit::native
