// One host's part of a group snapshot's cut: see group_hold.h.
#include "engine/group_hold.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "util/fork_exec.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/time_util.h"

namespace strata::engine {
namespace {

// How long past the deadline a driver waits for the worker's word: the
// worker resumes the writers at the deadline, then reports.
constexpr auto kReportMargin = std::chrono::seconds(30);

}  // namespace

GroupCutGate::GroupCutGate(std::string id, bool driven,
                           HoldClock::time_point deadline)
    : driven_(driven), deadline_(deadline) {
  report_.id = std::move(id);
  report_.phase = "holding";
}

template <typename Pred>
void GroupCutGate::WaitFor(std::unique_lock<std::mutex>& l, Pred done) {
  cv_.wait_until(l, deadline_ + kReportMargin, done);
}

void GroupCutGate::SetMembers(std::vector<std::string> snapshot_ids) {
  std::lock_guard<std::mutex> l(mu_);
  report_.snapshot_ids = std::move(snapshot_ids);
}

void GroupCutGate::Held(std::vector<std::string> domains) {
  std::lock_guard<std::mutex> l(mu_);
  report_.domains = std::move(domains);
  report_.held_at = NowMicros();
  report_.phase = "held";
  cv_.notify_all();
}

bool GroupCutGate::AwaitCut() {
  std::unique_lock<std::mutex> l(mu_);
  if (!driven_) return !abort_asked_;
  cv_.wait_until(l, deadline_, [&] { return cut_asked_ || abort_asked_; });
  if (!cut_asked_ || abort_asked_ || HoldClock::now() >= deadline_)
    return false;
  report_.phase = "cutting";
  return true;
}

void GroupCutGate::Cut() {
  std::lock_guard<std::mutex> l(mu_);
  report_.cut_at = NowMicros();
  report_.phase = "cut";
  cv_.notify_all();
}

bool GroupCutGate::AwaitRelease() {
  std::unique_lock<std::mutex> l(mu_);
  if (!driven_) return true;
  cv_.wait_until(l, deadline_, [&] { return release_asked_ || abort_asked_; });
  return release_asked_ && !abort_asked_ && HoldClock::now() < deadline_;
}

void GroupCutGate::Released(bool held_through, double hold_ms) {
  std::lock_guard<std::mutex> l(mu_);
  report_.released_at = NowMicros();
  report_.hold_ms = hold_ms;
  report_.held_through = held_through;
  report_.phase = held_through   ? "released"
                  : abort_asked_ ? "aborted"
                                 : "expired";
  if (!held_through)
    report_.error =
        std::string(abort_asked_ ? "the hold was aborted"
                                 : "the hold ended at its deadline") +
        " before the release was asked for: this host's cut is not "
        "consistent with the others'";
  finished_ = true;
  cv_.notify_all();
}

void GroupCutGate::Ended(const std::string& phase, const Status& why,
                         double hold_ms) {
  std::lock_guard<std::mutex> l(mu_);
  report_.released_at = NowMicros();
  report_.hold_ms = hold_ms;
  report_.held_through = false;
  report_.phase = abort_asked_ && phase == "expired" ? "aborted" : phase;
  report_.error = why.ToString();
  finished_ = true;
  cv_.notify_all();
}

GroupCutReport GroupCutGate::AwaitHeld() {
  std::unique_lock<std::mutex> l(mu_);
  WaitFor(l, [&] { return report_.phase != "holding"; });
  return report_;
}

Result<GroupCutReport> GroupCutGate::RequestCut() {
  std::unique_lock<std::mutex> l(mu_);
  if (report_.phase == "holding")
    return Status::Conflict("group cut " + report_.id +
                            ": its writers are not held yet");
  cut_asked_ = true;
  cv_.notify_all();
  WaitFor(l, [&] { return report_.phase == "cut" || finished_; });
  if (report_.phase != "cut")
    return Status::Conflict("group cut " + report_.id + " is " + report_.phase +
                            ", not cut: " + report_.error);
  return report_;
}

Result<GroupCutReport> GroupCutGate::RequestRelease() {
  std::unique_lock<std::mutex> l(mu_);
  if (report_.cut_at == 0 && !finished_)
    return Status::Conflict("group cut " + report_.id + " is " + report_.phase +
                            ": there is no cut to release");
  release_asked_ = true;
  cv_.notify_all();
  WaitFor(l, [&] { return finished_; });
  return report_;
}

GroupCutReport GroupCutGate::RequestAbort() {
  std::unique_lock<std::mutex> l(mu_);
  abort_asked_ = true;
  cv_.notify_all();
  WaitFor(l, [&] { return finished_; });
  return report_;
}

GroupCutReport GroupCutGate::Report() const {
  std::lock_guard<std::mutex> l(mu_);
  return report_;
}

bool GroupCutGate::Finished() const {
  std::lock_guard<std::mutex> l(mu_);
  return finished_;
}

Status HoldGuard::Arm(const std::vector<std::string>& argv,
                      HoldClock::time_point deadline,
                      const std::vector<std::string>& domains) {
  Disarm();
  if (argv.empty() || domains.empty()) return Status::OK();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  std::vector<std::string> args = argv;
  args.push_back(
      std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         deadline.time_since_epoch())
                         .count()));
  for (const auto& d : domains) args.push_back(d);
  ForkExecFds io;
  io.in = fds[0];
  auto pid = ForkExec(argv[0], args, io, /*reset_nice=*/true,
                      /*dies_with_parent=*/false);
  close(fds[0]);
  if (!pid.ok()) {
    close(fds[1]);
    return pid.status().WithContext("starting the hold guard");
  }
  pid_ = *pid;
  pipe_ = fds[1];
  return Status::OK();
}

