// Cinder v3 volumes as Strata manages them: create (empty, from any
// snapshot, or a clone), list, detail, show, update, delete (cascade),
// metadata; adoption of an existing qcow2 disk through Cinder's
// manage-existing API (POST /os-volume-manage, POST /manageable_volumes,
// {"volume": {"host", "ref": {"source-name": "/path"}, …}}); and the volume
// actions revert (≥ 3.40, to ANY available snapshot — Cinder allows only
// the latest), os-extend, os-set_bootable, os-update_readonly_flag,
// os-reserve / os-unreserve, os-begin_detaching / os-roll_detaching,
// os-unmanage, os-reset_status and os-force_delete.
#include "api/body.h"
#include "api/extra_specs_match.h"
#include "api/handlers.h"
#include "api/list_params.h"
#include "api/metadata_routes.h"
#include "api/quotas.h"
#include "api/views.h"
#include "util/log.h"

namespace strata::api {
namespace {

// What the volume's NBD export and redirect cache are doing, if one serves
// it (issue 6).
std::optional<engine::HeldChainStatus> HeldStatus(engine::Engine* e,
                                                  const db::VolumeRecord& v) {
  engine::ChainHolder* h = e->chain_holder();
  return h ? h->StatusOf(v.path) : std::nullopt;
}

// Cinder's volume statuses, which os-reset_status may set.
const std::set<std::string> kVolumeStatuses = {
    "available",   "in-use",           "error",           "reverting",
    "maintenance", "deleting",         "error_deleting",  "creating",
    "attaching",   "detaching",        "extending",       "error_extending",
    "backing-up",  "restoring-backup", "error_restoring", "downloading",
    "uploading",   "retyping",         "error_managing",  "awaiting-transfer"};

// What a volume's view shows besides its record.
VolumeFacts FactsOf(engine::Engine* e, const db::VolumeRecord& v,
                    const std::string& zone, bool with_chain = false) {
  VolumeFacts f;
  if (with_chain) {
    // A view without them is still a view: a chain being rewritten or a
    // file gone is only logged.
    auto usage = e->ChainUsageOf(v.path);
    if (usage.ok())
      f.chain = *usage;
    else
      LogDebug("volume " + v.id +
               ": no chain facts: " + usage.status().ToString());
  }
  f.zone = zone;
  if (v.volume_type_id) {
    auto t = e->catalog()->GetVolumeType(*v.volume_type_id);
    if (t.ok()) f.type_name = t->name;
  }
  f.held = HeldStatus(e, v);
  return f;
}

Result<db::VolumeRecord> LoadVolume(engine::Engine* e, const ApiRequest& req) {
  const std::string& id = req.params.at("id");
  auto v = e->catalog()->GetVolume(id);
  // A "deleted" volume is a shell kept for its backups' layers: gone.
  if (!v.ok() || v->status == "deleted" ||
      (v->project_id != req.ctx.project_id && !req.ctx.is_admin))
    return Status::NotFound("Volume " + id + " could not be found.");
  return v;
}

// Cinder's boolean words, as a filter on the bootable column ("1"/"0").
Result<std::string> BoolFilter(const std::string& key, std::string v) {
  for (char& c : v) c = static_cast<char>(std::tolower(c));
  if (v == "true" || v == "1" || v == "yes" || v == "on" || v == "t")
    return std::string("1");
  if (v == "false" || v == "0" || v == "no" || v == "off" || v == "f")
    return std::string("0");
  return Status::InvalidArgument("Invalid input received: '" + key +
                                 "' must be a boolean, not '" + v + "'.");
}

HandlerResult List(engine::Engine* e, ApiRequest& req, bool detail,
                   const std::string& default_project,
                   const std::string& zone) {
  e->RegisterServerDisks(default_project);
  // Every volume is in the one zone this host serves: another zone's
  // filter matches none.
  bool other_zone = false;
  if (auto z = req.Query("availability_zone")) {
    other_zone = *z != zone;
    req.query.erase("availability_zone");
  }
  STRATA_ASSIGN_OR_RETURN(
      db::ListQuery q,
      ParseListQuery(req, {"name", "status", "bootable", "group_id"}));
  if (auto b = q.filters.find("bootable"); b != q.filters.end()) {
    STRATA_ASSIGN_OR_RETURN(b->second, BoolFilter("bootable", b->second));
  }
  if (other_zone) q.limit = 0;
  STRATA_ASSIGN_OR_RETURN(auto page, e->catalog()->ListVolumes(q));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& v : page.rows)
    items.push_back(VolumeView(
        req, v, detail ? VolumeViewKind::kShow : VolumeViewKind::kSummary,
        FactsOf(e, v, zone, detail && WantsStrataDetails(req))));
  nlohmann::json body = {{"volumes", items}};
  if (page.more && !page.rows.empty())
    body["volumes_links"] = NextLink(req, detail ? "volumes/detail" : "volumes",
                                     page.rows.back().id);
  if (WantsCount(req)) body["count"] = page.total;
  return ApiResponse::Json(200, body);
}

// A size in GiB as Cinder takes it: an integer, or a string of one.
Result<std::optional<int64_t>> OptSize(const nlohmann::json& obj,
                                       const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
  const Status bad =
      Status::InvalidArgument("Invalid input received: '" + key +
                              "' parameter must be an integer greater than 0.");
  int64_t n = 0;
  if (it->is_number_integer()) {
    n = it->get<int64_t>();
  } else if (it->is_string()) {
    const std::string t = it->get<std::string>();
    if (t.empty() || t.size() > 9 ||
        t.find_first_not_of("0123456789") != std::string::npos)
      return bad;
    n = std::stoll(t);
  } else {
    return bad;
  }
  if (n < 1 || n > (int64_t{1} << 30)) return bad;
  return std::optional<int64_t>(n);
}

// name / display_name and description / display_description (Cinder takes
// either spelling).
Status ReadNames(const nlohmann::json& b, std::optional<std::string>* name,
                 std::optional<std::string>* desc) {
  STRATA_ASSIGN_OR_RETURN(*name, OptString(b, "name"));
  if (!*name) {
    STRATA_ASSIGN_OR_RETURN(*name, OptString(b, "display_name"));
  }
  STRATA_ASSIGN_OR_RETURN(*desc, OptString(b, "description"));
  if (!*desc) {
    STRATA_ASSIGN_OR_RETURN(*desc, OptString(b, "display_description"));
  }
  return Status::OK();
}

HandlerResult Create(engine::Engine* e, ApiRequest& req,
                     const ServiceInfoOptions& o) {
  const std::string& zone = o.availability_zone;
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "volume"));
  engine::CreateVolumeRequest cr;
  cr.project_id = req.ctx.project_id;
  cr.user_id = req.ctx.user_id;
  std::optional<std::string> name, desc;
  STRATA_RETURN_IF_ERROR(ReadNames(*b, &name, &desc));
  cr.name = name.value_or("");
  cr.description = desc.value_or("");
  STRATA_ASSIGN_OR_RETURN(cr.metadata, OptMetadata(*b, "metadata"));
  STRATA_ASSIGN_OR_RETURN(auto size, OptSize(*b, "size"));
  STRATA_ASSIGN_OR_RETURN(cr.snapshot_id, OptString(*b, "snapshot_id", 36));
  STRATA_ASSIGN_OR_RETURN(cr.source_volid, OptString(*b, "source_volid", 36));
  for (const char* unsupported : {"imageRef", "image_id"})
    if (b->contains(unsupported) && !(*b)[unsupported].is_null())
      return Status::InvalidArgument(
          std::string("Invalid input received: Strata does not create "
                      "volumes from images yet (") +
          unsupported + ").");
  // A backup's state (≥ 3.47): the same build as its restore.
  if (b->contains("backup_id") && !req.version.AtLeast(3, 47))
    return Status::InvalidArgument(
        "Invalid input received: backup_id needs microversion 3.47.");
  STRATA_ASSIGN_OR_RETURN(cr.backup_id, OptString(*b, "backup_id", 36));
  STRATA_ASSIGN_OR_RETURN(bool multiattach, OptBool(*b, "multiattach", false));
  if (multiattach)
    return Status::InvalidArgument(
        "Invalid input received: multiattach volumes are not supported.");
  if ((cr.snapshot_id ? 1 : 0) + (cr.source_volid ? 1 : 0) +
          (cr.backup_id ? 1 : 0) >
      1)
    return Status::InvalidArgument(
        "Invalid input received: only one of snapshot_id, source_volid and "
        "backup_id may be given.");
  int64_t source_bytes = 0;
  std::optional<std::string> source_type;
  if (cr.snapshot_id) {
    auto snap = VisibleSnapshot(e, req.ctx, *cr.snapshot_id);
    if (!snap)
      return Status::NotFound("Snapshot " + *cr.snapshot_id +
                              " could not be found.");
    source_bytes = snap->virtual_size;
    auto src = e->catalog()->GetVolume(snap->volume_id);
    if (src.ok()) source_type = src->volume_type_id;
  }
  if (cr.source_volid) {
    auto src = e->catalog()->GetVolume(*cr.source_volid);
    if (!src.ok() || src->status == "deleted" ||
        (src->project_id != req.ctx.project_id && !req.ctx.is_admin))
      return Status::NotFound("Volume " + *cr.source_volid +
                              " could not be found.");
    source_bytes = src->virtual_size;
    source_type = src->volume_type_id;
  }
  if (cr.backup_id) {
    auto bk = e->backups().GetBackup(*cr.backup_id);
    if (!bk.ok() || (bk->project_id != req.ctx.project_id && !req.ctx.is_admin))
      return Status::NotFound("Backup " + *cr.backup_id +
                              " could not be found.");
    if (bk->status != "available")
      return Status::InvalidArgument(
          "Invalid backup: Backup status must be available");
    source_bytes = bk->size_gib << 30;
    cr.bootable = bk->volume_bootable;
  }
  if (!size && !source_bytes)
    return Status::InvalidArgument(
        "Invalid input received: 'size' parameter must be an integer "
        "greater than 0.");
  cr.size_gib = size ? *size : engine::SizeGiB(source_bytes);
  STRATA_ASSIGN_OR_RETURN(auto az, OptString(*b, "availability_zone"));
  if (az && *az != zone)
    return Status::InvalidArgument(
        "Invalid input received: Availability zone '" + *az + "' is invalid.");
  // The type: by name or id; a private one only for an admin (404 else).
  STRATA_ASSIGN_OR_RETURN(auto type_ref, OptString(*b, "volume_type"));
  if (!type_ref) type_ref = source_type;  // a copy keeps its source's type
  STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord type,
                          e->catalog()->ResolveVolumeType(
                              type_ref, req.ctx.is_admin, req.ctx.project_id));
  cr.volume_type_id = type.id;
  // A group's member (≥ 3.13): of one of the group's volume types.
  if (req.version.AtLeast(3, 13)) {
    STRATA_ASSIGN_OR_RETURN(cr.group_id, OptString(*b, "group_id", 36));
  }
  if (cr.group_id) {
    STRATA_ASSIGN_OR_RETURN(
        db::GroupRecord g,
        VisibleRow(req.ctx, e->groups().GetGroup(*cr.group_id),
                   "Group " + *cr.group_id + " could not be found."));
    STRATA_RETURN_IF_ERROR(engine::GroupIsUsable(g));
    if (std::find(g.volume_type_ids.begin(), g.volume_type_ids.end(),
                  type.id) == g.volume_type_ids.end())
      return Status::InvalidArgument(
          "Invalid input received: Invalid volume_type provided: " + type.id +
          " (the group's volume types do not include it).");
  }
  // No key manager here: a volume of an encrypted type is not made at all
  // rather than made unencrypted.
  STRATA_ASSIGN_OR_RETURN(auto encryption,
                          e->catalog()->GetEncryptionType(type.id));
  if (encryption)
    return Status::InvalidArgument(
        "Invalid input received: volume type " + type.name +
        " is encrypted, and Strata has no key manager to encrypt volumes "
        "with.");
  // The quota check and the record it allows, as one step.
  auto quota_lock = HoldQuotaLock();
  QuotaDelta d;
  d.volumes = 1;
  d.gigabytes = cr.size_gib;
  d.volume_size = cr.size_gib;
  d.volume_type_id = type.id;
  STRATA_RETURN_IF_ERROR(EnforceQuota(e, cr.project_id, d));
  // Cinder's scheduler: a type whose extra specs this backend does not
  // satisfy gets no backend; the volume is recorded in "error".
  std::string why;
  if (!type.extra_specs.empty() &&
      !SatisfiesExtraSpecs(BackendCapabilities(e, o), type.extra_specs, &why))
    cr.no_valid_backend = why;
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v, e->CreateVolume(cr));
  quota_lock.unlock();
  if (cr.no_valid_backend)
    RecordMessage(e, req, v.project_id, "VOLUME", v.id, "VOLUME_VOL_001_002",
                  "schedule allocate volume: Could not find any available "
                  "weighted backend.");
  return ApiResponse::Json(
      202, {{"volume", VolumeView(req, v, VolumeViewKind::kCreated,
                                  FactsOf(e, v, zone))}});
}

