// Strata's snapshots as Glance v2 images (read-only): GET /v2/images and
// /v2/images/{id}, also under /v2.1/ because clients given one endpoint for
// every service (openstack --os-auth-type none) look images up there after
// `server image create`. An image is a snapshot; its status maps as Glance's
// does (creating → saving, available → active, error → killed, deleting →
// pending_delete). Other projects' snapshots are invisible (404).
#include "api/handlers.h"
#include "api/list_params.h"
#include "engine/engine.h"
#include "util/time_util.h"

namespace strata::api {
namespace {

std::string GlanceStatus(const std::string& s) {
  if (s == "available") return "active";
  if (s == "creating") return "saving";
  if (s == "error") return "killed";
  if (s == "deleting" || s == "error_deleting") return "pending_delete";
  return "queued";
}

std::string GlanceTime(int64_t micros) {
  return FormatIsoMicros(micros).substr(0, 19) + "Z";
}

nlohmann::json ImageView(const db::SnapshotRecord& s) {
  nlohmann::json j = {
      {"id", s.id},
      {"name", s.name},
      {"status", GlanceStatus(s.status)},
      {"visibility", "private"},
      {"protected", false},
      {"os_hidden", false},
      {"owner", s.project_id},
      {"disk_format", "qcow2"},
      {"container_format", "bare"},
      {"size",
       s.store_key ? nlohmann::json(s.layer_bytes) : nlohmann::json(nullptr)},
      {"virtual_size", s.virtual_size},
      {"checksum", nullptr},
      {"os_hash_algo",
       s.sha256 ? nlohmann::json("sha256") : nlohmann::json(nullptr)},
      {"os_hash_value",
       s.sha256 ? nlohmann::json(*s.sha256) : nlohmann::json(nullptr)},
      {"min_disk", engine::SizeGiB(s.virtual_size)},
      {"min_ram", 0},
      {"tags", nlohmann::json::array()},
      {"created_at", GlanceTime(s.created_at)},
      {"updated_at", GlanceTime(s.updated_at)},
      {"self", "/v2/images/" + s.id},
      {"file", "/v2/images/" + s.id + "/file"},
      {"schema", "/v2/schemas/image"},
      // Strata's own facts, as Glance custom properties.
      {"strata_volume_id", s.volume_id},
      {"strata_parent_id", s.parent_id ? *s.parent_id : ""},
  };
  // Taken with the server's memory (createImage with os-strata:memory):
  // the memory part's state, "complete" when it restores.
  if (!s.memory_state.empty()) j["strata_memory"] = s.memory_state;
  for (const auto& [k, v] : s.metadata)
    if (!j.contains(k)) j[k] = v;  // instance_uuid, image_type, …
  return j;
}

Result<db::SnapshotRecord> LoadImage(engine::Engine* e, const ApiRequest& req) {
  const std::string& id = req.params.at("id");
  auto s = VisibleSnapshot(e, req.ctx, id);
  if (!s) return Status::NotFound("No image found with ID " + id);
  return *s;
}

HandlerResult List(engine::Engine* e, ApiRequest& req) {
  db::ListQuery q;
  q.project_id = req.ctx.project_id;
  q.limit = 1000;
  if (auto n = req.Query("name")) q.filters["name"] = *n;
  if (auto m = req.Query("marker")) q.marker = *m;
  if (auto l = req.Query("limit"))
    q.limit = std::min<int64_t>(std::atoll(l->c_str()), 1000);
  STRATA_ASSIGN_OR_RETURN(auto page, e->catalog()->ListSnapshots(q));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& s : page.rows) {
    auto st = req.Query("status");
    if (st && GlanceStatus(s.status) != *st) continue;
    auto id = req.Query("id");
    if (id && s.id != *id) continue;
    items.push_back(ImageView(s));
  }
  nlohmann::json body = {{"images", items},
                         {"first", "/v2/images"},
                         {"schema", "/v2/schemas/images"}};
  if (page.more && !page.rows.empty())
    body["next"] = "/v2/images?marker=" + page.rows.back().id;
  return ApiResponse::Json(200, body);
}

}  // namespace

void AddImageRoutes(Router& r, engine::Engine* e) {
  for (const std::string prefix : {"/v2", "/v2.1"}) {
    r.Add("GET", prefix + "/images", [e](ApiRequest& q) { return List(e, q); });
    r.Add("GET", prefix + "/images/{id}", [e](ApiRequest& q) -> HandlerResult {
      STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, LoadImage(e, q));
      return ApiResponse::Json(200, ImageView(s));
    });
  }
}

}  // namespace strata::api
