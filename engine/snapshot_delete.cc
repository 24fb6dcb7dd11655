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
#include <algorithm>

#include "engine/engine.h"
#include "util/log.h"

namespace strata::engine {
namespace {

// True when another snapshot's layer or the volume's live chain builds on
// `snap`'s layer.
Result<bool> IsNeeded(db::Catalog* catalog, const db::SnapshotRecord& snap) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog->GetVolume(snap.volume_id));
  STRATA_ASSIGN_OR_RETURN(auto all, catalog->SnapshotsOfVolume(snap.volume_id));
  return LayerIsNeeded(vol, all, snap.id);
}

}  // namespace

Status Engine::RunDelete(const std::string& snapshot_id) {
  auto snap = catalog_->GetSnapshot(snapshot_id);
  if (!snap.ok())
    return snap.status().IsNotFound() ? Status::OK() : snap.status();
  if (!snap->store_key) return Status::OK();
  STRATA_ASSIGN_OR_RETURN(bool needed, IsNeeded(catalog_, *snap));
  if (needed) return Status::OK();  // hidden by PublishDelete, layer kept
  STRATA_RETURN_IF_ERROR(DeleteStored(*snap->store_key));
  // Ancestors kept only for this one may go too.
  return DropUnneededLayers(snap->volume_id, snapshot_id);
}

std::vector<std::string> Engine::RotateOut(const std::string& volume_id,
                                           const Rotation& r) {
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

Status Engine::PublishDelete(const std::string& snapshot_id) {
  auto snap = catalog_->GetSnapshot(snapshot_id);
  if (!snap.ok())
    return snap.status().IsNotFound() ? Status::OK() : snap.status();
  bool keep = false;
  if (snap->store_key) {
    STRATA_ASSIGN_OR_RETURN(keep, IsNeeded(catalog_, *snap));
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

}  // namespace strata::engine
