// OpenBeneath: opens a file by a path relative to a directory, refusing any
// symlink on the way and any escape from that directory (Linux openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS). The check
// and the open are one system call, so a directory swapped for a symlink
// between a check and the open cannot redirect it.
// Thread-safety: reentrant.
#pragma once

#include <string>

#include "util/fs.h"
#include "util/status.h"

namespace strata {

// Opens `rel` (no leading '/') beneath the directory `dir` with `flags`
// (O_CLOEXEC added). InvalidArgument when a symlink or ".." would be
// followed or the path leaves `dir`; NotFound when it does not exist;
// other failures as FromErrno.
[[nodiscard]] Result<UniqueFd> OpenBeneath(const std::string& dir,
                                           const std::string& rel, int flags);

}  // namespace strata
