// Cinder-shaped JSON views. See views.h.
#include "api/views.h"

#include <unistd.h>

#include "engine/engine.h"
#include "util/time_util.h"

namespace strata::api {

nlohmann::json OrNull(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

bool WantsStrataDetails(const ApiRequest& req) {
  const std::string v = req.Header("x-strata-details");
  return v == "1" || v == "true" || v == "True" || v == "yes";
}

std::string BackendHost() {
  char buf[256] = "localhost";
  gethostname(buf, sizeof buf - 1);
  return std::string(buf) + "@strata#strata";
}

namespace {

// The memory part of a snapshot (issue 21), or null.
nlohmann::json MemoryView(const db::SnapshotRecord& s) {
  if (s.memory_state.empty()) return nullptr;
  auto figures = nlohmann::json::parse(s.memory_figures, nullptr, false);
  nlohmann::json m = {
      {"state", s.memory_state},
      {"server_id", s.memory_domain},
      {"error", s.memory_error.empty() ? nlohmann::json(nullptr)
                                       : nlohmann::json(s.memory_error)}};
  if (figures.is_object()) m.update(figures);
  // The copy the store keeps (its restore image), once stored with the
  // layer: what a restore fetches when this host's region is gone.
  m["stored_bytes"] = s.memory_store_key.empty()
                          ? nlohmann::json(nullptr)
                          : nlohmann::json(s.memory_store_bytes);
  return m;
}

}  // namespace

nlohmann::json SnapshotView(const ApiRequest& req, const db::SnapshotRecord& s,
                            bool detail, const std::string& store) {
  nlohmann::json j = {
      {"id", s.id},
      {"name", s.name},
      {"description", s.description},
      {"volume_id", s.volume_id},
      {"status", s.status},
      {"size", engine::SizeGiB(s.virtual_size)},
      {"metadata", s.metadata},
      {"created_at", FormatIsoMicros(s.created_at)},
      {"updated_at", FormatIsoMicros(s.updated_at)},
  };
  if (req.version.AtLeast(3, 14))
    j["group_snapshot_id"] = OrNull(s.group_snapshot_id);
  if (req.version.AtLeast(3, 41)) j["user_id"] = s.user_id;
  if (req.version.AtLeast(3, 65)) j["consumes_quota"] = true;
  if (detail) {
    j["os-extended-snapshot-attributes:progress"] =
        std::to_string(s.progress) + "%";
    j["os-extended-snapshot-attributes:project_id"] = s.project_id;
  }
  if (detail && WantsStrataDetails(req)) {
    j["os-strata:parent_id"] =
        s.parent_id ? nlohmann::json(*s.parent_id) : nlohmann::json(nullptr);
    j["os-strata:stored_bytes"] = s.layer_bytes;
    j["os-strata:sha256"] =
        s.sha256 ? nlohmann::json(*s.sha256) : nlohmann::json(nullptr);
    // The layer's own digest; differs from sha256 when relay stages ran.
    j["os-strata:layer_sha256"] = s.layer_sha256
                                      ? nlohmann::json(*s.layer_sha256)
                                      : nlohmann::json(nullptr);
    j["os-strata:covers"] = s.covers;
    j["os-strata:verify"] = {
        {"state", s.verify_state.empty() ? "unverified" : s.verify_state},
        {"verified_at", s.verified_at
                            ? nlohmann::json(FormatIsoMicros(s.verified_at))
                            : nlohmann::json(nullptr)},
        {"error", s.verify_error.empty() ? nlohmann::json(nullptr)
                                         : nlohmann::json(s.verify_error)}};
    // Which store holds the layer (its driver's name, e.g. "local").
    if (s.store_key && !store.empty()) j["os-strata:store"] = store;
    if (!s.error.empty()) j["os-strata:error"] = s.error;
    // The server's memory taken with it (createImage with
    // os-strata:memory, issue 21), or null.
    j["os-strata:memory"] = MemoryView(s);
  }
  return j;
}

namespace {

// A server's disk shows as attached to it, as Cinder shows Nova's volumes.
nlohmann::json Attachments(const db::VolumeRecord& v) {
  nlohmann::json a = nlohmann::json::array();
  if (v.domain_uuid && v.disk_target)
    a.push_back({{"server_id", *v.domain_uuid},
                 {"attachment_id", v.id},
                 {"volume_id", v.id},
                 {"id", v.id},
                 {"device", "/dev/" + *v.disk_target},
                 {"host_name", nullptr}});
  return a;
}

}  // namespace

nlohmann::json CacheView(const cache::CacheStatus& s) {
  return {{"state", cache::CacheStateName(s.state)},
          {"active", s.state != cache::CacheState::kBypass},
          {"records", s.records},
          {"bytes", s.bytes},
          {"written_back", s.written_back},
          {"capacity_bytes", s.capacity_bytes},
          {"expected_write_bytes", s.expected_write_bytes},
          {"expected_from_forecast", s.expected_from_forecast},
          {"forecast_writes", s.forecast_writes},
          {"deferrals", s.deferrals},
          {"written_back_at_block", s.written_back_at_block},
          {"throttle_bytes_per_second", s.throttle_bytes_per_s},
          {"replayed_at_open", s.replayed_at_open},
          {"last_pause_ms", s.last_pause_ms},
          {"error", s.error.empty() ? nlohmann::json(nullptr)
                                    : nlohmann::json(s.error)}};
}

nlohmann::json VolumeView(const ApiRequest& req, const db::VolumeRecord& v,
                          VolumeViewKind kind, const VolumeFacts& facts) {
  const auto& held = facts.held;
  const bool detail = kind != VolumeViewKind::kSummary;
  std::string self = req.base_url + "/v3/" + v.project_id + "/volumes/" + v.id;
  nlohmann::json links = nlohmann::json::array(
      {{{"href", self}, {"rel", "self"}},
       {{"href", req.base_url + "/" + v.project_id + "/volumes/" + v.id},
        {"rel", "bookmark"}}});
  if (!detail) return {{"id", v.id}, {"name", v.name}, {"links", links}};
  // Cinder shows its admin metadata ("readonly", …) among the user's.
  db::Metadata metadata = v.metadata;
  for (const auto& [k, val] : v.admin_metadata) metadata[k] = val;
  nlohmann::json j = {
      {"id", v.id},
      {"name", v.name},
      {"description", v.description},
      {"status", v.status},
      {"size", engine::SizeGiB(v.virtual_size)},
      {"availability_zone", facts.zone},
      {"created_at", FormatIsoMicros(v.created_at)},
      {"updated_at", FormatIsoMicros(v.updated_at)},
      {"attachments", Attachments(v)},
      {"volume_type", facts.type_name},
      {"snapshot_id", OrNull(v.snapshot_id)},
      {"source_volid", OrNull(v.source_volid)},
      {"metadata", metadata},
      {"bootable", v.bootable ? "true" : "false"},
      {"encrypted", false},
      {"multiattach", false},
      {"replication_status", nullptr},
      {"consistencygroup_id", nullptr},
      {"user_id", v.user_id},
      {"links", links},
  };
  if (kind == VolumeViewKind::kShow) {
    // Cinder's extension attributes, on show and detail lists only.
    j["os-vol-host-attr:host"] = BackendHost();
    j["os-vol-tenant-attr:tenant_id"] = v.project_id;
    j["os-vol-mig-status-attr:migstat"] = nullptr;
    j["os-vol-mig-status-attr:name_id"] = nullptr;
  }
  // Cinder shows an admin the volume's migration status (none here).
  if (req.ctx.is_admin) j["migration_status"] = nullptr;
  if (WantsStrataDetails(req)) {
    j["os-strata:head_snapshot_id"] = OrNull(v.head_snapshot_id);
    if (facts.chain) {
      j["os-strata:chain_length"] = facts.chain->length;
      j["os-strata:allocated_bytes"] = facts.chain->allocated_bytes;
    }
    if (req.ctx.is_admin)
      j["os-strata:path"] = v.path;  // host paths: admins only
  }
  if (held && WantsStrataDetails(req))
    j["os-strata:nbd_export"] = {
        {"name", held->export_name},
        {"chain_released", held->released},
        {"redirect_cache",
         held->cache ? CacheView(*held->cache) : nlohmann::json(nullptr)}};
  if (req.version.AtLeast(3, 13)) j["group_id"] = OrNull(v.group_id);
  if (req.version.AtLeast(3, 21)) j["provider_id"] = nullptr;
  if (req.version.AtLeast(3, 48)) j["shared_targets"] = false;
  if (req.version.AtLeast(3, 61)) j["cluster_name"] = nullptr;
  if (req.version.AtLeast(3, 65)) j["consumes_quota"] = true;
  return j;
}

}  // namespace strata::api
