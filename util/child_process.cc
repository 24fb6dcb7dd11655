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

#include "util/fork_exec.h"
#include "util/fs.h"
#include "util/guarded.h"
#include "util/time_util.h"

namespace strata {
namespace {

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
  Result<pid_t> Run(std::function<Result<pid_t>()> fork_and_exec) {
    std::packaged_task<Result<pid_t>()> task(std::move(fork_and_exec));
    std::future<Result<pid_t>> result = task.get_future();
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    try {
      return result.get();
    } catch (const std::future_error& e) {
      return Status::Internal(std::string("spawning a child: ") + e.what());
    }
  }

 private:
  Spawner() {
    std::thread([this] { Loop(); }).detach();
  }
  void Loop() {
    for (;;) {
      std::packaged_task<Result<pid_t>()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      // An exception here (none is expected of a fork) leaves `task` unrun:
      // its caller gets a broken promise, which Run turns into a Status.
      RunLogged("child.spawner", [&] { task(); });
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<Result<pid_t>()>> queue_;  // GUARDED_BY(mu_)
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
  Result<pid_t> pid = Spawner::Get().Run([&] {
    return ForkExec(exe, argv, {null_in.get(), log.get(), log.get(), {}},
                    /*reset_nice=*/true);
  });
  if (!pid.ok()) return pid.status();
  return ChildProcess(*pid);
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
