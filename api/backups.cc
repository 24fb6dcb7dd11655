// Cinder v3 backups (issue 18): create (202; full or incremental, of a
// volume or of one of its snapshots; within the owner's backups and
// backup_gigabytes quotas, else 413), list, detail, show, update (≥ 3.9),
// delete, restore into a new volume, export_record / import_record, and
// the os-reset_status / os-force_delete actions. A backup is a stored point
// of its volume (engine/backup_lifecycle.h; docs/api.md). Another
// project's backup is a 404, never a 403.
#include <openssl/evp.h>

#include "api/body.h"
#include "api/handlers.h"
#include "api/list_params.h"
#include "api/quotas.h"
#include "api/views.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {
namespace {

// What export_record names as the backup service, after Cinder's driver
// module names ("cinder.backup.drivers.swift", …): import_record accepts
// records of this service only.
const char kBackupService[] = "cinder.backup.drivers.strata";

std::string Base64Encode(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(in.data()),
                      static_cast<int>(in.size()));
  out.resize(n);
  return out;
}

Result<std::string> Base64Decode(const std::string& in) {
  const Status bad = Status::InvalidArgument(
      "Invalid input received: backup_url is not base64.");
  if (in.empty() || in.size() % 4 != 0 || in.size() > (1 << 20)) return bad;
  std::string out(3 * (in.size() / 4), '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(in.data()),
                      static_cast<int>(in.size()));
  if (n < 0) return bad;
  size_t pad = 0;
  for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) ++pad;
  if (pad > 2) return bad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

nlohmann::json Links(const ApiRequest& req, const db::BackupRecord& b) {
  return nlohmann::json::array(
      {{{"href", req.base_url + "/v3/" + b.project_id + "/backups/" + b.id},
        {"rel", "self"}},
       {{"href", req.base_url + "/" + b.project_id + "/backups/" + b.id},
        {"rel", "bookmark"}}});
}

// Cinder's backup views: the summary (id, name, links; metadata ≥ 3.43 on
// create and update) and the detail.
nlohmann::json BackupSummary(const ApiRequest& req, const db::BackupRecord& b,
                             bool with_metadata) {
  nlohmann::json j = {{"id", b.id}, {"name", b.name}, {"links", Links(req, b)}};
  if (with_metadata && req.version.AtLeast(3, 43)) j["metadata"] = b.metadata;
  return j;
}

nlohmann::json BackupDetail(const ApiRequest& req, const db::BackupRecord& b,
                            int64_t object_count) {
  nlohmann::json j = {
      {"id", b.id},
      {"name", b.name},
      {"description", b.description},
      {"status", b.status},
      {"availability_zone", b.availability_zone},
      {"volume_id", b.volume_id},
      {"snapshot_id", OrNull(b.snapshot_id)},
      {"container", OrNull(b.container)},
      {"size", b.size_gib},
      {"object_count", object_count},
      {"is_incremental", b.is_incremental},
      {"has_dependent_backups", b.has_dependent_backups},
      {"fail_reason", b.fail_reason.empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json(b.fail_reason)},
      {"created_at", FormatIsoMicros(b.created_at)},
      {"updated_at", FormatIsoMicros(b.updated_at)},
      {"data_timestamp", FormatIsoMicros(b.data_timestamp)},
      {"links", Links(req, b)}};
  if (req.version.AtLeast(3, 18) && req.ctx.policy &&
      req.ctx.policy->Allows(rules::kBackupAttributes, req.ctx))
    j["os-backup-project-attr:project_id"] = b.project_id;
  if (req.version.AtLeast(3, 43)) j["metadata"] = b.metadata;
  if (req.version.AtLeast(3, 56)) j["user_id"] = b.user_id;
  if (req.version.AtLeast(3, 64)) j["encryption_key_id"] = nullptr;
  return j;
}

