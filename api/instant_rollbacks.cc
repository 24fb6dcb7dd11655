// Seconds-level rollback (issue 19, R1.8), an extension in Cinder's style
// under /v3/{project_id}/os-instant-rollbacks:
//   POST …            {"rollback": {"server_id", "snapshot_id", "disk",
//                     "switch": "confirm"|"auto"}} → 202 {"rollback"}
//   GET  …            → {"rollbacks": [...]} (newest first; all_tenants:
//                     admin)
//   GET  …/{id}       → {"rollback"}: phase, progress, times
//   POST …/{id}/action {"os-confirm": {}} → 202 (the switch, once ready);
//                     {"os-abort": {}} → 202 (back to the disk as it was,
//                     before the switch)
// A rollback belongs to its volume's project: another project's is a 404.
// engine/instant_rollback.h says what each phase does. docs/api.md has the
// fields.
#include "api/body.h"
#include "api/handlers.h"
#include "util/time_util.h"

namespace strata::api {
namespace {

constexpr char kBase[] = "/v3/os-instant-rollbacks";
constexpr int kListLimit = 200;

std::string Iso(int64_t micros) {
  return micros > 0 ? FormatIsoMicros(micros) : std::string();
}

nlohmann::json View(const db::TaskRecord& t) {
  auto st = nlohmann::json::parse(t.state, nullptr, false);
  if (!st.is_object()) st = nlohmann::json::object();
  const int64_t running_at = st.value("running_at", int64_t{0});
  nlohmann::json j = {
      {"id", t.id},
      {"server_id", st.value("domain", "")},
      {"disk", st.value("target", "")},
      {"volume_id", t.volume_id},
      {"snapshot_id", t.snapshot_id.value_or("")},
      {"switch", st.value("auto", false) ? "auto" : "confirm"},
      {"phase", engine::InstantRollbackPhase(t)},
      {"step", t.step},
      {"progress", t.progress},
      {"layers", st.contains("lineage") ? st["lineage"].size() : 0},
      {"copy_bytes", st.value("copy_bytes", int64_t{0})},
      {"created_at", Iso(t.created_at)},
      {"updated_at", Iso(t.updated_at)},
      {"server_running_at",
       running_at ? nlohmann::json(Iso(running_at)) : nullptr},
      // From the request to the server's start on the mirror.
      {"seconds_to_running",
       running_at ? nlohmann::json((running_at - t.created_at) / 1e6)
                  : nullptr},
      {"copy_seconds", st.contains("copy_ms")
                           ? nlohmann::json(st.value("copy_ms", 0) / 1e3)
                           : nullptr},
      {"error",
       t.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.error)},
      {"last_error",
       st.contains("last_error") ? st["last_error"] : nlohmann::json(nullptr)}};
  return j;
}

// The rollback `id` when the caller may see its volume.
Result<db::TaskRecord> Load(engine::Engine* e, const RequestContext& ctx,
                            const std::string& id) {
  const std::string missing = "Instant rollback " + id + " could not be found.";
  auto t = e->catalog()->GetTask(id);
  if (!t.ok() && !t.status().IsNotFound()) return t.status();
  if (!t.ok() || t->kind != "instant_rollback")
    return Status::NotFound(missing);
  auto v = e->catalog()->GetVolume(t->volume_id);
  if (!v.ok() || (v->project_id != ctx.project_id && !ctx.is_admin))
    return Status::NotFound(missing);
  return t;
}

HandlerResult Create(engine::Engine* e, ApiRequest& q,
                     const std::string& default_project) {
  if (!q.body.is_object() || !q.body.contains("rollback") ||
      !q.body["rollback"].is_object())
    return Status::InvalidArgument(
        "Malformed request body: a 'rollback' object is expected.");
  const nlohmann::json& b = q.body["rollback"];
  for (auto it = b.begin(); it != b.end(); ++it)
    if (it.key() != "server_id" && it.key() != "snapshot_id" &&
        it.key() != "disk" && it.key() != "switch")
      return Status::InvalidArgument("Invalid input for field/attribute " +
                                     it.key() + ": unknown field.");
  STRATA_ASSIGN_OR_RETURN(std::string server, RequireString(b, "server_id"));
  STRATA_ASSIGN_OR_RETURN(std::string snap_id,
                          RequireString(b, "snapshot_id", 36));
  std::string mode = "confirm";
  if (b.contains("switch")) {
    if (!b["switch"].is_string() ||
        (b["switch"] != "confirm" && b["switch"] != "auto"))
      return Status::InvalidArgument(
          "Invalid input for field/attribute switch: \"confirm\" or "
          "\"auto\".");
    mode = b["switch"].get<std::string>();
  }
  STRATA_ASSIGN_OR_RETURN(hypervisor::DomainInfo dom,
                          VisibleServer(e, q.ctx, server, default_project));
  const hypervisor::DomainDisk* disk = dom.SystemDisk();
  if (b.contains("disk")) {
    if (!b["disk"].is_string())
      return Status::InvalidArgument(
          "Invalid input for field/attribute disk: a device name such as "
          "\"vda\".");
    disk = dom.Disk(b["disk"].get<std::string>());
    if (!disk)
      return Status::InvalidArgument("Instance " + dom.uuid + " has no disk " +
                                     b["disk"].get<std::string>() + ".");
  }
  if (!disk || disk->source.empty() || disk->format != "qcow2")
    return Status::Conflict("Cannot roll back instance " + dom.uuid +
                            ": the disk is not a qcow2 file.");
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          e->ServerDiskVolume(dom, *disk, default_project));
  auto snap = VisibleSnapshot(e, q.ctx, snap_id);
  if (!snap || snap->volume_id != vol.id)
    return Status::InvalidArgument("Invalid snapshot_id " + snap_id +
                                   ": not a snapshot of instance " + dom.uuid +
                                   "'s disk " + disk->target + ".");
  STRATA_ASSIGN_OR_RETURN(db::TaskRecord t,
                          e->instant_rollbacks().Start(dom, disk->target, vol,
                                                       *snap, mode == "auto"));
  return ApiResponse::Json(202, {{"rollback", View(t)}});
}

