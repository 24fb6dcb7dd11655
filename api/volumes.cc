// Cinder v3 volumes as Strata manages them: list, detail, show; adoption of
// an existing qcow2 disk through Cinder's manage-existing API
// (POST /os-volume-manage, POST /manageable_volumes, {"volume": {"host",
// "ref": {"source-name": "/path"}, …}}); and the volume actions revert
// (≥ 3.40, to ANY available snapshot — Cinder allows only the latest),
// os-unmanage and os-reset_status.
#include "api/body.h"
#include "api/handlers.h"
#include "api/list_params.h"
#include "api/views.h"

namespace strata::api {
namespace {

// What the volume's NBD export and redirect cache are doing, if one serves
// it (issue 6).
std::optional<engine::HeldChainStatus> HeldStatus(engine::Engine* e,
                                                  const db::VolumeRecord& v) {
  engine::ChainHolder* h = e->chain_holder();
  return h ? h->StatusOf(v.path) : std::nullopt;
}

const std::set<std::string> kVolumeStatuses = {
    "available",   "in-use",   "error",          "reverting",
    "maintenance", "deleting", "error_deleting", "creating"};

Result<db::VolumeRecord> LoadVolume(engine::Engine* e, const ApiRequest& req) {
  const std::string& id = req.params.at("id");
  auto v = e->catalog()->GetVolume(id);
  if (!v.ok() || (v->project_id != req.ctx.project_id && !req.ctx.is_admin))
    return Status::NotFound("Volume " + id + " could not be found.");
  return v;
}

HandlerResult List(engine::Engine* e, ApiRequest& req, bool detail,
                   const std::string& default_project) {
  e->RegisterServerDisks(default_project);
  STRATA_ASSIGN_OR_RETURN(db::ListQuery q,
                          ParseListQuery(req, {"name", "status", "bootable"}));
  STRATA_ASSIGN_OR_RETURN(auto page, e->catalog()->ListVolumes(q));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& v : page.rows)
    items.push_back(VolumeView(req, v, detail, HeldStatus(e, v)));
  nlohmann::json body = {{"volumes", items}};
  if (page.more && !page.rows.empty())
    body["volumes_links"] = NextLink(req, detail ? "volumes/detail" : "volumes",
                                     page.rows.back().id);
  if (WantsCount(req)) body["count"] = page.total;
  return ApiResponse::Json(200, body);
}

HandlerResult Manage(engine::Engine* e, ApiRequest& req) {
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
      202, {{"volume", VolumeView(req, v, true, HeldStatus(e, v))}});
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

void AddVolumeRoutes(Router& r, engine::Engine* e,
                     std::string default_project) {
  r.Add("GET", "/v3/volumes", [e, default_project](ApiRequest& q) {
    return List(e, q, false, default_project);
  });
  r.Add("GET", "/v3/volumes/detail", [e, default_project](ApiRequest& q) {
    return List(e, q, true, default_project);
  });
  r.Add("GET", "/v3/volumes/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v, LoadVolume(e, q));
    return ApiResponse::Json(
        200, {{"volume", VolumeView(q, v, true, HeldStatus(e, v))}});
  });
  r.Add("POST", "/v3/volumes/{id}/action",
        [e](ApiRequest& q) { return Action(e, q); });
  r.Add("POST", "/v3/os-volume-manage",
        [e](ApiRequest& q) { return Manage(e, q); });
  r.Add("POST", "/v3/manageable_volumes",
        [e](ApiRequest& q) { return Manage(e, q); });
}

}  // namespace strata::api
