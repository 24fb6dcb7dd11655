// Volumes Strata creates, deletes and extends (Cinder's volume API). See
// volume_lifecycle.h for the journalled steps and what a crash leaves.
//
// A volume made from a snapshot or another volume is a new, independent
// disk: the source's layers above its base merged into one qcow2 file (with
// qemu-img commit, through explicit read-only nodes: the sources are never
// written), on the source's foreign base when it has one (an immutable image
// both may read). It shares no layer with its source, so either can be
// reverted, snapshotted or deleted without the other; its own first
// snapshot stores all it holds, as a managed disk's does.
#include "engine/volume_lifecycle.h"

#include <sys/stat.h>

#include "engine/chain.h"
#include "engine/layer_fetch.h"
#include "engine/layer_names.h"
#include "engine/qemu_img.h"
#include "util/fs.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::engine {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

// Cinder's statuses from which a volume may be deleted.
bool DeletableStatus(const std::string& s) {
  return s == "available" || s == "error" || s == "error_restoring" ||
         s == "error_extending" || s == "error_managing";
}

const char kInvalidDelete[] =
    "Invalid volume: Volume status must be available or error or "
    "error_restoring or error_extending or error_managing and must not be "
    "migrating, attached, belong to a group, have snapshots, awaiting a "
    "transfer, or be disassociated from snapshots after volume transfer.";

}  // namespace

