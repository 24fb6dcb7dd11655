// Cinder v3 encryption types (issue 18), admin-only as in Cinder: a volume
// type's encryption spec (provider, control_location, cipher, key_size):
// show (an empty object when the type has none), show one item, create,
// update, delete; refused (400) while volumes of the type exist. Strata
// has no key manager, so it creates no volume of an encrypted type (400 at
// volume create, api/volumes.cc): a spec here never means data is written
// unencrypted under the name of an encrypted type.
#include "api/body.h"
#include "api/cinder_info_routes.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {
namespace {

nlohmann::json View(const db::EncryptionTypeRecord& e, bool full) {
  nlohmann::json j = {{"volume_type_id", e.volume_type_id},
                      {"encryption_id", e.encryption_id},
                      {"provider", e.provider},
                      {"control_location", e.control_location},
                      {"cipher", e.cipher ? nlohmann::json(*e.cipher)
                                          : nlohmann::json(nullptr)},
                      {"key_size", e.key_size ? nlohmann::json(*e.key_size)
                                              : nlohmann::json(nullptr)}};
  if (full) {
    j["deleted"] = false;
    j["created_at"] = FormatIsoMicros(e.created_at);
    j["updated_at"] = FormatIsoMicros(e.updated_at);
    j["deleted_at"] = nullptr;
  }
  return j;
}

// The type of the path (any type, for an admin), or 404.
Result<db::VolumeTypeRecord> PathType(engine::Engine* e, ApiRequest& req) {
  const std::string& id = req.params.at("type_id");
  auto t = e->catalog()->GetVolumeType(id);
  if (!t.ok())
    return Status::NotFound("Volume type " + id + " could not be found.");
  return t;
}

Status NotInUse(engine::Engine* e, const db::VolumeTypeRecord& t,
                const char* verb) {
  STRATA_ASSIGN_OR_RETURN(int64_t n, e->catalog()->CountVolumesOfType(t.id));
  if (n > 0)
    return Status::InvalidArgument(std::string("Cannot ") + verb +
                                   " encryption specs. Volume type in use.");
  return Status::OK();
}

// The fields of a create or update body onto `rec`; `create` requires
// provider.
Status ApplyFields(const nlohmann::json& b, bool create,
                   db::EncryptionTypeRecord* rec) {
  static const std::set<std::string> kKnown = {"provider", "control_location",
                                               "cipher", "key_size"};
  for (const auto& [k, v] : b.items())
    if (!kKnown.count(k))
      return Status::InvalidArgument(
          "Invalid input for field/attribute encryption. Additional "
          "properties are not allowed ('" +
          k + "' was unexpected)");
  if (create || b.contains("provider")) {
    STRATA_ASSIGN_OR_RETURN(rec->provider, RequireString(b, "provider", 255));
    if (rec->provider.empty())
      return Status::InvalidArgument(
          "Invalid input received: provider must not be empty.");
  }
  if (auto it = b.find("control_location"); it != b.end()) {
    if (!it->is_string() || (*it != "front-end" && *it != "back-end"))
      return Status::InvalidArgument(
          "Invalid input received: control_location must be front-end or "
          "back-end.");
    rec->control_location = it->get<std::string>();
  }
  if (auto it = b.find("cipher"); it != b.end()) {
    if (it->is_null()) {
      rec->cipher.reset();
    } else if (it->is_string() && it->get<std::string>().size() <= 255) {
      rec->cipher = it->get<std::string>();
    } else {
      return Status::InvalidArgument(
          "Invalid input received: cipher must be a string.");
    }
  }
  if (auto it = b.find("key_size"); it != b.end()) {
    if (it->is_null()) {
      rec->key_size.reset();
    } else if (it->is_number_integer() && it->get<int64_t>() >= 0 &&
               it->get<int64_t>() <= 65536) {
      rec->key_size = it->get<int64_t>();
    } else {
      return Status::InvalidArgument(
          "Invalid input received: key_size must be a non-negative "
          "integer.");
    }
  }
  return Status::OK();
}

HandlerResult Create(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kEncryptionManage));
  STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t, PathType(e, req));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "encryption"));
  STRATA_ASSIGN_OR_RETURN(auto have, e->catalog()->GetEncryptionType(t.id));
  if (have)
    return Status::InvalidArgument("Volume type encryption for type " + t.id +
                                   " already exists.");
  STRATA_RETURN_IF_ERROR(NotInUse(e, t, "create"));
  db::EncryptionTypeRecord rec;
  rec.volume_type_id = t.id;
  rec.encryption_id = NewUuid();
  rec.control_location = "front-end";
  STRATA_RETURN_IF_ERROR(ApplyFields(*b, true, &rec));
  rec.created_at = rec.updated_at = NowMicros();
  STRATA_RETURN_IF_ERROR(e->catalog()->PutEncryptionType(rec));
  return ApiResponse::Json(200, {{"encryption", View(rec, false)}});
}

