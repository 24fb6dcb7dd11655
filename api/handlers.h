// Route tables of Strata's REST API, one function per resource family.
// Handlers parse and authorise, then call the Engine; reads and record-only
// edits (names, metadata) go to the catalog through the Engine's accessor.
// Thread-safety: handlers run concurrently; the Engine and catalog are
// thread-safe.
#pragma once

#include <optional>

#include "api/policy.h"
#include "api/router.h"
#include "cache/redirect_cache.h"
#include "coordinator/group_coordinator.h"
#include "engine/engine.h"
#include "openstack-integration/assisted_snapshots.h"
#include "policy/policy_runner.h"

namespace strata::api {

void AddVersionRoutes(Router& r);
// GET/HEAD /healthcheck as oslo.middleware answers it (api/healthcheck.cc):
// 503 while the file `disable_by_file_path` exists ("" : never).
void AddHealthcheckRoutes(Router& r, std::string disable_by_file_path);
// GET /metrics in Prometheus' text format (api/metrics_route.cc).
void AddMetricsRoute(Router& r);
// The long operations, /v3/os-tasks (api/tasks.cc).
void AddTaskRoutes(Router& r, engine::Engine* engine);
// The dashboard's page under /dashboard/ and its sign-in (api/dashboard.cc).
struct DashboardOptions {
  std::string auth_strategy = "noauth";  // or "keystone"
  std::string keystone_auth_url;
};
void AddDashboardRoutes(Router& r, DashboardOptions opts);

void AddSnapshotRoutes(Router& r, engine::Engine* engine);
// Nova's servers on this host (libvirt domains): list, detail, show, and
// the createImage action. Domains without Nova owner metadata belong to
// `default_project`.
void AddServerRoutes(Router& r, engine::Engine* engine,
                     std::string default_project);
// Domain `id` (UUID or name) when `ctx` may see it (its Nova owner, or
// `default_project` without one; any for an admin), else NotFound.
Result<hypervisor::DomainInfo> VisibleServer(
    engine::Engine* engine, const RequestContext& ctx, const std::string& id,
    const std::string& default_project);
// This host's part of a group snapshot's cut driven by another stratad
// (api/group_cuts.cc, issue 22).
void AddGroupCutRoutes(Router& r, engine::Engine* engine,
                       std::string default_project);
// Seconds-level rollbacks of servers' disks (api/instant_rollbacks.cc, R1.8).
void AddInstantRollbackRoutes(Router& r, engine::Engine* engine,
                              std::string default_project);
// Snapshot `id` when `ctx` may see it (not deleted; its project, or an
// admin), else nullopt: callers answer 404 in their own words.
std::optional<db::SnapshotRecord> VisibleSnapshot(engine::Engine* engine,
                                                  const RequestContext& ctx,
                                                  const std::string& id);
// `found` when it exists and `ctx` may see it (its own project's row, or
// any for an admin); NotFound `not_found` otherwise, so another project's
// backup or group is a 404, never a 403. Other errors pass as they are.
template <class Row>
Result<Row> VisibleRow(const RequestContext& ctx, Result<Row> found,
                       const std::string& not_found) {
  if (!found.ok() && !found.status().IsNotFound()) return found.status();
  if (!found.ok() || (found->project_id != ctx.project_id && !ctx.is_admin))
    return Status::NotFound(not_found);
  return found;
}
// Where Strata finds Cinder to report assisted snapshots, as Nova's [cinder]
// options say: a URL template (project id filled in), else the caller's
// token catalog (Keystone auth) by "type:name:interface", in `region`.
struct CinderOptions {
  std::string endpoint_template;  // e.g. http://h:8776/v3/%(project_id)s
  std::string catalog_info = "volumev3::publicURL";
  std::string region;
};
// Nova's os-assisted-volume-snapshots create and delete.
void AddAssistedSnapshotRoutes(Router& r, openstack::AssistedSnapshots* avs,
                               CinderOptions o);
// An NBD export as the API shows it; `cache` is null without [nbd] cache.
struct NbdExportInfo {
  std::string name, socket, backend;
  std::shared_ptr<cache::RedirectCache> cache;
};
// Strata's NBD exports and their redirect caches, under /strata/v1.
void AddNbdExportRoutes(Router& r, std::vector<NbdExportInfo> exports);
// Snapshots as read-only Glance v2 images, under /v2 and /v2.1.
void AddImageRoutes(Router& r, engine::Engine* engine);
// First path segments under /v3/ that are collections (not project ids).
std::set<std::string> V3Collections();
std::set<std::string> ComputeCollections();
nlohmann::json ComputeVersion(const ApiRequest& req);

// What the availability-zone, services, hosts and pools views say of this
// host (issue 18).
struct ServiceInfoOptions {
  // [DEFAULT] storage_availability_zone
  std::string availability_zone = "nova";
  // Where the disks live: the pools' capacity is this file system's.
  std::string capacity_dir = ".";
};
// Volume lists first register the host's servers' disks (no adopt step);
// every volume is in `o.availability_zone` ([DEFAULT]
// storage_availability_zone), and a create whose type's extra specs this
// backend does not satisfy (extra_specs_match.h) ends in "error" with a
// user message, as Cinder's scheduler does.
void AddVolumeRoutes(Router& r, engine::Engine* engine,
                     std::string default_project, ServiceInfoOptions o);
// Cinder's volume transfers (os-volume-transfer, volume-transfers ≥ 3.55).
void AddVolumeTransferRoutes(Router& r, engine::Engine* engine);
// Cinder's user messages (api/messages.cc): list, show, delete; and the
// record of one, for the project that made `req` (its request id), about
// a resource (e.g. "VOLUME", its id) and Cinder's event id
// ("VOLUME_VOL_001_002"). A failure to record is logged, not returned.
void AddMessageRoutes(Router& r, engine::Engine* engine);
void RecordMessage(engine::Engine* e, const ApiRequest& req,
                   const std::string& project_id,
                   const std::string& resource_type,
                   const std::string& resource_uuid,
                   const std::string& event_id,
                   const std::string& user_message);
// The backend's capabilities, as the pools view shows them (service_info.cc).
nlohmann::json BackendCapabilities(engine::Engine* e,
                                   const ServiceInfoOptions& o);
// Cinder's backups (api/backups.cc), made in `availability_zone`.
void AddBackupRoutes(Router& r, engine::Engine* engine,
                     std::string availability_zone);
// Cinder's generic volume groups and group snapshots (api/groups.cc), in
// `availability_zone`.
// A group snapshot of servers (issue 22) goes to `coord` (null: none).
void AddGroupRoutes(Router& r, engine::Engine* engine,
                    std::string availability_zone,
                    coordinator::GroupCoordinator* coord);
// Backup policies (api/snapshot_policies.cc, issue 19), run by `runner`.
void AddPolicyRoutes(Router& r, engine::Engine* engine,
                     policy::PolicyRunner* runner);
// Cinder's volume types, quotas and limits, availability zones, services,
// hosts and pools (api/cinder_info_routes.h).
void AddCinderInfoRoutes(Router& r, engine::Engine* engine,
                         ServiceInfoOptions o);

}  // namespace strata::api
