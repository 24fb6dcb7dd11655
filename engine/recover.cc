// Crash recovery: reconciles the disk's chain, the catalog and the store for
// every task a crash interrupted, then tidies every volume.
//
// The chain on disk is the truth. Each operation changes it by atomic
// renames, so after a crash the disk's path holds either the old top or the
// new one; the one exception (between "rename_top" and "install_overlay" of
// a create) leaves the path empty with the new overlay ready under its temp
// name, and recovery installs it. A create interrupted during its upload
// (its layer cut and whole) is left running for the engine to carry on
// once it serves (SnapshotCreator::ResumeUpload); one interrupted before
// ends in error, its layer stays in the chain and the next snapshot
// carries its writes (R2.6). A revert counts as done exactly when
// the disk's backing file is the history it was building (for a revert onto
// the history already there: when the disk's path holds a new top).
#include "engine/recover.h"

#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/group_hold.h"
#include "engine/memory_regions.h"
#include "engine/memory_snapshot.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/time_util.h"

namespace strata::engine {

Status Recovery::RecoverTask(const db::TaskRecord& task) {
  if (task.kind.rfind("volume_", 0) == 0) return lifecycle_->RecoverTask(task);
  if (task.kind == "group_hold") return ResumeHeldDomains(task);
  // The coordinator's own (coordinator/group_coordinator.h), no volume's.
  if (task.kind == "group_coordinate") return Status::OK();
  if (task.kind == "instant_rollback") return instant_->RecoverTask(task);
  auto vol = catalog_->GetVolume(task.volume_id);
  if (!vol.ok()) return vol.status();
  const std::string& disk = vol->path;
  auto state = nlohmann::json::parse(task.state, nullptr, false);
  if (!state.is_object()) state = nlohmann::json::object();
  const std::string why = "interrupted by a restart at step " + task.step;
  // A snapshot with memory: QEMU's migration stopped and the VM running
  // again before anything else (snapshot_memory.cc).
  if (task.kind == "snapshot_create" && state.contains("memory_domain"))
    STRATA_RETURN_IF_ERROR(EndMemoryTake(task, state, why));
  // A running VM first gets back onto the disk's path.
  STRATA_RETURN_IF_ERROR(live_->ReconcileLiveDisk(*vol));

  if (!PathExists(disk)) {
    std::string overlay = state.value("overlay", "");
    if (overlay.empty() || !PathExists(overlay)) {
      LogIfError(catalog_->ModifyVolume(vol->id,
                                        [](db::VolumeRecord& v) {
                                          v.status = "error";
                                          return Status::OK();
                                        }),
                 "marking volume " + vol->id + " error");
      return Status::Corruption(disk +
                                " is missing and no overlay can replace it");
    }
    LogInfo("recovery: installing " + overlay + " at " + disk);
    STRATA_RETURN_IF_ERROR(RenameDurableNoSymlinks(overlay, disk));
  }
  STRATA_ASSIGN_OR_RETURN(Chain chain, ReadChain(disk, disk, confinement_));
  const std::string snap_id = task.snapshot_id.value_or("");

  if (task.kind == "snapshot_create") {
    auto snap = catalog_->GetSnapshot(snap_id);
    if (snap.ok() && !snap->store_key) {
      bool cut =
          chain.length() > 1 && chain.layers[1].name.snapshot_id == snap_id;
      // Its layer cut and whole, its upload begun: carried on once the
      // engine serves (ResumeUpload), the task left running till then.
      if (cut && task.step == "create.upload" && snap->status == "creating" &&
          (vol->status == "available" || vol->status == "in-use")) {
        resumable_.push_back(task);
        return Status::OK();
      }
      if (task.step == "create.upload") return AbandonUpload(task, why);
      STRATA_RETURN_IF_ERROR(catalog_->SetSnapshotStatus(
          snap_id, "error", 0,
          why + (cut ? "; the next snapshot carries its writes (R2.6)"
                     : "; before the cut-over, nothing was captured")));
    }
  } else if (task.kind == "revert" || task.kind == "rebuild" ||
             task.kind == "memory_restore") {
    if (task.kind == "memory_restore" && !opts_.memory_dir.empty())
      RemoveMemoryLeftovers(FetchScratch(opts_.memory_dir, snap_id));
    std::string history = state.value("history", "");
    bool done = chain.length() > 1 && !history.empty() &&
                chain.layers[1].path == history;
    // A revert onto the history already there (to the latest snapshot):
    // done when the top it replaces is gone from the disk's path.
    if (state.contains("replaces_inode")) {
      struct stat st;
      done = stat(disk.c_str(), &st) == 0 &&
             static_cast<uint64_t>(st.st_ino) !=
                 state.value("replaces_inode", uint64_t{0});
    }
    if (done) LogInfo("recovery: revert of " + vol->id + " had completed");
    STRATA_RETURN_IF_ERROR(
        catalog_->ModifyVolume(vol->id, [&](db::VolumeRecord& v) {
          if (done) v.head_snapshot_id = snap_id;
          v.status = v.domain_uuid ? "in-use" : "available";
          return Status::OK();
        }));
    STRATA_RETURN_IF_ERROR(
        catalog_->SetSnapshotStatus(snap_id, "available", 100));
    // A rebuilt server that ran runs again, whether the revert was done.
    if (task.kind == "rebuild" && state.value("power_on", false) && hv_) {
      const std::string dom = state.value("domain", "");
      LogInfo("recovery: starting server " + dom + " after its rebuild");
      if (Status on = hv_->PowerOn(dom); !on.ok())
        LogError("recovery: starting server " + dom + ": " + on.ToString());
    }
    // A memory restore's domain stays off: its memory was not (or not
    // surely) restored, and the restore can be asked again.
    if (done && task.kind != "memory_restore")
      return catalog_->FinishTask(task.id, "succeeded", "");
  } else if (task.kind == "snapshot_delete") {
    STRATA_RETURN_IF_ERROR(deleter_->RunDelete(snap_id));
    STRATA_RETURN_IF_ERROR(deleter_->PublishDelete(snap_id));
    return catalog_->FinishTask(task.id, "succeeded", "");
  }
  return catalog_->FinishTask(task.id, "failed", why);
}

Status Recovery::AbandonUpload(const db::TaskRecord& task,
                               const std::string& why) {
  const std::string snap_id = task.snapshot_id.value_or("");
  STRATA_RETURN_IF_ERROR(catalog_->SetSnapshotStatus(
      snap_id, "error", 0,
      why + "; the next snapshot carries its writes (R2.6)"));
  // An upload the crash cut short may have left part of the layer in the
  // store (a store's kept segments, an unfinished image): it goes (or is
  // queued) with the key, which no other snapshot uses; so does the memory
  // stored before it.
  STRATA_RETURN_IF_ERROR(
      transfer_->DeleteStored(LayerKey(task.volume_id, snap_id)));
  STRATA_RETURN_IF_ERROR(
      transfer_->DeleteStored(MemoryKey(task.volume_id, snap_id)));
  return catalog_->FinishTask(task.id, "failed", why);
}

// A group cut's hold (group_cut.cc) that a crash interrupted: every domain
// it named that is still paused runs again. Its members' own tasks settle
// their cuts.
Status Recovery::EndMemoryTake(const db::TaskRecord& task,
                               const nlohmann::json& state,
                               const std::string& why) {
  const std::string domain = state.value("memory_domain", "");
  const std::string snap_id = task.snapshot_id.value_or("");
  if (hv_ && !domain.empty()) {
    // Both are no-ops when nothing runs or the domain is gone.
    Status c = hv_->CancelMigration(domain);
    if (!c.ok() && !c.IsNotFound())
      LogWarning("recovery: cancelling domain " + domain +
                 "'s migration: " + c.ToString());
    LogInfo("recovery: resuming domain " + domain +
            ", whose memory snapshot a restart interrupted");
    Status r = hv_->Resume(domain);
    if (!r.ok() && !r.IsNotFound()) return r;
  }
  auto snap = catalog_->GetSnapshot(snap_id);
  if (snap.ok() && snap->memory_state == "writing") {
    // The region claimed for it (memory_regions.h), given back.
    const std::string region = snap->memory_region;
    STRATA_RETURN_IF_ERROR(
        catalog_->SetSnapshotMemory(snap_id, "error", domain, region, "{}",
                                    "the memory snapshot was " + why));
    if (!region.empty()) STRATA_RETURN_IF_ERROR(ReleaseMemoryRegion(region));
  }
  return Status::OK();
}

Status Recovery::ResumeHeldDomains(const db::TaskRecord& task) {
  auto state = nlohmann::json::parse(task.state, nullptr, false);
  Status resumed;
  if (hv_ && state.is_object() && state.contains("paused") &&
      state["paused"].is_array())
    for (const auto& d : state["paused"]) {
      if (!d.is_string()) continue;
      LogInfo("recovery: resuming domain " + d.get<std::string>() +
              ", held by an interrupted group snapshot");
      Status r = hv_->Resume(d.get<std::string>());
      if (!r.ok() && !r.IsNotFound()) resumed = r;
    }
  STRATA_RETURN_IF_ERROR(resumed);
  // The killed stratad's guard would resume them again at its deadline,
  // perhaps in the middle of a new hold.
  if (state.is_object() && state.contains("guard_pid") &&
      state["guard_pid"].is_number_integer())
    StopStaleHoldGuard(state["guard_pid"].get<int>());
  return catalog_->FinishTask(task.id, "succeeded", "");
}

Status Recovery::Recover() {
  // Revert histories a crash may have lost are made whole first: a
  // rebuild's recovery starts its server, which must not read them before.
  if (Status s = chain_->SettleAfterCrash(); !s.ok())
    LogError("settling revert histories: " + s.ToString());
  STRATA_ASSIGN_OR_RETURN(auto tasks, catalog_->UnfinishedTasks());
  // Held domains run again first: the other tasks' recovery may move them.
  std::stable_partition(tasks.begin(), tasks.end(),
                        [](const auto& t) { return t.kind == "group_hold"; });
  for (const auto& t : tasks) {
    LogWarning("recovering " + t.kind + " task " + t.id + " (volume " +
               t.volume_id + ") " + "interrupted at " + t.step);
    Status s = RecoverTask(t);
    if (!s.ok()) {
      LogError("recovery of task " + t.id + ": " + s.ToString());
      // Left running, the task is recovered again at the next start.
      LogIfError(catalog_->FinishTask(t.id, "failed", s.ToString()),
                 "closing task " + t.id);
    }
  }
  // Again, for histories whose chain a task's recovery had to put back
  // first; before the volumes are tidied: compaction reads histories.
  if (Status s = chain_->SettleAfterCrash(); !s.ok())
    LogError("settling revert histories: " + s.ToString());
  transfer_->RetryPendingDeletes();
  db::ListQuery all;
  STRATA_ASSIGN_OR_RETURN(auto vols, catalog_->ListVolumes(all));
  for (const auto& v : vols.rows) {
    if (v.status == "error") continue;
    // A rollback that carries on owns the volume's chain and libvirt's view
    // of it (the server runs on a mirror that no header names).
    if (instant_->Holds(v.id)) continue;
    // Snapshots left mid-flight without a task (should not happen; be safe).
    STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfVolume(v.id));
    // Statuses a crash left between a task's end and its publication.
    for (const auto& s : snaps) {
      const bool resumed =
          std::any_of(resumable_.begin(), resumable_.end(),
                      [&](const auto& t) { return t.snapshot_id == s.id; });
      // A write that fails here is tried again at the next start.
      if (s.status == "creating" && !resumed)
        LogIfError(catalog_->SetSnapshotStatus(
                       s.id, s.store_key ? "available" : "error",
                       s.store_key ? 100 : 0,
                       s.store_key ? "" : "interrupted by a restart"),
                   "settling snapshot " + s.id);
      if (s.status == "restoring")
        LogIfError(catalog_->SetSnapshotStatus(s.id, "available", 100),
                   "settling snapshot " + s.id);
      if (s.status == "deleting" && deleter_->RunDelete(s.id).ok())
        deleter_->PublishDeleteDurably(s.id);
    }
    // A create whose journal a crash kept from starting built nothing.
    if (v.status == "creating" && !PathExists(v.path)) {
      LogIfError(catalog_->ModifyVolume(v.id,
                                        [](db::VolumeRecord& r) {
                                          r.status = "error";
                                          return Status::OK();
                                        }),
                 "settling volume " + v.id);
      continue;
    }
    // "in-use" without a domain is an NBD export's client (SetExportAttached),
    // and no client is connected before the exports start, after this.
    if (v.status == "reverting" || (v.status == "in-use" && !v.domain_uuid))
      LogIfError(catalog_->ModifyVolume(v.id,
                                        [](db::VolumeRecord& r) {
                                          r.status = "available";
                                          return Status::OK();
                                        }),
                 "settling volume " + v.id);
    Status st = live_->ReconcileLiveDisk(v);
    if (st.ok()) st = chain_->CollectGarbage(v, /*now=*/true);
    if (st.ok()) st = chain_->CompactChain(nullptr, v);
    if (st.ok()) st = live_->SyncHypervisorView(nullptr, v);
    if (st.ok()) st = deleter_->DropUnneededLayers(v.id);
    if (!st.ok()) LogError("tidying volume " + v.id + ": " + st.ToString());
  }
  // Deleted volumes kept for their backups: what no backup needs goes.
  STRATA_ASSIGN_OR_RETURN(auto retained, catalog_->RetainedVolumes());
  for (const auto& v : retained)
    LogIfError(lifecycle_->ForgetRetained(v.id),
               "tidying deleted volume " + v.id);
  return Status::OK();
}

}  // namespace strata::engine