// The stored layers a restore of `b` reads: Cinder's object_count.
int64_t ObjectCount(engine::Engine* e, const db::BackupRecord& b) {
  int64_t n = 0;
  std::optional<std::string> cur = b.point_id;
  while (cur && n < 100000) {
    auto s = e->catalog()->GetSnapshot(*cur);
    if (!s.ok()) break;
    if (s->store_key) ++n;
    cur = s->parent_id;
  }
  return n;
}

// The caller's backup (an admin sees any), status settled, or 404.
Result<db::BackupRecord> LoadBackup(engine::Engine* e, const ApiRequest& req) {
  const std::string& id = req.params.at("id");
  return VisibleRow(req.ctx, e->backups().GetBackup(id),
                    "Backup " + id + " could not be found.");
}

HandlerResult Create(engine::Engine* e, ApiRequest& req,
                     const std::string& zone) {
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "backup"));
  STRATA_ASSIGN_OR_RETURN(std::string volume_id,
                          RequireString(*b, "volume_id", 36));
  engine::CreateBackupRequest cr;
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name", 255));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description", 255));
  STRATA_ASSIGN_OR_RETURN(cr.container, OptString(*b, "container", 255));
  STRATA_ASSIGN_OR_RETURN(cr.snapshot_id, OptString(*b, "snapshot_id", 36));
  STRATA_ASSIGN_OR_RETURN(cr.incremental, OptBool(*b, "incremental", false));
  STRATA_ASSIGN_OR_RETURN(cr.force, OptBool(*b, "force", false));
  if (req.version.AtLeast(3, 43)) {
    STRATA_ASSIGN_OR_RETURN(cr.metadata, OptMetadata(*b, "metadata"));
  }
  if (req.version.AtLeast(3, 51)) {
    STRATA_ASSIGN_OR_RETURN(auto az, OptString(*b, "availability_zone", 255));
    if (az && *az != zone)
      return Status::InvalidArgument(
          "Invalid input received: Availability "
          "zone '" +
          *az + "' is invalid.");
  }
  auto vol = e->catalog()->GetVolume(volume_id);
  if (!vol.ok() || vol->status == "deleted" ||
      (vol->project_id != req.ctx.project_id && !req.ctx.is_admin))
    return Status::NotFound("Volume " + volume_id + " could not be found.");
  cr.project_id = req.ctx.project_id;  // the caller's, as in Cinder
  cr.user_id = req.ctx.user_id;
  cr.volume_id = volume_id;
  cr.name = name.value_or("");
  cr.description = desc.value_or("");
  cr.availability_zone = zone;
  QuotaDelta delta;
  delta.backups = 1;
  delta.backup_gigabytes = engine::SizeGiB(vol->virtual_size);
  auto quota_lock = HoldQuotaLock();
  STRATA_RETURN_IF_ERROR(EnforceQuota(e, cr.project_id, delta));
  STRATA_ASSIGN_OR_RETURN(db::BackupRecord made, e->backups().CreateBackup(cr));
  quota_lock.unlock();
  return ApiResponse::Json(202, {{"backup", BackupSummary(req, made, true)}});
}

HandlerResult List(engine::Engine* e, ApiRequest& req, bool detail) {
  STRATA_ASSIGN_OR_RETURN(
      db::ListQuery q,
      ParseListQuery(req, {"name", "status", "volume_id", "project_id"}));
  STRATA_ASSIGN_OR_RETURN(auto page, e->catalog()->ListBackups(q));
  nlohmann::json items = nlohmann::json::array();
  for (auto& row : page.rows) {
    STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, e->backups().SettleBackup(row));
    items.push_back(detail ? BackupDetail(req, b, ObjectCount(e, b))
                           : BackupSummary(req, b, false));
  }
  nlohmann::json body = {{"backups", items}};
  if (page.more && !page.rows.empty())
    body["backups_links"] = NextLink(req, detail ? "backups/detail" : "backups",
                                     page.rows.back().id);
  if (WantsCount(req)) body["count"] = page.total;
  return ApiResponse::Json(200, body);
}

