// Cinder v3 snapshots: create (202; within the owner's quotas, else 413 as
// Cinder: api/quotas.h), list, detail, show, update, delete, metadata, and
// the os-reset_status / os-update_snapshot_status / os-force_delete /
// os-unmanage / os-verify (Strata's) actions, and manage-existing (POST
// /os-snapshot-manage, /manageable_snapshots ≥ 3.8: an unmanaged snapshot back,
// by its id). Another project's snapshot is a 404, never a 403.
#include "api/body.h"
#include "api/handlers.h"
#include "api/list_params.h"
#include "api/metadata_routes.h"
#include "api/quotas.h"
#include "api/views.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {
namespace {

const std::set<std::string> kSnapshotStatuses = {
    "creating", "available",      "backing-up", "deleting",  "deleted",
    "error",    "error_deleting", "unmanaging", "restoring", "updating"};

// os-update_snapshot_status moves only along Cinder's transitions: a
// snapshot being created may become available or error, one being deleted
// error_deleting (or stay as it is). Anything else is a 400, as in Cinder;
// os-reset_status (admin) may set any status.
Status CheckUpdateTransition(const db::SnapshotRecord& cur,
                             const std::string& to) {
  static const std::map<std::string, std::set<std::string>> kAllowed = {
      {"creating", {"creating", "available", "error"}},
      {"deleting", {"deleting", "error_deleting"}}};
  auto from = kAllowed.find(cur.status);
  if (from == kAllowed.end())
    return Status::InvalidArgument("Snapshot status " + cur.status +
                                   " not allowed for update_snapshot_status");
  if (!from->second.count(to))
    return Status::InvalidArgument("Provided snapshot status " + to +
                                   " not allowed for snapshot with status " +
                                   cur.status + ".");
  return Status::OK();
}

// Cinder's progress: an integer percentage with its sign, "73%".
Result<int> ParseProgress(const std::string& p) {
  const Status bad =
      Status::InvalidArgument("progress must be an integer percentage");
  if (p.size() < 2 || p.size() > 4 || p.back() != '%') return bad;
  int n = 0;
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] < '0' || p[i] > '9') return bad;
    n = n * 10 + (p[i] - '0');
  }
  if (n > 100) return bad;
  return n;
}

// The caller's snapshot, or 404.
Result<db::SnapshotRecord> LoadSnapshot(engine::Engine* e,
                                        const ApiRequest& req) {
  const std::string& id = req.params.at("id");
  auto s = VisibleSnapshot(e, req.ctx, id);
  if (!s) return Status::NotFound("Snapshot " + id + " could not be found.");
  return *s;
}

HandlerResult List(engine::Engine* e, ApiRequest& req, bool detail) {
  STRATA_ASSIGN_OR_RETURN(
      db::ListQuery q,
      ParseListQuery(req, {"name", "status", "volume_id", "project_id"}));
  STRATA_ASSIGN_OR_RETURN(auto page, e->catalog()->ListSnapshots(q));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& s : page.rows)
    items.push_back(SnapshotView(req, s, detail, e->store()->Name()));
  nlohmann::json body = {{"snapshots", items}};
  if (page.more && !page.rows.empty())
    body["snapshots_links"] = NextLink(
        req, detail ? "snapshots/detail" : "snapshots", page.rows.back().id);
  if (WantsCount(req)) body["count"] = page.total;
  return ApiResponse::Json(200, body);
}

HandlerResult Create(engine::Engine* e, ApiRequest& req) {
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "snapshot"));
  // Required (400 without it), but may be null, which names no volume: a
  // 404, as Cinder's schema and lookup answer.
  if (!b->contains("volume_id"))
    return Status::InvalidArgument(
        "Missing required element 'volume_id' in request body.");
  STRATA_ASSIGN_OR_RETURN(auto named, OptString(*b, "volume_id", 36));
  if (!named) return Status::NotFound("Volume None could not be found.");
  const std::string volume_id = *named;
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name"));
  if (!name) {
    STRATA_ASSIGN_OR_RETURN(name, OptString(*b, "display_name"));
  }
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description"));
  if (!desc) {
    STRATA_ASSIGN_OR_RETURN(desc, OptString(*b, "display_description"));
  }
  STRATA_ASSIGN_OR_RETURN(bool force, OptBool(*b, "force", false));
  (void)force;  // quiet disks need no force; live ones are snapshotted live
  STRATA_ASSIGN_OR_RETURN(db::Metadata md, OptMetadata(*b, "metadata"));
  auto vol = e->catalog()->GetVolume(volume_id);
  if (!vol.ok() || vol->status == "deleted" ||
      (vol->project_id != req.ctx.project_id && !req.ctx.is_admin))
    return Status::NotFound("Volume " + volume_id + " could not be found.");
  engine::CreateSnapshotRequest cr{req.ctx.project_id, req.ctx.user_id,
                                   volume_id,          name.value_or(""),
                                   desc.value_or(""),  md};
  cr.project_id = vol->project_id;  // an admin snapshots into the owner's
  // The owner's quotas (snapshots, gigabytes, and per type), checked and
  // taken under one lock: CreateSnapshot records the snapshot before it
  // returns.
  QuotaDelta delta;
  delta.snapshots = 1;
  delta.gigabytes = engine::SizeGiB(vol->virtual_size);
  delta.volume_type_id = vol->volume_type_id;
  auto quota_lock = HoldQuotaLock();
  STRATA_RETURN_IF_ERROR(EnforceQuota(e, cr.project_id, delta));
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, e->CreateSnapshot(cr));
  quota_lock.unlock();
  return ApiResponse::Json(202, {{"snapshot", SnapshotView(req, s, false)}});
}

