// PolicyRunner: the scheduler thread, the runs, retention's deletes.
#include "policy/policy_runner.h"

#include <algorithm>
#include <chrono>

#include "policy/policy_spec.h"
#include "policy/retention.h"
#include "policy/server_target.h"
#include "util/log.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::policy {
namespace {

constexpr int64_t kMaxSleepMicros = 60 * 1000000;  // look again at least so
constexpr int kMaxCollapsed = 100000;  // due times folded into one run

// "2026-12-06T10:40:00Z": a time to the second, for names and messages.
std::string ShortTime(int64_t micros) {
  return FormatIsoMicros(micros).substr(0, 19) + "Z";
}

// A run of `p` starting now.
db::PolicyRunRecord NewRun(const db::PolicyRecord& p,
                           const std::string& trigger, int64_t scheduled_at,
                           const std::string& status) {
  db::PolicyRunRecord run;
  run.id = NewUuid();
  run.policy_id = p.id;
  run.project_id = p.project_id;
  run.trigger = trigger;
  run.scheduled_at = scheduled_at;
  run.started_at = NowMicros();
  run.status = status;
  return run;
}

}  // namespace

PolicyRunner::PolicyRunner(engine::Engine* engine, Options opts)
    : engine_(engine), catalog_(engine->catalog()), opts_(std::move(opts)) {}

PolicyRunner::~PolicyRunner() { Stop(); }

void PolicyRunner::Start() {
  auto ended = catalog_->EndInterruptedPolicyRuns(
      "interrupted by a restart of stratad", NowMicros());
  if (!ended.ok())
    LogWarning("ending interrupted policy runs: " + ended.status().ToString());
  else if (*ended > 0)
    LogInfo("policy runs interrupted by the last stop: " +
            std::to_string(*ended));
  PendingRetriesFromCatalog();
  loop_ = std::thread([this] { Loop(); });
}

void PolicyRunner::PendingRetriesFromCatalog() {
  // A policy's last run is its state: one that failed with attempts left
  // (also one a stop cut short, just ended above) is retried its delay
  // after it ended, as it would have been had stratad kept running.
  auto policies = catalog_->ListPolicies("");
  if (!policies.ok()) {
    LogWarning("pending policy retries: " + policies.status().ToString());
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const db::PolicyRecord& p : *policies) {
    auto last = catalog_->ListPolicyRuns(p.id, 1);
    if (!p.enabled || !last.ok() || last->empty()) continue;
    const db::PolicyRunRecord& run = last->front();
    if (run.status != "error" || run.attempt > p.retry_attempts) continue;
    retries_[p.id] =
        Retry{run.finished_at + int64_t{p.retry_delay_seconds} * 1000000,
              run.attempt + 1, run.scheduled_at};
    LogInfo("policy " + p.id + ": its failed run " + run.id +
            " is retried (attempt " + std::to_string(run.attempt + 1) + ")");
  }
}

void PolicyRunner::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  runs_.Stop();
}

void PolicyRunner::Changed() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed_ = true;
  }
  cv_.notify_all();
}

bool PolicyRunner::stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void PolicyRunner::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    changed_ = false;
    lock.unlock();
    const int64_t now = NowMicros();
    int64_t wake = now + kMaxSleepMicros;
    try {
      wake = std::min(wake, Tick(now));
    } catch (const std::exception& e) {  // the thread's edge
      LogError(std::string("policy scheduler: ") + e.what());
    }
    lock.lock();
    // Wall-clock due times: sleep in short enough steps that a clock change
    // is noticed within a minute.
    const int64_t sleep = std::max<int64_t>(0, wake - NowMicros());
    cv_.wait_for(lock, std::chrono::microseconds(sleep),
                 [&] { return stop_ || changed_; });
  }
}

