// Version discovery: GET / (300) and GET /v3/ (200), as Cinder answers them.
// cinderclient reads these before anything else.
#include "api/handlers.h"
#include "api/microversion.h"

namespace strata::api {
namespace {

nlohmann::json V3Version(const ApiRequest& req) {
  const auto& r = VolumeVersions();
  return {
      {"id", "v3.0"},
      {"status", "CURRENT"},
      {"version", r.max.ToString()},
      {"min_version", r.min.ToString()},
      {"updated", "2023-08-31T00:00:00Z"},
      {"links",
       {{{"rel", "describedby"},
         {"type", "text/html"},
         {"href", "https://docs.openstack.org/"}},
        {{"rel", "self"}, {"href", req.base_url + "/v3/"}}}},
      {"media-types",
       {{{"base", "application/json"},
         {"type", "application/vnd.openstack.volume+json;version=3"}}}},
  };
}

}  // namespace

nlohmann::json ComputeVersion(const ApiRequest& req) {
  const auto& r = ComputeVersions();
  return {
      {"id", "v2.1"},
      {"status", "CURRENT"},
      {"version", r.max.ToString()},
      {"min_version", r.min.ToString()},
      {"updated", "2013-07-23T11:33:21Z"},
      {"links", {{{"rel", "self"}, {"href", req.base_url + "/v2.1/"}}}},
      {"media-types",
       {{{"base", "application/json"},
         {"type", "application/vnd.openstack.compute+json;version=2.1"}}}},
  };
}

void AddVersionRoutes(Router& r) {
  r.Add("GET", "/", [](ApiRequest& req) -> HandlerResult {
    // One port serves both APIs: cinderclient picks the 3.x entry,
    // novaclient reads /v2.1 itself.
    return ApiResponse::Json(
        300, {{"versions", {V3Version(req), ComputeVersion(req)}}});
  });
  r.Add("GET", "/v2.1", [](ApiRequest& req) -> HandlerResult {
    return ApiResponse::Json(200, {{"version", ComputeVersion(req)}});
  });
  r.Add("GET", "/v3", [](ApiRequest& req) -> HandlerResult {
    return ApiResponse::Json(200, {{"versions", {V3Version(req)}}});
  });
}

std::set<std::string> ComputeCollections() {
  return {"servers", "flavors",   "images", "os-assisted-volume-snapshots",
          "limits",  "extensions"};
}

std::set<std::string> V3Collections() {
  return {"volumes", "snapshots", "os-volume-manage", "manageable_volumes",
          "limits", "extensions",
          // issue 18: volume types, quotas, zones, services
          "types", "os-quota-sets", "os-quota-class-sets",
          "os-availability-zone", "os-services", "os-hosts", "scheduler-stats",
          "capabilities"};
}

}  // namespace strata::api
