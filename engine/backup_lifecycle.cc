// Cinder's backups as stored points. See backup_lifecycle.h for the model
// and docs/api.md for how backups and snapshots share the stored layers.
#include "engine/backup_lifecycle.h"

#include "engine/layer_fetch.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::engine {
namespace {

const char kMustBeAvailable[] =
    "Invalid backup: Backup status must be available";

// The newest available backup of `all` (the volume's backups of one
// project) holding data no newer than `at`: the parent an incremental
// backup follows, as Cinder picks it.
const db::BackupRecord* LatestBackup(const std::vector<db::BackupRecord>& all,
                                     int64_t at) {
  const db::BackupRecord* latest = nullptr;
  for (const auto& b : all)
    if (b.status == "available" && b.data_timestamp <= at &&
        (!latest || b.data_timestamp >= latest->data_timestamp))
      latest = &b;
  return latest;
}

// The stored layers a point reads, as an export lists them.
Result<nlohmann::json> LayersJson(db::Catalog* c, const std::string& point) {
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord p, c->GetSnapshot(point));
  STRATA_ASSIGN_OR_RETURN(auto lineage, StoredLineage(c, p));
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : lineage)
    out.push_back(
        {{"id", l.id}, {"store_key", *l.store_key}, {"sha256", *l.sha256}});
  return out;
}

}  // namespace

Result<db::BackupRecord> BackupLifecycle::CreateBackup(
    const CreateBackupRequest& req) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog_->GetVolume(req.volume_id));
  if (vol.status != "available" && vol.status != "in-use")
    return Status::InvalidArgument(
        "Invalid volume: Volume to be backed up must be available or in-use, "
        "but the current status is \"" +
        vol.status + "\".");
  if (vol.status == "in-use" && !req.force && !req.snapshot_id)
    return Status::InvalidArgument(
        "Invalid volume: Backing up an in-use volume must use the force "
        "flag.");
  db::BackupRecord b;
  b.id = NewUuid();
  b.project_id = req.project_id;
  b.user_id = req.user_id;
  b.volume_id = vol.id;
  b.name = req.name;
  b.description = req.description;
  b.container = req.container;
  b.availability_zone = req.availability_zone;
  b.metadata = req.metadata;
  b.base_path = vol.base_path;
  b.base_format = vol.base_format;
  b.volume_metadata = vol.metadata;
  b.volume_bootable = vol.bootable;
  b.size_gib = SizeGiB(vol.virtual_size);
  b.created_at = b.updated_at = b.data_timestamp = NowMicros();
  if (req.snapshot_id) {
    auto snap = catalog_->GetSnapshot(*req.snapshot_id);
    if (!snap.ok() || snap->hidden || snap->volume_id != vol.id)
      return Status::NotFound("Snapshot " + *req.snapshot_id +
                              " could not be found.");
    if (snap->status != "available" || !snap->store_key)
      return Status::InvalidArgument(
          "Invalid snapshot: Snapshot to be backed up must be available, but "
          "the current status is \"" +
          snap->status + "\".");
    b.snapshot_id = snap->id;
    b.point_id = snap->id;
    b.status = "available";
    b.data_timestamp = snap->created_at;
    b.size_gib = SizeGiB(snap->virtual_size);
  } else {
    b.point_id = NewUuid();
    b.status = "creating";
  }
  if (req.incremental) {
    STRATA_ASSIGN_OR_RETURN(auto all, catalog_->BackupsOfVolume(vol.id));
    std::vector<db::BackupRecord> mine;
    for (auto& o : all)
      if (o.project_id == b.project_id) mine.push_back(std::move(o));
    const db::BackupRecord* parent = LatestBackup(mine, b.data_timestamp);
    if (!parent)
      return Status::InvalidArgument(
          "Invalid backup: No backups available to do an incremental "
          "backup.");
    b.parent_id = parent->id;
    b.is_incremental = true;
  }
  // The row first: it pins the point before the point exists, so no
  // housekeeping can drop the new hidden snapshot's layer.
  STRATA_RETURN_IF_ERROR(catalog_->InsertBackup(b));
  if (b.status == "available") return b;
  CreateSnapshotRequest sr;
  sr.project_id = req.project_id;
  sr.user_id = req.user_id;
  sr.volume_id = vol.id;
  sr.name = "backup " + b.id;
  sr.description = "The stored point of backup " + b.id;
  sr.id = b.point_id;
  sr.hidden = true;
  auto point = creator_->CreateSnapshot(sr);
  if (!point.ok()) {
    LogIfError(catalog_->DeleteBackup(b.id),
               "removing backup " + b.id + " whose point could not start");
    return point.status();
  }
  return b;
}

