// Long-running child processes. See child_process.h.
#include "util/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "util/fs.h"
#include "util/time_util.h"

namespace strata {
namespace {

// The executable `name` resolves to through PATH, or "" when none.
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

// Runs every fork on one thread that lives as long as the process: Linux
// sends PR_SET_PDEATHSIG when the forking *thread* exits, and a child forked
// by an engine worker would die when the workers stop (at shutdown, while
// the redirect cache still writes back through it).
class Spawner {
 public:
  static Spawner& Get() {
    static Spawner* s = new Spawner();  // never destroyed: see above
    return *s;
  }
  pid_t Run(std::function<pid_t()> fork_and_exec) {
    std::packaged_task<pid_t()> task(std::move(fork_and_exec));
    std::future<pid_t> result = task.get_future();
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return result.get();
  }

 private:
  Spawner() {
    std::thread([this] { Loop(); }).detach();
  }
  void Loop() {
    for (;;) {
      std::packaged_task<pid_t()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<pid_t()>> queue_;  // GUARDED_BY(mu_)
};

}  // namespace

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    Stop();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

Result<ChildProcess> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                         const std::string& log_path) {
  if (argv.empty()) return Status::InvalidArgument("empty command");
  const std::string exe = FindInPath(argv[0]);
  if (exe.empty())
    return Status::NotFound(argv[0] + " is not installed (not in PATH)");
  UniqueFd log(
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!log.valid()) return Status::FromErrno("open " + log_path, errno);
  UniqueFd null_in(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_in.valid()) return Status::FromErrno("open /dev/null", errno);
  // Everything the child needs is prepared before fork: between fork and
  // exec only async-signal-safe calls are allowed in a threaded process.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const pid_t parent = getpid();
  int fork_errno = 0;
  const pid_t pid = Spawner::Get().Run([&]() -> pid_t {
    const pid_t p = fork();
    if (p < 0) fork_errno = errno;
    if (p != 0) return p;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    setpriority(PRIO_PROCESS, 0, 0);
    // stratad blocks SIGTERM in its threads and ignores SIGPIPE; a mask and
    // ignored signals survive exec, and the child must see both.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(null_in.get(), 0);
    dup2(log.get(), 1);
    dup2(log.get(), 2);
    execv(exe.c_str(), cargv.data());
    _exit(127);
  });
  if (pid < 0) return Status::FromErrno("fork", fork_errno);
  return ChildProcess(pid);
}

bool ChildProcess::Running() {
  if (pid_ < 0) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_ || (r < 0 && errno == ECHILD)) pid_ = -1;
  return pid_ >= 0;
}

void ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ < 0) return;
  kill(pid_, SIGTERM);
  const int64_t deadline = MonotonicMicros() + grace.count() * 1000;
  while (Running() && MonotonicMicros() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (pid_ >= 0) {
    kill(pid_, SIGKILL);
    int status;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
}

}  // namespace strata
