// The snapshot-delete task.
//
// A snapshot in error has no stored layer: its row goes (a layer file of it
// still in the chain is merged into the next snapshot by R2.6). An available
// snapshot is hidden at once (never listed again) and its stored layer is
// deleted as soon as nothing builds on it: no other snapshot's layer is
// relative to it and the volume's live chain is not (DropUnneededLayers).
#include "engine/engine.h"
#include "util/time_util.h"

namespace strata::engine {

Status Engine::RunDelete(const std::string& snapshot_id) {
  auto snap = catalog_->GetSnapshot(snapshot_id);
  if (!snap.ok())
    return snap.status().IsNotFound() ? Status::OK() : snap.status();
  if (!snap->store_key) return catalog_->DeleteSnapshot(snapshot_id);
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifySnapshot(snapshot_id, [](db::SnapshotRecord& s) {
        s.hidden = true;
        s.status = "deleted";
        return Status::OK();
      }));
  return DropUnneededLayers(snap->volume_id);
}

}  // namespace strata::engine