// Cinder's manage-existing snapshot, admin: {"snapshot": {"volume_id",
// "ref": {"source-id": <an unmanaged snapshot's id>}, "name",
// "description", "metadata"}} → 202, Cinder's summary view.
HandlerResult Manage(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kSnapshotManage));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "snapshot"));
  STRATA_ASSIGN_OR_RETURN(std::string volume_id,
                          RequireString(*b, "volume_id", 36));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* ref, RequireObject(*b, "ref"));
  STRATA_ASSIGN_OR_RETURN(auto source_id, OptString(*ref, "source-id", 36));
  if (!source_id || ref->size() != 1)
    return Status::InvalidArgument(
        "Manage existing snapshot failed due to invalid backend reference: "
        "Strata's reference is {\"source-id\": <the unmanaged snapshot's "
        "id>}.");
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name", 255));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description", 255));
  STRATA_ASSIGN_OR_RETURN(db::Metadata md, OptMetadata(*b, "metadata"));
  auto vol = e->catalog()->GetVolume(volume_id);
  if (!vol.ok() || vol->status == "deleted")
    return Status::NotFound("Volume " + volume_id + " could not be found.");
  QuotaDelta delta;
  delta.snapshots = 1;
  delta.gigabytes = engine::SizeGiB(vol->virtual_size);
  delta.volume_type_id = vol->volume_type_id;
  auto quota_lock = HoldQuotaLock();
  STRATA_RETURN_IF_ERROR(EnforceQuota(e, vol->project_id, delta));
  STRATA_ASSIGN_OR_RETURN(
      db::SnapshotRecord s,
      e->ManageSnapshot(vol->id, *source_id, name.value_or(""),
                        desc.value_or(""), md));
  quota_lock.unlock();
  return ApiResponse::Json(202,
                           {{"snapshot",
                             {{"id", s.id},
                              {"volume_id", s.volume_id},
                              {"status", s.status},
                              {"size", engine::SizeGiB(s.virtual_size)},
                              {"name", s.name},
                              {"description", s.description},
                              {"metadata", s.metadata},
                              {"created_at", FormatIsoMicros(s.created_at)},
                              {"updated_at", FormatIsoMicros(s.updated_at)}}}});
}

HandlerResult Update(engine::Engine* e, ApiRequest& req) {
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, LoadSnapshot(e, req));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "snapshot"));
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name"));
  STRATA_ASSIGN_OR_RETURN(auto dname, OptString(*b, "display_name"));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description"));
  STRATA_ASSIGN_OR_RETURN(auto ddesc, OptString(*b, "display_description"));
  if (!name) name = dname;
  if (!desc) desc = ddesc;
  if (!name && !desc)
    return Status::InvalidArgument(
        "Must specify name or description to update a snapshot.");
  STRATA_RETURN_IF_ERROR(
      e->catalog()->ModifySnapshot(s.id, [&](db::SnapshotRecord& cur) {
        if (name) cur.name = *name;
        if (desc) cur.description = *desc;
        return Status::OK();
      }));
  STRATA_ASSIGN_OR_RETURN(s, e->catalog()->GetSnapshot(s.id));
  return ApiResponse::Json(200, {{"snapshot", SnapshotView(req, s, false)}});
}

// Cinder deletes a group snapshot's members only with the group snapshot:
// one of them alone would leave the cut incomplete.
Status NotInGroupSnapshot(const db::SnapshotRecord& s) {
  if (s.group_snapshot_id)
    return Status::InvalidArgument(
        "Invalid snapshot: Snapshot " + s.id +
        " must not be part of a group (group snapshot " + *s.group_snapshot_id +
        ").");
  return Status::OK();
}

