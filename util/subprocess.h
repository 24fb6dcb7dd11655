// Running helper programs (qemu-img, qemu-io) without a shell.
//
// The argument vector is passed to execv as is (the program looked up in
// PATH first), so no file name is ever interpreted by a shell. stdout and
// stderr are captured (each capped so a chatty child cannot exhaust memory);
// stdin is /dev/null. A child that outlives its timeout is killed (SIGKILL)
// and reported as kUnavailable; every child dies with stratad (fork_exec.h).
//
// Thread-safety: RunProcess may be called from many threads at once.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "util/status.h"

namespace strata {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that ended it, 0 if none
  std::string out;     // captured stdout (first max_capture bytes)
  std::string err;     // captured stderr (first max_capture bytes)
};

struct RunOptions {
  std::chrono::milliseconds timeout{std::chrono::hours(6)};
  size_t max_capture = 4 << 20;
  // Open descriptors the child inherits under their numbers (ForkExecFds).
  std::vector<int> inherit_fds;
};

// Runs argv[0] (looked up in PATH) with argv and waits for it. A Result with
// a value means the child ran and ended; it may still have failed (check
// exit_code). Spawn failure → kIoError; timeout → kUnavailable.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const RunOptions& opts = {});

// Like RunProcess, but a non-zero exit becomes a Status whose message holds
// the command's name and the last line(s) of its stderr.
Result<ProcessResult> RunChecked(const std::vector<std::string>& argv,
                                 const RunOptions& opts = {});

// The end of a program's output for an error message: its last 600
// characters ("…" before them when cut), trailing newlines and spaces
// removed.
std::string OutputTail(std::string text);

// "qemu-img rebase -u …" for log lines and error messages.
std::string JoinArgv(const std::vector<std::string>& argv);

}  // namespace strata