HandlerResult Update(engine::Engine* e, ApiRequest& req) {
  if (!req.version.AtLeast(3, 9))
    return Status::NotFound("Backup update needs microversion 3.9.");
  STRATA_ASSIGN_OR_RETURN(db::BackupRecord cur, LoadBackup(e, req));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "backup"));
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name", 255));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description", 255));
  std::optional<db::Metadata> md;
  if (req.version.AtLeast(3, 43) && b->contains("metadata")) {
    STRATA_ASSIGN_OR_RETURN(md, OptMetadata(*b, "metadata"));
  }
  if (!name && !desc && !md)
    return Status::InvalidArgument(
        "Invalid input received: Must specify name, description or metadata "
        "to update a backup.");
  STRATA_RETURN_IF_ERROR(
      e->catalog()->ModifyBackup(cur.id, [&](db::BackupRecord& r) {
        if (name) r.name = *name;
        if (desc) r.description = *desc;
        if (md) r.metadata = *md;
        return Status::OK();
      }));
  STRATA_ASSIGN_OR_RETURN(cur, e->catalog()->GetBackup(cur.id));
  return ApiResponse::Json(200, {{"backup", BackupSummary(req, cur, true)}});
}

HandlerResult Restore(engine::Engine* e, ApiRequest& req) {
  STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, LoadBackup(e, req));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* r,
                          RequireObject(req.body, "restore"));
  STRATA_ASSIGN_OR_RETURN(auto volume_id, OptString(*r, "volume_id", 36));
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*r, "name", 255));
  if (volume_id) {
    auto vol = e->catalog()->GetVolume(*volume_id);
    if (!vol.ok() || vol->status == "deleted" ||
        (vol->project_id != req.ctx.project_id && !req.ctx.is_admin))
      return Status::NotFound("Volume " + *volume_id + " could not be found.");
    STRATA_ASSIGN_OR_RETURN(
        db::VolumeRecord into,
        e->backups().RestoreBackup(b.id, req.ctx.project_id, req.ctx.user_id,
                                   "", "", *volume_id));
    return ApiResponse::Json(202, {{"restore",
                                    {{"backup_id", b.id},
                                     {"volume_id", into.id},
                                     {"volume_name", into.name}}}});
  }
  // The new volume counts against the caller's volume quotas.
  QuotaDelta delta;
  delta.volumes = 1;
  delta.gigabytes = b.size_gib;
  delta.volume_size = b.size_gib;
  auto quota_lock = HoldQuotaLock();
  STRATA_RETURN_IF_ERROR(EnforceQuota(e, req.ctx.project_id, delta));
  const std::string vname = name.value_or("restore_backup_" + b.id);
  STRATA_ASSIGN_OR_RETURN(
      db::VolumeRecord vol,
      e->backups().RestoreBackup(b.id, req.ctx.project_id, req.ctx.user_id,
                                 vname, ""));
  quota_lock.unlock();
  return ApiResponse::Json(202, {{"restore",
                                  {{"backup_id", b.id},
                                   {"volume_id", vol.id},
                                   {"volume_name", vol.name}}}});
}

HandlerResult Action(engine::Engine* e, ApiRequest& req) {
  STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, LoadBackup(e, req));
  if (!req.body.is_object() || req.body.size() != 1)
    return Status::InvalidArgument(
        "Malformed request body: one action expected.");
  const std::string action = req.body.begin().key();
  const nlohmann::json& arg = req.body.begin().value();
  if (action == "os-force_delete") {
    STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kBackupForceDelete));
    STRATA_RETURN_IF_ERROR(e->backups().DeleteBackup(b.id, /*force=*/true));
    return ApiResponse::Empty(202);
  }
  if (action == "os-reset_status") {
    STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kBackupResetStatus));
    if (!arg.is_object())
      return Status::InvalidArgument("Malformed request body: " + action);
    STRATA_ASSIGN_OR_RETURN(std::string status, RequireString(arg, "status"));
    // Cinder resets a backup to these two only.
    if (status != "available" && status != "error")
      return Status::InvalidArgument(
          "Invalid input received: Invalid backup "
          "status '" +
          status + "'.");
    STRATA_RETURN_IF_ERROR(
        e->catalog()->ModifyBackup(b.id, [&](db::BackupRecord& cur) {
          if (cur.status == "creating" || cur.status == "restoring")
            return Status::InvalidArgument("Invalid backup: Backup " + cur.id +
                                           " is " + cur.status +
                                           "; its status follows that work.");
          cur.status = status;
          return Status::OK();
        }));
    return ApiResponse::Empty(202);
  }
  return Status::InvalidArgument("Invalid action: " + action);
}