HandlerResult Update(engine::Engine* e, ApiRequest& req,
                     const std::string& zone) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v, LoadVolume(e, req));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "volume"));
  std::optional<std::string> name, desc;
  STRATA_RETURN_IF_ERROR(ReadNames(*b, &name, &desc));
  std::optional<db::Metadata> md;
  if (b->contains("metadata")) {
    STRATA_ASSIGN_OR_RETURN(md, OptMetadata(*b, "metadata"));
  }
  if (!name && !desc && !md)
    return Status::InvalidArgument(
        "Invalid input received: Must specify name, description or metadata "
        "to update a volume.");
  STRATA_RETURN_IF_ERROR(
      e->catalog()->ModifyVolume(v.id, [&](db::VolumeRecord& cur) {
        if (name) cur.name = *name;
        if (desc) cur.description = *desc;
        if (md) cur.metadata = *md;
        return Status::OK();
      }));
  STRATA_ASSIGN_OR_RETURN(v, e->catalog()->GetVolume(v.id));
  return ApiResponse::Json(
      200, {{"volume", VolumeView(req, v, VolumeViewKind::kCreated,
                                  FactsOf(e, v, zone))}});
}

// A boolean query parameter; absent is false.
Result<bool> QueryBool(const ApiRequest& req, const std::string& key) {
  auto v = req.Query(key);
  return v ? ParseBoolWord(key, *v) : Result<bool>(false);
}

