// The version of compeit-server and the git commit it was built from (for
// --version and the metrics' build_info). The commit comes from a header that
// a build step rewrites only when HEAD changes (native/cmake/git_commit.cmake),
// so a new commit is picked up without re-running cmake; "unknown" outside git.
#pragma once

#include <string_view>

#include "compeit_git_commit.hpp"

namespace compeit::native {

inline constexpr std::string_view kVersion = COMPEIT_VERSION;
inline constexpr std::string_view kGitCommit = COMPEIT_GIT_COMMIT;

}  // namespace compeit::native
