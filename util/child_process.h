// ChildProcess: a long-running helper program that Strata starts and owns
// (qemu-storage-daemon serving a disk's qcow2 chain), as an RAII handle.
//
// The child is started with fork + execv (the program is looked up in PATH
// by the parent first), stdin from /dev/null, stdout and stderr appended to
// a log file. It gets PR_SET_PDEATHSIG(SIGKILL), so a stratad killed with
// -9 does not leave it holding the disk's image locks, and its nice value
// is reset to 0: it sits in a VM's I/O path and must not inherit the low
// priority of the engine's worker threads (best effort: lowering nice needs
// CAP_SYS_NICE). Linux ties the death signal to the *thread* that forked,
// so every fork runs on one thread that lives as long as the process. The
// child starts with no signal blocked and SIGPIPE at its default.
//
// Destruction (or Stop) sends SIGTERM, waits up to a grace period, then
// SIGKILL, and reaps the child.
// Thread-safety: one handle per owner; distinct handles are independent.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "util/status.h"

namespace strata {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { Stop(); }

  // Starts argv[0] (found in PATH) with `argv`; its output is appended to
  // `log_path`. NotFound when the program is not installed.
  static Result<ChildProcess> Spawn(const std::vector<std::string>& argv,
                                    const std::string& log_path);

  pid_t pid() const { return pid_; }
  // True while the child has not exited (reaps it when it has).
  bool Running();
  // SIGTERM, up to `grace` for it to exit, then SIGKILL; reaps. Idempotent.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

}  // namespace strata