Result<db::VolumeRecord> VolumeLifecycle::CreateVolume(
    const CreateVolumeRequest& req) {
  if (opts_.volume_dir.empty())
    return Status::NotSupported(
        "Volume create is not enabled: stratad has no volume directory "
        "([engine] volume_dir).");
  if (req.size_gib < 1)
    return Status::InvalidArgument(
        "Invalid input received: 'size' parameter must be an integer greater "
        "than 0.");
  db::VolumeRecord vol;
  vol.id = req.id.value_or(NewUuid());
  vol.project_id = req.project_id;
  vol.user_id = req.user_id;
  vol.name = req.name;
  vol.description = req.description;
  vol.status = "creating";
  vol.path = JoinPath(opts_.volume_dir, "volume-" + vol.id + ".qcow2");
  vol.virtual_size = req.size_gib * kGiB;
  vol.bootable = req.bootable.value_or(false);
  vol.metadata = req.metadata;
  vol.volume_type_id = req.volume_type_id;
  vol.snapshot_id = req.snapshot_id;
  vol.source_volid = req.source_volid;
  vol.group_id = req.group_id;
  vol.created_at = vol.updated_at = NowMicros();

  // The source is checked and held before anything is recorded.
  std::shared_ptr<VolumeLease> source_lease;
  if (req.backup_id) {
    // The backup turns "restoring" with the volume's insert (one
    // transaction): its point's layers stay stored meanwhile.
    STRATA_ASSIGN_OR_RETURN(db::BackupRecord b,
                            catalog_->GetBackup(*req.backup_id));
    if (b.size_gib * kGiB > vol.virtual_size)
      return Status::InvalidArgument(
          "Invalid input received: Volume size " +
          std::to_string(req.size_gib) + "GB cannot be smaller than the " +
          "backup size " + std::to_string(b.size_gib) + "GB.");
  } else if (req.snapshot_id) {
    auto snap = catalog_->GetSnapshot(*req.snapshot_id);
    if (!snap.ok() || snap->hidden)
      return Status::NotFound("Snapshot " + *req.snapshot_id +
                              " could not be found.");
    if (snap->status != "available")
      return Status::InvalidArgument(
          "Invalid snapshot: Originating snapshot status must be one of "
          "'available' values");
    if (snap->virtual_size > vol.virtual_size)
      return Status::InvalidArgument(
          "Invalid input received: Volume size '" +
          std::to_string(req.size_gib) +
          "'GB cannot be smaller than the snapshot size " +
          std::to_string(SizeGiB(snap->virtual_size)) +
          "GB. They must be >= original snapshot size.");
    STRATA_ASSIGN_OR_RETURN(db::VolumeRecord src,
                            catalog_->GetVolume(snap->volume_id));
    if (!req.bootable) vol.bootable = src.bootable;
  } else if (req.source_volid) {
    STRATA_ASSIGN_OR_RETURN(db::VolumeRecord src,
                            catalog_->GetVolume(*req.source_volid));
    if (src.virtual_size > vol.virtual_size)
      return Status::InvalidArgument(
          "Invalid input received: Clones currently must be >= original "
          "volume size.");
    // A running server's disk or an NBD client's changes under a copy:
    // Cinder's drivers snapshot it first, and so does a Strata user.
    STRATA_ASSIGN_OR_RETURN(auto user, live_->DomainUsing(src.path));
    bool running =
        user && user->first.state != hypervisor::DomainState::kShutoff;
    if (src.status != "available" || running || Held(src))
      return Status::InvalidArgument(
          "Invalid volume: Source volume status must be available to clone, "
          "but it is " +
          std::string(running ? "in use by a running server" : src.status) +
          " (snapshot it and create the volume from the snapshot).");
    STRATA_ASSIGN_OR_RETURN(source_lease,
                            locks_.TryAcquire(src.id, "a clone of it"));
    if (!req.bootable) vol.bootable = src.bootable;
  }
  if (req.no_valid_backend) {
    vol.status = "error";
    LogWarning("volume " + vol.id +
               " has no backend here: " + *req.no_valid_backend);
    STRATA_RETURN_IF_ERROR(catalog_->InsertVolume(vol));
    return vol;
  }
  STRATA_ASSIGN_OR_RETURN(auto lease, locks_.TryAcquire(vol.id, "its create"));
  STRATA_RETURN_IF_ERROR(catalog_->Transaction([&]() -> Status {
    STRATA_RETURN_IF_ERROR(catalog_->InsertVolume(vol));
    return req.backup_id ? MarkBackupRestoring(*req.backup_id, vol.id)
                         : Status::OK();
  }));
  STRATA_ASSIGN_OR_RETURN(Journal j,
                          Journal::Begin(catalog_, "volume_create", vol.id,
                                         req.snapshot_id.value_or("")));
  Launch(lease, [this, j, vol, req, source_lease](auto& held) mutable {
    const std::string building = TempPath(vol.path, "creating", j.task_id());
    j.state()["building"] = building;
    Status s = j.Step("create.build", 10);
    if (s.ok())
      s = CatchAll("engine.volume_create",
                   [&] { return BuildDisk(j, vol, req, building); });
    if (s.ok()) s = j.Step("create.install", 90);
    if (s.ok()) s = RenameDurableNoSymlinks(building, vol.path);
    source_lease.reset();
    if (!s.ok()) {
      LogError("creating volume " + vol.id + " failed: " + s.ToString());
      RemoveCreateTemps(vol.path, j.task_id());
      LogIfError(j.Fail(s), "journal of the create of " + vol.id);
      held.reset();
      SettleVolumeStatus(vol.id, "error");
      return;
    }
    LogIfError(j.Succeed(), "journal of the create of " + vol.id);
    held.reset();
    LogInfo("created volume " + vol.id + " at " + vol.path);
    SettleVolumeStatus(vol.id, "available");
  });
  return vol;
}

