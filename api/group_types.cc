// Cinder v3 group types (≥ 3.11; issue 18): list, show, and, for admins,
// create, update, delete; their group specs (list, show one,
// create-or-update, update one, delete one). Views, status codes and
// messages as Cinder's group_types and group_specs controllers: a private
// type is an admin's only (404 for anyone else), group specs are shown to
// admins, and a type a group uses cannot be deleted (400). No default
// group type is configured, so /group_types/default is a 404.
// Thread-safety: handlers are reentrant; the catalog serialises.
#include <algorithm>

#include "api/body.h"
#include "api/cinder_info_routes.h"
#include "api/list_params.h"
#include "api/type_specs.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {
namespace {

Status NeedsGroupTypes(const ApiRequest& req) {
  if (!req.version.AtLeast(3, 11))
    return Status::NotFound("Group types need microversion 3.11.");
  return Status::OK();
}

nlohmann::json TypeView(const ApiRequest& req, const db::GroupTypeRecord& t) {
  nlohmann::json j = {
      {"id", t.id},
      {"name", t.name},
      {"is_public", t.is_public},
      {"description", t.description ? nlohmann::json(*t.description)
                                    : nlohmann::json(nullptr)}};
  if (req.ctx.is_admin) j["group_specs"] = t.group_specs;
  return j;
}

Result<db::GroupTypeRecord> LoadType(engine::Engine* e, const ApiRequest& req,
                                     const std::string& id) {
  STRATA_RETURN_IF_ERROR(NeedsGroupTypes(req));
  if (id == "default")
    return Status::NotFound("Default group type can not be found.");
  auto t = e->catalog()->GetGroupType(id);
  if (!t.ok() && !t.status().IsNotFound()) return t.status();
  if (!t.ok() || (!t->is_public && !req.ctx.is_admin))
    return Status::NotFound("Group type " + id + " could not be found.");
  return t;
}

HandlerResult List(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsGroupTypes(req));
  // As for volume types: public ones, or an admin's is_public choice.
  std::optional<bool> want = true;
  if (auto p = req.Query("is_public"); p && req.ctx.is_admin) {
    STRATA_ASSIGN_OR_RETURN(want, ParseIsPublicFilter(*p));
  }
  STRATA_ASSIGN_OR_RETURN(db::ListQuery q,
                          ParseListQuery(req, {"is_public", "name"}));
  STRATA_ASSIGN_OR_RETURN(auto types,
                          e->catalog()->ListGroupTypes(req.ctx.is_admin));
  // sort=name:asc|desc (else by name), as Cinder sorts types.
  bool ascending = true;
  for (const auto& [key, asc] : q.sort)
    if (key == "name") ascending = asc;
  std::stable_sort(types.begin(), types.end(),
                   [&](const auto& a, const auto& b) {
                     return ascending ? a.name < b.name : a.name > b.name;
                   });
  nlohmann::json items = nlohmann::json::array();
  for (const auto& t : types)
    if ((!want || t.is_public == *want) &&
        (!q.filters.count("name") || q.filters.at("name") == t.name))
      items.push_back(TypeView(req, t));
  return ApiResponse::Json(200, {{"group_types", items}});
}

HandlerResult Show(engine::Engine* e, ApiRequest& req) {
  STRATA_ASSIGN_OR_RETURN(db::GroupTypeRecord t,
                          LoadType(e, req, req.params.at("id")));
  return ApiResponse::Json(200, {{"group_type", TypeView(req, t)}});
}

HandlerResult Create(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsGroupTypes(req));
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGroupTypesManage));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "group_type"));
  STRATA_RETURN_IF_ERROR(OnlyKeys(
      *b, {"name", "description", "group_specs", "is_public"}, "group_type"));
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name", 255));
  if (!name || Blank(*name))
    return Status::InvalidArgument(
        name ? "Invalid input received: The 'name' can not be empty."
             : "Missing required element 'name' in request body.");
  db::GroupTypeRecord t;
  t.id = NewUuid();
  t.name = *name;
  STRATA_ASSIGN_OR_RETURN(t.description, OptString(*b, "description", 255));
  if (b->contains("group_specs") && !(*b)["group_specs"].is_null()) {
    STRATA_ASSIGN_OR_RETURN(
        t.group_specs,
        ParseSpecs((*b)["group_specs"], TypeSpecKey(), "group_specs"));
  }
  STRATA_ASSIGN_OR_RETURN(t.is_public, OptBool(*b, "is_public", true));
  t.created_at = t.updated_at = NowMicros();
  STRATA_RETURN_IF_ERROR(e->catalog()->InsertGroupType(t));
  STRATA_ASSIGN_OR_RETURN(t, e->catalog()->GetGroupType(t.id));
  return ApiResponse::Json(202, {{"group_type", TypeView(req, t)}});
}

