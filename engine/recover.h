// Recovery: at start, every operation a crash interrupted is reconciled from
// its journal (recover.cc says what each step's state means), then every
// volume's chain is tidied and the hypervisor's view made to match it.
// Thread-safety: Recover runs once, before requests are served.
#pragma once

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "engine/chain_maintenance.h"
#include "engine/engine_part.h"
#include "engine/instant_rollback.h"
#include "engine/layer_transfer.h"
#include "engine/live_disk.h"
#include "engine/revert.h"
#include "engine/snapshot_delete.h"
#include "engine/volume_lifecycle.h"

namespace strata::engine {

class Recovery : public EnginePart {
 public:
  Recovery(EngineContext& ctx, LiveDisks* live, ChainMaintenance* chain,
           LayerTransfer* transfer, SnapshotDeleter* deleter,
           Reverter* reverter, VolumeLifecycle* lifecycle,
           InstantRollbacks* instant)
      : EnginePart(ctx),
        live_(live),
        chain_(chain),
        transfer_(transfer),
        deleter_(deleter),
        reverter_(reverter),
        lifecycle_(lifecycle),
        instant_(instant) {}

  Status Recover();
  // The snapshot creates Recover left running for the engine to carry on
  // (their uploads), once; the caller finishes each it cannot.
  std::vector<db::TaskRecord> TakeResumable() {
    return std::exchange(resumable_, {});
  }
  // A create interrupted at create.upload that is not carried on: the
  // snapshot ends in error (the next one carries its writes, R2.6), what
  // its upload stored goes, and the task is finished.
  Status AbandonUpload(const db::TaskRecord& task, const std::string& why);

 private:
  // Reconciliation of one interrupted task.
  Status RecoverTask(const db::TaskRecord& task);
  // A snapshot_create with memory cut short: QEMU's migration cancelled,
  // the domain resumed, the memory part in error and its region removed.
  Status EndMemoryTake(const db::TaskRecord& task, const nlohmann::json& state,
                       const std::string& why);
  // A "group_hold" task: the domains it paused run again.
  Status ResumeHeldDomains(const db::TaskRecord& task);

  LiveDisks* const live_;
  ChainMaintenance* const chain_;
  LayerTransfer* const transfer_;
  SnapshotDeleter* const deleter_;
  Reverter* const reverter_;
  VolumeLifecycle* const lifecycle_;
  InstantRollbacks* const instant_;
  std::vector<db::TaskRecord> resumable_;
};

}  // namespace strata::engine
