// What clients ask of a Cinder deployment before they do anything, answered
// for this host as Cinder answers it (issue 18):
//   GET /os-availability-zone            one zone, [DEFAULT]
//                                        storage_availability_zone
//   GET /os-services (admin)             cinder-scheduler on "<host>" and
//                                        cinder-volume on "<host>@strata",
//                                        up and enabled (stratad answers
//                                        for both); ?host= ?binary=
//   PUT /os-services/{action} (admin)    Cinder's checks; "enable" of a
//                                        service (always enabled) answers
//                                        as Cinder, disable, freeze and
//                                        thaw are 501: Strata cannot stop
//                                        scheduling to itself
//   GET /os-hosts, /os-hosts/{host}      the two services; the volume
//                                        host's volumes and snapshots per
//                                        project
//   GET /scheduler-stats/get_pools       the one pool, "<host>@strata#strata"
//   GET /capabilities/{host}             its capabilities
// Thread-safety: handlers are reentrant; the catalog serialises.
#include <sys/statvfs.h>

#include <cmath>

#include "api/body.h"
#include "api/cinder_info_routes.h"
#include "api/views.h"
#include "util/time_util.h"

namespace strata::api {
namespace {

constexpr char kVendor[] = "Strata";
constexpr char kBackend[] = "strata";
constexpr char kProtocol[] = "qcow2";
constexpr char kDriverVersion[] = "1.0.0";

// "<hostname>", "<hostname>@strata", "<hostname>@strata#strata".
struct HostNames {
  std::string host, backend, pool;
};
HostNames Names() {
  const std::string pool = BackendHost();
  return {pool.substr(0, pool.find('@')), pool.substr(0, pool.find('#')), pool};
}

struct Service {
  std::string binary, host;
};
std::vector<Service> Services() {
  const HostNames n = Names();
  return {{"cinder-scheduler", n.host}, {"cinder-volume", n.backend}};
}

// Cinder's _filter_host: "h" matches h, h@… and h#…; "h@b" matches h@b
// and h@b#…; "h@b#p" only itself.
bool HostMatches(const std::string& have, const std::string& want) {
  if (have == want) return true;
  if (want.find('#') != std::string::npos) return false;
  if (have.rfind(want + "#", 0) == 0) return true;
  return want.find('@') == std::string::npos && have.rfind(want + "@", 0) == 0;
}

HandlerResult Zones(const ServiceInfoOptions& o) {
  return ApiResponse::Json(200, {{"availabilityZoneInfo",
                                  {{{"zoneName", o.availability_zone},
                                    {"zoneState", {{"available", true}}}}}}});
}

HandlerResult ListServices(const ServiceInfoOptions& o, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kServicesIndex));
  const std::string now = FormatIsoMicros(NowMicros());
  nlohmann::json out = nlohmann::json::array();
  for (const Service& s : Services()) {
    if (auto h = req.Query("host"); h && !HostMatches(s.host, *h)) continue;
    if (auto b = req.Query("binary"); b && s.binary != *b) continue;
    nlohmann::json j = {{"binary", s.binary},
                        {"host", s.host},
                        {"zone", o.availability_zone},
                        {"status", "enabled"},
                        {"state", "up"},
                        {"updated_at", now},
                        {"disabled_reason", nullptr}};
    if (s.binary == "cinder-volume") {
      j["replication_status"] = "disabled";
      j["active_backend_id"] = nullptr;
      j["frozen"] = false;
      if (req.version.AtLeast(3, 49)) j["backend_state"] = "up";
    }
    if (req.version.AtLeast(3, 7)) j["cluster"] = nullptr;
    out.push_back(j);
  }
  return ApiResponse::Json(200, {{"services", out}});
}