HandlerResult Update(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsGroupTypes(req));
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGroupTypesManage));
  const std::string& id = req.params.at("id");
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "group_type"));
  STRATA_RETURN_IF_ERROR(
      OnlyKeys(*b, {"name", "description", "is_public"}, "group_type"));
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name", 255));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description", 255));
  std::optional<bool> is_public;
  if (b->contains("is_public") && !(*b)["is_public"].is_null()) {
    STRATA_ASSIGN_OR_RETURN(is_public, OptBool(*b, "is_public", true));
  }
  if (name && Blank(*name))
    return Status::InvalidArgument("Group type name can not be empty.");
  if (!name && !desc && !is_public)
    return Status::InvalidArgument(
        "Specify group type name, description or a combination thereof.");
  STRATA_RETURN_IF_ERROR(
      e->catalog()->ModifyGroupType(id, [&](db::GroupTypeRecord& t) {
        if (name) t.name = *name;
        if (desc) t.description = *desc;
        if (is_public) t.is_public = *is_public;
        return Status::OK();
      }));
  STRATA_ASSIGN_OR_RETURN(db::GroupTypeRecord t,
                          e->catalog()->GetGroupType(id));
  return ApiResponse::Json(200, {{"group_type", TypeView(req, t)}});
}

HandlerResult Delete(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsGroupTypes(req));
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGroupTypesManage));
  STRATA_RETURN_IF_ERROR(e->catalog()->DeleteGroupType(req.params.at("id")));
  return ApiResponse::Empty(202);
}

HandlerResult ListSpecs(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGroupTypesSpecs));
  STRATA_ASSIGN_OR_RETURN(db::GroupTypeRecord t,
                          LoadType(e, req, req.params.at("id")));
  return ApiResponse::Json(200, {{"group_specs", t.group_specs}});
}

HandlerResult CreateSpecs(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGroupTypesSpecs));
  const std::string& id = req.params.at("id");
  STRATA_RETURN_IF_ERROR(LoadType(e, req, id).status());
  if (!req.body.is_object() || !req.body.contains("group_specs"))
    return Status::InvalidArgument(
        "Missing required element 'group_specs' in request body.");
  STRATA_RETURN_IF_ERROR(OnlyKeys(req.body, {"group_specs"}, "group_type"));
  STRATA_ASSIGN_OR_RETURN(
      db::Metadata specs,
      ParseSpecs(req.body["group_specs"], SpecKey(), "group_specs"));
  STRATA_RETURN_IF_ERROR(e->catalog()->SetGroupTypeSpecs(id, specs));
  return ApiResponse::Json(202, {{"group_specs", specs}});
}

HandlerResult ShowSpec(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGroupTypesSpecs));
  const std::string& id = req.params.at("id");
  const std::string& key = req.params.at("key");
  STRATA_ASSIGN_OR_RETURN(db::GroupTypeRecord t, LoadType(e, req, id));
  auto it = t.group_specs.find(key);
  if (it == t.group_specs.end())
    return Status::NotFound("Group Type " + id + " has no specs with key " +
                            key + ".");
  return ApiResponse::Json(200, {{key, it->second}});
}

HandlerResult UpdateSpec(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGroupTypesSpecs));
  const std::string& id = req.params.at("id");
  const std::string& key = req.params.at("key");
  STRATA_RETURN_IF_ERROR(LoadType(e, req, id).status());
  if (!req.body.is_object() || req.body.size() != 1)
    return Status::InvalidArgument(
        "Invalid input for group spec update: the body must hold exactly one "
        "key.");
  STRATA_ASSIGN_OR_RETURN(db::Metadata spec,
                          ParseSpecs(req.body, SpecKey(), "group_specs"));
  if (!spec.count(key))
    return Status::InvalidArgument("Request body and URI mismatch");
  STRATA_RETURN_IF_ERROR(e->catalog()->SetGroupTypeSpecs(id, spec));
  return ApiResponse::Json(200, spec);
}

HandlerResult DeleteSpec(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGroupTypesSpecs));
  const std::string& id = req.params.at("id");
  STRATA_RETURN_IF_ERROR(LoadType(e, req, id).status());
  STRATA_RETURN_IF_ERROR(
      e->catalog()->DeleteGroupTypeSpec(id, req.params.at("key")));
  return ApiResponse::Empty(202);
}

}  // namespace

void AddGroupTypeRoutes(Router& r, engine::Engine* e) {
  auto bind = [e](HandlerResult (*fn)(engine::Engine*, ApiRequest&)) {
    return [e, fn](ApiRequest& q) { return fn(e, q); };
  };
  r.Add("GET", "/v3/group_types", bind(List));
  r.Add("POST", "/v3/group_types", bind(Create));
  r.Add("GET", "/v3/group_types/{id}", bind(Show));
  r.Add("PUT", "/v3/group_types/{id}", bind(Update));
  r.Add("DELETE", "/v3/group_types/{id}", bind(Delete));
  r.Add("GET", "/v3/group_types/{id}/group_specs", bind(ListSpecs));
  r.Add("POST", "/v3/group_types/{id}/group_specs", bind(CreateSpecs));
  r.Add("GET", "/v3/group_types/{id}/group_specs/{key}", bind(ShowSpec));
  r.Add("PUT", "/v3/group_types/{id}/group_specs/{key}", bind(UpdateSpec));
  r.Add("DELETE", "/v3/group_types/{id}/group_specs/{key}", bind(DeleteSpec));
}

}  // namespace strata::api
