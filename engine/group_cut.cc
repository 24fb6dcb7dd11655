// A group snapshot's consistent cut: one snapshot of each member volume,
// all cut at one instant (Cinder's group snapshots, issue 18; R4's cut
// across hosts builds on it, issue 22).
//
// Prepare, hold, cut, release. First every member's cut is made ready
// (the files it needs, journalled: PrepareCut), so that the hold covers
// the cuts' instants alone. Every running domain on this host that writes
// to a member (its own file, or through Strata's NBD export of it) is
// paused: QEMU drains the guest's in-flight I/O before the pause returns,
// and the guest issues nothing more. Then every member's top is cut (a
// quiet disk's renames, a running VM's switch onto its prepared overlay; a
// held chain released and cut), then the domains resume. A cut prepared
// and not made is undone (DropCut). No write acknowledged after one cut can
// precede a write that another cut includes, so the members together hold
// a crash-consistent state of whatever runs across them. The hold covers
// the cuts only: a running VM's pivot back onto its disk's path, the
// uploads and the merges come after the domains resume, as for any
// snapshot (snapshot_create.cc), each member under its own journal.
//
// Journal: a "group_hold" task names the domains before they are paused,
// and recovery resumes every one of them that is still paused, so a crash
// never leaves a VM paused (recover.cc). A member whose cut fails ends in
// error, and so does the group snapshot (group_lifecycle.cc).
//
// Not held: writers that are not domains of this host (an NBD client
// elsewhere), and the domains of a host whose libvirt does not answer;
// issue 22's redirect-cache hold covers both.
#include <chrono>
#include <set>

#include "engine/group_hold.h"
#include "engine/snapshot_create.h"
#include "util/crash_point.h"
#include "util/fs.h"
#include "util/guarded.h"
#include "util/log.h"

namespace strata::engine {
namespace {

// The running domains that write to any of `vols`' disks; none when libvirt
// cannot be asked (as LiveDisks::DomainUsing, a member that a domain is
// known to use then fails its own cut instead).
std::vector<std::string> RunningWriters(
    hypervisor::Hypervisor* hv, ChainHolder* holder,
    const std::vector<db::VolumeRecord>& vols) {
  std::vector<std::string> out;
  if (!hv) return out;
  std::set<std::string> paths;
  for (const auto& v : vols) paths.insert(v.path);
  auto doms = hv->ListDomains();
  if (!doms.ok()) {
    LogWarning("group cut: cannot list domains: " + doms.status().ToString());
    return out;
  }
  for (const auto& d : *doms) {
    if (d.state != hypervisor::DomainState::kRunning) continue;
    for (const auto& disk : d.disks) {
      bool writes = false;
      if (!disk.source.empty()) {
        auto canon = CanonicalPath(disk.source);
        writes = canon.ok() && paths.count(*canon);
      }
      if (!writes && !disk.nbd_socket.empty() && holder) {
        auto served = holder->DiskServedOn(disk.nbd_socket);
        writes = served && paths.count(*served);
      }
      if (writes) {
        out.push_back(d.uuid);
        break;
      }
    }
  }
  return out;
}

}  // namespace

Result<std::vector<db::SnapshotRecord>> SnapshotCreator::CreateGroupSnapshot(
    const std::vector<CreateSnapshotRequest>& reqs,
    std::shared_ptr<GroupCutGate> gate) {
  std::vector<db::VolumeRecord> vols;
  std::vector<std::shared_ptr<VolumeLease>> leases;
  for (const auto& r : reqs) {
    STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                            SnapshottableVolume(r.volume_id));
    STRATA_ASSIGN_OR_RETURN(auto lease,
                            locks_.TryAcquire(vol.id, "a group snapshot"));
    vols.push_back(std::move(vol));
    leases.push_back(std::move(lease));
  }
  std::vector<Journal> journals;
  std::vector<db::SnapshotRecord> snaps;
  STRATA_RETURN_IF_ERROR(catalog_->Transaction([&]() -> Status {
    for (size_t i = 0; i < reqs.size(); ++i) {
      STRATA_ASSIGN_OR_RETURN(auto begun, BeginSnapshot(reqs[i], vols[i]));
      journals.push_back(std::move(begun.first));
      snaps.push_back(std::move(begun.second));
    }
    return Status::OK();
  }));
  if (!gate)
    gate = std::make_shared<GroupCutGate>(
        reqs.empty() ? "" : reqs[0].group_snapshot_id.value_or(""),
        /*driven=*/false,
        HoldClock::now() + std::chrono::milliseconds(opts_.group_hold_ms));
  std::vector<std::string> ids;
  for (const auto& sn : snaps) ids.push_back(sn.id);
  gate->SetMembers(ids);
  if (vols.empty()) {
    gate->Held({});
    return snaps;
  }
  Launch(leases[0],
         [this, journals, vols, snaps, leases, gate](auto& held) mutable {
           held.reset();  // leases[0] still holds it, until its member ends
           RunGroupCut(journals, vols, snaps, leases, *gate);
         });
  return snaps;
}

