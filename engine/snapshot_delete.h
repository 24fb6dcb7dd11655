// SnapshotDeleter: snapshot deletes, backup rotation (R1.6) and which stored
// layers must stay (snapshot_delete.cc). A delete does the store work under
// the volume's lease (RunDelete); PublishDelete, after the lease, removes or
// hides the row.
// Thread-safety: any thread; RunDelete and RotateOut REQUIRE the volume's
// lease.
#pragma once

#include <string>
#include <vector>

#include "engine/engine_part.h"
#include "engine/layer_transfer.h"

namespace strata::engine {

class SnapshotDeleter : public EnginePart {
 public:
  SnapshotDeleter(EngineContext& ctx, LayerTransfer* transfer)
      : EnginePart(ctx), transfer_(transfer) {}

  // Deletes a snapshot (status available or error; `force` also allows
  // creating/deleting/error_deleting after a crash). Returns at once.
  Status DeleteSnapshot(const std::string& snapshot_id, bool force);
  // Does the store-side work of a delete under the lease; PublishDelete then
  // makes it visible (row gone, or hidden while others build on it).
  Status RunDelete(const std::string& snapshot_id);
  Status PublishDelete(const std::string& snapshot_id);
  // PublishDelete, retried (PersistWithRetry), its failure logged.
  void PublishDeleteDurably(const std::string& snapshot_id);
  // Rotation under the create task's lease: marks the snapshots beyond
  // `r.keep` "deleting" (recovery finishes what a crash interrupts), then
  // deletes their layers. Returns them, for PublishDelete after the lease.
  std::vector<std::string> RotateOut(const std::string& volume_id,
                                     const Rotation& r);
  // Deletes hidden snapshots nothing depends on any more (and their objects).
  // `going` names a snapshot about to be deleted: it counts as gone.
  Status DropUnneededLayers(const std::string& volume_id,
                            const std::string& going = "");

 private:
  // R1.9 for a snapshot whose layer only one other snapshot's layer builds
  // on (snapshot_merge.cc): that child's layer is rewritten as the two
  // merged, relative to the deleted one's parent, and stored under a new
  // key; then nothing needs the deleted one's layer. False (nothing
  // changed) when the layer is needed otherwise (the volume's head, a
  // backup's point, several children) or the merge failed: then it is kept
  // hidden, as before.
  bool MergeIntoOnlyChild(const db::SnapshotRecord& snap);

  LayerTransfer* const transfer_;
};

}  // namespace strata::engine