Status VolumeLifecycle::BuildDisk(Journal& j, const db::VolumeRecord& vol,
                                  const CreateVolumeRequest& req,
                                  const std::string& out) {
  if (req.backup_id) {
    STRATA_ASSIGN_OR_RETURN(db::BackupRecord b,
                            catalog_->GetBackup(*req.backup_id));
    STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord point,
                            catalog_->GetSnapshot(b.point_id));
    return BuildFromSnapshot(j, vol, point, b.base_path.value_or(""),
                             b.base_format.value_or(""), out);
  }
  if (req.snapshot_id) {
    STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord snap,
                            catalog_->GetSnapshot(*req.snapshot_id));
    STRATA_ASSIGN_OR_RETURN(db::VolumeRecord src,
                            catalog_->GetVolume(snap.volume_id));
    return BuildFromSnapshot(j, vol, snap, src.base_path.value_or(""),
                             src.base_format.value_or(""), out);
  }
  if (req.source_volid) {
    STRATA_ASSIGN_OR_RETURN(db::VolumeRecord src,
                            catalog_->GetVolume(*req.source_volid));
    return BuildFromVolume(vol, src, out);
  }
  // An empty disk: a standalone qcow2 in Strata's overlay layout.
  STRATA_RETURN_IF_ERROR(
      CreateOverlay(out, "", "", vol.virtual_size, opts_.overlay));
  return FsyncPath(out);
}

Status VolumeLifecycle::BuildFromSnapshot(Journal& j,
                                          const db::VolumeRecord& vol,
                                          const db::SnapshotRecord& snap,
                                          const std::string& base_path,
                                          const std::string& base_format,
                                          const std::string& out) {
  STRATA_ASSIGN_OR_RETURN(auto lineage, StoredLineage(catalog_, snap));
  std::vector<std::string> files;
  for (size_t i = 0; i < lineage.size(); ++i)
    files.push_back(TempPath(vol.path, "dl" + std::to_string(i), j.task_id()));
  j.state()["downloads"] = files;
  STRATA_RETURN_IF_ERROR(j.Step("create.fetch", 20));
  Status s;
  for (size_t i = 0; s.ok() && i < lineage.size(); ++i)
    s = FetchLayerToRead(*store_, lineage[i], files[i]);
  if (s.ok())
    s = MergeIntoNewImage(files, out, base_path, base_format, vol.virtual_size,
                          opts_.overlay,
                          TempPath(vol.path, "committop", j.task_id()),
                          /*flush=*/true);
  for (const auto& f : files)
    LogIfError(RemoveFileNoSymlinks(f), "cleanup (garbage collection retries)");
  return s;
}

Status VolumeLifecycle::BuildFromVolume(const db::VolumeRecord& vol,
                                        const db::VolumeRecord& source,
                                        const std::string& out) {
  STRATA_ASSIGN_OR_RETURN(Chain chain,
                          ReadChain(source.path, source.path, confinement_));
  // The layers above the source's base, bottom first.
  std::vector<std::string> layers;
  for (const ChainLayer& l : chain.layers) {
    if (source.base_path && l.path == *source.base_path) break;
    layers.insert(layers.begin(), l.path);
  }
  return MergeIntoNewImage(layers, out, source.base_path.value_or(""),
                           source.base_format.value_or(""), vol.virtual_size,
                           opts_.overlay,
                           TempPath(vol.path, "committop", vol.id),
                           /*flush=*/true);
}

void VolumeLifecycle::RemoveCreateTemps(const std::string& disk,
                                        const std::string& task_id) {
  auto entries = ListDirNoSymlinks(DirName(disk));
  if (!entries.ok()) return;
  for (const std::string& name : *entries) {
    const std::string path = JoinPath(DirName(disk), name);
    if (IsTempOf(disk, path))
      LogIfError(RemoveFileNoSymlinks(path),
                 "removing " + path + " (task " + task_id + ")");
  }
}

