// ForkExec: the one place Strata starts a program. Both RunProcess (short
// helpers: qemu-img, qemu-io) and ChildProcess (long-running daemons) use it,
// so every child dies with stratad: it gets PR_SET_PDEATHSIG(SIGKILL), and a
// child whose parent died before that took effect exits at once. A qemu-img
// left running by a killed stratad would otherwise go on rewriting a chain
// that the restarted daemon is reconciling (issue 16, item 6).
//
// Linux sends the death signal when the *thread* that forked exits, so the
// caller must fork on a thread that outlives the child: RunProcess's caller
// waits for its child; ChildProcess forks on a thread of its own.
//
// The child starts with no signal blocked and SIGPIPE at its default (stratad
// blocks SIGTERM in its threads and ignores SIGPIPE; both survive exec).
// Everything is prepared before fork: between fork and exec a threaded
// process may only make async-signal-safe calls.
// Thread-safety: ForkExec and FindInPath may be called from any thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "util/status.h"

namespace strata {

struct ForkExecFds {
  int in = -1, out = -1, err = -1;  // dup2'd onto 0, 1, 2 (-1: inherited)
  // Descriptors the child keeps under their own numbers (their close-on-exec
  // flag is cleared in the child only, so children forked by other threads
  // meanwhile do not get them): files handed to qemu-img as
  // /proc/self/fd/N.
  std::vector<int> inherit;
};

// The executable `name` resolves to through PATH ("" when none); a name
// with a '/' is taken as it is.
std::string FindInPath(const std::string& name);

// Forks and execs `exe` (a path: see FindInPath) with `argv`. With
// `reset_nice` the child's nice value is set to 0 (a daemon in a VM's I/O
// path must not inherit a worker's low priority). Without
// `dies_with_parent` the child is given no death signal: a hold guard
// (engine/group_hold.h) exists to act after a killed stratad. The child's
// pid, or the fork's error.
[[nodiscard]] Result<pid_t> ForkExec(const std::string& exe,
                                     const std::vector<std::string>& argv,
                                     ForkExecFds fds, bool reset_nice,
                                     bool dies_with_parent = true);

}  // namespace strata