// A status change an attach or detach step makes, checked against the
// current status in the same transaction (Cinder's reserve, unreserve,
// begin_detaching, roll_detaching).
Status MoveStatus(engine::Engine* e, const db::VolumeRecord& v,
                  const std::set<std::string>& from, const std::string& to,
                  const std::string& what) {
  return e->catalog()->ModifyVolume(v.id, [&](db::VolumeRecord& cur) {
    if (!from.count(cur.status))
      return Status::InvalidArgument(
          "Invalid volume: Volume status must be " + *from.begin() + " to " +
          what + ", but current status is: " + cur.status + ".");
    cur.status = to;
    return Status::OK();
  });
}

// GET /volumes/summary (≥ 3.12): the caller's volumes counted, their sizes
// summed, and (≥ 3.36) the union of their metadata, values as lists.
HandlerResult Summary(engine::Engine* e, ApiRequest& req) {
  if (!req.version.AtLeast(3, 12))
    return Status::NotFound("Volume summary could not be found.");
  STRATA_ASSIGN_OR_RETURN(db::ListQuery q, ParseListQuery(req, {}));
  q.limit = -1;
  q.marker.reset();
  q.offset = 0;
  STRATA_ASSIGN_OR_RETURN(auto page, e->catalog()->ListVolumes(q));
  int64_t size = 0;
  std::map<std::string, std::set<std::string>> metadata;
  for (const auto& v : page.rows) {
    size += engine::SizeGiB(v.virtual_size);
    for (const auto& [k, val] : v.metadata) metadata[k].insert(val);
  }
  nlohmann::json s = {{"total_size", size},
                      {"total_count", static_cast<int64_t>(page.rows.size())}};
  if (req.version.AtLeast(3, 36)) s["metadata"] = metadata;
  return ApiResponse::Json(200, {{"volume-summary", s}});
}

