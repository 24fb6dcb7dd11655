// Long operations (issue 20: the dashboard's task view, the CLI's `task`
// commands), an extension in Cinder's style under /v3/{project_id}/os-tasks:
//   GET …?volume_id=&status=&limit=  → {"tasks": [...]}, newest first
//                                      (all_tenants=1: an admin's every
//                                      project)
//   GET …/{id}                       → {"task"}
// Every journalled disk operation is a task (snapshot create and delete,
// revert, instant rollback, backup, …): its kind, phase (the journal's
// step), progress, outcome and times. A task belongs to its volume's
// project; another project's is a 404.
#include "api/handlers.h"
#include "util/time_util.h"

namespace strata::api {
namespace {

constexpr char kBase[] = "/v3/os-tasks";

std::string Iso(int64_t micros) {
  return micros > 0 ? FormatIsoMicros(micros) : std::string();
}

nlohmann::json View(const db::TaskRecord& t) {
  const bool done = t.status != "running";
  nlohmann::json j = {
      {"id", t.id},
      {"kind", t.kind},
      {"volume_id", t.volume_id},
      {"snapshot_id", t.snapshot_id ? nlohmann::json(*t.snapshot_id)
                                    : nlohmann::json(nullptr)},
      {"status", t.status},
      {"step", t.step},
      // The journal's step while it runs; its outcome once it ended.
      {"phase", t.kind == "instant_rollback" ? engine::InstantRollbackPhase(t)
                : done || t.step.empty()     ? t.status
                                             : t.step},
      {"progress", t.progress},
      {"error",
       t.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.error)},
      {"created_at", Iso(t.created_at)},
      {"updated_at", Iso(t.updated_at)},
      // Running: so far; ended: start to end.
      {"seconds", ((done ? t.updated_at : NowMicros()) - t.created_at) / 1e6}};
  return j;
}

HandlerResult List(engine::Engine* e, ApiRequest& q) {
  db::Catalog::TaskFilter f;
  const bool all =
      q.ctx.is_admin && q.Query("all_tenants").value_or("0") != "0";
  if (!all) f.project_id = q.ctx.project_id;
  f.volume_id = q.Query("volume_id").value_or("");
  f.status = q.Query("status").value_or("");
  if (!f.status.empty() && f.status != "running" && f.status != "succeeded" &&
      f.status != "failed")
    return Status::InvalidArgument(
        "Invalid input for field/attribute status: running, succeeded or "
        "failed.");
  if (auto limit = q.Query("limit")) {
    char* end = nullptr;
    const long n = std::strtol(limit->c_str(), &end, 10);
    if (limit->empty() || *end != '\0' || n < 1 || n > 1000)
      return Status::InvalidArgument(
          "Invalid input for field/attribute limit: a whole number from 1 to "
          "1000.");
    f.limit = static_cast<int>(n);
  }
  STRATA_ASSIGN_OR_RETURN(auto rows, e->catalog()->ListTasks(f));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& t : rows) items.push_back(View(t));
  return ApiResponse::Json(200, {{"tasks", items}});
}

HandlerResult Show(engine::Engine* e, ApiRequest& q) {
  const std::string& id = q.params.at("id");
  const std::string missing = "Task " + id + " could not be found.";
  auto t = e->catalog()->GetTask(id);
  if (!t.ok() && !t.status().IsNotFound()) return t.status();
  if (!t.ok()) return Status::NotFound(missing);
  auto v = e->catalog()->GetVolume(t->volume_id);
  if (!q.ctx.is_admin && (!v.ok() || v->project_id != q.ctx.project_id))
    return Status::NotFound(missing);
  return ApiResponse::Json(200, {{"task", View(*t)}});
}

}  // namespace

void AddTaskRoutes(Router& r, engine::Engine* e) {
  r.Add("GET", kBase, [e](ApiRequest& q) { return List(e, q); });
  r.Add("GET", std::string(kBase) + "/{id}",
        [e](ApiRequest& q) { return Show(e, q); });
}

}  // namespace strata::api