// PUT /os-services/{action}: Cinder's validation and lookups, so callers
// get Cinder's 400 and 404; a real change of state is not supported.
HandlerResult UpdateService(ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kServicesUpdate));
  const std::string& action = req.params.at("action");
  const nlohmann::json& b = req.body;
  if (!b.is_null() && !b.is_object())
    return Status::InvalidArgument("Invalid input: the body is not an object");
  const nlohmann::json body = b.is_object() ? b : nlohmann::json::object();
  STRATA_ASSIGN_OR_RETURN(auto host, OptString(body, "host", 255));
  if (action == "freeze" || action == "thaw") {
    bool known = false;
    for (const Service& s : Services())
      known |=
          host && s.binary == "cinder-volume" && HostMatches(s.host, *host);
    if (!known)
      return Status::InvalidArgument("Invalid input received: Service " +
                                     host.value_or("") +
                                     " could not be found.");
    return Status::NotSupported("Strata's volume service cannot be " + action +
                                (action == "freeze" ? "n." : "ed."));
  }
  if (action != "enable" && action != "disable" &&
      action != "disable-log-reason")
    return Status::InvalidArgument("Invalid input received: Unknown action");
  if (action == "disable-log-reason" && body.contains("disabled_reason")) {
    const auto& r = body["disabled_reason"];
    if (!r.is_string() || r.get<std::string>().empty() ||
        r.get<std::string>().size() > 255)
      return Status::InvalidArgument(
          "Invalid input for field/attribute disabled_reason: it must be a "
          "string of 1 to 255 characters.");
  }
  STRATA_ASSIGN_OR_RETURN(auto binary, OptString(body, "binary", 255));
  if (!binary) {
    STRATA_ASSIGN_OR_RETURN(binary, OptString(body, "service", 255));
  }
  if (!binary || binary->empty())
    return Status::InvalidArgument(
        "Invalid input: 'binary' or 'service' is required.");
  const Service* found = nullptr;
  for (const Service& s : Services())
    if (host && s.host == *host && s.binary == *binary) found = &s;
  if (!found)
    return Status::NotFound("Service " + host.value_or("") + " " + *binary +
                            " could not be found.");
  if (action != "enable")
    return Status::NotSupported(
        "Strata's services cannot be disabled: they are this stratad.");
  return ApiResponse::Json(200, {{"disabled", false},
                                 {"status", "enabled"},
                                 {"host", found->host},
                                 {"service", body.value("service", "")},
                                 {"binary", body.value("binary", "")},
                                 {"disabled_reason", nullptr}});
}

HandlerResult ListHosts(const ServiceInfoOptions& o, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kHosts));
  if (auto z = req.Query("zone"); z && !z->empty() && *z != o.availability_zone)
    return ApiResponse::Json(200, {{"hosts", nlohmann::json::array()}});
  const std::string now = FormatIsoMicros(NowMicros());
  nlohmann::json out = nlohmann::json::array();
  for (const Service& s : Services())
    out.push_back({{"host_name", s.host},
                   {"service", s.binary},
                   {"zone", o.availability_zone},
                   {"service-status", "available"},
                   {"service-state", "enabled"},
                   {"last-update", now}});
  return ApiResponse::Json(200, {{"hosts", out}});
}

// Volumes and snapshots on the volume host, in total and per project that
// has volumes (Cinder's counts are strings).
HandlerResult ShowHost(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kHosts));
  const std::string& host = req.params.at("host");
  if (host != Names().backend)
    return Status::NotFound("Host " + host + " could not be found.");
  STRATA_ASSIGN_OR_RETURN(auto rows, e->catalog()->QuotaUsageRows(""));
  struct Sums {
    int64_t volumes = 0, volume_gb = 0, snapshots = 0, snapshot_gb = 0;
  };
  std::map<std::string, Sums> by_project;
  Sums total;
  for (const auto& r : rows) {
    Sums& p = by_project[r.project_id];
    const int64_t gib = engine::SizeGiB(r.virtual_size);
    for (Sums* s : {&p, &total}) {
      (r.is_snapshot ? s->snapshots : s->volumes) += 1;
      (r.is_snapshot ? s->snapshot_gb : s->volume_gb) += gib;
    }
  }
  auto resource = [&](const std::string& project, const Sums& s) {
    return nlohmann::json{
        {"resource",
         {{"host", host},
          {"project", project},
          {"volume_count", std::to_string(s.volumes)},
          {"total_volume_gb", std::to_string(s.volume_gb)},
          {"snapshot_count", std::to_string(s.snapshots)},
          {"total_snapshot_gb", std::to_string(s.snapshot_gb)}}}};
  };
  nlohmann::json out = nlohmann::json::array({resource("(total)", total)});
  for (const auto& [project, s] : by_project)
    if (s.volumes > 0) out.push_back(resource(project, s));
  return ApiResponse::Json(200, {{"host", out}});
}