HandlerResult Manage(engine::Engine* e, ApiRequest& req,
                     const std::string& zone) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kVolumeManage));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "volume"));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* ref, RequireObject(*b, "ref"));
  STRATA_ASSIGN_OR_RETURN(std::string path,
                          RequireString(*ref, "source-name", 4096));
  if (!b->contains("host") && !b->contains("cluster"))
    return Status::InvalidArgument(
        "Missing required element 'host' in request body.");
  engine::ManageRequest mr;
  mr.project_id = req.ctx.project_id;
  mr.user_id = req.ctx.user_id;
  mr.source_path = path;
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name"));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description"));
  mr.name = name.value_or("");
  mr.description = desc.value_or("");
  STRATA_ASSIGN_OR_RETURN(mr.bootable, OptBool(*b, "bootable", false));
  STRATA_ASSIGN_OR_RETURN(mr.metadata, OptMetadata(*b, "metadata"));
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v, e->ManageVolume(mr));
  return ApiResponse::Json(
      202, {{"volume", VolumeView(req, v, VolumeViewKind::kCreated,
                                  FactsOf(e, v, zone))}});
}

HandlerResult Action(engine::Engine* e, ApiRequest& req) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v, LoadVolume(e, req));
  if (!req.body.is_object() || req.body.size() != 1)
    return Status::InvalidArgument(
        "Malformed request body: one action expected.");
  const std::string action = req.body.begin().key();
  const nlohmann::json& arg = req.body.begin().value();
  if (action == "revert") {
    if (!req.version.AtLeast(3, 40))
      return Status::NotFound(
          "The revert action needs microversion 3.40 or "
          "later (OpenStack-API-Version: volume 3.40).");
    if (!arg.is_object())
      return Status::InvalidArgument("Malformed request body: revert");
    STRATA_ASSIGN_OR_RETURN(std::string snap_id,
                            RequireString(arg, "snapshot_id", 36));
    if (!VisibleSnapshot(e, req.ctx, snap_id))
      return Status::NotFound("Snapshot " + snap_id + " could not be found.");
    STRATA_RETURN_IF_ERROR(e->RevertVolume(v.id, snap_id));
    return ApiResponse::Empty(202);
  }
  if (action == "os-extend") {
    if (!arg.is_object())
      return Status::InvalidArgument("Malformed request body: os-extend");
    STRATA_ASSIGN_OR_RETURN(auto size, OptSize(arg, "new_size"));
    if (!size)
      return Status::InvalidArgument(
          "Invalid input received: 'new_size' parameter must be an integer "
          "greater than 0.");
    auto quota_lock = HoldQuotaLock();
    QuotaDelta d;
    d.gigabytes = *size - engine::SizeGiB(v.virtual_size);
    d.volume_size = *size;
    d.volume_type_id = v.volume_type_id;
    if (d.gigabytes > 0)
      STRATA_RETURN_IF_ERROR(EnforceQuota(e, v.project_id, d));
    STRATA_RETURN_IF_ERROR(e->ExtendVolume(v.id, *size));
    return ApiResponse::Empty(202);
  }
  if (action == "os-set_bootable" || action == "os-update_readonly_flag") {
    const bool bootable = action == "os-set_bootable";
    const char* key = bootable ? "bootable" : "readonly";
    if (!arg.is_object() || !arg.contains(key))
      return Status::InvalidArgument(std::string("Invalid input received: "
                                                 "Must specify ") +
                                     key);
    auto flag = OptBool(arg, key, false);
    if (!flag.ok())
      return Status::InvalidArgument(std::string("Invalid input received: '") +
                                     key + "' must be a boolean.");
    STRATA_RETURN_IF_ERROR(
        e->catalog()->ModifyVolume(v.id, [&](db::VolumeRecord& cur) {
          if (bootable)
            cur.bootable = *flag;
          else
            cur.admin_metadata["readonly"] = *flag ? "True" : "False";
          return Status::OK();
        }));
    return ApiResponse::Empty(bootable ? 200 : 202);
  }
  if (action == "os-reserve") {
    STRATA_RETURN_IF_ERROR(
        MoveStatus(e, v, {"available"}, "attaching", "reserve"));
    return ApiResponse::Empty(202);
  }
  if (action == "os-unreserve") {
    STRATA_RETURN_IF_ERROR(
        MoveStatus(e, v, {"attaching"}, "available", "unreserve"));
    return ApiResponse::Empty(202);
  }
  if (action == "os-begin_detaching") {
    STRATA_RETURN_IF_ERROR(
        MoveStatus(e, v, {"in-use"}, "detaching", "begin detaching"));
    return ApiResponse::Empty(202);
  }
  if (action == "os-roll_detaching") {
    STRATA_RETURN_IF_ERROR(
        MoveStatus(e, v, {"detaching"}, "in-use", "roll detaching"));
    return ApiResponse::Empty(202);
  }
  if (action == "os-force_delete") {
    STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kVolumeForceDelete));
    STRATA_RETURN_IF_ERROR(
        e->DeleteVolume(v.id, /*cascade=*/false, /*force=*/true));
    return ApiResponse::Empty(202);
  }
  if (action == "os-retype") {
    // Strata's types differ only in their name and extra specs: a retype
    // moves the volume to the type, with no data to migrate.
    if (!arg.is_object())
      return Status::InvalidArgument("Malformed request body: os-retype");
    STRATA_ASSIGN_OR_RETURN(std::string new_type,
                            RequireString(arg, "new_type"));
    STRATA_ASSIGN_OR_RETURN(
        db::VolumeTypeRecord type,
        e->catalog()->ResolveVolumeType(new_type, req.ctx.is_admin,
                                        req.ctx.project_id));
    STRATA_RETURN_IF_ERROR(
        e->catalog()->ModifyVolume(v.id, [&](db::VolumeRecord& cur) {
          if (cur.status != "available" && cur.status != "in-use")
            return Status::InvalidArgument(
                "Invalid volume: Volume status must be available or in-use "
                "to retype, but current status is: " +
                cur.status + ".");
          if (cur.volume_type_id.value_or("") == type.id)
            return Status::InvalidArgument(
                "Invalid input received: New volume type must be different "
                "from the current one.");
          cur.volume_type_id = type.id;
          return Status::OK();
        }));
    return ApiResponse::Empty(202);
  }
  if (action == "os-unmanage") {
    STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kVolumeUnmanage));
    STRATA_RETURN_IF_ERROR(e->UnmanageVolume(v.id));
    return ApiResponse::Empty(202);
  }
  if (action == "os-reset_status") {
    STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kVolumeResetStatus));
    if (!arg.is_object())
      return Status::InvalidArgument("Malformed request body: os-reset_status");
    STRATA_ASSIGN_OR_RETURN(auto status, OptString(arg, "status"));
    if (status && !kVolumeStatuses.count(*status))
      return Status::InvalidArgument("Invalid status: " + *status);
    if (status)
      STRATA_RETURN_IF_ERROR(
          e->catalog()->ModifyVolume(v.id, [&](db::VolumeRecord& cur) {
            cur.status = *status;
            return Status::OK();
          }));
    return ApiResponse::Empty(202);
  }
  return Status::InvalidArgument("Invalid action: " + action);
}

}  // namespace