Status VolumeLifecycle::DeleteVolume(const std::string& volume_id, bool cascade,
                                     bool force) {
  STRATA_ASSIGN_OR_RETURN(auto lease,
                          locks_.TryAcquire(volume_id, "its delete"));
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  STRATA_ASSIGN_OR_RETURN(auto user, live_->DomainUsing(vol.path));
  const bool attached = vol.domain_uuid || user || Held(vol) ||
                        vol.status == "in-use" || vol.status == "detaching";
  if ((!force && !DeletableStatus(vol.status)) || attached)
    return Status::InvalidArgument(kInvalidDelete);
  STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfVolume(volume_id));
  for (const auto& s : snaps) {
    if (s.hidden) continue;
    if (!cascade) return Status::InvalidArgument(kInvalidDelete);
    if (s.status != "available" && s.status != "error")
      return Status::InvalidArgument(
          "Invalid volume: Snapshot " + s.id +
          " must be available or error to be deleted with its volume, but "
          "it is " +
          s.status + ".");
  }
  // Journalled first: from here a crash finishes the delete at the next
  // start, so no volume is left "deleting" with nothing to end it.
  STRATA_ASSIGN_OR_RETURN(
      Journal j, Journal::Begin(catalog_, "volume_delete", volume_id, ""));
  STRATA_RETURN_IF_ERROR(catalog_->ModifyVolume(volume_id, [](auto& v) {
    v.status = "deleting";
    return Status::OK();
  }));
  for (const auto& s : snaps)
    if (!s.hidden)
      STRATA_RETURN_IF_ERROR(
          catalog_->SetSnapshotStatus(s.id, "deleting", s.progress));
  Launch(lease, [this, j, vol](auto& held) mutable {
    Status s = j.Step("delete.begin", 0);
    if (s.ok())
      s = CatchAll("engine.volume_delete", [&] { return RunDelete(vol); });
    if (s.ok()) {
      LogIfError(j.Succeed(), "journal of the delete of " + vol.id);
      LogInfo("deleted volume " + vol.id);
      return;
    }
    LogError("deleting volume " + vol.id + " failed: " + s.ToString());
    LogIfError(j.Fail(s), "journal of the delete of " + vol.id);
    held.reset();
    SettleVolumeStatus(vol.id, "error_deleting");
  });
  return Status::OK();
}

Status VolumeLifecycle::RunDelete(const db::VolumeRecord& vol) {
  STRATA_ASSIGN_OR_RETURN(auto backups, catalog_->BackupsOfVolume(vol.id));
  const bool retained = !backups.empty();
  if (retained) {
    // Backups outlive their volume (as in Cinder): the row stays as a
    // "deleted" shell with no head, every snapshot hidden, and only the
    // layers the backups' points need (ForgetRetained drops the rest).
    STRATA_RETURN_IF_ERROR(catalog_->Transaction([&]() -> Status {
      STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfVolume(vol.id));
      for (const auto& s : snaps)
        if (!s.hidden)
          STRATA_RETURN_IF_ERROR(
              catalog_->ModifySnapshot(s.id, [](db::SnapshotRecord& r) {
                r.hidden = true;
                r.status = "deleted";
                return Status::OK();
              }));
      return catalog_->ModifyVolume(vol.id, [](db::VolumeRecord& v) {
        v.head_snapshot_id.reset();
        return Status::OK();
      });
    }));
    STRATA_RETURN_IF_ERROR(deleter_->DropUnneededLayers(vol.id));
  } else {
    STRATA_RETURN_IF_ERROR(transfer_->DeleteSnapshotsOf(vol.id));
  }
  // The chain's files: the disk and Strata's layers of it, never its
  // foreign base (another volume's or Nova's image).
  chain_->DropSpares(vol.path);
  if (PathExists(vol.path)) {
    STRATA_ASSIGN_OR_RETURN(Chain chain, ReadChain(vol.path, vol.path));
    for (const ChainLayer& l : chain.layers) {
      if (l.path != vol.path && l.name.kind == LayerKind::kForeign) break;
      STRATA_RETURN_IF_ERROR(RemoveBigFileGently(l.path));
    }
  }
  // Temporaries and layers the chain no longer named.
  auto entries = ListDirNoSymlinks(DirName(vol.path));
  if (entries.ok())
    for (const std::string& name : *entries) {
      const std::string path = JoinPath(DirName(vol.path), name);
      if (IsTempOf(vol.path, path) ||
          ParseLayerName(vol.path, path).kind != LayerKind::kForeign)
        STRATA_RETURN_IF_ERROR(RemoveBigFileGently(path));
    }
  STRATA_ASSIGN_OR_RETURN(auto unsettled, catalog_->UnsettledHistories());
  for (const auto& u : unsettled)
    if (u.volume_id == vol.id)
      STRATA_RETURN_IF_ERROR(catalog_->RemoveUnsettledHistory(u.path));
  if (!retained) return catalog_->DeleteVolume(vol.id);
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifyVolume(vol.id, [](db::VolumeRecord& v) {
        v.status = "deleted";
        return Status::OK();
      }));
  return ForgetRetained(vol.id);  // the backups may have gone meanwhile
}