int64_t PolicyRunner::Tick(int64_t now) {
  int64_t wake = now + kMaxSleepMicros;
  auto policies = catalog_->ListPolicies("");
  if (!policies.ok()) {
    LogWarning("policy scheduler: " + policies.status().ToString());
    return now + 5 * 1000000;
  }
  for (const db::PolicyRecord& p : *policies) {
    if (!p.enabled) continue;
    auto sched = ReadSchedule(p);
    auto zone = ReadZone(p, opts_.host_zone);
    if (!sched.ok() || !zone.ok()) {
      LogWarning("policy " + p.id + ": " +
                 (sched.ok() ? zone.status() : sched.status()).ToString());
      continue;
    }
    const int64_t base = std::max(p.last_scheduled_at, p.created_at);
    std::optional<int64_t> first = sched->Next(base, *zone);
    if (!first) continue;
    if (*first > now) {
      wake = std::min(wake, *first);
      continue;
    }
    // Due: fold every time up to now into one run.
    int64_t latest = *first;
    int count = 1;
    for (; count < kMaxCollapsed; ++count) {
      std::optional<int64_t> n = sched->Next(latest, *zone);
      if (!n || *n > now) break;
      latest = *n;
    }
    const bool missed = count > 1 || now - *first > opts_.late_micros;
    Status marked = catalog_->ModifyPolicy(p.id, [&](db::PolicyRecord& r) {
      r.last_scheduled_at = latest;
      return Status::OK();
    });
    if (!marked.ok()) {  // deleted meanwhile, or the catalog is down
      LogWarning("policy " + p.id + ": " + marked.ToString());
      continue;
    }
    const std::string trigger = missed ? "missed" : "schedule";
    std::unique_lock<std::mutex> lock(mu_);
    if (running_.count(p.id)) {
      lock.unlock();
      RecordSkipped(p, trigger, latest,
                    "the previous run was still going at " + ShortTime(latest));
    } else if (missed && !p.run_missed) {
      lock.unlock();
      RecordSkipped(p, trigger, latest,
                    std::to_string(count) +
                        " scheduled time(s) passed while stratad was down, "
                        "the last at " +
                        ShortTime(latest) + "; run_missed is off");
    } else {
      retries_.erase(p.id);  // a scheduled run supersedes a pending retry
      StartRunLocked(p, trigger, latest, 1);
    }
    if (auto n = sched->Next(latest, *zone)) wake = std::min(wake, *n);
  }
  // Retries whose time has come.
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = retries_.begin(); it != retries_.end();) {
    if (it->second.at > now) {
      wake = std::min(wake, it->second.at);
      ++it;
      continue;
    }
    if (running_.count(it->first)) {
      // The failed run's worker has not let go yet (it wakes us when it
      // does), or a scheduled run came first: the retry waits.
      ++it;
      continue;
    }
    auto p = catalog_->GetPolicy(it->first);
    if (p.ok() && p->enabled)
      StartRunLocked(*p, "retry", it->second.scheduled_at, it->second.attempt);
    it = retries_.erase(it);
  }
  return wake;
}

db::PolicyRunRecord PolicyRunner::StartRunLocked(const db::PolicyRecord& p,
                                                 const std::string& trigger,
                                                 int64_t scheduled_at,
                                                 int attempt) {
  db::PolicyRunRecord run = NewRun(p, trigger, scheduled_at, "running");
  run.attempt = attempt;
  Status s = catalog_->InsertPolicyRun(run);
  if (!s.ok()) {
    LogError("policy " + p.id + ": recording a run: " + s.ToString());
    return run;
  }
  running_.insert(p.id);
  LogInfo("policy " + p.id + " (" + p.name + "): run " + run.id + " (" +
          trigger + ", attempt " + std::to_string(attempt) + ") started");
  runs_.Submit([this, p, run] {
    try {
      Execute(p, run);
    } catch (const std::exception& e) {  // the thread's edge
      LogError("policy run " + run.id + ": " + e.what());
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.erase(p.id);
      changed_ = true;  // a retry may be waiting for this run to let go
    }
    cv_.notify_all();
  });
  return run;
}

