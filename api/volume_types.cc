// Cinder v3 volume types (issue 18): list, show (also "default"), and,
// for admins, create, update, delete; their extra specs (list, show,
// create-or-update, update one, delete one). Views, checks and messages as
// Cinder's types, types_manage and types_extra_specs controllers:
//   - a private type (is_public false) is seen by admins and by the
//     projects an admin shared it with (addProjectAccess /
//     removeProjectAccess, listed at os-volume-type-access); any other
//     caller gets 404;
//   - extra specs other than the user-visible ones (multiattach,
//     replication_enabled, RESKEY:availability_zones) are admins' only;
//   - the default type cannot be deleted, nor a type a volume uses (400),
//     and a type's extra specs cannot change while a volume uses it (400).
// Thread-safety: handlers are reentrant; the catalog serialises.
#include <algorithm>
#include <regex>

#include "api/body.h"
#include "api/cinder_info_routes.h"
#include "api/type_specs.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {
namespace {

const std::set<std::string> kUserVisibleSpecs = {
    "RESKEY:availability_zones", "multiattach", "replication_enabled"};

bool Allowed(const ApiRequest& req, const char* rule) {
  return req.ctx.policy && req.ctx.policy->Allows(rule, req.ctx);
}

db::Metadata VisibleSpecs(const ApiRequest& req, const db::Metadata& specs) {
  if (Allowed(req, rules::kExtraSpecsReadSensitive)) return specs;
  db::Metadata out;
  for (const auto& [k, v] : specs)
    if (kUserVisibleSpecs.count(k)) out[k] = v;
  return out;
}

nlohmann::json Description(const db::VolumeTypeRecord& t) {
  return t.description ? nlohmann::json(*t.description)
                       : nlohmann::json(nullptr);
}

// Cinder renders a type three ways: show and list (v3 view: extra specs
// as the caller may read them, qos_specs_id for admins, the access
// extension's is_public), create (the older view, with the access key)
// and update (the older view alone).
enum class TypeViewKind { kShow, kCreate, kUpdate };

nlohmann::json TypeView(const ApiRequest& req, const db::VolumeTypeRecord& t,
                        TypeViewKind kind) {
  nlohmann::json j = {{"id", t.id},
                      {"name", t.name},
                      {"is_public", t.is_public},
                      {"description", Description(t)},
                      {"extra_specs", VisibleSpecs(req, t.extra_specs)}};
  if (kind == TypeViewKind::kShow && Allowed(req, rules::kTypeQosSpecsId))
    j["qos_specs_id"] = t.qos_specs_id ? nlohmann::json(*t.qos_specs_id)
                                       : nlohmann::json(nullptr);
  if (kind != TypeViewKind::kUpdate && Allowed(req, rules::kTypeAccess))
    j["os-volume-type-access:is_public"] = t.is_public;
  return j;
}

// The type `id` as the caller may see it ("Volume type ID could not be
// found." otherwise).
Result<db::VolumeTypeRecord> LoadType(engine::Engine* e, const ApiRequest& req,
                                      const std::string& id) {
  auto t = e->catalog()->GetVolumeType(id);
  if (!t.ok())
    return Status::NotFound("Volume type " + id + " could not be found.");
  if (!t->is_public && !req.ctx.is_admin) {
    // A private type is seen by the projects it is shared with.
    STRATA_ASSIGN_OR_RETURN(auto shared, e->catalog()->VolumeTypeAccess(t->id));
    if (std::find(shared.begin(), shared.end(), req.ctx.project_id) ==
        shared.end())
      return Status::NotFound("Volume type " + id + " could not be found.");
  }
  return t;
}

Result<std::optional<std::string>> OptDescription(const nlohmann::json& b) {
  return OptString(b, "description", 255);
}

HandlerResult List(engine::Engine* e, ApiRequest& req) {
  // Cinder: non-admins see public types; an admin public ones too unless
  // it asks is_public=false (private only) or is_public=none (both).
  std::optional<bool> want = true;
  if (auto p = req.Query("is_public"); p && req.ctx.is_admin) {
    STRATA_ASSIGN_OR_RETURN(want, ParseIsPublicFilter(*p));
  }
  STRATA_ASSIGN_OR_RETURN(
      auto types,
      e->catalog()->ListVolumeTypes(req.ctx.is_admin, req.ctx.project_id));
  nlohmann::json items = nlohmann::json::array();
  // A non-admin's list is the catalog's: public types and the private
  // ones shared with its project, as Cinder lists them.
  for (const auto& t : types)
    if (!req.ctx.is_admin || !want || t.is_public == *want)
      items.push_back(TypeView(req, t, TypeViewKind::kShow));
  return ApiResponse::Json(200, {{"volume_types", items}});
}

HandlerResult Show(engine::Engine* e, ApiRequest& req) {
  const std::string& id = req.params.at("id");
  db::VolumeTypeRecord t;
  if (id == "default") {
    STRATA_ASSIGN_OR_RETURN(t, e->catalog()->ResolveVolumeType(std::nullopt));
  } else {
    STRATA_ASSIGN_OR_RETURN(t, LoadType(e, req, id));
  }
  return ApiResponse::Json(
      200, {{"volume_type", TypeView(req, t, TypeViewKind::kShow)}});
}

HandlerResult Create(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kTypeCreate));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "volume_type"));
  STRATA_RETURN_IF_ERROR(OnlyKeys(
      *b,
      {"name", "description", "extra_specs", "os-volume-type-access:is_public"},
      "volume_type"));
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name", 255));
  if (!name || Blank(*name))
    return Status::InvalidArgument(
        name ? "Invalid input received: The 'name' can not be empty."
             : "Missing required element 'name' in request body.");
  db::VolumeTypeRecord t;
  t.id = NewUuid();
  t.name = *name;
  STRATA_ASSIGN_OR_RETURN(t.description, OptDescription(*b));
  if (b->contains("extra_specs") && !(*b)["extra_specs"].is_null()) {
    STRATA_ASSIGN_OR_RETURN(
        t.extra_specs,
        ParseSpecs((*b)["extra_specs"], TypeSpecKey(), "extra_specs"));
  }
  STRATA_ASSIGN_OR_RETURN(t.is_public,
                          OptBool(*b, "os-volume-type-access:is_public", true));
  t.created_at = t.updated_at = NowMicros();
  STRATA_RETURN_IF_ERROR(e->catalog()->InsertVolumeType(t));
  STRATA_ASSIGN_OR_RETURN(t, e->catalog()->GetVolumeType(t.id));
  return ApiResponse::Json(
      200, {{"volume_type", TypeView(req, t, TypeViewKind::kCreate)}});
}

