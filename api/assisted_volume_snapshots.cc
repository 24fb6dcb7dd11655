// Nova's os-assisted-volume-snapshots, as Cinder's remotefs qcow2 drivers
// (NFS and friends) call it: POST /v2.1/os-assisted-volume-snapshots
// {"snapshot": {"volume_id", "create_info": {"snapshot_id", "type":
// "qcow2", "new_file"[, "id"]}}} → 200 {"snapshot": {"id", "volumeId"}};
// DELETE /v2.1/os-assisted-volume-snapshots/{snapshot_id}?delete_info=
// {"volume_id", "type": "qcow2", "file_to_merge", "merge_target_file"} →
// 204. Both answer before the work is done; the outcome reaches Cinder by
// os-update_snapshot_status (openstack-integration/). Policy as Nova's:
// admin (or the service role); errors as Nova's API gives them, 400 for
// all but a malformed request's own.
#include "api/body.h"
#include "api/handlers.h"
#include "openstack-integration/assisted_snapshots.h"

namespace strata::api {
namespace {

Status Allowed(const ApiRequest& req, const std::string& action) {
  return req.ctx.Enforce(action == "create" ? rules::kAssistedCreate
                                            : rules::kAssistedDelete);
}

// Where Cinder is for this caller: [cinder] endpoint_template, else the
// token's catalog by [cinder] catalog_info ("type:name:publicURL").
Result<openstack::CinderEndpoint> CinderFor(const ApiRequest& req,
                                            const CinderOptions& o) {
  openstack::CinderEndpoint c;
  auto token = req.headers.find("x-auth-token");
  if (token != req.headers.end()) c.token = token->second;
  c.request_id = req.request_id;
  if (!o.endpoint_template.empty()) {
    c.url = openstack::ExpandEndpointTemplate(o.endpoint_template,
                                              req.ctx.project_id);
    return c;
  }
  std::string type, name, interface;
  {
    const std::string& info = o.catalog_info;
    size_t a = info.find(':'), b = info.find(':', a + 1);
    type = info.substr(0, a);
    if (a != std::string::npos && b != std::string::npos) {
      name = info.substr(a + 1, b - a - 1);
      interface = info.substr(b + 1);
    }
    if (interface.size() > 3 &&
        interface.compare(interface.size() - 3, 3, "URL") == 0)
      interface.resize(interface.size() - 3);  // publicURL → public
  }
  for (const auto& ep : req.ctx.catalog)
    if (ep.type == type && (name.empty() || ep.name == name) &&
        (interface.empty() || ep.interface == interface) &&
        (o.region.empty() || ep.region == o.region)) {
      c.url = ep.url;
      while (!c.url.empty() && c.url.back() == '/') c.url.pop_back();
      return c;
    }
  return Status::Unavailable(
      "Cannot tell Cinder about the snapshot: no '" + o.catalog_info +
      "' endpoint in the token's catalog" +
      (o.region.empty() ? "" : " in region " + o.region) +
      ", and [cinder] endpoint_template is not set.");
}

Status OnlyFields(const nlohmann::json& obj, std::set<std::string> allowed,
                  const std::string& where) {
  for (const auto& [k, v] : obj.items())
    if (!allowed.count(k))
      return Status::InvalidArgument(
          "Invalid input for field/attribute " + where +
          ". Additional properties are not allowed ('" + k +
          "' was unexpected)");
  return Status::OK();
}

HandlerResult Create(openstack::AssistedSnapshots* avs, const CinderOptions& o,
                     ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(Allowed(req, "create"));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* snap,
                          RequireObject(req.body, "snapshot"));
  STRATA_RETURN_IF_ERROR(OnlyFields(req.body, {"snapshot"}, "body"));
  STRATA_RETURN_IF_ERROR(
      OnlyFields(*snap, {"volume_id", "create_info"}, "snapshot"));
  STRATA_ASSIGN_OR_RETURN(std::string volume_id,
                          RequireString(*snap, "volume_id"));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* info,
                          RequireObject(*snap, "create_info"));
  STRATA_RETURN_IF_ERROR(OnlyFields(
      *info, {"snapshot_id", "type", "new_file", "id"}, "create_info"));
  openstack::AssistedCreate cr;
  cr.volume_id = volume_id;
  STRATA_ASSIGN_OR_RETURN(cr.snapshot_id, RequireString(*info, "snapshot_id"));
  STRATA_ASSIGN_OR_RETURN(std::string type, RequireString(*info, "type"));
  if (type != "qcow2")
    return Status::InvalidArgument(
        "Invalid input for field/attribute type. Value: " + type + ". '" +
        type + "' is not one of ['qcow2']");
  STRATA_ASSIGN_OR_RETURN(cr.new_file, RequireString(*info, "new_file"));
  nlohmann::json id = nullptr;
  if (info->contains("id")) {  // optional, but a non-empty string if there
    STRATA_ASSIGN_OR_RETURN(std::string s, RequireString(*info, "id"));
    id = s;
  }
  STRATA_ASSIGN_OR_RETURN(openstack::CinderEndpoint cinder, CinderFor(req, o));
  STRATA_RETURN_IF_ERROR(avs->StartCreate(cr, std::move(cinder)));
  // Nova answers with create_info's "id" (null without one), not the
  // snapshot_id.
  return ApiResponse::Json(
      200, {{"snapshot", {{"id", id}, {"volumeId", volume_id}}}});
}

