// Version discovery: GET / (300) and GET /v3/ (200), as Cinder answers them;
// GET /v2/ shows the compute entry GET / lists (each listed version is
// shown at /<major>/, which Tempest checks). cinderclient reads these
// before anything else. And Cinder's extension list (GET /v3/extensions).
#include <array>

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
  r.Add("GET", "/v2", [](ApiRequest& req) -> HandlerResult {
    return ApiResponse::Json(200, {{"versions", {ComputeVersion(req)}}});
  });
  r.Add("GET", "/v3/extensions", [](ApiRequest&) -> HandlerResult {
    // Cinder's names of the extensions whose calls Strata serves.
    static const std::vector<std::array<const char*, 3>> kExtensions = {
        {"os-admin-actions", "AdminActions", "Enable admin actions."},
        {"os-availability-zone", "AvailabilityZones",
         "Describe Availability Zones."},
        {"os-extended-snapshot-attributes", "ExtendedSnapshotAttributes",
         "Extended SnapshotAttributes support."},
        {"os-hosts", "Hosts", "Admin-only host administration."},
        {"os-quota-class-sets", "QuotaClasses",
         "Quota classes management support."},
        {"os-quota-sets", "Quotas", "Quota management support."},
        {"os-services", "Services", "Services support."},
        {"os-snapshot-manage", "SnapshotManage",
         "Allows existing backend storage to be 'managed' by Cinder."},
        {"os-types-extra-specs", "TypesExtraSpecs",
         "Type extra specs support."},
        {"os-types-manage", "TypesManage", "Types manage support."},
        {"os-used-limits", "UsedLimits",
         "Provide data on limited resources that are being used."},
        {"os-vol-host-attr", "VolumeHostAttribute",
         "Expose host as an attribute of a volume."},
        {"os-vol-mig-status-attr", "VolumeMigStatusAttribute",
         "Expose migration_status as an attribute of a volume."},
        {"os-vol-tenant-attr", "VolumeTenantAttribute",
         "Expose the internal project_id as an attribute of a volume."},
        {"os-volume-actions", "VolumeActions", "Enable volume actions."},
        {"os-volume-manage", "VolumeManage",
         "Allows existing backend storage to be 'managed' by Cinder."},
        {"scheduler-stats", "Scheduler_stats", "Scheduler stats support."},
    };
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [alias, name, description] : kExtensions)
      list.push_back({{"alias", alias},
                      {"name", name},
                      {"description", description},
                      {"links", nlohmann::json::array()},
                      {"namespace", ""},
                      {"updated", "2013-04-18T00:00:00+00:00"}});
    return ApiResponse::Json(200, {{"extensions", list}});
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
          "types", "os-quota-sets", "os-quota-class-sets", "os-volume-transfer",
          "volume-transfers", "os-availability-zone", "os-services", "os-hosts",
          "scheduler-stats", "capabilities", "backups", "qos-specs", "messages",
          "group_types", "groups", "group_snapshots", "os-snapshot-manage",
          "manageable_snapshots",
          // issue 19: backup policies
          "os-snapshot-policies",
          // issue 19: seconds-level rollback (R1.8)
          "os-instant-rollbacks",
          // issue 20: the long operations
          "os-tasks",
          // issue 22: a group cut's part on this host
          "os-strata-group-cuts"};
}

}  // namespace strata::api