void PolicyRunner::RecordSkipped(const db::PolicyRecord& p,
                                 const std::string& trigger,
                                 int64_t scheduled_at, const std::string& why) {
  db::PolicyRunRecord run = NewRun(p, trigger, scheduled_at, "skipped");
  run.finished_at = run.started_at;
  run.error = why;
  LogInfo("policy " + p.id + ": a run skipped: " + why);
  LogIfError(catalog_->InsertPolicyRun(run), "recording a skipped run");
}

Result<db::PolicyRunRecord> PolicyRunner::RunNow(const db::PolicyRecord& p) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return Status::Unavailable("stratad is stopping");
  if (running_.count(p.id))
    return Status::Conflict("Policy " + p.id +
                            " has a run going; wait for it to end.");
  db::PolicyRunRecord run = StartRunLocked(p, "manual", NowMicros(), 1);
  if (!running_.count(p.id))
    return Status::Internal("the run of policy " + p.id +
                            " could not be recorded");
  return run;
}

Result<std::vector<int64_t>> PolicyRunner::NextRuns(const db::PolicyRecord& p,
                                                    size_t count) const {
  STRATA_ASSIGN_OR_RETURN(schedule::Schedule sched, ReadSchedule(p));
  STRATA_ASSIGN_OR_RETURN(schedule::ZoneClock zone,
                          ReadZone(p, opts_.host_zone));
  return sched.NextRuns(std::max(NowMicros(), p.last_scheduled_at), zone,
                        count);
}

bool PolicyRunner::WaitFor(const std::function<bool()>& done) {
  const int64_t deadline = NowMicros() + opts_.wait_micros;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    lock.unlock();
    const bool ok = done();
    lock.lock();
    if (ok) return true;
    if (stop_ || NowMicros() > deadline) return false;
    cv_.wait_for(lock, std::chrono::microseconds(opts_.poll_micros),
                 [&] { return stop_; });
  }
}

std::vector<db::VolumeRecord> PolicyRunner::ResolveVolumes(
    const db::PolicyRecord& p, std::vector<std::string>* errors) {
  std::vector<db::VolumeRecord> out;
  std::set<std::string> seen;
  auto add = [&](const db::VolumeRecord& v) {
    if (seen.insert(v.id).second) out.push_back(v);
  };
  auto targets = ReadTargets(p);
  if (!targets.ok()) {
    errors->push_back(targets.status().message());
    return out;
  }
  for (const std::string& id : targets->volumes) {
    auto v = catalog_->GetVolume(id);
    if (!v.ok() || v->status == "deleted" || v->project_id != p.project_id) {
      errors->push_back("volume " + id + " could not be found");
      continue;
    }
    add(*v);
  }
  for (const ServerTargetReport& r :
       ResolveServers(p, /*with_network=*/false)) {
    const ServerTarget& t = r.target;
    const std::string named = DescribeTarget(t);
    if (!r.server) {
      errors->push_back(named + ": " + r.error);
      continue;
    }
    const hypervisor::DomainInfo* dom = &r.server->domain;
    const hypervisor::DomainDisk* system = dom->SystemDisk();
    bool any = false;
    for (const hypervisor::DomainDisk& d : dom->disks) {
      if (d.device != "disk") continue;
      const bool is_system = system && d.target == system->target;
      if ((t.disks == "system" && !is_system) ||
          (t.disks == "data" && is_system))
        continue;
      auto v = engine_->ServerDiskVolume(*dom, d, opts_.default_project);
      if (!v.ok()) {
        errors->push_back(named + " disk " + d.target + ": " +
                          v.status().message());
        continue;
      }
      if (v->project_id != p.project_id) {
        errors->push_back(named + " disk " + d.target +
                          " belongs to another project");
        continue;
      }
      add(*v);
      any = true;
    }
    if (!any && errors->empty())
      errors->push_back(named + " (" + dom->uuid + ") has no " + t.disks +
                        " disk Strata can snapshot");
  }
  return out;
}