HandlerResult Action(engine::Engine* e, ApiRequest& q) {
  STRATA_ASSIGN_OR_RETURN(db::TaskRecord t, Load(e, q.ctx, q.params.at("id")));
  if (!q.body.is_object() || q.body.size() != 1)
    return Status::InvalidArgument(
        "Malformed request body: one action expected.");
  const std::string action = q.body.begin().key();
  if (action == "os-confirm") {
    STRATA_RETURN_IF_ERROR(e->instant_rollbacks().Confirm(t.id));
  } else if (action == "os-abort") {
    STRATA_RETURN_IF_ERROR(e->instant_rollbacks().Abort(t.id));
  } else {
    return Status::InvalidArgument("Unknown action " + action + ".");
  }
  STRATA_ASSIGN_OR_RETURN(db::TaskRecord now, e->catalog()->GetTask(t.id));
  return ApiResponse::Json(202, {{"rollback", View(now)}});
}

}  // namespace

void AddInstantRollbackRoutes(Router& r, engine::Engine* e,
                              std::string default_project) {
  const std::string base = kBase;
  r.Add("POST", base, [e, default_project](ApiRequest& q) {
    return Create(e, q, default_project);
  });
  r.Add("GET", base, [e](ApiRequest& q) -> HandlerResult {
    const bool all =
        q.ctx.is_admin && q.Query("all_tenants").value_or("0") != "0";
    STRATA_ASSIGN_OR_RETURN(
        auto rows, e->catalog()->TasksOfKind("instant_rollback", kListLimit));
    nlohmann::json items = nlohmann::json::array();
    for (const auto& t : rows) {
      auto v = e->catalog()->GetVolume(t.volume_id);
      if (!v.ok() || (!all && v->project_id != q.ctx.project_id)) continue;
      items.push_back(View(t));
    }
    return ApiResponse::Json(200, {{"rollbacks", items}});
  });
  r.Add("GET", base + "/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::TaskRecord t,
                            Load(e, q.ctx, q.params.at("id")));
    return ApiResponse::Json(200, {{"rollback", View(t)}});
  });
  r.Add("POST", base + "/{id}/action",
        [e](ApiRequest& q) { return Action(e, q); });
}

}  // namespace strata::api
