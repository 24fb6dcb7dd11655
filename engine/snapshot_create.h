// SnapshotCreator: R2.1-R2.7, a snapshot from request to stored layer
// (snapshot_create.cc says each journalled step). A running VM's top is cut
// over live (LiveDisks); a chain an NBD export holds is released around the
// quiet-disk steps (chain_holder.h).
// Thread-safety: CreateSnapshot from any thread; the task runs on a worker
// under the volume's lease.
#pragma once

#include <string>

#include "engine/chain_maintenance.h"
#include "engine/engine_part.h"
#include "engine/journal.h"
#include "engine/layer_transfer.h"
#include "engine/live_disk.h"
#include "engine/snapshot_delete.h"

namespace strata::engine {

class SnapshotCreator : public EnginePart {
 public:
  SnapshotCreator(EngineContext& ctx, LiveDisks* live, ChainMaintenance* chain,
                  LayerTransfer* transfer, SnapshotDeleter* deleter)
      : EnginePart(ctx),
        live_(live),
        chain_(chain),
        transfer_(transfer),
        deleter_(deleter) {}

  // R2.1: starts a snapshot; returns it in status "creating".
  Result<db::SnapshotRecord> CreateSnapshot(const CreateSnapshotRequest& req);

 private:
  // RunCreate releases a held chain around RunCreateSteps.
  Status RunCreate(Journal& j, const db::VolumeRecord& vol,
                   db::SnapshotRecord snap);
  Status RunCreateSteps(Journal& j, const db::VolumeRecord& vol,
                        db::SnapshotRecord snap);
  // R0.3's expected snapshot duration for `volume_id`: how long its last
  // successful snapshot took, with a margin; a default without one.
  double ExpectedSnapshotSeconds(const std::string& volume_id);

  LiveDisks* const live_;
  ChainMaintenance* const chain_;
  LayerTransfer* const transfer_;
  SnapshotDeleter* const deleter_;
};

}  // namespace strata::engine