void SnapshotCreator::RunGroupCut(
    std::vector<Journal>& journals, const std::vector<db::VolumeRecord>& vols,
    const std::vector<db::SnapshotRecord>& snaps,
    std::vector<std::shared_ptr<VolumeLease>>& leases, GroupCutGate& gate) {
  const size_t n = vols.size();
  std::vector<Status> results(n, Status::OK());
  std::vector<std::optional<Cut>> cuts(n);
  std::vector<bool> released(n, false);
  const std::string group_snapshot_id =
      snaps[0].group_snapshot_id.value_or(snaps[0].id);
  bool cut_all = false;     // every member's top was cut
  bool consistent = false;  // ... and held from before the cut to after
  // Cuts made ready before the hold, not yet made.
  std::vector<std::optional<Cut>> prepared(n);

  Status held = CatchAll("engine.group_cut", [&]() -> Status {
    // Every file a cut needs is made before the writers are held, so that
    // the hold covers only the cuts' instants: a running VM's switch onto
    // its prepared overlay, a quiet disk's renames. A chain that an NBD
    // export holds is released in the hold, and cut there as before.
    for (size_t i = 0; i < n; ++i) {
      if (Held(vols[i])) continue;
      STRATA_ASSIGN_OR_RETURN(
          prepared[i], PrepareCut(journals[i], vols[i], snaps[i].id, false));
    }
    const std::vector<std::string> writers = RunningWriters(hv_, holder_, vols);
    STRATA_ASSIGN_OR_RETURN(
        Journal hold,
        Journal::Begin(catalog_, "group_hold", vols[0].id, group_snapshot_id));
    hold.state()["paused"] = writers;
    // Resumes the writers at the deadline should stratad die holding them.
    HoldGuard guard;
    if (Status g = guard.Arm(opts_.hold_guard_argv, gate.deadline(), writers);
        !g.ok()) {
      gate.Ended("error", g, 0);
      LogIfError(hold.Fail(g), "journal of group hold " + hold.task_id());
      return g;
    }
    hold.state()["guard_pid"] = guard.pid();
    STRATA_RETURN_IF_ERROR(hold.Step("group.hold", 10));
    const auto t0 = std::chrono::steady_clock::now();
    // The paused domains resume on every way out of this scope, an
    // exception's included (CatchAll stops it only at the lambda's edge).
    struct Holding {
      hypervisor::Hypervisor* hv;
      HoldGuard* guard;
      std::vector<std::string> paused;
      size_t held = 0;  // how many were paused
      bool all_resumed = true;
      void ResumeAll() noexcept {
        for (const auto& d : paused) {
          Status r =
              CatchAll("engine.group_resume", [&] { return hv->Resume(d); });
          if (!r.ok()) {
            LogError("group cut: resuming domain " + d + ": " + r.ToString());
            all_resumed = false;
          }
        }
        paused.clear();
        // A domain that did not resume is the guard's at the deadline.
        if (all_resumed)
          guard->Disarm();
        else
          guard->Detach();
      }
      ~Holding() { ResumeAll(); }
    } holding{hv_, &guard, {}};
    Status s;
    bool expired = false;
    // Where the hold's time goes: the instants after pausing, the cut's
    // request, cutting, the release's request and resuming.
    std::vector<std::chrono::steady_clock::time_point> at;
    for (const auto& d : writers) {
      s = hv_->Pause(d);
      if (!s.ok()) {
        s = s.WithContext("holding the group's writers");
        break;
      }
      holding.paused.push_back(d);
      ++holding.held;
    }
    at.push_back(std::chrono::steady_clock::now());
    if (s.ok()) {
      gate.Held(writers);
      expired = !gate.AwaitCut();
      if (expired)
        s = Status::Conflict(
            "the hold ended (its deadline passed, or it was aborted) before "
            "the cut was asked for");
    }
    at.push_back(std::chrono::steady_clock::now());
    // Not journalled (a write to the catalog in the hold): the group_hold
    // task's recovery is the same at any point of the hold (tests).
    if (s.ok()) CrashPoint("group.cut");
    for (size_t i = 0; s.ok() && i < n; ++i) {
      results[i] = [&]() -> Status {
        if (prepared[i]) {
          STRATA_RETURN_IF_ERROR(FinishCut(journals[i], vols[i], *prepared[i]));
          cuts[i] = std::move(prepared[i]);
          prepared[i].reset();
          return Status::OK();
        }
        if (Held(vols[i])) {
          STRATA_RETURN_IF_ERROR(ReleaseChain(journals[i], vols[i]));
          released[i] = true;
        }
        // The domain is paused: its guest agent cannot freeze anything.
        STRATA_ASSIGN_OR_RETURN(
            cuts[i], CutTop(journals[i], vols[i], snaps[i].id, false));
        return Status::OK();
      }();
      if (!results[i].ok()) s = results[i];
    }
    at.push_back(std::chrono::steady_clock::now());
    cut_all = s.ok();
    const bool cut_in_time = cut_all && HoldClock::now() < gate.deadline();
    if (cut_all) gate.Cut();
    const bool release_in_time = cut_all && gate.AwaitRelease();
    at.push_back(std::chrono::steady_clock::now());
    holding.ResumeAll();
    at.push_back(std::chrono::steady_clock::now());
    const double held_ms =
        std::chrono::duration<double, std::milli>(at.back() - t0).count();
    static const char* const kSpans[] = {"pausing", "awaiting the cut",
                                         "cutting", "awaiting the release",
                                         "resuming"};
    std::string spans;
    for (size_t k = 0; k < at.size(); ++k)
      spans += std::string(k ? ", " : " (") + kSpans[k] + " " +
               std::to_string(
                   static_cast<int>(std::chrono::duration<double, std::milli>(
                                        at[k] - (k ? at[k - 1] : t0))
                                        .count())) +
               " ms" + (k + 1 == at.size() ? ")" : "");
    consistent = cut_in_time && release_in_time;
    if (cut_all)
      gate.Released(consistent, held_ms);
    else
      gate.Ended(expired ? "expired" : "error", s, held_ms);
    LogInfo("group snapshot " + group_snapshot_id + ": " + std::to_string(n) +
            " volume(s) " + (cut_all ? "cut" : "not cut") + " while " +
            std::to_string(holding.held) + " domain(s) were held for " +
            std::to_string(held_ms) + " ms" + spans +
            (cut_all && !consistent ? " (past the hold's deadline)" : ""));
    // A domain that did not resume stays in the journal for recovery.
    if (holding.all_resumed)
      LogIfError(s.ok() ? hold.Succeed() : hold.Fail(s),
                 "journal of group hold " + hold.task_id());
    return s;
  });
  if (!held.ok() && !gate.Finished()) gate.Ended("error", held, 0);
  for (size_t i = 0; i < n; ++i)
    if (prepared[i]) DropCut(*prepared[i]);

  for (size_t i = 0; i < n; ++i) {
    Status s = cuts[i] ? Status::OK() : (held.ok() ? results[i] : held);
    if (s.ok() && cuts[i])
      s = CatchAll("engine.snapshot_create", [&] {
        return StoreLayer(journals[i], vols[i], snaps[i], *cuts[i]);
      });
    if (released[i]) ReacquireChain(vols[i]);
    if (s.ok() && !cuts[i]) s = Status::Internal("the member was not cut");
    Conclude(journals[i], vols[i], snaps[i].id, s, std::nullopt, leases[i]);
  }
  // Members cut but not held through to the release are kept (their data
  // is the disk's), and the group snapshot says it is not consistent;
  // unless its row is a coordinator's (not following its members), which
  // the coordinator ends when it has cleaned every host's part.
  if (cut_all && !consistent)
    LogIfError(catalog_->ModifyGroupSnapshot(group_snapshot_id,
                                             [](db::GroupSnapshotRecord& g) {
                                               if (!g.follows_members)
                                                 return Status::OK();
                                               g.status = "error";
                                               g.follows_members = false;
                                               return Status::OK();
                                             }),
               "group snapshot " + group_snapshot_id);
}

}  // namespace strata::engine
