// The snapshot-delete task.
//
// A snapshot in error has no stored layer: its row goes (a layer file of it
// still in the chain is merged into the next snapshot by R2.6). An available
// snapshot's stored layer is deleted at once when nothing builds on it (no
// other snapshot's layer is relative to it, and it is not the volume's head),
// together with hidden ancestors kept only for it; otherwise the snapshot is
// hidden (never listed again) and its layer goes later (DropUnneededLayers).
// RunDelete does the store work under the volume's lease; PublishDelete, run
// after the lease is released, removes or hides the row.
#include "engine/snapshot_delete.h"

#include <algorithm>

#include "engine/journal.h"
#include "engine/memory_regions.h"
#include "util/fs.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/open_beneath.h"

namespace strata::engine {
namespace {

// True when another snapshot's layer or the volume's live chain builds on
// `snap`'s layer, or a backup pins it.
Result<bool> IsNeeded(db::Catalog* catalog, const db::SnapshotRecord& snap) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog->GetVolume(snap.volume_id));
  STRATA_ASSIGN_OR_RETURN(auto all, catalog->SnapshotsOfVolume(snap.volume_id));
  return LayerIsNeeded(vol, all, snap.id);
}

}  // namespace

Status SnapshotDeleter::RunDelete(const std::string& snapshot_id) {
  auto snap = catalog_->GetSnapshot(snapshot_id);
  if (!snap.ok())
    return snap.status().IsNotFound() ? Status::OK() : snap.status();
  if (!snap->store_key) return Status::OK();
  STRATA_ASSIGN_OR_RETURN(bool needed, IsNeeded(catalog_, *snap));
  if (needed && MergeIntoOnlyChild(*snap)) {
    STRATA_ASSIGN_OR_RETURN(needed, IsNeeded(catalog_, *snap));
  }
  if (needed) return Status::OK();  // hidden by PublishDelete, layer kept
  STRATA_RETURN_IF_ERROR(transfer_->DeleteStored(*snap->store_key));
  // Ancestors kept only for this one may go too.
  return DropUnneededLayers(snap->volume_id, snapshot_id);
}

std::vector<std::string> SnapshotDeleter::RotateOut(
    const std::string& volume_id, const Rotation& r) {
  std::vector<std::string> victims;
  auto snaps = catalog_->SnapshotsOfVolume(volume_id);
  if (!snaps.ok()) {
    LogWarning("rotation of volume " + volume_id +
               " skipped: " + snaps.status().ToString());
    return victims;
  }
  std::vector<const db::SnapshotRecord*> matching;
  for (const auto& s : *snaps) {
    if (s.hidden || s.status != "available") continue;
    bool all = true;
    for (const auto& [k, v] : r.match) {
      auto it = s.metadata.find(k);
      all = all && it != s.metadata.end() && it->second == v;
    }
    if (all) matching.push_back(&s);
  }
  std::sort(matching.begin(), matching.end(),
            [](auto* a, auto* b) { return a->created_at < b->created_at; });
  const size_t keep = static_cast<size_t>(std::max(0, r.keep));
  for (size_t i = 0; i + keep < matching.size(); ++i) {
    const std::string& id = matching[i]->id;
    if (catalog_->SetSnapshotStatus(id, "deleting", 100).ok())
      victims.push_back(id);
  }
  std::vector<std::string> done;
  for (const auto& id : victims) {
    Status s = RunDelete(id);
    if (!s.ok()) {
      LogWarning("rotation: deleting snapshot " + id + " failed (" +
                 s.ToString() + "); retried at the next start");
      continue;
    }
    LogInfo("rotation deleted snapshot " + id + " of volume " + volume_id);
    done.push_back(id);
  }
  return done;
}