Status VolumeLifecycle::ForgetRetained(const std::string& volume_id) {
  auto vol = catalog_->GetVolume(volume_id);
  if (!vol.ok()) return vol.status().IsNotFound() ? Status::OK() : vol.status();
  if (vol->status != "deleted") return Status::OK();
  STRATA_RETURN_IF_ERROR(deleter_->DropUnneededLayers(volume_id));
  STRATA_ASSIGN_OR_RETURN(auto backups, catalog_->BackupsOfVolume(volume_id));
  if (!backups.empty()) return Status::OK();
  // No backup left: every layer of the shell goes, then the shell.
  STRATA_RETURN_IF_ERROR(transfer_->DeleteSnapshotsOf(volume_id));
  LogInfo("forgot deleted volume " + volume_id + ": its last backup is gone");
  return catalog_->DeleteVolume(volume_id);
}

Status VolumeLifecycle::ExtendVolume(const std::string& volume_id,
                                     int64_t new_size_gib) {
  STRATA_ASSIGN_OR_RETURN(auto lease,
                          locks_.TryAcquire(volume_id, "its extend"));
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  STRATA_ASSIGN_OR_RETURN(auto user, live_->DomainUsing(vol.path));
  if (vol.status != "available" || user || Held(vol))
    return Status::InvalidArgument(
        "Invalid volume: Volume status must be 'available' to extend, but "
        "current status is: " +
        vol.status + ".");
  if (new_size_gib * kGiB <= vol.virtual_size)
    return Status::InvalidArgument(
        "Invalid input received: New size for extend must be greater than "
        "current size. (current: " +
        std::to_string(SizeGiB(vol.virtual_size)) +
        ", extended: " + std::to_string(new_size_gib) + ").");
  STRATA_ASSIGN_OR_RETURN(
      Journal j, Journal::Begin(catalog_, "volume_extend", volume_id, ""));
  STRATA_RETURN_IF_ERROR(catalog_->ModifyVolume(volume_id, [](auto& v) {
    v.status = "extending";
    return Status::OK();
  }));
  const int64_t new_bytes = new_size_gib * kGiB;
  Launch(lease, [this, j, vol, new_bytes](auto& held) mutable {
    j.state()["new_size"] = new_bytes;
    Status s = j.Step("extend.resize", 10);
    if (s.ok())
      s = CatchAll("engine.volume_extend",
                   [&] { return RunExtend(vol, new_bytes); });
    if (s.ok()) {
      LogIfError(j.Succeed(), "journal of the extend of " + vol.id);
      held.reset();
      SettleVolumeStatus(vol.id, "available");
      return;
    }
    LogError("extending volume " + vol.id + " failed: " + s.ToString());
    LogIfError(j.Fail(s), "journal of the extend of " + vol.id);
    held.reset();
    SettleVolumeStatus(vol.id, "error_extending");
  });
  return Status::OK();
}

