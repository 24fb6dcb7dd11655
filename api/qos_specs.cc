// Cinder v3 QoS specs (issue 18), admin-only as in Cinder: create, list,
// show, set keys, unset keys, delete (refused while associated unless
// ?force=true), and their association with volume types (associate,
// disassociate, disassociate_all, associations). A type has at most one
// set of specs; a volume type's view shows its qos_specs_id (admins).
// What the specs do: "front-end" ones are the hypervisor's to apply, as
// Nova applies Cinder's from a volume's connection info; Strata's own
// back end enforces none (docs/api.md).
#include "api/body.h"
#include "api/cinder_info_routes.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {
namespace {

const std::set<std::string> kConsumers = {"front-end", "back-end", "both"};

nlohmann::json SpecsView(const db::QosSpecsRecord& q) {
  return {{"id", q.id},
          {"name", q.name},
          {"consumer", q.consumer},
          {"specs", q.specs}};
}

nlohmann::json ShowBody(const ApiRequest& req, const db::QosSpecsRecord& q) {
  const std::string path = "/qos-specs/" + q.id;
  return {{"qos_specs", SpecsView(q)},
          {"links",
           nlohmann::json::array(
               {{{"href", req.base_url + "/v3/" + req.ctx.project_id + path},
                 {"rel", "self"}},
                {{"href", req.base_url + "/" + req.ctx.project_id + path},
                 {"rel", "bookmark"}}})}};
}

// The specs' key/value pairs of a create or update body: strings, as
// Cinder stores them (numbers are taken as their text).
Result<db::Metadata> SpecPairs(const nlohmann::json& b) {
  db::Metadata out;
  for (const auto& [k, v] : b.items()) {
    if (k == "name" || k == "consumer") continue;
    if (k.empty() || k.size() > 255)
      return Status::InvalidArgument("Invalid input received: bad key '" + k +
                                     "' in qos_specs.");
    if (v.is_string())
      out[k] = v.get<std::string>();
    else if (v.is_number() || v.is_boolean())
      out[k] = v.dump();
    else
      return Status::InvalidArgument("Invalid input received: the value of '" +
                                     k + "' must be a string.");
    if (out[k].size() > 255)
      return Status::InvalidArgument("Invalid input received: the value of '" +
                                     k + "' is longer than 255 characters.");
  }
  return out;
}

Result<std::string> Consumer(const nlohmann::json& b, std::string dflt) {
  auto it = b.find("consumer");
  if (it == b.end()) return dflt;
  if (!it->is_string() || !kConsumers.count(it->get<std::string>()))
    return Status::InvalidArgument(
        "Invalid input received: consumer must be one of front-end, back-end "
        "or both.");
  return it->get<std::string>();
}

Result<db::QosSpecsRecord> LoadSpecs(engine::Engine* e, ApiRequest& req) {
  return e->catalog()->GetQosSpecs(req.params.at("id"));
}

HandlerResult Create(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kQosCreate));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "qos_specs"));
  db::QosSpecsRecord q;
  STRATA_ASSIGN_OR_RETURN(q.name, RequireString(*b, "name", 255));
  if (q.name.find_first_not_of(" \t") == std::string::npos)
    return Status::InvalidArgument("Invalid input received: name is empty.");
  STRATA_ASSIGN_OR_RETURN(q.consumer, Consumer(*b, "back-end"));
  STRATA_ASSIGN_OR_RETURN(q.specs, SpecPairs(*b));
  q.id = NewUuid();
  q.created_at = NowMicros();
  STRATA_RETURN_IF_ERROR(e->catalog()->InsertQosSpecs(q));
  return ApiResponse::Json(200, ShowBody(req, q));
}

HandlerResult SetKeys(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kQosUpdate));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "qos_specs"));
  STRATA_ASSIGN_OR_RETURN(db::Metadata pairs, SpecPairs(*b));
  std::optional<std::string> consumer;
  if (b->contains("consumer")) {
    STRATA_ASSIGN_OR_RETURN(consumer, Consumer(*b, ""));
  }
  STRATA_RETURN_IF_ERROR(e->catalog()->ModifyQosSpecs(
      req.params.at("id"), [&](db::QosSpecsRecord& q) {
        for (const auto& [k, v] : pairs) q.specs[k] = v;
        if (consumer) q.consumer = *consumer;
        return Status::OK();
      }));
  // Cinder answers with the body's pairs as they were set.
  nlohmann::json echo = pairs;
  if (consumer) echo["consumer"] = *consumer;
  return ApiResponse::Json(200, {{"qos_specs", echo}});
}

HandlerResult UnsetKeys(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kQosUpdate));
  auto keys = req.body.is_object() ? req.body.find("keys") : req.body.end();
  if (!req.body.is_object() || keys == req.body.end() || !keys->is_array())
    return Status::InvalidArgument(
        "Invalid input received: a list of keys is expected.");
  for (const auto& k : *keys)
    if (!k.is_string())
      return Status::InvalidArgument(
          "Invalid input received: keys must be strings.");
  STRATA_RETURN_IF_ERROR(e->catalog()->ModifyQosSpecs(
      req.params.at("id"), [&](db::QosSpecsRecord& q) {
        for (const auto& k : *keys)
          if (!q.specs.count(k.get<std::string>()))
            return Status::NotFound("QoS spec " + q.id + " has no key " +
                                    k.get<std::string>() + ".");
        for (const auto& k : *keys) q.specs.erase(k.get<std::string>());
        return Status::OK();
      }));
  return ApiResponse::Empty(202);
}