Status SnapshotDeleter::PublishDelete(const std::string& snapshot_id) {
  auto snap = catalog_->GetSnapshot(snapshot_id);
  if (!snap.ok())
    return snap.status().IsNotFound() ? Status::OK() : snap.status();
  bool keep = false;
  if (snap->store_key) {
    STRATA_ASSIGN_OR_RETURN(keep, IsNeeded(catalog_, *snap));
  }
  // The memory taken with it (snapshot_memory.cc) goes in either case,
  // here and from the store: nothing builds on it.
  if (!snap->memory_region.empty() && snap->memory_state != "deleted") {
    STRATA_RETURN_IF_ERROR(ReleaseMemoryRegion(snap->memory_region));
    if (!snap->memory_store_key.empty())
      STRATA_RETURN_IF_ERROR(transfer_->DeleteStored(snap->memory_store_key));
    if (keep)
      STRATA_RETURN_IF_ERROR(catalog_->SetSnapshotMemory(
          snapshot_id, "deleted", snap->memory_domain, snap->memory_region,
          snap->memory_figures));
  }
  if (!keep) return catalog_->DeleteSnapshot(snapshot_id);
  LogInfo("snapshot " + snapshot_id +
          " hidden; its layer stays while others "
          "build on it");
  return catalog_->ModifySnapshot(snapshot_id, [](db::SnapshotRecord& s) {
    s.hidden = true;
    s.status = "deleted";
    return Status::OK();
  });
}

bool LayerIsNeeded(const db::VolumeRecord& vol,
                   const std::vector<db::SnapshotRecord>& snaps,
                   const std::string& id, const std::string& ignoring) {
  if (vol.head_snapshot_id == id) return true;
  for (const auto& o : snaps)
    if ((o.parent_id == id && o.id != ignoring) ||
        (o.id == id && (o.pinned || o.unmanaged)))
      return true;
  return false;
}

Status SnapshotDeleter::DropUnneededLayers(const std::string& volume_id,
                                           const std::string& going) {
  // A hidden snapshot's layer is kept while the volume's live chain (its
  // head) or another snapshot's layer builds on it.
  for (int round = 0; round < 1000; ++round) {
    STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                            catalog_->GetVolume(volume_id));
    STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfVolume(volume_id));
    const db::SnapshotRecord* victim = nullptr;
    for (const auto& s : snaps) {
      if (s.hidden && s.id != going &&
          !LayerIsNeeded(vol, snaps, s.id, going)) {
        victim = &s;
        break;
      }
    }
    if (!victim) return Status::OK();
    if (victim->store_key)
      STRATA_RETURN_IF_ERROR(transfer_->DeleteStored(*victim->store_key));
    STRATA_RETURN_IF_ERROR(catalog_->DeleteSnapshot(victim->id));
    LogInfo("dropped the layer of deleted snapshot " + victim->id);
  }
  return Status::OK();
}

Status SnapshotDeleter::DeleteSnapshot(const std::string& snapshot_id,
                                       bool force) {
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord snap,
                          catalog_->GetSnapshot(snapshot_id));
  if (snap.hidden)
    return Status::NotFound("Snapshot " + snapshot_id + " could not be found.");
  bool ok_state = snap.status == "available" || snap.status == "error" ||
                  (force && snap.status != "restoring");
  if (!ok_state)
    return Status::Conflict(
        "Invalid snapshot: Snapshot status must be "
        "available or error, but current status is: " +
        snap.status + ".");
  STRATA_ASSIGN_OR_RETURN(
      auto lease, locks_.TryAcquire(snap.volume_id, "a snapshot delete"));
  STRATA_RETURN_IF_ERROR(
      catalog_->SetSnapshotStatus(snapshot_id, "deleting", snap.progress));
  STRATA_ASSIGN_OR_RETURN(Journal j, Journal::Begin(catalog_, "snapshot_delete",
                                                    snap.volume_id, snap.id));
  Launch(lease, [this, j, snapshot_id](auto& held) mutable {
    Status s = j.Step("delete.begin", 0);
    if (s.ok())
      s = CatchAll("engine.snapshot_delete",
                   [&] { return RunDelete(snapshot_id); });
    if (s.ok()) {
      LogIfError(j.Succeed(), "journal of the delete of " + snapshot_id);
      held.reset();
      PublishDeleteDurably(snapshot_id);
      return;
    }
    LogError("deleting snapshot " + snapshot_id + " failed: " + s.ToString());
    LogIfError(j.Fail(s), "journal of the delete of " + snapshot_id);
    held.reset();
    SettleSnapshotStatus(snapshot_id, "error_deleting", 0, s.message());
  });
  return Status::OK();
}

void SnapshotDeleter::PublishDeleteDurably(const std::string& snapshot_id) {
  // Left "deleting", the snapshot's delete is run again at the next start.
  LogIfError(PersistWithRetry([&] { return PublishDelete(snapshot_id); }),
             "publishing the delete of snapshot " + snapshot_id);
}

}  // namespace strata::engine