Result<db::BackupRecord> BackupLifecycle::GetBackup(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, catalog_->GetBackup(id));
  return SettleBackup(std::move(b));
}

Result<db::BackupRecord> BackupLifecycle::SettleBackup(db::BackupRecord b) {
  std::string to, why;
  if (b.status == "creating") {
    auto p = catalog_->GetSnapshot(b.point_id);
    if (!p.ok()) {
      if (!p.status().IsNotFound()) return p.status();
      to = "error";
      why = "its stored point was never recorded";
    } else if (p->status == "available") {
      to = "available";
    } else if (p->status == "error") {
      to = "error";
      why = p->error.empty() ? "its snapshot failed" : p->error;
    }
  } else if (b.status == "restoring") {
    auto v = b.restore_volume_id
                 ? catalog_->GetVolume(*b.restore_volume_id)
                 : Result<db::VolumeRecord>(Status::NotFound(""));
    if (!v.ok() && !v.status().IsNotFound()) return v.status();
    if (!v.ok() || (v->status != "creating" && v->status != "restoring-backup"))
      to = "available";
  }
  if (to.empty()) return b;
  const std::string from = b.status;
  STRATA_RETURN_IF_ERROR(catalog_->ModifyBackup(b.id, [&](db::BackupRecord& r) {
    if (r.status != from) return Status::OK();  // settled meanwhile
    r.status = to;
    if (!why.empty()) r.fail_reason = why;
    if (from == "restoring") r.restore_volume_id.reset();
    return Status::OK();
  }));
  return catalog_->GetBackup(b.id);
}

Status BackupLifecycle::DeleteBackup(const std::string& id, bool force) {
  STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, GetBackup(id));
  if (b.status == "restoring" ||
      (!force && b.status != "available" && b.status != "error"))
    return Status::InvalidArgument(
        "Invalid backup: Backup status must be available or error, but it is " +
        b.status + ".");
  if (b.has_dependent_backups)
    return Status::InvalidArgument(
        "Invalid backup: Incremental backups exist for this backup.");
  STRATA_RETURN_IF_ERROR(catalog_->Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(db::BackupRecord now, catalog_->GetBackup(id));
    if (now.status == "restoring" || now.has_dependent_backups)
      return Status::InvalidArgument("Invalid backup: Backup " + id +
                                     " changed while being deleted.");
    return catalog_->DeleteBackup(id);
  }));
  LogInfo("deleted backup " + id + " (point " + b.point_id + ")");
  // The point is unpinned: the layers nothing needs any more go now, in
  // this call, when the volume is free (so the lease is free again when
  // the caller's next request, often the volume's delete, comes), else at
  // its next snapshot or start. A store delete that fails is queued
  // (R1.9), so this does not wait on a dead store.
  auto lease = locks_.TryAcquire(b.volume_id, "a backup delete's cleanup");
  if (!lease.ok()) return Status::OK();
  LogIfError(CatchAll("engine.backup_delete",
                      [&] {
                        STRATA_RETURN_IF_ERROR(
                            deleter_->DropUnneededLayers(b.volume_id));
                        return lifecycle_->ForgetRetained(b.volume_id);
                      }),
             "dropping the layers of volume " + b.volume_id +
                 " a deleted backup held (retried at its next snapshot)");
  return Status::OK();
}

Result<db::VolumeRecord> BackupLifecycle::RestoreBackup(
    const std::string& id, const std::string& project_id,
    const std::string& user_id, const std::string& volume_name,
    const std::string& volume_type_id,
    const std::optional<std::string>& into_volume_id) {
  STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, GetBackup(id));
  if (b.status != "available") return Status::InvalidArgument(kMustBeAvailable);
  // The backup turns "restoring" in the transaction that records the
  // restore (VolumeLifecycle::MarkBackupRestoring): no delete can unpin
  // the point while the build reads it; SettleBackup ends it with the
  // volume's status.
  if (into_volume_id) {
    STRATA_RETURN_IF_ERROR(lifecycle_->RestoreIntoVolume(*into_volume_id, id));
    return catalog_->GetVolume(*into_volume_id);
  }
  CreateVolumeRequest r;
  r.project_id = project_id;
  r.user_id = user_id;
  r.name = volume_name;
  r.description = "auto-created_from_restore_from_backup";
  r.size_gib = b.size_gib;
  r.backup_id = b.id;
  r.bootable = b.volume_bootable;
  r.metadata = b.volume_metadata;
  if (!volume_type_id.empty()) r.volume_type_id = volume_type_id;
  return lifecycle_->CreateVolume(r);
}