HandlerResult Update(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kTypeUpdate));
  const std::string& id = req.params.at("id");
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "volume_type"));
  STRATA_RETURN_IF_ERROR(
      OnlyKeys(*b, {"name", "description", "is_public"}, "volume_type"));
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name", 255));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptDescription(*b));
  std::optional<bool> is_public;
  if (b->contains("is_public") && !(*b)["is_public"].is_null()) {
    STRATA_ASSIGN_OR_RETURN(is_public, OptBool(*b, "is_public", true));
  }
  if (name && Blank(*name))
    return Status::InvalidArgument("Volume type name can not be empty.");
  if (!name && !desc && !is_public)
    return Status::InvalidArgument(
        "Specify volume type name, description, is_public or a combination "
        "thereof.");
  STRATA_RETURN_IF_ERROR(
      e->catalog()->ModifyVolumeType(id, [&](db::VolumeTypeRecord& t) {
        if (name) t.name = *name;
        if (desc) t.description = *desc;
        if (is_public) t.is_public = *is_public;
        return Status::OK();
      }));
  STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t,
                          e->catalog()->GetVolumeType(id));
  return ApiResponse::Json(
      200, {{"volume_type", TypeView(req, t, TypeViewKind::kUpdate)}});
}

HandlerResult Delete(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kTypeDelete));
  STRATA_RETURN_IF_ERROR(e->catalog()->DeleteVolumeType(req.params.at("id")));
  return ApiResponse::Empty(202);
}

// Cinder's _allow_update: a type's specs are fixed while volumes use it.
Status SpecsChangeable(engine::Engine* e, const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(int64_t users, e->catalog()->CountVolumesOfType(id));
  if (users > 0)
    return Status::InvalidArgument("Volume Type is currently in use.");
  return Status::OK();
}

HandlerResult ListSpecs(engine::Engine* e, ApiRequest& req) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t,
                          LoadType(e, req, req.params.at("id")));
  return ApiResponse::Json(200,
                           {{"extra_specs", VisibleSpecs(req, t.extra_specs)}});
}

HandlerResult CreateSpecs(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kExtraSpecsCreate));
  const std::string& id = req.params.at("id");
  if (!req.body.is_object() || !req.body.contains("extra_specs"))
    return Status::InvalidArgument(
        "Missing required element 'extra_specs' in request body.");
  STRATA_RETURN_IF_ERROR(OnlyKeys(req.body, {"extra_specs"}, "volume_type"));
  STRATA_ASSIGN_OR_RETURN(
      db::Metadata specs,
      ParseSpecs(req.body["extra_specs"], SpecKey(), "extra_specs"));
  STRATA_RETURN_IF_ERROR(SpecsChangeable(e, id));
  STRATA_RETURN_IF_ERROR(LoadType(e, req, id).status());
  STRATA_RETURN_IF_ERROR(e->catalog()->SetVolumeTypeExtraSpecs(id, specs));
  return ApiResponse::Json(200, {{"extra_specs", specs}});
}

