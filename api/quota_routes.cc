// Cinder v3 os-quota-sets (show with ?usage=true, defaults, update and
// delete by admins), os-quota-class-sets (admins) and /limits, shaped as
// Cinder's quotas, quota_classes, limits and used_limits controllers
// answer. The limits and usage themselves are quotas.h's.
// Thread-safety: handlers are reentrant; the catalog serialises.
#include "api/body.h"
#include "api/cinder_info_routes.h"
#include "api/quotas.h"

namespace strata::api {
namespace {

constexpr int64_t kMaxLimit = 2147483647;  // Cinder's DB_MAX_INT

// A limit in a request: an integer (or a string of digits) in -1 … 2^31-1.
Result<int64_t> ParseLimit(const std::string& key, const nlohmann::json& v) {
  int64_t n = 0;
  if (v.is_number_integer()) {
    n = v.get<int64_t>();
  } else if (v.is_string() && !v.get<std::string>().empty() &&
             v.get<std::string>().size() <= 10 &&
             v.get<std::string>().find_first_not_of("0123456789") ==
                 std::string::npos) {
    n = std::stoll(v.get<std::string>());
  } else {
    return Status::InvalidArgument(key + " must be an integer.");
  }
  if (n < -1) return Status::InvalidArgument(key + " must be >= -1");
  if (n > kMaxLimit)
    return Status::InvalidArgument(key +
                                   " must be <= " + std::to_string(kMaxLimit));
  return n;
}

// The limits named in body[`what`], every key a known resource (except
// `ignored` ones). Cinder's "Bad key(s) in quota set: …" otherwise.
Result<std::map<std::string, int64_t>> ParseLimits(
    engine::Engine* e, const nlohmann::json& body, const std::string& what,
    const std::set<std::string>& ignored) {
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* set, RequireObject(body, what));
  if (set->empty())
    return Status::InvalidArgument("Invalid input for field/attribute " + what +
                                   ": it has no properties.");
  STRATA_ASSIGN_OR_RETURN(auto names, QuotaResources(e->catalog()));
  const std::set<std::string> known(names.begin(), names.end());
  std::vector<std::string> bad;
  std::map<std::string, int64_t> out;
  for (auto it = set->begin(); it != set->end(); ++it) {
    if (ignored.count(it.key())) continue;
    if (!known.count(it.key())) {
      bad.push_back(it.key());
      continue;
    }
    STRATA_ASSIGN_OR_RETURN(out[it.key()], ParseLimit(it.key(), it.value()));
  }
  if (!bad.empty()) {
    std::string list;
    for (const auto& k : bad) list += (list.empty() ? "" : ", ") + k;
    return Status::InvalidArgument(
        std::string(what == "quota_set" ? "Bad key(s) in quota set: "
                                        : "Bad key(s) in quota class set: ") +
        list);
  }
  return out;
}

nlohmann::json Limits(const std::map<std::string, int64_t>& limits) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : limits) j[k] = v;
  return j;
}

nlohmann::json Limits(const QuotaSet& q) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : q) j[k] = v.limit;
  return j;
}

Status MayRead(const ApiRequest& req, const std::string& project_id) {
  return req.ctx.Enforce(rules::kQuotaShow, {{"project_id", project_id}});
}

HandlerResult Show(engine::Engine* e, ApiRequest& req) {
  const std::string& id = req.params.at("id");
  STRATA_RETURN_IF_ERROR(MayRead(req, id));
  bool usage = false;
  if (auto u = req.Query("usage")) {
    STRATA_ASSIGN_OR_RETURN(usage, ParseBoolWord("usage", *u));
  }
  STRATA_ASSIGN_OR_RETURN(QuotaSet q, ProjectQuotaSet(e->catalog(), id, usage));
  nlohmann::json set = nlohmann::json::object();
  for (const auto& [k, v] : q)
    set[k] = usage ? nlohmann::json{{"limit", v.limit},
                                    {"in_use", v.in_use},
                                    {"reserved", 0},
                                    {"allocated", 0}}
                   : nlohmann::json(v.limit);
  set["id"] = id;
  return ApiResponse::Json(200, {{"quota_set", set}});
}

HandlerResult Defaults(engine::Engine* e, ApiRequest& req) {
  const std::string& id = req.params.at("id");
  STRATA_RETURN_IF_ERROR(MayRead(req, id));
  STRATA_ASSIGN_OR_RETURN(auto limits,
                          ClassQuotaLimits(e->catalog(), "default"));
  nlohmann::json set = Limits(limits);
  set["id"] = id;
  return ApiResponse::Json(200, {{"quota_set", set}});
}