double RoundGiB(double bytes) {
  return std::round(bytes / (1 << 30) * 100) / 100;
}

HandlerResult GetPools(engine::Engine* e, const ServiceInfoOptions& o,
                       ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGetPools));
  bool detail = false;
  if (auto d = req.Query("detail")) {
    std::string v = *d;
    for (auto& c : v) c = static_cast<char>(std::tolower(c));
    detail = v == "true" || v == "1" || v == "yes" || v == "on" || v == "t" ||
             v == "y";
  }
  nlohmann::json pool = {{"name", Names().pool}};
  if (detail) pool["capabilities"] = BackendCapabilities(e, o);
  return ApiResponse::Json(200, {{"pools", {pool}}});
}

HandlerResult ShowCapabilities(ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kCapabilities));
  const std::string& host = req.params.at("host");
  const HostNames n = Names();
  if (!HostMatches(n.backend, host) && host != n.pool)
    return Status::NotFound("Can't find service: " + host);
  return ApiResponse::Json(
      200, {{"namespace", "OS::Storage::Capabilities::" + n.backend},
            {"vendor_name", kVendor},
            {"volume_backend_name", kBackend},
            {"pool_name", nullptr},
            {"driver_version", kDriverVersion},
            {"storage_protocol", kProtocol},
            {"display_name", nullptr},
            {"description", nullptr},
            {"visibility", nullptr},
            {"replication_targets", nlohmann::json::array()},
            {"properties", nlohmann::json::object()}});
}

}  // namespace

nlohmann::json BackendCapabilities(engine::Engine* e,
                                   const ServiceInfoOptions& o) {
  double total = 0, free = 0;
  struct statvfs fs {};
  if (statvfs(o.capacity_dir.c_str(), &fs) == 0) {
    total = RoundGiB(static_cast<double>(fs.f_blocks) * fs.f_frsize);
    free = RoundGiB(static_cast<double>(fs.f_bavail) * fs.f_frsize);
  }
  int64_t allocated = 0;
  if (auto rows = e->catalog()->QuotaUsageRows(""); rows.ok())
    for (const auto& r : *rows)
      if (!r.is_snapshot) allocated += engine::SizeGiB(r.virtual_size);
  const std::string now = FormatIsoMicros(NowMicros());
  return {{"pool_name", kBackend},
          {"volume_backend_name", kBackend},
          {"vendor_name", kVendor},
          {"driver_version", kDriverVersion},
          {"storage_protocol", kProtocol},
          {"total_capacity_gb", total},
          {"free_capacity_gb", free},
          {"allocated_capacity_gb", allocated},
          {"reserved_percentage", 0},
          {"QoS_support", false},
          {"thin_provisioning_support", true},
          {"thick_provisioning_support", false},
          {"multiattach", false},
          {"timestamp", now},
          {"updated", now}};
}

void AddServiceInfoRoutes(Router& r, engine::Engine* e, ServiceInfoOptions o) {
  r.Add("GET", "/v3/os-availability-zone",
        [o](ApiRequest&) { return Zones(o); });
  r.Add("GET", "/v3/os-services",
        [o](ApiRequest& q) { return ListServices(o, q); });
  r.Add("PUT", "/v3/os-services/{action}",
        [](ApiRequest& q) { return UpdateService(q); });
  r.Add("GET", "/v3/os-hosts", [o](ApiRequest& q) { return ListHosts(o, q); });
  r.Add("GET", "/v3/os-hosts/{host}",
        [e](ApiRequest& q) { return ShowHost(e, q); });
  r.Add("GET", "/v3/scheduler-stats/get_pools",
        [e, o](ApiRequest& q) { return GetPools(e, o, q); });
  r.Add("GET", "/v3/capabilities/{host}",
        [](ApiRequest& q) { return ShowCapabilities(q); });
}

void AddCinderInfoRoutes(Router& r, engine::Engine* e, ServiceInfoOptions o) {
  AddVolumeTypeRoutes(r, e);
  AddQosSpecsRoutes(r, e);
  AddEncryptionTypeRoutes(r, e);
  AddGroupTypeRoutes(r, e);
  AddQuotaRoutes(r, e);
  AddServiceInfoRoutes(r, e, std::move(o));
}

}  // namespace strata::api