HandlerResult ShowSpec(engine::Engine* e, ApiRequest& req) {
  const std::string& id = req.params.at("id");
  const std::string& key = req.params.at("key");
  STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t, LoadType(e, req, id));
  db::Metadata specs = VisibleSpecs(req, t.extra_specs);
  auto it = specs.find(key);
  if (it == specs.end())
    return Status::NotFound("Volume Type " + id +
                            " has no extra specs with key " + key + ".");
  return ApiResponse::Json(200, {{key, it->second}});
}

HandlerResult UpdateSpec(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kExtraSpecsUpdate));
  const std::string& id = req.params.at("id");
  const std::string& key = req.params.at("key");
  if (!req.body.is_object() || req.body.size() != 1)
    return Status::InvalidArgument(
        "Invalid input for extra spec update: the body must hold exactly one "
        "key.");
  STRATA_ASSIGN_OR_RETURN(db::Metadata spec,
                          ParseSpecs(req.body, SpecKey(), "extra_specs"));
  STRATA_RETURN_IF_ERROR(SpecsChangeable(e, id));
  STRATA_RETURN_IF_ERROR(LoadType(e, req, id).status());
  if (!spec.count(key))
    return Status::InvalidArgument("Request body and URI mismatch");
  STRATA_RETURN_IF_ERROR(e->catalog()->SetVolumeTypeExtraSpecs(id, spec));
  return ApiResponse::Json(200, spec);
}

HandlerResult DeleteSpec(engine::Engine* e, ApiRequest& req) {
  const std::string& id = req.params.at("id");
  STRATA_RETURN_IF_ERROR(LoadType(e, req, id).status());
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kExtraSpecsDelete));
  STRATA_RETURN_IF_ERROR(SpecsChangeable(e, id));
  STRATA_RETURN_IF_ERROR(
      e->catalog()->DeleteVolumeTypeExtraSpec(id, req.params.at("key")));
  return ApiResponse::Empty(202);
}

// A private type's access list: Strata keeps none (types are public, or
// private to admins). Cinder refuses the list of a public type.
HandlerResult ListAccess(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kContextIsAdmin));
  STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t,
                          LoadType(e, req, req.params.at("id")));
  if (t.is_public)
    return Status::NotFound(
        "Access list not available for public volume types.");
  STRATA_ASSIGN_OR_RETURN(auto shared, e->catalog()->VolumeTypeAccess(t.id));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : shared)
    list.push_back({{"volume_type_id", t.id}, {"project_id", p}});
  return ApiResponse::Json(200, {{"volume_type_access", list}});
}

// addProjectAccess / removeProjectAccess (admin): who may use a private type.
HandlerResult Action(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kContextIsAdmin));
  STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t,
                          LoadType(e, req, req.params.at("id")));
  if (!req.body.is_object() || req.body.size() != 1)
    return Status::InvalidArgument(
        "Malformed request body: one action expected.");
  const std::string action = req.body.begin().key();
  const bool add = action == "addProjectAccess";
  if (!add && action != "removeProjectAccess")
    return Status::InvalidArgument("Invalid action: " + action);
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* arg,
                          RequireObject(req.body, action));
  STRATA_ASSIGN_OR_RETURN(std::string project, RequireString(*arg, "project"));
  if (t.is_public)
    return Status::InvalidArgument(
        "Invalid volume type: Type access modification is not applicable to "
        "public volume type.");
  STRATA_RETURN_IF_ERROR(
      add ? e->catalog()->AddVolumeTypeAccess(t.id, project)
          : e->catalog()->RemoveVolumeTypeAccess(t.id, project));
  return ApiResponse::Empty(202);
}

}  // namespace

void AddVolumeTypeRoutes(Router& r, engine::Engine* e) {
  auto bind = [e](HandlerResult (*fn)(engine::Engine*, ApiRequest&)) {
    return [e, fn](ApiRequest& q) { return fn(e, q); };
  };
  r.Add("GET", "/v3/types", bind(List));
  r.Add("POST", "/v3/types", bind(Create));
  r.Add("GET", "/v3/types/{id}", bind(Show));
  r.Add("PUT", "/v3/types/{id}", bind(Update));
  r.Add("DELETE", "/v3/types/{id}", bind(Delete));
  r.Add("GET", "/v3/types/{id}/extra_specs", bind(ListSpecs));
  r.Add("POST", "/v3/types/{id}/extra_specs", bind(CreateSpecs));
  r.Add("GET", "/v3/types/{id}/extra_specs/{key}", bind(ShowSpec));
  r.Add("PUT", "/v3/types/{id}/extra_specs/{key}", bind(UpdateSpec));
  r.Add("DELETE", "/v3/types/{id}/extra_specs/{key}", bind(DeleteSpec));
  r.Add("GET", "/v3/types/{id}/os-volume-type-access", bind(ListAccess));
  r.Add("POST", "/v3/types/{id}/action", bind(Action));
}

}  // namespace strata::api
