// Strata's NBD exports and their redirect caches (issue 6), for operators
// and the engine's tests: GET /strata/v1/nbd-exports (list, with each
// cache's state: active, records, bytes, drain progress, R0.3/R0.11's
// forecasts) and
// POST /strata/v1/nbd-exports/{name}/action with
//   {"os-redirect": {"expected_seconds", "write_bytes_per_second"}}  (R0.3)
//   {"os-drain": {}}                                        (R0.8–R0.12)
// → 202 with the export. Admin only. 404 for an unknown export, 409 for an
// export without a cache or a cache in the wrong state.
#include "api/handlers.h"
#include "api/views.h"

namespace strata::api {
namespace {

nlohmann::json ExportView(const NbdExportInfo& e) {
  nlohmann::json j = {{"name", e.name},
                      {"socket", e.socket},
                      {"uri", "nbd+unix:///" + e.name + "?socket=" + e.socket},
                      {"backend", e.backend},
                      {"cache", nullptr}};
  if (e.cache) j["cache"] = CacheView(e.cache->GetStatus());
  return j;
}

Status AdminOnly(const ApiRequest& req) {
  return req.ctx.Enforce(rules::kNbdExports);
}

Result<double> NonNegative(const nlohmann::json& obj, const std::string& key,
                           double fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (!it->is_number() || it->get<double>() < 0)
    return Status::InvalidArgument("Invalid input for field/attribute " + key +
                                   ": a number of 0 or more.");
  return it->get<double>();
}

}  // namespace

void AddNbdExportRoutes(Router& r, std::vector<NbdExportInfo> exports) {
  auto list = std::make_shared<std::vector<NbdExportInfo>>(std::move(exports));
  r.Add("GET", "/strata/v1/nbd-exports",
        [list](ApiRequest& q) -> HandlerResult {
          STRATA_RETURN_IF_ERROR(AdminOnly(q));
          nlohmann::json items = nlohmann::json::array();
          for (const auto& e : *list) items.push_back(ExportView(e));
          return ApiResponse::Json(200, {{"nbd_exports", items}});
        });
  r.Add(
      "POST", "/strata/v1/nbd-exports/{name}/action",
      [list](ApiRequest& q) -> HandlerResult {
        STRATA_RETURN_IF_ERROR(AdminOnly(q));
        const std::string& name = q.params.at("name");
        const NbdExportInfo* e = nullptr;
        for (const auto& x : *list)
          if (x.name == name) e = &x;
        if (!e) return Status::NotFound("NBD export " + name + " not found.");
        if (!q.body.is_object() || q.body.size() != 1)
          return Status::InvalidArgument(
              "Malformed request body: one action expected.");
        if (!e->cache)
          return Status::Conflict("NBD export " + name +
                                  " has no redirect cache ([nbd] cache).");
        const std::string action = q.body.begin().key();
        const nlohmann::json& arg = q.body.begin().value();
        if (action == "os-redirect") {
          if (!arg.is_object())
            return Status::InvalidArgument(
                "Invalid input for field/attribute os-redirect.");
          STRATA_ASSIGN_OR_RETURN(double secs,
                                  NonNegative(arg, "expected_seconds", 10));
          STRATA_ASSIGN_OR_RETURN(
              double rate, NonNegative(arg, "write_bytes_per_second", 0));
          STRATA_RETURN_IF_ERROR(
              e->cache->StartRedirect(secs, static_cast<uint64_t>(rate)));
        } else if (action == "os-drain") {
          STRATA_RETURN_IF_ERROR(e->cache->StartDrain());
        } else {
          return Status::InvalidArgument("There is no such action: " + action);
        }
        return ApiResponse::Json(202, {{"nbd_export", ExportView(*e)}});
      });
}

}  // namespace strata::api