// delete_info's optional file names: a non-empty string, or null/absent.
Result<std::optional<std::string>> OptFile(const nlohmann::json& info,
                                           const std::string& field) {
  STRATA_ASSIGN_OR_RETURN(auto v, OptString(info, field));
  if (v && v->empty())
    return Status::InvalidArgument("delete_info's " + field +
                                   " must be a file name or null.");
  return v;
}

HandlerResult Delete(openstack::AssistedSnapshots* avs, const CinderOptions& o,
                     ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(Allowed(req, "delete"));
  for (const auto& [k, v] : req.query)
    if (k != "delete_info" && req.version.AtLeast(2, 75))
      return Status::InvalidArgument(
          "Invalid input for query parameters " + k +
          ". Additional properties are not allowed ('" + k +
          "' was unexpected)");
  auto raw = req.Query("delete_info");
  if (!raw)
    return Status::InvalidArgument(
        "The delete_info query parameter is required.");
  nlohmann::json info = nlohmann::json::parse(*raw, nullptr, false);
  if (info.is_discarded() || !info.is_object())
    return Status::InvalidArgument("delete_info is not a JSON object: " +
                                   raw->substr(0, 200));
  openstack::AssistedDelete dr;
  dr.snapshot_id = req.params.at("id");
  STRATA_ASSIGN_OR_RETURN(dr.volume_id, RequireString(info, "volume_id"));
  if (info.value("type", nlohmann::json()) != "qcow2")
    return Status::InvalidArgument("Unknown delete_info type " +
                                   info.value("type", nlohmann::json()).dump());
  STRATA_ASSIGN_OR_RETURN(dr.file_to_merge, OptFile(info, "file_to_merge"));
  STRATA_ASSIGN_OR_RETURN(dr.merge_target_file,
                          OptFile(info, "merge_target_file"));
  STRATA_ASSIGN_OR_RETURN(openstack::CinderEndpoint cinder, CinderFor(req, o));
  STRATA_RETURN_IF_ERROR(avs->StartDelete(dr, std::move(cinder)));
  return ApiResponse::Empty(204);
}

}  // namespace

void AddAssistedSnapshotRoutes(Router& r, openstack::AssistedSnapshots* avs,
                               CinderOptions o) {
  r.Add("POST", "/v2.1/os-assisted-volume-snapshots",
        [avs, o](ApiRequest& q) { return Create(avs, o, q); });
  r.Add("DELETE", "/v2.1/os-assisted-volume-snapshots/{id}",
        [avs, o](ApiRequest& q) { return Delete(avs, o, q); });
}

}  // namespace strata::api
