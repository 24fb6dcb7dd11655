// BackupLifecycle: Cinder's backups (issue 18) as stored points of a
// volume. A backup is a backups row naming a snapshot row, its point:
//   - of the volume's current state: a new snapshot taken for it (the
//     normal R2 create, live for a running server), hidden from the
//     snapshot views from the start;
//   - of one of the volume's snapshots (Cinder's snapshot_id): that one.
// The row pins the point: its layer, and through the parent links every
// layer under it, stays stored whatever snapshots are deleted
// (LayerIsNeeded); deleting the backup unpins it, and the layers nothing
// else needs go (SnapshotDeleter::DropUnneededLayers). Incremental or not
// changes no layer (every Strata point stores only what changed since the
// volume's previous point, and all points share the layers under them):
// `incremental` records the parent backup (the newest of the volume's
// backups in the same project, as Cinder picks it), and a backup another
// one follows cannot be deleted (Cinder's has_dependent_backups). A backup
// belongs to the project that makes it, as in Cinder.
//
// Statuses follow the work they wait on, read back from the catalog
// (SettleBackup): "creating" ends when the point's snapshot is stored
// ("available") or fails ("error"); "restoring" ends when the volume the
// restore builds is created (or fails). Nothing is kept in memory, so a
// crash leaves nothing to reconcile here: the snapshot's and the volume's
// own recovery settle what the backup follows.
// Thread-safety: any thread.
#pragma once

#include "engine/engine_part.h"
#include "engine/snapshot_create.h"
#include "engine/snapshot_delete.h"
#include "engine/volume_lifecycle.h"

namespace strata::engine {

class BackupLifecycle : public EnginePart {
 public:
  BackupLifecycle(EngineContext& ctx, SnapshotCreator* creator,
                  SnapshotDeleter* deleter, VolumeLifecycle* lifecycle)
      : EnginePart(ctx),
        creator_(creator),
        deleter_(deleter),
        lifecycle_(lifecycle) {}

  // Records the backup and starts its point; returns it ("creating", or
  // "available" at once when made from a stored snapshot).
  Result<db::BackupRecord> CreateBackup(const CreateBackupRequest& req);
  // The backup, its status settled first (see above).
  Result<db::BackupRecord> GetBackup(const std::string& id);
  // Settles a "creating" or "restoring" backup's status from the catalog.
  Result<db::BackupRecord> SettleBackup(db::BackupRecord b);
  // Deletes a backup ("available" or "error"; `force`: any status but
  // "restoring"). Refused while an incremental backup follows it. The row
  // goes at once; the layers nothing needs any more go in the same call
  // when the volume is free (its lease is free again on return), else at
  // its next snapshot or start.
  Status DeleteBackup(const std::string& id, bool force);
  // Starts a restore into a new volume (`volume_name`; the backup's size,
  // its source's metadata and bootable flag) or, with `into_volume_id`,
  // over that existing volume (VolumeLifecycle::RestoreIntoVolume); returns
  // the volume.
  Result<db::VolumeRecord> RestoreBackup(
      const std::string& id, const std::string& project_id,
      const std::string& user_id, const std::string& volume_name,
      const std::string& volume_type_id,
      const std::optional<std::string>& into_volume_id = std::nullopt);
  // Cinder's export_record/import_record: the backup's row, and the stored
  // layers its point reads (for a check on import), as JSON. An import
  // needs the point in this catalog with the same stored layers; the new
  // row is `project_id`'s.
  Result<nlohmann::json> ExportBackup(const std::string& id);
  Result<db::BackupRecord> ImportBackup(const nlohmann::json& record,
                                        const std::string& project_id,
                                        const std::string& user_id);

 private:
  SnapshotCreator* const creator_;
  SnapshotDeleter* const deleter_;
  VolumeLifecycle* const lifecycle_;
};

}  // namespace strata::engine