void AddVolumeRoutes(Router& r, engine::Engine* e, std::string default_project,
                     ServiceInfoOptions o) {
  const std::string zone = o.availability_zone;
  r.Add("GET", "/v3/volumes", [e, default_project, zone](ApiRequest& q) {
    return List(e, q, false, default_project, zone);
  });
  r.Add("GET", "/v3/volumes/detail", [e, default_project, zone](ApiRequest& q) {
    return List(e, q, true, default_project, zone);
  });
  r.Add("GET", "/v3/volumes/summary",
        [e](ApiRequest& q) { return Summary(e, q); });
  r.Add("GET", "/v3/volumes/{id}", [e, zone](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v, LoadVolume(e, q));
    return ApiResponse::Json(
        200,
        {{"volume", VolumeView(q, v, VolumeViewKind::kShow,
                               FactsOf(e, v, zone, WantsStrataDetails(q)))}});
  });
  r.Add("POST", "/v3/volumes",
        [e, o](ApiRequest& q) { return Create(e, q, o); });
  r.Add("PUT", "/v3/volumes/{id}",
        [e, zone](ApiRequest& q) { return Update(e, q, zone); });
  r.Add("DELETE", "/v3/volumes/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v, LoadVolume(e, q));
    STRATA_ASSIGN_OR_RETURN(bool cascade, QueryBool(q, "cascade"));
    STRATA_ASSIGN_OR_RETURN(bool force, QueryBool(q, "force"));
    // Cinder's ?force (≥ 3.23, with cascade): an admin's.
    if (force) STRATA_RETURN_IF_ERROR(q.ctx.Enforce(rules::kVolumeForceDelete));
    STRATA_RETURN_IF_ERROR(e->DeleteVolume(v.id, cascade, force));
    return ApiResponse::Empty(202);
  });
  r.Add("POST", "/v3/volumes/{id}/action",
        [e](ApiRequest& q) { return Action(e, q); });
  AddMetadataRoutes(
      r, "/v3/volumes/{id}",
      {[e](ApiRequest& q) -> Result<db::Metadata> {
         STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v, LoadVolume(e, q));
         return v.metadata;
       },
       [e](ApiRequest& q,
           const std::function<Status(db::Metadata&)>& edit) -> Status {
         STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v, LoadVolume(e, q));
         return e->catalog()->ModifyVolume(
             v.id, [&](db::VolumeRecord& cur) { return edit(cur.metadata); });
       }});
  r.Add("POST", "/v3/os-volume-manage",
        [e, zone](ApiRequest& q) { return Manage(e, q, zone); });
  r.Add("POST", "/v3/manageable_volumes",
        [e, zone](ApiRequest& q) { return Manage(e, q, zone); });
}

}  // namespace strata::api