Status VolumeLifecycle::RunExtend(const db::VolumeRecord& vol,
                                  int64_t new_bytes) {
  STRATA_RETURN_IF_ERROR(ResizeImage(vol.path, new_bytes));
  return catalog_->ModifyVolume(vol.id, [&](db::VolumeRecord& v) {
    v.virtual_size = std::max(v.virtual_size, new_bytes);
    return Status::OK();
  });
}

Status VolumeLifecycle::MarkBackupRestoring(const std::string& backup_id,
                                            const std::string& volume_id) {
  return catalog_->ModifyBackup(backup_id, [&](db::BackupRecord& b) {
    if (b.status != "available")
      return Status::InvalidArgument(
          "Invalid backup: Backup status must be available");
    b.status = "restoring";
    b.restore_volume_id = volume_id;
    return Status::OK();
  });
}

Status VolumeLifecycle::RestoreIntoVolume(const std::string& volume_id,
                                          const std::string& backup_id) {
  STRATA_ASSIGN_OR_RETURN(auto lease,
                          locks_.TryAcquire(volume_id, "a restore into it"));
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, catalog_->GetBackup(backup_id));
  STRATA_ASSIGN_OR_RETURN(auto user, live_->DomainUsing(vol.path));
  if (vol.status != "available" || user || Held(vol))
    return Status::InvalidArgument(
        "Invalid volume: Volume to be restored to must be available, but the "
        "current status is \"" +
        std::string(user || Held(vol) ? "in use" : vol.status) + "\".");
  if (b.size_gib * kGiB > vol.virtual_size)
    return Status::InvalidArgument("Invalid volume: volume size " +
                                   std::to_string(SizeGiB(vol.virtual_size)) +
                                   " is too small to restore backup of size " +
                                   std::to_string(b.size_gib) + ".");
  // The volume's own snapshots stay revertible only on the base they
  // were taken on.
  if (vol.base_path != b.base_path)
    return Status::InvalidArgument(
        "Invalid volume: Volume " + vol.id +
        " lies on another base image than the backup's source; restore "
        "the backup into a new volume.");
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord point,
                          catalog_->GetSnapshot(b.point_id));
  STRATA_ASSIGN_OR_RETURN(Journal j, Journal::Begin(catalog_, "volume_restore",
                                                    vol.id, b.point_id));
  STRATA_RETURN_IF_ERROR(catalog_->Transaction([&]() -> Status {
    STRATA_RETURN_IF_ERROR(MarkBackupRestoring(b.id, vol.id));
    return catalog_->ModifyVolume(vol.id, [](db::VolumeRecord& v) {
      v.status = "restoring-backup";
      return Status::OK();
    });
  }));
  Launch(lease, [this, j, vol, b, point](auto& held) mutable {
    const std::string building = TempPath(vol.path, "restoring", j.task_id());
    j.state()["building"] = building;
    j.state()["bootable"] = b.volume_bootable;
    Status s = j.Step("restore.build", 10);
    if (s.ok())
      s = CatchAll("engine.volume_restore", [&] {
        return BuildFromSnapshot(j, vol, point, b.base_path.value_or(""),
                                 b.base_format.value_or(""), building);
      });
    if (s.ok()) s = j.Step("restore.install", 90);
    if (s.ok())
      s = CatchAll("engine.volume_restore", [&] {
        return InstallRestored(vol, building, b.volume_bootable);
      });
    if (s.ok()) {
      LogIfError(j.Succeed(), "journal of the restore into " + vol.id);
      held.reset();
      LogInfo("restored backup " + b.id + " into volume " + vol.id);
      SettleVolumeStatus(vol.id, "available");
      return;
    }
    LogError("restoring backup " + b.id + " into volume " + vol.id +
             " failed: " + s.ToString());
    if (j.step() != "restore.install") RemoveCreateTemps(vol.path, j.task_id());
    LogIfError(j.Fail(s), "journal of the restore into " + vol.id);
    held.reset();
    SettleVolumeStatus(vol.id, "error_restoring");
  });
  return Status::OK();
}

