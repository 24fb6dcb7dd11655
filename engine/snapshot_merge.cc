// SnapshotDeleter::MergeIntoOnlyChild: a deleted snapshot's layer merged
// into the one layer that builds on it, so that the delete is complete
// everywhere (R1.9) and the later snapshot stays revertible (issue 19: a
// policy's retention deletes its oldest points, whose layers every later
// increment builds on).
//
// Deleted S, its only child C (C's layer is relative to S's state):
// C' = S's layer with C's committed over it, relative to S's parent (or
// S's base), built next to the disk from verified copies of both stored
// layers, uploaded under C's next key generation (LayerKey), verified. One
// catalog transaction then names C' as C's layer (parent S's parent, covers
// both) and queues C's old object for deletion (pending_deletes, R1.9);
// after it nothing needs S's layer, and the delete goes on as for any
// unneeded layer. Crash: before the transaction, C's old layer is still
// the catalog's and the delete runs again at the next start (the same new
// key, overwritten); after it, the queued delete and the rerun finish.
//
// The cost: C' holds the union of both layers, so pruning the oldest point
// of a chain rewrites the next one as a full root layer (its data's size
// uploaded again).
#include "engine/layer_fetch.h"
#include "engine/layer_names.h"
#include "engine/layer_transfer.h"
#include "engine/qemu_img.h"
#include "engine/snapshot_delete.h"
#include "qcow2/qcow2_header.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/uuid.h"

namespace strata::engine {
namespace {

// Removes the scratch files of one merge however it ends.
struct Scratch {
  std::vector<std::string> paths;
  ~Scratch() {
    for (const auto& p : paths)
      if (PathExists(p))
        LogIfError(RemoveFileNoSymlinks(p), "removing a merge's scratch file");
  }
};

}  // namespace

bool SnapshotDeleter::MergeIntoOnlyChild(const db::SnapshotRecord& snap) {
  auto vol = catalog_->GetVolume(snap.volume_id);
  auto all = catalog_->SnapshotsOfVolume(snap.volume_id);
  if (!vol.ok() || !all.ok()) return false;
  if (vol->head_snapshot_id == snap.id || snap.pinned || snap.unmanaged)
    return false;
  const db::SnapshotRecord* child = nullptr;
  for (const auto& s : *all) {
    if (s.parent_id != snap.id) continue;
    if (child) return false;  // several build on it: kept
    child = &s;
  }
  // A hidden child is deleted itself: both go once nothing needs them.
  if (!child || child->hidden || !child->store_key ||
      child->status != "available")
    return false;
  const db::SnapshotRecord c = *child;
  const int generation = LayerKeyGeneration(*c.store_key, c.volume_id, c.id);
  if (generation < 0) return false;  // a key of another form: not rewritten

  Status s = [&]() -> Status {
    const std::string id = NewUuid();
    Scratch scratch;
    const std::string parent_file = TempPath(vol->path, "merge-parent", id);
    const std::string child_file = TempPath(vol->path, "merge-child", id);
    const std::string base = TempPath(vol->path, "merge-base", id);
    const std::string merged = TempPath(vol->path, "merge-out", id);
    const std::string top = TempPath(vol->path, "merge-top", id);
    scratch.paths = {parent_file, child_file, base, merged, top};
    STRATA_RETURN_IF_ERROR(FetchLayerToRead(*store_, snap, parent_file));
    STRATA_RETURN_IF_ERROR(FetchLayerToRead(*store_, c, child_file));
    STRATA_ASSIGN_OR_RETURN(qcow2::Qcow2Header h,
                            qcow2::ReadQcow2Header(parent_file));
    // Built on an empty stand-in for S's parent, so that what the layers
    // zero stays zeroed clusters (with no backing, qemu could leave them
    // unallocated, which would read S's parent), then named as S was.
    const uint64_t size = static_cast<uint64_t>(snap.virtual_size);
    STRATA_RETURN_IF_ERROR(CreateOverlay(base, "", "", size, OverlayLayout()));
    STRATA_RETURN_IF_ERROR(MergeIntoNewImage(
        {parent_file, child_file}, merged, base, "qcow2", size,
        OverlayLayout{0, opts_.overlay.subclusters, 0}, top, true));
    std::string format = h.backing_format;
    if (format.empty() && !h.backing_file.empty())
      format = vol->base_format.value_or("qcow2");
    STRATA_RETURN_IF_ERROR(SetBackingUnsafe(merged, h.backing_file, format));
    const std::string key = LayerKey(c.volume_id, c.id, generation + 1);
    // C as it is about to be: on S's parent, covering both.
    db::SnapshotRecord merged_c = c;
    merged_c.parent_id = snap.parent_id;
    merged_c.covers.insert(merged_c.covers.end(), snap.covers.begin(),
                           snap.covers.end());
    STRATA_ASSIGN_OR_RETURN(
        LayerTransfer::StoredLayer stored,
        transfer_->UploadLayer(c.id, key, merged, LayerLabels(*vol, merged_c),
                               /*show_progress=*/false));
    const std::string old_key = *c.store_key;
    STRATA_RETURN_IF_ERROR(catalog_->Transaction([&]() -> Status {
      STRATA_RETURN_IF_ERROR(
          catalog_->ModifySnapshot(c.id, [&](db::SnapshotRecord& cur) {
            cur.parent_id = merged_c.parent_id;
            cur.covers = merged_c.covers;
            stored.RecordIn(key, &cur);
            return Status::OK();
          }));
      return catalog_->AddPendingDelete(old_key, "replaced by " + key);
    }));
    LogInfo("merged the layer of deleted snapshot " + snap.id +
            " into snapshot " + c.id + ": " +
            std::to_string(stored.object.size) + " bytes at " +
            stored.object.location);
    transfer_->RetryPendingDeletes();  // C's old object, now
    return Status::OK();
  }();
  if (!s.ok())
    LogWarning("snapshot " + snap.id + " stays hidden, its layer kept for " +
               c.id + ": merging it into that layer failed: " + s.ToString());
  return s.ok();
}

}  // namespace strata::engine
