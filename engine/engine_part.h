// EngineContext and EnginePart: what the engine's parts share, and their
// common base. The Engine (engine.h) is split by what each part decides,
// after LevelDB's DBImpl / VersionSet / compaction:
//   VolumeAdoption  (volume_adoption.h)  which disks become volumes;
//   SnapshotCreator (snapshot_create.h)  R2.1-R2.7, a snapshot's steps;
//   Reverter        (revert.h)           R2.10-R2.11, reverts and rebuilds;
//   SnapshotDeleter (snapshot_delete.h)  deletes, rotation (R1.6) and which
//                                        stored layers are still needed;
//   VolumeLifecycle (volume_lifecycle.h) volumes Strata makes and removes;
//   BackupLifecycle (backup_lifecycle.h) Cinder's backups as stored points;
//   Recovery        (recover.h)          reconciliation after a crash;
// over three shared services: LiveDisks (live_disk.h: a running VM's
// disk), ChainMaintenance (chain_maintenance.h: merges, repoints, garbage,
// history write-back) and LayerTransfer (layer_transfer.h: the store).
// Every part sees the same context; none owns it (the Engine does).
//
// Thread-safety: the context's members are thread-safe themselves (catalog,
// store, hypervisor, locks, runners); `holder` is set once before requests
// are served.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "db/catalog.h"
#include "engine/chain_holder.h"
#include "engine/confinement.h"
#include "engine/engine_types.h"
#include "hypervisor/hypervisor.h"
#include "storage-drivers/store.h"
#include "util/task_runner.h"
#include "util/volume_locks.h"

namespace strata::engine {

struct EngineContext {
  EngineContext(db::Catalog* catalog, store::Store* store, EngineOptions opts,
                hypervisor::Hypervisor* hv);

  db::Catalog* catalog;
  store::Store* store;
  hypervisor::Hypervisor* hv;  // null: no domain is ever running
  ChainHolder* holder = nullptr;
  EngineOptions opts;
  // Where every layer of every chain this engine reads may lie.
  Confinement confinement;
  VolumeLocks locks;
  // Deletes large files a task or the reaper no longer needs (Discard):
  // freeing a big file's extents takes ~0.25 s per 512 MiB here (ext4),
  // which a caller should not wait for. Its own thread, so that a removal
  // overlaps the reaper's syncs (a removal waits on discards and the file
  // system's metadata, a sync on the data's writes). Declared before the
  // reaper and the runner, which feed it.
  TaskRunner remover;
  // The background work after a task: histories settled, the next merge's
  // backup built ahead. Declared before runner, whose tasks feed it.
  TaskRunner reaper;
  TaskRunner runner;
};

// Runs `write` until it succeeds, five times at most over ~3 s: a task's
// last word (a status) must survive a busy or briefly full database.
[[nodiscard]] Status PersistWithRetry(const std::function<Status()>& write);

// The base of the engine's parts: the context's members under the names the
// parts use, and the helpers every task needs.
class EnginePart {
 protected:
  explicit EnginePart(EngineContext& ctx);

  // True when the attached holder serves `vol`'s chain.
  bool Held(const db::VolumeRecord& vol) {
    return holder_ && holder_->Holds(vol.path);
  }
  // Runs `body` on a worker, handing it the volume's lease. A body releases
  // the lease (lease.reset()) before it publishes the final status, so a
  // client that sees "available" can start the next operation at once.
  void Launch(std::shared_ptr<VolumeLease> lease,
              std::function<void(std::shared_ptr<VolumeLease>&)> body);
  // A task's last word on a snapshot's status. A failed write here would
  // leave it "creating" or "deleting" for good (the journal is already
  // settled), so it is retried (PersistWithRetry), then logged as an error.
  void SettleSnapshotStatus(const std::string& id, const std::string& status,
                            int progress, const std::string& error = "");
  // The same for a volume's status after a revert.
  void SettleVolumeStatus(const std::string& id, const std::string& status);
  // A revert's, rebuild's or rollback's start: the volume "reverting", the
  // snapshot "restoring" (each task gives both back at its end).
  Status MarkReverting(const db::VolumeRecord& vol,
                       const db::SnapshotRecord& snap);

  db::Catalog* const catalog_;
  store::Store* const store_;
  hypervisor::Hypervisor* const hv_;
  ChainHolder*& holder_;
  const EngineOptions& opts_;
  const Confinement& confinement_;
  VolumeLocks& locks_;
  TaskRunner& remover_;
  TaskRunner& reaper_;
  TaskRunner& runner_;
};

}  // namespace strata::engine
