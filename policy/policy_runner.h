// The runner of backup policies (issue 19): fires each enabled policy at its
// schedule's times (R1.5), snapshots its targets (R1.1, R1.2), prunes what
// its retention no longer keeps (R1.6, deleted everywhere as R1.9 says:
// the engine's snapshot delete), and records every run.
//
// One scheduler thread wakes at the earliest due time (or when a policy
// changes) and only starts runs, so a busy engine never delays a firing:
// each run goes on a worker of its own, asks the engine for the snapshots at
// once, then waits for them and prunes. A policy's time is marked handled
// (PolicyRecord::last_scheduled_at) before its run starts, so a crash never
// runs it twice; the run stays "running" in the catalog and the next start
// ends it as interrupted. Times found due more than `late_micros` late were
// missed while stratad was down: they run once, together, at start
// (trigger "missed"), or are recorded as skipped when the policy's
// run_missed is off. A time that comes while the policy's previous run is
// still going is skipped and recorded. A failed run is tried again after
// retry_delay_seconds, up to retry_attempts more times; a retry pending at
// a stop (or a run the stop cut short) is taken up at the next start from
// the policy's last run, its delay counted from when that run ended.
//
// A volume busy with another operation when a run asks for its snapshot
// (409) is waited for (at most wait_micros), not failed.
//
// A policy's snapshots carry its id in their metadata (policy_spec.h); only
// those are counted and pruned, newest first, in the policy's zone.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "db/records.h"
#include "engine/engine.h"
#include "policy/retention.h"
#include "policy/server_target.h"
#include "schedule/zone_clock.h"
#include "util/status.h"
#include "util/task_runner.h"

namespace strata::policy {

class PolicyRunner {
 public:
  struct Options {
    // Owner of server disks whose domain has no Nova owner.
    std::string default_project = "admin";
    schedule::ZoneClock host_zone = schedule::ZoneClock::Host();
    int64_t late_micros = 60 * 1000000;  // later than this: missed
    int64_t poll_micros = 200 * 1000;    // how often a run looks at its work
    // How long a run waits for one snapshot or delete before it gives up.
    int64_t wait_micros = int64_t{3600} * 1000000;
  };

  PolicyRunner(engine::Engine* engine, Options opts);
  ~PolicyRunner();  // Stop()

  // Ends runs a previous stratad left "running", then starts the scheduler
  // (which runs missed times at once). Call after the engine's recovery.
  void Start();
  void Stop();
  // A policy was created, changed or deleted: the scheduler looks again.
  void Changed();

  // Starts a run now (trigger "manual"). Conflict while the policy's
  // previous run is still going.
  [[nodiscard]] Result<db::PolicyRunRecord> RunNow(const db::PolicyRecord& p);
  // What the policy's retention would prune now, per volume, and why; and
  // what it keeps. Changes nothing.
  [[nodiscard]] Result<nlohmann::json> PruneDryRun(const db::PolicyRecord& p);
  // The next `count` scheduled times after now (Unix µs), in its zone.
  [[nodiscard]] Result<std::vector<int64_t>> NextRuns(const db::PolicyRecord& p,
                                                      size_t count) const;

  // A server target as a run resolves it now: the server, or why not.
  struct ServerTargetReport {
    ServerTarget target;
    std::optional<ResolvedServer> server;
    std::string error;  // "" when `server` is set
  };
  // The policy's server targets resolved now (R1.1), in their order; the
  // servers' host names and addresses too `with_network` (a view of them).
  std::vector<ServerTargetReport> ResolveServers(const db::PolicyRecord& p,
                                                 bool with_network);

 private:
  struct Retry {
    int64_t at = 0;
    int attempt = 0;
    int64_t scheduled_at = 0;
  };

  // At start: the retries a stop left pending, from each policy's last run.
  void PendingRetriesFromCatalog();
  void Loop();
  // Starts what is due at `now`; returns when to look again.
  int64_t Tick(int64_t now);
  // Records the run as running and hands it to a worker. Caller holds mu_.
  db::PolicyRunRecord StartRunLocked(const db::PolicyRecord& p,
                                     const std::string& trigger,
                                     int64_t scheduled_at, int attempt);
  void RecordSkipped(const db::PolicyRecord& p, const std::string& trigger,
                     int64_t scheduled_at, const std::string& why);
  void Execute(db::PolicyRecord p, db::PolicyRunRecord run);
  // The volumes the policy's targets name now (errors per target).
  std::vector<db::VolumeRecord> ResolveVolumes(
      const db::PolicyRecord& p, std::vector<std::string>* errors);
  // What retention decides for the policy's stored snapshots, by volume
  // (only `volume_id`'s when not empty).
  Result<std::map<std::string, std::vector<RetentionDecision>>> DecideByVolume(
      const db::PolicyRecord& p, const std::string& volume_id);
  // Prunes one volume's snapshots of the policy; appends what it deleted.
  Status Prune(const db::PolicyRecord& p, const std::string& volume_id,
               nlohmann::json* pruned);
  // Polls until `done` or the deadline or Stop; false on timeout or stop.
  bool WaitFor(const std::function<bool()>& done);
  bool stopping();

  engine::Engine* const engine_;
  db::Catalog* const catalog_;
  const Options opts_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                     // GUARDED_BY(mu_)
  bool changed_ = false;                  // GUARDED_BY(mu_)
  std::set<std::string> running_;         // policy ids; GUARDED_BY(mu_)
  std::map<std::string, Retry> retries_;  // by policy id; GUARDED_BY(mu_)
  std::thread loop_;
  TaskRunner runs_{8};
};

}  // namespace strata::policy
