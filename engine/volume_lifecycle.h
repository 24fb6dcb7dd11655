// VolumeLifecycle: the volumes Strata makes and removes itself, as Cinder's
// volume API does (issue 18): create (an empty disk, a disk holding any
// stored snapshot's or backup's state, a copy of a quiet volume), delete
// (its chain files, its snapshots' stored layers with `cascade`, all but
// the layers its backups need, for which the row stays as a "deleted"
// shell) and extend.
//
// Each is a journalled task (journal.h) on the new or deleted volume:
//   volume_create: create.build (a temporary next to the new disk, written
//     and fsynced) → create.install (renamed to the disk's path: the commit
//     point) → "available". A crash before the install leaves the volume in
//     "error" with its temporaries removed (Cinder's failed create); after
//     it, "available".
//   volume_delete: delete.begin; the stored layers, the snapshot records,
//     the chain's files, then the volume record. Every step is idempotent:
//     recovery runs the delete again to its end.
//   volume_extend: extend.resize (qemu-img resize of the quiet disk's top;
//     idempotent, recovery reruns it) → "available".
//   volume_restore: restore.build (a backup's point merged into a
//     temporary next to the disk, fsynced) → restore.install (renamed over
//     the disk's path: the commit point; the old chain's layers collected)
//     → "available". A crash before the install leaves the disk as it was
//     and the volume "error_restoring" (Cinder's failed restore); after it,
//     recovery finishes the install.
// Thread-safety: any thread; the tasks run on workers under the volume's
// lease (and, for a clone, the source volume's).
#pragma once

#include <string>

#include "engine/chain_maintenance.h"
#include "engine/engine_part.h"
#include "engine/journal.h"
#include "engine/layer_transfer.h"
#include "engine/live_disk.h"
#include "engine/snapshot_delete.h"

namespace strata::engine {

class VolumeLifecycle : public EnginePart {
 public:
  VolumeLifecycle(EngineContext& ctx, LiveDisks* live, ChainMaintenance* chain,
                  LayerTransfer* transfer, SnapshotDeleter* deleter)
      : EnginePart(ctx),
        live_(live),
        chain_(chain),
        transfer_(transfer),
        deleter_(deleter) {}

  // Records the volume ("creating") and starts its build; returns it.
  Result<db::VolumeRecord> CreateVolume(const CreateVolumeRequest& req);
  // Starts the delete of a volume that nothing uses ("available" or one of
  // Cinder's error statuses, no server, no NBD client; `force`: any status,
  // as Cinder's os-force_delete, but still nothing using it and no task
  // running on it). Its snapshots go with it when `cascade`; without, a
  // volume that has any is refused (400, as Cinder).
  Status DeleteVolume(const std::string& volume_id, bool cascade, bool force);
  // A volume deleted while it had backups is kept as a "deleted" shell
  // (never listed, using no quota): its snapshot rows that the backups'
  // points need, and their stored layers, stay. This drops what the
  // remaining backups no longer need and, once none is left, the shell.
  // REQUIRES the volume's lease (or recovery, before requests).
  Status ForgetRetained(const std::string& volume_id);
  // Grows a quiet volume's disk to `new_size_gib` (larger than now).
  Status ExtendVolume(const std::string& volume_id, int64_t new_size_gib);

  // Cinder's restore of a backup into an existing volume: the quiet,
  // "available" volume (at least the backup's size, on the same foreign
  // base) is "restoring-backup" and the backup "restoring" (one
  // transaction), then its disk holds the backup's state.
  Status RestoreIntoVolume(const std::string& volume_id,
                           const std::string& backup_id);

  // Recovery of a task of this part's kinds (volume_create, volume_delete,
  // volume_extend) a crash interrupted.
  Status RecoverTask(const db::TaskRecord& task);

 private:
  // create.build's work: the new disk's content at `out`.
  Status BuildDisk(Journal& j, const db::VolumeRecord& vol,
                   const CreateVolumeRequest& req, const std::string& out);
  // The layers of `snap`'s lineage fetched next to `vol`'s disk and merged
  // into `out`, on `base_path` (the source volume's foreign base; empty:
  // none).
  Status BuildFromSnapshot(Journal& j, const db::VolumeRecord& vol,
                           const db::SnapshotRecord& snap,
                           const std::string& base_path,
                           const std::string& base_format,
                           const std::string& out);
  // The source volume's chain above its base merged into `out`.
  Status BuildFromVolume(const db::VolumeRecord& vol,
                         const db::VolumeRecord& source,
                         const std::string& out);
  // The backup (which must be "available") turns "restoring" into
  // `volume_id`; run inside the transaction that records the restore.
  Status MarkBackupRestoring(const std::string& backup_id,
                             const std::string& volume_id);
  // restore.install's work, idempotent: `building` (when still there)
  // renamed to the disk's path, the old chain's layers collected, the
  // volume's head cleared.
  Status InstallRestored(const db::VolumeRecord& vol,
                         const std::string& building, bool bootable);
  // Removes the temporaries a create's task `task_id` made next to `disk`.
  void RemoveCreateTemps(const std::string& disk, const std::string& task_id);
  // The delete itself: stored layers, snapshot records, chain files, the
  // volume record. Idempotent.
  Status RunDelete(const db::VolumeRecord& vol);
  Status RunExtend(const db::VolumeRecord& vol, int64_t new_bytes);

  LiveDisks* const live_;
  ChainMaintenance* const chain_;
  LayerTransfer* const transfer_;
  SnapshotDeleter* const deleter_;
};

}  // namespace strata::engine
