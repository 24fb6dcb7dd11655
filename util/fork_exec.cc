// Starting programs that die with stratad. See fork_exec.h.
#include "util/fork_exec.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "util/fs.h"

namespace strata {

std::string FindInPath(const std::string& name) {
  if (name.find('/') != std::string::npos)
    return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    // An empty PATH entry means the current directory.
    std::string candidate =
        end == start ? "./" + name
                     : JoinPath(dirs.substr(start, end - start), name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

Result<pid_t> ForkExec(const std::string& exe,
                       const std::vector<std::string>& argv, ForkExecFds fds,
                       bool reset_nice, bool dies_with_parent) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return Status::FromErrno("fork", errno);
  if (pid > 0) return pid;
  // The child: async-signal-safe calls only.
  if (dies_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
  }
  if (reset_nice) setpriority(PRIO_PROCESS, 0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (fds.in >= 0) dup2(fds.in, 0);
  if (fds.out >= 0) dup2(fds.out, 1);
  if (fds.err >= 0) dup2(fds.err, 2);
  for (const int fd : fds.inherit) fcntl(fd, F_SETFD, 0);
  execv(exe.c_str(), cargv.data());
  _exit(127);
}

}  // namespace strata
