// One host's part of a group snapshot's cut, as a hold/cut/release
// protocol (R4.4, issue 22): the gate between the worker that pauses this
// host's writers and cuts its members (group_cut.cc) and whoever drives
// the phases (a coordinator over REST, api/group_cuts.cc; a single-host
// group snapshot drives itself at once).
//
//   hold     the writers are paused, then the gate reports "held";
//   cut      asked while held and before the deadline: every member's top
//            is cut, and the gate reports "cut";
//   release  asked after the cut: the writers resume, and the gate reports
//            whether they were held from before the cut until the release
//            (`held_through`). Only then is the cut consistent with the
//            other hosts' cuts: no host's guest ran between any two cuts.
//
// Every host releases by itself at its local deadline, whatever happens to
// the driver: the worker waits for each request until then, and a hold
// guard (a process of its own, HoldGuard) resumes the domains at the
// deadline even when stratad itself is killed. A hold that ends at the
// deadline ends `expired`: members not cut yet fail; members already cut
// are stored, but the report says they are not consistent.
// Thread-safety: every member function from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "hypervisor/hypervisor.h"
#include "util/status.h"

namespace strata::engine {

using HoldClock = std::chrono::steady_clock;

// What a gate says about its cut (the REST view of one host's part).
struct GroupCutReport {
  std::string id;
  // holding, held, cutting, cut, released, expired, aborted, error;
  // "ended" for a part this process did not hold (GetGroupCut after a
  // restart: only its members are known)
  std::string phase;
  std::vector<std::string> snapshot_ids;             // this host's members
  std::vector<std::string> domains;                  // the writers held
  int64_t held_at = 0, cut_at = 0, released_at = 0;  // wall clock, µs
  double hold_ms = 0;         // first pause to last resume
  bool held_through = false;  // held from before the cut to the release
  std::string error;
};

class GroupCutGate {
 public:
  // `driven`: each phase waits for its request; else the phases follow
  // each other at once (a single-host group snapshot).
  GroupCutGate(std::string id, bool driven, HoldClock::time_point deadline);
  GroupCutGate(const GroupCutGate&) = delete;
  GroupCutGate& operator=(const GroupCutGate&) = delete;

  const std::string& id() const { return report_.id; }
  HoldClock::time_point deadline() const { return deadline_; }

  // ---- the worker ----
  void SetMembers(std::vector<std::string> snapshot_ids);
  void Held(std::vector<std::string> domains);
  // True when a cut was asked for before the deadline (and no abort).
  bool AwaitCut();
  void Cut();
  // True when a release was asked for before the deadline.
  bool AwaitRelease();
  // The writers resumed; `held_through`: released on request, in time.
  void Released(bool held_through, double hold_ms);
  // The hold ended without a cut (deadline, abort or failure).
  void Ended(const std::string& phase, const Status& why, double hold_ms);

  // ---- the driver ----
  // Waits (up to the deadline) until the hold is no longer being taken.
  GroupCutReport AwaitHeld();
  // Asks for the cut and waits for its outcome: OK once cut; Conflict when
  // the hold ended first (the report's phase and error say why).
  Result<GroupCutReport> RequestCut();
  // Asks for the release and waits for it. Conflict when the members were
  // never cut.
  Result<GroupCutReport> RequestRelease();
  // Ends the hold now: the writers resume, members not cut fail.
  GroupCutReport RequestAbort();
  GroupCutReport Report() const;
  // True once the writers run again, whatever the outcome.
  bool Finished() const;

 private:
  // Waits until `done` holds, for at most until the deadline plus a margin
  // (a worker that ends at the deadline reports just after it).
  template <typename Pred>
  void WaitFor(std::unique_lock<std::mutex>& l, Pred done);

  const bool driven_;
  const HoldClock::time_point deadline_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cut_asked_ = false, release_asked_ = false, abort_asked_ = false;
  bool finished_ = false;
  GroupCutReport report_;
};

// The process that resumes held domains at the deadline whatever befalls
// stratad (`stratad --hold-guard`, HoldGuardMain in daemon/stratad.cc,
// running RunHoldGuard below). It is not a
// child that dies with stratad: a kill -9 of stratad while domains are
// paused is exactly what it is for. Disarm tells it the domains were
// resumed, and it exits without touching them.
class HoldGuard {
 public:
  HoldGuard() = default;
  HoldGuard(const HoldGuard&) = delete;
  HoldGuard& operator=(const HoldGuard&) = delete;
  ~HoldGuard() { Disarm(); }

  // Starts `argv` (stratad's: {exe, "--hold-guard", libvirt URI})
  // followed by the deadline on CLOCK_MONOTONIC in ns and the domains. An
  // empty argv starts nothing (OK: the deadline then holds while stratad
  // lives).
  [[nodiscard]] Status Arm(const std::vector<std::string>& argv,
                           HoldClock::time_point deadline,
                           const std::vector<std::string>& domains);
  // Tells the guard the domains run again; waits for it to exit.
  void Disarm();
  // Leaves the guard to keep the deadline (some domain could not be
  // resumed): its stdin closes without "released", and it resumes what is
  // still paused at the deadline, then exits (reaped by init once stratad
  // is gone; until then a zombie of stratad's).
  void Detach();
  pid_t pid() const { return pid_; }  // -1 when none runs

 private:
  pid_t pid_ = -1;
  int pipe_ = -1;  // the guard's stdin
};

// Stops the guard `pid` left by a killed stratad, if that process is still
// a hold guard (its command line says so; a pid can be reused).
void StopStaleHoldGuard(pid_t pid);

// The guard's side (`stratad --hold-guard URI DEADLINE_NS UUID...`, whose
// arguments the daemon parses): waits for "released" on `in_fd` until the
// deadline; without it, resumes every domain of `domains` that `hv` shows
// paused (not on an I/O error). Returns the process's exit code.
int RunHoldGuard(hypervisor::Hypervisor* hv, HoldClock::time_point deadline,
                 const std::vector<std::string>& domains, int in_fd);

}  // namespace strata::engine
