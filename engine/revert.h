// Reverter: R2.10-R2.11, a volume reverted to any of its available
// snapshots, and Nova's rebuild onto one (revert.cc says how the chain is
// rebuilt from stored layers and why a merged history is written back
// later).
// Thread-safety: the entry points from any thread; the task runs on a
// worker under the volume's lease.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/chain_maintenance.h"
#include "engine/engine_part.h"
#include "engine/journal.h"
#include "engine/layer_fetch.h"
#include "engine/live_disk.h"
#include "engine/snapshot_delete.h"

namespace strata::engine {

struct RevertPlan;  // revert.cc

class Reverter : public EnginePart {
 public:
  Reverter(EngineContext& ctx, LiveDisks* live, ChainMaintenance* chain,
           SnapshotDeleter* deleter)
      : EnginePart(ctx), live_(live), chain_(chain), deleter_(deleter) {}

  // R2.10-R2.11: reverts the volume to any of its available snapshots.
  Status RevertVolume(const std::string& volume_id,
                      const std::string& snapshot_id);
  // Nova's rebuild: powers the domain off (if it runs), reverts the volume
  // of its disk, and starts the domain again if it was running.
  Status RebuildServer(const std::string& domain_uuid,
                       const std::string& volume_id,
                       const std::string& snapshot_id);
  // A server restored from a snapshot taken with its memory
  // (memory_restore.cc): powered off, its disk reverted, then started from
  // the memory, carrying on where it was. Conflict when the snapshot holds
  // no complete memory of this server.
  Status RestoreServerMemory(const std::string& domain_uuid,
                             const std::string& volume_id,
                             const std::string& snapshot_id);
  // What a revert needs of the volume and snapshot (revert, rebuild and
  // instant rollback).
  Status CheckRevertable(const db::VolumeRecord& vol,
                         const db::SnapshotRecord& snap);
  // The revert itself, journalled (recovery reruns it to settle a crash).
  Status RunRevert(Journal& j, db::VolumeRecord vol,
                   const db::SnapshotRecord& target);

 private:
  // RunRevert's case of the head snapshot whose history is the disk's
  // backing: a new empty overlay on `history`.
  Status RevertOntoHistory(Journal& j, const db::VolumeRecord& vol,
                           const db::SnapshotRecord& target,
                           const std::string& history);
  // RunRevert's steps, one a function (revert.cc says what each builds).
  // Hard-links the layers a local store keeps as files; 1 for each linked.
  Result<std::vector<char>> LinkLayers(const RevertPlan& p);
  // Verifies a linked layer, or downloads and verifies one.
  Status FetchLayer(const RevertPlan& p, size_t i, bool linked);
  // Every layer fetched and verified on two threads, and the merge beside
  // them when `merge_beside` (every layer linked).
  Status FetchLayers(Journal& j, const RevertPlan& p,
                     const std::vector<char>& linked, uint64_t virtual_size,
                     bool merge_beside, int64_t* merge_micros);
  // The upper layers merged into a new history on `bottom_now`.
  Status MergeUppers(const RevertPlan& p, const Backing& bottom_now,
                     uint64_t virtual_size, int64_t* merge_micros);
  // revert.merge: the new chain's files, and a new overlay on its history.
  Status BuildChain(Journal& j, const RevertPlan& p, bool direct,
                    bool merge_now, uint64_t virtual_size,
                    int64_t* merge_micros);
  // revert.install: the commit point (the overlay renamed over the disk),
  // then revert.cleanup and the volume's new head.
  Status InstallChain(Journal& j, const db::VolumeRecord& vol,
                      const RevertPlan& p, const db::SnapshotRecord& target,
                      bool merged_any);
  // The task of a revert or rebuild: marks the volume "reverting" and the
  // snapshot "restoring", runs `run` under `lease` off the request thread,
  // ends the journal by its result (`what` names it in the log), then gives
  // both their statuses back.
  Status LaunchRevertTask(std::shared_ptr<VolumeLease> lease, Journal j,
                          const db::VolumeRecord& vol,
                          const db::SnapshotRecord& snap,
                          std::function<Status(Journal&)> run,
                          const std::string& what);

  LiveDisks* const live_;
  ChainMaintenance* const chain_;
  SnapshotDeleter* const deleter_;
};

}  // namespace strata::engine