void HoldGuard::Disarm() {
  if (pid_ < 0) return;
  static const char kReleased[] = "released\n";
  (void)!write(pipe_, kReleased, sizeof kReleased - 1);
  close(pipe_);
  pipe_ = -1;
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void HoldGuard::Detach() {
  if (pid_ < 0) return;
  close(pipe_);
  pipe_ = -1;
  pid_ = -1;
}

void StopStaleHoldGuard(pid_t pid) {
  if (pid <= 0) return;
  auto cmdline =
      ReadSmallFile("/proc/" + std::to_string(pid) + "/cmdline", 4096);
  if (!cmdline.ok()) return;  // gone
  if (cmdline->find(std::string("--hold-guard\0", 13)) == std::string::npos)
    return;
  LogInfo("recovery: stopping hold guard " + std::to_string(pid) +
          " of a killed stratad");
  kill(pid, SIGTERM);
}

int RunHoldGuard(hypervisor::Hypervisor* hv, HoldClock::time_point deadline,
                 const std::vector<std::string>& domains, int in_fd) {
  std::string got;
  bool open = true;
  while (HoldClock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - HoldClock::now());
    if (!open) {
      std::this_thread::sleep_for(left);
      break;
    }
    pollfd p{in_fd, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[64];
    const ssize_t n = read(in_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      open = false;  // stratad is gone: the deadline is ours to keep
      continue;
    }
    got.append(buf, static_cast<size_t>(n));
    if (got.find("released") != std::string::npos) return 0;
  }
  int failed = 0;
  for (const auto& d : domains) {
    auto info = hv->GetDomain(d);
    if (!info.ok()) {
      if (!info.status().IsNotFound()) ++failed;
      continue;
    }
    if (info->state != hypervisor::DomainState::kPaused ||
        info->paused_on_io_error)
      continue;
    Status s = hv->Resume(d);
    LogWarning("hold guard: the hold's deadline passed; resumed domain " + d +
               (s.ok() ? "" : ": " + s.ToString()));
    if (!s.ok()) ++failed;
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace strata::engine