HandlerResult Export(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kBackupExport));
  STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, LoadBackup(e, req));
  STRATA_ASSIGN_OR_RETURN(nlohmann::json rec, e->backups().ExportBackup(b.id));
  return ApiResponse::Json(200, {{"backup-record",
                                  {{"backup_service", kBackupService},
                                   {"backup_url", Base64Encode(rec.dump())}}}});
}

HandlerResult Import(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kBackupExport));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* r,
                          RequireObject(req.body, "backup-record"));
  STRATA_ASSIGN_OR_RETURN(std::string service,
                          RequireString(*r, "backup_service", 255));
  STRATA_ASSIGN_OR_RETURN(std::string url,
                          RequireString(*r, "backup_url", 1 << 20));
  if (service != kBackupService)
    return Status::InvalidArgument("Invalid input received: Backup service " +
                                   service + " is not supported.");
  STRATA_ASSIGN_OR_RETURN(std::string json, Base64Decode(url));
  auto rec = nlohmann::json::parse(json, nullptr, false);
  if (rec.is_discarded())
    return Status::InvalidArgument(
        "Invalid input received: backup_url does not hold a backup record.");
  auto quota_lock = HoldQuotaLock();
  QuotaDelta delta;
  delta.backups = 1;
  if (rec.is_object() &&
      rec.value("size", nlohmann::json()).is_number_integer())
    delta.backup_gigabytes = rec["size"].get<int64_t>();
  STRATA_RETURN_IF_ERROR(EnforceQuota(e, req.ctx.project_id, delta));
  STRATA_ASSIGN_OR_RETURN(
      db::BackupRecord b,
      e->backups().ImportBackup(rec, req.ctx.project_id, req.ctx.user_id));
  return ApiResponse::Json(201, {{"backup", BackupSummary(req, b, false)}});
}

}  // namespace

void AddBackupRoutes(Router& r, engine::Engine* e,
                     std::string availability_zone) {
  r.Add("POST", "/v3/backups", [e, availability_zone](ApiRequest& q) {
    return Create(e, q, availability_zone);
  });
  r.Add("GET", "/v3/backups", [e](ApiRequest& q) { return List(e, q, false); });
  r.Add("GET", "/v3/backups/detail",
        [e](ApiRequest& q) { return List(e, q, true); });
  r.Add("POST", "/v3/backups/import_record",
        [e](ApiRequest& q) { return Import(e, q); });
  r.Add("GET", "/v3/backups/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, LoadBackup(e, q));
    return ApiResponse::Json(
        200, {{"backup", BackupDetail(q, b, ObjectCount(e, b))}});
  });
  r.Add("PUT", "/v3/backups/{id}", [e](ApiRequest& q) { return Update(e, q); });
  r.Add("DELETE", "/v3/backups/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::BackupRecord b, LoadBackup(e, q));
    STRATA_RETURN_IF_ERROR(e->backups().DeleteBackup(b.id, false));
    return ApiResponse::Empty(202);
  });
  r.Add("POST", "/v3/backups/{id}/restore",
        [e](ApiRequest& q) { return Restore(e, q); });
  r.Add("POST", "/v3/backups/{id}/action",
        [e](ApiRequest& q) { return Action(e, q); });
  r.Add("GET", "/v3/backups/{id}/export_record",
        [e](ApiRequest& q) { return Export(e, q); });
}

}  // namespace strata::api
