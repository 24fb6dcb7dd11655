// This host's part of a group snapshot's cut, driven by the stratad that
// coordinates it (issue 22, R4.4; engine/group_hold.h says the protocol):
//   POST …/os-strata-group-cuts {"group_cut": {"id", "group_id",
//        "group_type_id", "name", "description", "servers": [uuid…],
//        "volumes": [id…], "hold_ms"}}  → 200 {"group_cut"} once this
//        host's writers are held (409 when they could not be)
//   POST …/{id}/action {"cut": {}}     → 200 once every member is cut (409
//        when the hold ended first: deadline or abort)
//                      {"release": {}} → 200 once the writers run again;
//        "held_through" says whether the cut is consistent
//                      {"abort": {}}   → 200, the writers run again
//   GET  …/{id}                         → 200 {"group_cut"}
// `id` is the coordinator's group snapshot id: the members are listed here
// as that group snapshot's. Admins and services only (strata:group_cut).
#include <algorithm>

#include "api/body.h"
#include "api/handlers.h"
#include "api/policy.h"
#include "util/time_util.h"

namespace strata::api {
namespace {

constexpr char kBase[] = "/v3/os-strata-group-cuts";

Result<nlohmann::json> View(engine::Engine* e,
                            const engine::GroupCutReport& r) {
  STRATA_ASSIGN_OR_RETURN(std::string members_status,
                          e->groups().MembersStatus(r.id));
  auto iso = [](int64_t us) {
    return us > 0 ? nlohmann::json(FormatIsoMicros(us))
                  : nlohmann::json(nullptr);
  };
  return nlohmann::json{{"id", r.id},
                        {"phase", r.phase},
                        {"snapshot_ids", r.snapshot_ids},
                        {"held_servers", r.domains},
                        {"held_at", iso(r.held_at)},
                        {"cut_at", iso(r.cut_at)},
                        {"cut_at_us", r.cut_at},  // for the coordinator's skew
                        {"released_at", iso(r.released_at)},
                        {"hold_ms", r.hold_ms},
                        {"held_through", r.held_through},
                        {"members_status", members_status},
                        {"error", r.error.empty() ? nlohmann::json(nullptr)
                                                  : nlohmann::json(r.error)}};
}

HandlerResult Hold(engine::Engine* e, ApiRequest& q,
                   const std::string& default_project) {
  STRATA_RETURN_IF_ERROR(q.ctx.Enforce(rules::kGroupCut));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(q.body, "group_cut"));
  for (auto it = b->begin(); it != b->end(); ++it)
    if (it.key() != "id" && it.key() != "group_id" &&
        it.key() != "group_type_id" && it.key() != "name" &&
        it.key() != "description" && it.key() != "servers" &&
        it.key() != "volumes" && it.key() != "hold_ms")
      return Status::InvalidArgument("Invalid input for field/attribute " +
                                     it.key() + ": unknown field.");
  engine::GroupCutRequest r;
  STRATA_ASSIGN_OR_RETURN(r.id, RequireString(*b, "id", 36));
  STRATA_ASSIGN_OR_RETURN(auto group, OptString(*b, "group_id", 36));
  STRATA_ASSIGN_OR_RETURN(auto type, OptString(*b, "group_type_id", 36));
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name"));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description"));
  r.group_id = group.value_or("");
  r.group_type_id = type.value_or("");
  r.name = name.value_or("");
  r.description = desc.value_or("");
  if (b->contains("hold_ms")) {
    if (!(*b)["hold_ms"].is_number_integer() || (*b)["hold_ms"] < 1)
      return Status::InvalidArgument(
          "Invalid input for field/attribute hold_ms: a positive number of "
          "milliseconds.");
    r.hold_ms = (*b)["hold_ms"].get<int64_t>();
  }
  STRATA_ASSIGN_OR_RETURN(auto servers, OptIdList(*b, "servers"));
  STRATA_ASSIGN_OR_RETURN(r.volume_ids, OptIdList(*b, "volumes"));
  if (servers.empty() && r.volume_ids.empty())
    return Status::InvalidArgument(
        "A group cut needs servers or volumes of this host.");
  for (const auto& v : r.volume_ids) {
    auto vol = e->catalog()->GetVolume(v);
    if (!vol.ok())
      return Status::NotFound("Volume " + v + " could not be found.");
  }
  // Every qcow2 disk of each server (a file, or one of Strata's exports).
  for (const auto& id : servers) {
    STRATA_ASSIGN_OR_RETURN(hypervisor::DomainInfo dom,
                            VisibleServer(e, q.ctx, id, default_project));
    size_t found = 0;
    for (const auto& disk : dom.disks) {
      if (disk.nbd_socket.empty() &&
          (disk.source.empty() || disk.format != "qcow2"))
        continue;
      STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                              e->ServerDiskVolume(dom, disk, default_project));
      r.volume_ids.push_back(vol.id);
      ++found;
    }
    if (found == 0)
      return Status::Conflict("Instance " + dom.uuid +
                              " has no qcow2 disk to snapshot.");
  }
  std::sort(r.volume_ids.begin(), r.volume_ids.end());
  r.volume_ids.erase(std::unique(r.volume_ids.begin(), r.volume_ids.end()),
                     r.volume_ids.end());
  auto first = e->catalog()->GetVolume(r.volume_ids[0]);
  r.project_id = first.ok() ? first->project_id : q.ctx.project_id;
  r.user_id = q.ctx.user_id;
  STRATA_ASSIGN_OR_RETURN(engine::GroupCutReport rep,
                          e->groups().HoldGroupCut(r));
  if (rep.phase != "held")
    return Status::Conflict("Group cut " + rep.id + " is " + rep.phase +
                            ", not held: " + rep.error);
  STRATA_ASSIGN_OR_RETURN(nlohmann::json view, View(e, rep));
  return ApiResponse::Json(200, {{"group_cut", view}});
}

HandlerResult Action(engine::Engine* e, ApiRequest& q) {
  STRATA_RETURN_IF_ERROR(q.ctx.Enforce(rules::kGroupCut));
  const std::string& id = q.params.at("id");
  if (!q.body.is_object() || q.body.size() != 1)
    return Status::InvalidArgument(
        "Malformed request body: one action expected.");
  const std::string action = q.body.begin().key();
  if (action != "cut" && action != "release" && action != "abort")
    return Status::InvalidArgument("Unknown action " + action + ".");
  STRATA_ASSIGN_OR_RETURN(engine::GroupCutReport rep,
                          action == "cut" ? e->groups().CutGroupCut(id)
                          : action == "release"
                              ? e->groups().ReleaseGroupCut(id)
                              : e->groups().AbortGroupCut(id));
  STRATA_ASSIGN_OR_RETURN(nlohmann::json view, View(e, rep));
  return ApiResponse::Json(200, {{"group_cut", view}});
}

}  // namespace

void AddGroupCutRoutes(Router& r, engine::Engine* e,
                       std::string default_project) {
  const std::string base = kBase;
  r.Add("POST", base, [e, default_project](ApiRequest& q) {
    return Hold(e, q, default_project);
  });
  r.Add("GET", base + "/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_RETURN_IF_ERROR(q.ctx.Enforce(rules::kGroupCut));
    STRATA_ASSIGN_OR_RETURN(auto rep,
                            e->groups().GetGroupCut(q.params.at("id")));
    STRATA_ASSIGN_OR_RETURN(nlohmann::json view, View(e, rep));
    return ApiResponse::Json(200, {{"group_cut", view}});
  });
  r.Add("POST", base + "/{id}/action",
        [e](ApiRequest& q) { return Action(e, q); });
}

}  // namespace strata::api