HandlerResult Update(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kEncryptionManage));
  STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t, PathType(e, req));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "encryption"));
  STRATA_ASSIGN_OR_RETURN(auto have, e->catalog()->GetEncryptionType(t.id));
  if (!have)
    return Status::NotFound("Volume type encryption for type " + t.id +
                            " does not exist.");
  STRATA_RETURN_IF_ERROR(NotInUse(e, t, "update"));
  db::EncryptionTypeRecord rec = *have;
  STRATA_RETURN_IF_ERROR(ApplyFields(*b, false, &rec));
  rec.updated_at = NowMicros();
  STRATA_RETURN_IF_ERROR(e->catalog()->PutEncryptionType(rec));
  // Cinder answers with the fields the body set.
  nlohmann::json out = nlohmann::json::object();
  const nlohmann::json v = View(rec, false);
  for (const auto& [k, _] : b->items()) out[k] = v[k];
  return ApiResponse::Json(200, {{"encryption", out}});
}

}  // namespace

void AddEncryptionTypeRoutes(Router& r, engine::Engine* e) {
  const std::string base = "/v3/types/{type_id}/encryption";
  r.Add("GET", base, [e](ApiRequest& q) -> HandlerResult {
    STRATA_RETURN_IF_ERROR(q.ctx.Enforce(rules::kEncryptionManage));
    STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t, PathType(e, q));
    STRATA_ASSIGN_OR_RETURN(auto have, e->catalog()->GetEncryptionType(t.id));
    return ApiResponse::Json(
        200, have ? View(*have, true) : nlohmann::json::object());
  });
  r.Add("POST", base, [e](ApiRequest& q) { return Create(e, q); });
  r.Add("GET", base + "/{key}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_RETURN_IF_ERROR(q.ctx.Enforce(rules::kEncryptionManage));
    STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t, PathType(e, q));
    STRATA_ASSIGN_OR_RETURN(auto have, e->catalog()->GetEncryptionType(t.id));
    const std::string& key = q.params.at("key");
    const nlohmann::json v =
        have ? View(*have, false) : nlohmann::json::object();
    if (!v.contains(key))
      return Status::NotFound("Volume type encryption for type " + t.id +
                              " has no " + key + ".");
    const nlohmann::json& item = v[key];
    return ApiResponse::Json(
        200, {{key, item.is_string() ? item.get<std::string>() : item.dump()}});
  });
  // Cinder names the encryption spec in the path but updates and deletes
  // the type's one, whatever the name says.
  r.Add("PUT", base + "/{key}", [e](ApiRequest& q) { return Update(e, q); });
  r.Add("DELETE", base + "/{key}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_RETURN_IF_ERROR(q.ctx.Enforce(rules::kEncryptionManage));
    STRATA_ASSIGN_OR_RETURN(db::VolumeTypeRecord t, PathType(e, q));
    STRATA_RETURN_IF_ERROR(NotInUse(e, t, "delete"));
    STRATA_RETURN_IF_ERROR(e->catalog()->DeleteEncryptionType(t.id));
    return ApiResponse::Empty(202);
  });
}

}  // namespace strata::api