std::vector<PolicyRunner::ServerTargetReport> PolicyRunner::ResolveServers(
    const db::PolicyRecord& p, bool with_network) {
  std::vector<ServerTargetReport> out;
  auto targets = ReadTargets(p);
  if (!targets.ok()) return out;
  hypervisor::Hypervisor* hv = engine_->hypervisor();
  for (const ServerTarget& t : targets->servers) {
    ServerTargetReport r{t, std::nullopt, ""};
    if (!hv) {
      r.error = "servers named, but stratad has no hypervisor";
    } else {
      auto resolved = ResolveServerTarget(*hv, t, p.project_id,
                                          opts_.default_project, with_network);
      if (resolved.ok())
        r.server = std::move(*resolved);
      else
        r.error = resolved.status().message();
    }
    out.push_back(std::move(r));
  }
  return out;
}

void PolicyRunner::Execute(db::PolicyRecord p, db::PolicyRunRecord run) {
  std::vector<std::string> errors;
  // A run still queued when stratad stops does not begin.
  const std::vector<db::VolumeRecord> volumes =
      stopping() ? std::vector<db::VolumeRecord>{} : ResolveVolumes(p, &errors);
  nlohmann::json snaps = nlohmann::json::array();
  std::vector<std::pair<std::string, std::string>> started;  // volume, snap
  // All at once: the engine runs different volumes' snapshots in parallel.
  for (const db::VolumeRecord& v : volumes) {
    engine::CreateSnapshotRequest req;
    req.project_id = p.project_id;
    req.user_id = p.user_id;
    req.volume_id = v.id;
    req.name = (p.name.empty() ? "policy" : p.name) + " " +
               ShortTime(run.scheduled_at);
    req.description = "Made by policy " + p.id + ", run " + run.id;
    req.metadata[kPolicyIdKey] = p.id;
    req.metadata[kPolicyRunKey] = run.id;
    // A volume busy with another operation (a snapshot or revert someone
    // else asked for: 409) is waited for: the run has started on time, and
    // its snapshot follows as soon as the volume is free.
    Result<db::SnapshotRecord> snap = Status::Internal("not asked");
    WaitFor([&] {
      snap = engine_->CreateSnapshot(req);
      return snap.ok() || !snap.status().IsConflict();
    });
    if (!snap.ok()) {
      errors.push_back("volume " + v.id + ": " + snap.status().message());
      snaps.push_back({{"volume_id", v.id},
                       {"snapshot_id", nullptr},
                       {"status", "error"},
                       {"error", snap.status().message()}});
      continue;
    }
    started.emplace_back(v.id, snap->id);
  }
  for (const auto& [volume_id, snap_id] : started) {
    std::string status = "creating", error;
    WaitFor([&] {
      auto s = catalog_->GetSnapshot(snap_id);
      if (!s.ok()) {
        status = "error";
        error = s.status().message();
        return true;
      }
      status = s->status;
      error = s->error;
      return status != "creating";
    });
    nlohmann::json entry = {
        {"volume_id", volume_id}, {"snapshot_id", snap_id}, {"status", status}};
    if (status != "available") {
      if (error.empty()) error = "the snapshot is " + status;
      entry["error"] = error;
      errors.push_back("volume " + volume_id + ": snapshot " + snap_id + ": " +
                       error);
    }
    snaps.push_back(entry);
  }
  // Retention, on the volumes whose new snapshot is stored: a failing
  // policy never prunes the points it failed to replace.
  nlohmann::json pruned = nlohmann::json::array();
  for (const auto& entry : snaps) {
    if (entry["status"] != "available" || stopping()) continue;
    Status s = Prune(p, entry["volume_id"].get<std::string>(), &pruned);
    if (!s.ok())
      errors.push_back("pruning volume " +
                       entry["volume_id"].get<std::string>() + ": " +
                       s.message());
  }
  if (stopping() && errors.empty()) errors.push_back("stratad stopped");
  run.snapshots = snaps.dump();
  run.pruned = pruned.dump();
  run.finished_at = NowMicros();
  run.status = errors.empty() ? "success" : "error";
  for (size_t i = 0; i < errors.size(); ++i)
    run.error += (i ? "; " : "") + errors[i];
  LogIfError(catalog_->UpdatePolicyRun(run), "recording policy run " + run.id);
  LogInfo("policy " + p.id + ": run " + run.id + " " + run.status +
          (run.error.empty() ? "" : ": " + run.error));
  if (run.status == "error" && run.attempt <= p.retry_attempts && !stopping()) {
    std::lock_guard<std::mutex> lock(mu_);
    retries_[p.id] =
        Retry{NowMicros() + int64_t{p.retry_delay_seconds} * 1000000,
              run.attempt + 1, run.scheduled_at};
    changed_ = true;
    cv_.notify_all();
  }
}