HandlerResult Action(engine::Engine* e, ApiRequest& req) {
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, LoadSnapshot(e, req));
  if (!req.body.is_object() || req.body.size() != 1)
    return Status::InvalidArgument(
        "Malformed request body: one action expected.");
  const std::string action = req.body.begin().key();
  const nlohmann::json& arg = req.body.begin().value();
  if (action == "os-force_delete") {
    STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kSnapshotForceDelete));
    STRATA_RETURN_IF_ERROR(NotInGroupSnapshot(s));
    STRATA_RETURN_IF_ERROR(e->DeleteSnapshot(s.id, /*force=*/true));
    return ApiResponse::Empty(202);
  }
  if (action == "os-verify") {
    // Strata's (issue 20): the stored layer read back and its SHA-256
    // checked, in the background; the outcome is os-strata:verify.
    if (!arg.is_object() || !arg.empty())
      return Status::InvalidArgument(
          "Malformed request body: os-verify takes {}.");
    STRATA_RETURN_IF_ERROR(e->VerifySnapshot(s.id));
    return ApiResponse::Empty(202);
  }
  if (action == "os-unmanage") {
    STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kSnapshotUnmanage));
    STRATA_RETURN_IF_ERROR(NotInGroupSnapshot(s));
    STRATA_RETURN_IF_ERROR(e->UnmanageSnapshot(s.id));
    return ApiResponse::Empty(202);
  }
  if (action == "os-reset_status" || action == "os-update_snapshot_status") {
    const bool reset = action == "os-reset_status";
    STRATA_RETURN_IF_ERROR(req.ctx.Enforce(
        reset ? rules::kSnapshotResetStatus : rules::kSnapshotUpdateStatus));
    if (!arg.is_object())
      return Status::InvalidArgument("Malformed request body: " + action);
    STRATA_ASSIGN_OR_RETURN(std::string status, RequireString(arg, "status"));
    if (!kSnapshotStatuses.count(status))
      return Status::InvalidArgument("Invalid status: " + status);
    std::optional<int> progress;
    STRATA_ASSIGN_OR_RETURN(auto prog, OptString(arg, "progress", 8));
    if (prog) {
      STRATA_ASSIGN_OR_RETURN(progress, ParseProgress(*prog));
    }
    // Checked against the status in the same transaction as the update,
    // so that a racing change cannot slip between check and write.
    STRATA_RETURN_IF_ERROR(
        e->catalog()->ModifySnapshot(s.id, [&](db::SnapshotRecord& cur) {
          if (!reset)
            STRATA_RETURN_IF_ERROR(CheckUpdateTransition(cur, status));
          cur.status = status;
          if (progress) cur.progress = *progress;
          return Status::OK();
        }));
    return ApiResponse::Empty(202);
  }
  return Status::InvalidArgument("Invalid action: " + action);
}

}  // namespace

std::optional<db::SnapshotRecord> VisibleSnapshot(engine::Engine* e,
                                                  const RequestContext& ctx,
                                                  const std::string& id) {
  auto s = e->catalog()->GetSnapshot(id);
  if (!s.ok() || s->hidden ||
      (s->project_id != ctx.project_id && !ctx.is_admin))
    return std::nullopt;
  return *s;
}

void AddSnapshotRoutes(Router& r, engine::Engine* e) {
  r.Add("GET", "/v3/snapshots",
        [e](ApiRequest& q) { return List(e, q, false); });
  r.Add("GET", "/v3/snapshots/detail",
        [e](ApiRequest& q) { return List(e, q, true); });
  r.Add("POST", "/v3/snapshots", [e](ApiRequest& q) { return Create(e, q); });
  r.Add("GET", "/v3/snapshots/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, LoadSnapshot(e, q));
    return ApiResponse::Json(
        200, {{"snapshot", SnapshotView(q, s, true, e->store()->Name())}});
  });
  r.Add("PUT", "/v3/snapshots/{id}",
        [e](ApiRequest& q) { return Update(e, q); });
  r.Add("DELETE", "/v3/snapshots/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, LoadSnapshot(e, q));
    STRATA_RETURN_IF_ERROR(NotInGroupSnapshot(s));
    STRATA_RETURN_IF_ERROR(e->DeleteSnapshot(s.id, false));
    return ApiResponse::Empty(202);
  });
  r.Add("POST", "/v3/snapshots/{id}/action",
        [e](ApiRequest& q) { return Action(e, q); });
  r.Add("POST", "/v3/os-snapshot-manage",
        [e](ApiRequest& q) { return Manage(e, q); });
  r.Add("POST", "/v3/manageable_snapshots",
        [e](ApiRequest& q) -> HandlerResult {
          if (!q.version.AtLeast(3, 8))
            return Status::NotFound(
                "manageable_snapshots needs microversion 3.8.");
          return Manage(e, q);
        });
  AddMetadataRoutes(
      r, "/v3/snapshots/{id}",
      {[e](ApiRequest& q) -> Result<db::Metadata> {
         STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, LoadSnapshot(e, q));
         return s.metadata;
       },
       [e](ApiRequest& q,
           const std::function<Status(db::Metadata&)>& edit) -> Status {
         STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, LoadSnapshot(e, q));
         return e->catalog()->ModifySnapshot(
             s.id, [&](db::SnapshotRecord& cur) { return edit(cur.metadata); });
       }});
}

}  // namespace strata::api