Status VolumeLifecycle::InstallRestored(const db::VolumeRecord& vol,
                                        const std::string& building,
                                        bool bootable) {
  // The rename is the commit point; after it the old chain's layers are
  // garbage, and the disk has no history: its next snapshot stores all it
  // holds (no parent), as a new volume's first one does.
  if (PathExists(building))
    STRATA_RETURN_IF_ERROR(RenameDurableNoSymlinks(building, vol.path));
  chain_->DropSpares(vol.path);
  STRATA_ASSIGN_OR_RETURN(auto unsettled, catalog_->UnsettledHistories());
  for (const auto& u : unsettled)
    if (u.volume_id == vol.id)
      STRATA_RETURN_IF_ERROR(catalog_->RemoveUnsettledHistory(u.path));
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifyVolume(vol.id, [&](db::VolumeRecord& v) {
        v.head_snapshot_id.reset();
        v.bootable = bootable;
        return Status::OK();
      }));
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord now, catalog_->GetVolume(vol.id));
  return chain_->CollectGarbage(now, /*now=*/true);
}

Status VolumeLifecycle::RecoverTask(const db::TaskRecord& task) {
  auto vol = catalog_->GetVolume(task.volume_id);
  if (task.kind == "volume_delete") {
    if (vol.ok()) STRATA_RETURN_IF_ERROR(RunDelete(*vol));
    return catalog_->FinishTask(task.id, "succeeded", "");
  }
  if (!vol.ok()) return catalog_->FinishTask(task.id, "failed", "no volume");
  const std::string why = "interrupted by a restart at step " + task.step;
  if (task.kind == "volume_create") {
    // The install (a rename) is the commit point: the disk's path holds
    // the whole new disk, or the create failed.
    bool done = PathExists(vol->path);
    if (!done) RemoveCreateTemps(vol->path, task.id);
    STRATA_RETURN_IF_ERROR(
        catalog_->ModifyVolume(vol->id, [&](db::VolumeRecord& v) {
          v.status = done ? "available" : "error";
          return Status::OK();
        }));
    return catalog_->FinishTask(task.id, done ? "succeeded" : "failed",
                                done ? "" : why);
  }
  if (task.kind == "volume_restore") {
    // Installed once the step was journalled (the temporary was whole and
    // fsynced): finish it. Before, the disk was not touched.
    auto state = nlohmann::json::parse(task.state, nullptr, false);
    const bool install = task.step == "restore.install" && state.is_object();
    Status s = Status::Internal(why);
    if (install)
      s = InstallRestored(*vol, state.value("building", ""),
                          state.value("bootable", false));
    else
      RemoveCreateTemps(vol->path, task.id);
    STRATA_RETURN_IF_ERROR(
        catalog_->ModifyVolume(vol->id, [&](db::VolumeRecord& v) {
          v.status = s.ok() ? "available" : "error_restoring";
          return Status::OK();
        }));
    return catalog_->FinishTask(task.id, s.ok() ? "succeeded" : "failed",
                                s.ok() ? "" : s.ToString());
  }
  // volume_extend: a resize is idempotent; run it again. Before its step
  // was journalled, nothing was touched.
  auto state = nlohmann::json::parse(task.state, nullptr, false);
  const int64_t new_bytes =
      state.is_object() ? state.value("new_size", int64_t{0}) : 0;
  Status s = new_bytes > 0 ? RunExtend(*vol, new_bytes) : Status::OK();
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifyVolume(vol->id, [&](db::VolumeRecord& v) {
        v.status = s.ok() ? "available" : "error_extending";
        return Status::OK();
      }));
  const bool done = s.ok() && new_bytes > 0;
  return catalog_->FinishTask(task.id, done ? "succeeded" : "failed",
                              done ? "" : why);
}

}  // namespace strata::engine