Result<std::map<std::string, std::vector<RetentionDecision>>>
PolicyRunner::DecideByVolume(const db::PolicyRecord& p,
                             const std::string& volume_id) {
  STRATA_ASSIGN_OR_RETURN(RetentionRules rules, ReadRetention(p));
  STRATA_ASSIGN_OR_RETURN(schedule::ZoneClock zone,
                          ReadZone(p, opts_.host_zone));
  db::ListQuery q;
  if (!volume_id.empty()) q.filters["volume_id"] = volume_id;
  q.metadata[kPolicyIdKey] = p.id;
  STRATA_ASSIGN_OR_RETURN(auto listed, catalog_->ListSnapshots(q));
  std::map<std::string, std::vector<RetentionItem>> by_volume;
  for (const db::SnapshotRecord& s : listed.rows) {
    if (s.status != "available" || s.hidden) continue;
    auto prot = s.metadata.find(kProtectedKey);
    by_volume[s.volume_id].push_back(
        {s.id, s.created_at,
         s.pinned || (prot != s.metadata.end() && prot->second == "true")});
  }
  std::map<std::string, std::vector<RetentionDecision>> out;
  for (auto& [volume, items] : by_volume)
    out[volume] = DecideRetention(std::move(items), rules, zone);
  return out;
}

Status PolicyRunner::Prune(const db::PolicyRecord& p,
                           const std::string& volume_id,
                           nlohmann::json* pruned) {
  STRATA_ASSIGN_OR_RETURN(auto decided, DecideByVolume(p, volume_id));
  for (const RetentionDecision& d : decided[volume_id]) {
    if (d.verdict != RetentionVerdict::kRemove) continue;
    if (stopping()) return Status::Unavailable("stratad stopped");
    // One delete at a time: each holds the volume's lease.
    Status s;
    WaitFor([&] {
      s = engine_->DeleteSnapshot(d.id, false);
      return !s.IsConflict();
    });
    if (!s.ok()) return s.WithContext("deleting snapshot " + d.id);
    std::string outcome;
    WaitFor([&] {
      auto snap = catalog_->GetSnapshot(d.id);
      if (!snap.ok() || snap->hidden) {
        outcome = "deleted";
        return true;
      }
      outcome = snap->status;
      return snap->status != "deleting";
    });
    if (outcome != "deleted")
      return Status::IoError("snapshot " + d.id + " is " + outcome +
                             " after its delete");
    pruned->push_back({{"volume_id", volume_id},
                       {"snapshot_id", d.id},
                       {"reason", d.reason}});
    LogInfo("policy " + p.id + ": pruned snapshot " + d.id + " of volume " +
            volume_id + " (" + d.reason + ")");
  }
  return Status::OK();
}

Result<nlohmann::json> PolicyRunner::PruneDryRun(const db::PolicyRecord& p) {
  STRATA_ASSIGN_OR_RETURN(auto decided, DecideByVolume(p, ""));
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [volume_id, decisions] : decided) {
    for (const RetentionDecision& d : decisions)
      out.push_back({{"volume_id", volume_id},
                     {"snapshot_id", d.id},
                     {"created_at", d.created_at_micros},
                     {"action", VerdictName(d.verdict)},
                     {"reason", d.reason}});
  }
  return out;
}

}  // namespace strata::policy