Result<nlohmann::json> BackupLifecycle::ExportBackup(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, GetBackup(id));
  if (b.status != "available") return Status::InvalidArgument(kMustBeAvailable);
  STRATA_ASSIGN_OR_RETURN(nlohmann::json layers,
                          LayersJson(catalog_, b.point_id));
  auto opt = [](const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return nlohmann::json{{"id", b.id},
                        {"project_id", b.project_id},
                        {"user_id", b.user_id},
                        {"volume_id", b.volume_id},
                        {"point_id", b.point_id},
                        {"snapshot_id", opt(b.snapshot_id)},
                        {"parent_id", opt(b.parent_id)},
                        {"display_name", b.name},
                        {"display_description", b.description},
                        {"container", opt(b.container)},
                        {"availability_zone", b.availability_zone},
                        {"size", b.size_gib},
                        {"is_incremental", b.is_incremental},
                        {"metadata", b.metadata},
                        {"volume_metadata", b.volume_metadata},
                        {"volume_bootable", b.volume_bootable},
                        {"data_timestamp", b.data_timestamp},
                        {"layers", layers}};
}

Result<db::BackupRecord> BackupLifecycle::ImportBackup(
    const nlohmann::json& rec, const std::string& project_id,
    const std::string& user_id) {
  const Status bad = Status::InvalidArgument(
      "Invalid input received: backup_url is not a backup record exported by "
      "this service.");
  auto str = [&](const char* k) -> std::optional<std::string> {
    auto it = rec.find(k);
    if (it == rec.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto text = [&](const char* k) { return str(k).value_or(""); };
  if (!rec.is_object() || !str("id") || !str("point_id") || !str("volume_id") ||
      !rec.contains("layers") || !rec["layers"].is_array() ||
      !rec.value("size", nlohmann::json()).is_number_integer())
    return bad;
  const std::string id = *str("id");
  if (!IsUuid(id))
    return Status::InvalidArgument("Invalid input received: backup id " + id +
                                   " is not a UUID.");
  if (catalog_->GetBackup(id).ok())
    return Status::InvalidArgument(
        "Invalid backup: Backup already exists in database.");
  // The point must be this catalog's, reading the same stored layers.
  auto want = LayersJson(catalog_, *str("point_id"));
  if (!want.ok() || *want != rec["layers"])
    return Status::InvalidArgument(
        "Invalid backup: the stored point " + *str("point_id") +
        " of this record is not in this service's catalog with the same "
        "stored layers.");
  db::BackupRecord b;
  b.id = id;
  b.project_id = project_id;
  b.user_id = user_id;
  b.volume_id = *str("volume_id");
  b.point_id = *str("point_id");
  b.snapshot_id = str("snapshot_id");
  b.parent_id = str("parent_id");
  if (b.parent_id && !catalog_->GetBackup(*b.parent_id).ok())
    b.parent_id.reset();
  b.name = text("display_name");
  b.description = text("display_description");
  b.container = str("container");
  b.availability_zone = text("availability_zone");
  b.size_gib = rec["size"].get<int64_t>();
  b.is_incremental = b.parent_id.has_value();
  for (const char* k : {"metadata", "volume_metadata"}) {
    auto it = rec.find(k);
    if (it == rec.end() || !it->is_object()) continue;
    auto& m = std::string(k) == "metadata" ? b.metadata : b.volume_metadata;
    for (const auto& [mk, mv] : it->items())
      if (mv.is_string()) m[mk] = mv.get<std::string>();
  }
  auto boot = rec.find("volume_bootable");
  b.volume_bootable =
      boot != rec.end() && boot->is_boolean() && boot->get<bool>();
  // The base a restore builds on is the point's volume's, never a path
  // the record names (it becomes a new disk's backing file).
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord point,
                          catalog_->GetSnapshot(b.point_id));
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog_->GetVolume(point.volume_id));
  b.volume_id = vol.id;
  b.base_path = vol.base_path;
  b.base_format = vol.base_format;
  b.status = "available";
  b.created_at = b.updated_at = NowMicros();
  auto ts = rec.find("data_timestamp");
  b.data_timestamp = ts != rec.end() && ts->is_number_integer()
                         ? ts->get<int64_t>()
                         : b.created_at;
  STRATA_RETURN_IF_ERROR(catalog_->InsertBackup(b));
  return catalog_->GetBackup(b.id);
}

}  // namespace strata::engine
