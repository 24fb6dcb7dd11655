// Process runner. See subprocess.h.
#include "util/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "util/fork_exec.h"
#include "util/time_util.h"

namespace strata {
namespace {

// Closes its fd on destruction.
struct PipeEnd {
  int fd = -1;
  ~PipeEnd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const RunOptions& opts) {
  if (argv.empty()) return Status::InvalidArgument("empty command");
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  PipeEnd out_r{out_pipe[0]}, out_w{out_pipe[1]};
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  PipeEnd err_r{err_pipe[0]}, err_w{err_pipe[1]};

  const std::string exe = FindInPath(argv[0]);
  if (exe.empty())
    return Status::IoError("cannot run " + argv[0] + ": not found in PATH");
  PipeEnd null_in{open("/dev/null", O_RDONLY | O_CLOEXEC)};
  if (null_in.fd < 0) return Status::FromErrno("open /dev/null", errno);
  // Forked on this thread, which waits for the child: its death signal
  // stays armed for as long as the child runs (fork_exec.h).
  STRATA_ASSIGN_OR_RETURN(
      const pid_t pid,
      ForkExec(exe, argv, {null_in.fd, out_w.fd, err_w.fd, opts.inherit_fds},
               /*reset_nice=*/false));
  close(out_w.fd);
  out_w.fd = -1;
  close(err_w.fd);
  err_w.fd = -1;

  ProcessResult res;
  const int64_t deadline = MonotonicMicros() + opts.timeout.count() * 1000;
  bool timed_out = false;
  pollfd fds[2] = {{out_r.fd, POLLIN, 0}, {err_r.fd, POLLIN, 0}};
  std::string* bufs[2] = {&res.out, &res.err};
  int open_fds = 2;
  char chunk[65536];
  while (open_fds > 0) {
    int64_t left_ms = (deadline - MonotonicMicros()) / 1000;
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    int n = poll(fds, 2, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      if (bufs[i]->size() < opts.max_capture) bufs[i]->append(chunk, got);
    }
  }
  if (timed_out) kill(pid, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return Status::Unavailable(argv[0] + " timed out after " +
                               std::to_string(opts.timeout.count()) + " ms");
  if (WIFEXITED(wstatus)) res.exit_code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) res.signal = WTERMSIG(wstatus);
  return res;
}

std::string OutputTail(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  if (text.size() > 600) text = "…" + text.substr(text.size() - 600);
  return text;
}

Result<ProcessResult> RunChecked(const std::vector<std::string>& argv,
                                 const RunOptions& opts) {
  STRATA_ASSIGN_OR_RETURN(ProcessResult r, RunProcess(argv, opts));
  if (r.exit_code == 0) return r;
  const std::string err = OutputTail(r.err);
  std::string why = r.signal ? "killed by signal " + std::to_string(r.signal)
                             : "exit " + std::to_string(r.exit_code);
  return Status::IoError(argv[0] + " failed (" + why + "): " + err);
}

}  // namespace strata