HandlerResult Update(engine::Engine* e, ApiRequest& req) {
  const std::string& id = req.params.at("id");
  STRATA_RETURN_IF_ERROR(
      req.ctx.Enforce(rules::kQuotaUpdate, {{"project_id", id}}));
  if (id.empty() || id.size() > 255)
    return Status::InvalidArgument(
        "quota_set_name has a length outside 1 to 255.");
  STRATA_ASSIGN_OR_RETURN(
      auto limits, ParseLimits(e, req.body, "quota_set", {"id", "tenant_id"}));
  {
    auto lock = HoldQuotaLock();
    STRATA_ASSIGN_OR_RETURN(QuotaSet q,
                            ProjectQuotaSet(e->catalog(), id, true));
    // Cinder: no limit below what the project already uses.
    for (const auto& [key, limit] : limits) {
      if (key == "per_volume_gigabytes" || limit == -1) continue;
      const int64_t used = q[key].in_use;
      if (limit < used)
        return Status::InvalidArgument(
            "Quota " + key +
            " limit must be equal or greater than existing resources. "
            "Current usage is " +
            std::to_string(used) + " and the requested limit is " +
            std::to_string(limit) + ".");
    }
    STRATA_RETURN_IF_ERROR(e->catalog()->SetProjectQuotas(id, limits));
  }
  STRATA_ASSIGN_OR_RETURN(QuotaSet q, ProjectQuotaSet(e->catalog(), id, false));
  return ApiResponse::Json(200, {{"quota_set", Limits(q)}});
}

HandlerResult Delete(engine::Engine* e, ApiRequest& req) {
  const std::string& id = req.params.at("id");
  STRATA_RETURN_IF_ERROR(
      req.ctx.Enforce(rules::kQuotaDelete, {{"project_id", id}}));
  STRATA_RETURN_IF_ERROR(e->catalog()->DeleteProjectQuotas(id));
  return ApiResponse::Empty(200);
}

HandlerResult ShowClass(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kQuotaClassGet));
  const std::string& id = req.params.at("id");
  STRATA_ASSIGN_OR_RETURN(auto limits, ClassQuotaLimits(e->catalog(), id));
  nlohmann::json set = Limits(limits);
  set["id"] = id;
  return ApiResponse::Json(200, {{"quota_class_set", set}});
}

HandlerResult UpdateClass(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kQuotaClassUpdate));
  const std::string& id = req.params.at("id");
  if (id.empty() || id.size() > 255)
    return Status::InvalidArgument(
        "quota_class_name has a length outside 1 to 255.");
  STRATA_ASSIGN_OR_RETURN(auto limits,
                          ParseLimits(e, req.body, "quota_class_set", {}));
  STRATA_RETURN_IF_ERROR(e->catalog()->SetQuotaClass(id, limits));
  STRATA_ASSIGN_OR_RETURN(auto now, ClassQuotaLimits(e->catalog(), id));
  return ApiResponse::Json(200, {{"quota_class_set", Limits(now)}});
}

// GET /limits: the project's absolute limits and use, as Cinder's limits
// and used_limits extension build them (no rate limits). An admin may ask
// for another project with ?project_id= from 3.39.
HandlerResult ShowLimits(engine::Engine* e, ApiRequest& req) {
  std::string project = req.ctx.project_id;
  if (req.ctx.is_admin && req.version.AtLeast(3, 39)) {
    if (auto p = req.Query("project_id"))
      project = *p;
    else if (auto t = req.Query("tenant_id"))
      project = *t;
  }
  STRATA_ASSIGN_OR_RETURN(QuotaSet q,
                          ProjectQuotaSet(e->catalog(), project, true));
  const std::pair<const char*, const char*> kMax[] = {
      {"maxTotalVolumes", "volumes"},
      {"maxTotalSnapshots", "snapshots"},
      {"maxTotalVolumeGigabytes", "gigabytes"},
      {"maxTotalBackups", "backups"},
      {"maxTotalBackupGigabytes", "backup_gigabytes"}};
  const std::pair<const char*, const char*> kUsed[] = {
      {"totalVolumesUsed", "volumes"},
      {"totalSnapshotsUsed", "snapshots"},
      {"totalGigabytesUsed", "gigabytes"},
      {"totalBackupsUsed", "backups"},
      {"totalBackupGigabytesUsed", "backup_gigabytes"}};
  nlohmann::json absolute = nlohmann::json::object();
  for (const auto& [name, resource] : kMax) absolute[name] = q[resource].limit;
  for (const auto& [name, resource] : kUsed)
    absolute[name] = q[resource].in_use;
  return ApiResponse::Json(
      200, {{"limits",
             {{"rate", nlohmann::json::array()}, {"absolute", absolute}}}});
}

}  // namespace

void AddQuotaRoutes(Router& r, engine::Engine* e) {
  auto bind = [e](HandlerResult (*fn)(engine::Engine*, ApiRequest&)) {
    return [e, fn](ApiRequest& q) { return fn(e, q); };
  };
  r.Add("GET", "/v3/os-quota-sets/{id}", bind(Show));
  r.Add("GET", "/v3/os-quota-sets/{id}/defaults", bind(Defaults));
  r.Add("PUT", "/v3/os-quota-sets/{id}", bind(Update));
  r.Add("DELETE", "/v3/os-quota-sets/{id}", bind(Delete));
  r.Add("GET", "/v3/os-quota-class-sets/{id}", bind(ShowClass));
  r.Add("PUT", "/v3/os-quota-class-sets/{id}", bind(UpdateClass));
  r.Add("GET", "/v3/limits", bind(ShowLimits));
}

}  // namespace strata::api