HandlerResult Delete(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kQosDelete));
  STRATA_ASSIGN_OR_RETURN(db::QosSpecsRecord q, LoadSpecs(e, req));
  bool force = false;
  if (auto f = req.Query("force")) {
    STRATA_ASSIGN_OR_RETURN(force, ParseBoolWord("force", *f));
  }
  STRATA_ASSIGN_OR_RETURN(auto types, e->catalog()->TypesWithQosSpecs(q.id));
  if (!types.empty() && !force)
    return Status::InvalidArgument("QoS Specs " + q.id + " is still in use.");
  STRATA_RETURN_IF_ERROR(e->catalog()->DeleteQosSpecs(q.id));
  return ApiResponse::Empty(202);
}

// ?vol_type_id= of the association calls: the type, or 400/404.
Result<db::VolumeTypeRecord> QueryType(engine::Engine* e, ApiRequest& req) {
  auto id = req.Query("vol_type_id");
  if (!id || id->empty())
    return Status::InvalidArgument(
        "Invalid input received: vol_type_id is required.");
  auto t = e->catalog()->GetVolumeType(*id);
  if (!t.ok())
    return Status::NotFound("Volume type " + *id + " could not be found.");
  return t;
}

HandlerResult Associate(engine::Engine* e, ApiRequest& req, bool add) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kQosUpdate));
  STRATA_ASSIGN_OR_RETURN(db::QosSpecsRecord q, LoadSpecs(e, req));
  STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t, QueryType(e, req));
  STRATA_RETURN_IF_ERROR(
      e->catalog()->ModifyVolumeType(t.id, [&](db::VolumeTypeRecord& cur) {
        if (!add) {
          if (cur.qos_specs_id == q.id) cur.qos_specs_id.reset();
          return Status::OK();
        }
        if (cur.qos_specs_id && *cur.qos_specs_id != q.id)
          return Status::InvalidArgument(
              "Invalid volume type: Type " + cur.id +
              " is already associated with another qos specs: " +
              *cur.qos_specs_id);
        cur.qos_specs_id = q.id;
        return Status::OK();
      }));
  return ApiResponse::Empty(202);
}

HandlerResult DisassociateAll(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kQosUpdate));
  STRATA_ASSIGN_OR_RETURN(db::QosSpecsRecord q, LoadSpecs(e, req));
  STRATA_ASSIGN_OR_RETURN(auto types, e->catalog()->TypesWithQosSpecs(q.id));
  for (const auto& t : types)
    STRATA_RETURN_IF_ERROR(
        e->catalog()->ModifyVolumeType(t.id, [](db::VolumeTypeRecord& cur) {
          cur.qos_specs_id.reset();
          return Status::OK();
        }));
  return ApiResponse::Empty(202);
}

}  // namespace

void AddQosSpecsRoutes(Router& r, engine::Engine* e) {
  const std::string base = "/v3/qos-specs";
  r.Add("POST", base, [e](ApiRequest& q) { return Create(e, q); });
  r.Add("GET", base, [e](ApiRequest& q) -> HandlerResult {
    STRATA_RETURN_IF_ERROR(q.ctx.Enforce(rules::kQosGetAll));
    STRATA_ASSIGN_OR_RETURN(auto all, e->catalog()->ListQosSpecs());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& s : all) items.push_back(SpecsView(s));
    return ApiResponse::Json(200, {{"qos_specs", items}});
  });
  r.Add("GET", base + "/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_RETURN_IF_ERROR(q.ctx.Enforce(rules::kQosGet));
    STRATA_ASSIGN_OR_RETURN(db::QosSpecsRecord s, LoadSpecs(e, q));
    return ApiResponse::Json(200, ShowBody(q, s));
  });
  r.Add("PUT", base + "/{id}", [e](ApiRequest& q) { return SetKeys(e, q); });
  r.Add("PUT", base + "/{id}/delete_keys",
        [e](ApiRequest& q) { return UnsetKeys(e, q); });
  r.Add("DELETE", base + "/{id}", [e](ApiRequest& q) { return Delete(e, q); });
  r.Add("GET", base + "/{id}/associations",
        [e](ApiRequest& q) -> HandlerResult {
          STRATA_RETURN_IF_ERROR(q.ctx.Enforce(rules::kQosGet));
          STRATA_ASSIGN_OR_RETURN(db::QosSpecsRecord s, LoadSpecs(e, q));
          STRATA_ASSIGN_OR_RETURN(auto types,
                                  e->catalog()->TypesWithQosSpecs(s.id));
          nlohmann::json items = nlohmann::json::array();
          for (const auto& t : types)
            items.push_back({{"association_type", "volume_type"},
                             {"id", t.id},
                             {"name", t.name}});
          return ApiResponse::Json(200, {{"qos_associations", items}});
        });
  r.Add("GET", base + "/{id}/associate",
        [e](ApiRequest& q) { return Associate(e, q, true); });
  r.Add("GET", base + "/{id}/disassociate",
        [e](ApiRequest& q) { return Associate(e, q, false); });
  r.Add("GET", base + "/{id}/disassociate_all",
        [e](ApiRequest& q) { return DisassociateAll(e, q); });
}

}  // namespace strata::api
