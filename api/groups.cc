// Cinder v3 generic volume groups (≥ 3.13) and group snapshots (≥ 3.14),
// issue 18: groups create, list, detail, show, update (name, description,
// add_volumes / remove_volumes), the delete action (delete-volumes),
// create-from-src (a group snapshot or another group, ≥ 3.14) and
// reset_status (admins, ≥ 3.20); group snapshots create, list, detail,
// show, delete and reset_status (admins, ≥ 3.19). Views and codes as
// Cinder's groups and group_snapshots controllers (202 for every change).
// Another project's group or group snapshot is a 404. The work is
// engine/group_lifecycle.h's; a group snapshot is one consistent cut of the
// members (engine/group_cut.cc).
// Thread-safety: handlers are reentrant.
#include <algorithm>
#include <sstream>

#include "api/body.h"
#include "api/handlers.h"
#include "api/list_params.h"
#include "api/quotas.h"
#include "api/views.h"
#include "coordinator/group_coordinator.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {
namespace {

const std::set<std::string> kGroupStatuses = {
    "creating",       "available", "deleting", "error",
    "error_deleting", "in-use",    "updating"};
const std::set<std::string> kGroupSnapshotStatuses = {
    "creating", "available", "deleting", "error", "error_deleting"};

Status NeedsVersion(const ApiRequest& req, int minor, const char* what) {
  if (!req.version.AtLeast(3, minor))
    return Status::NotFound(std::string(what) + " need microversion 3." +
                            std::to_string(minor) + ".");
  return Status::OK();
}

// `volumes`: the member volume ids, shown (≥ 3.25) when there are any.
nlohmann::json GroupDetail(const ApiRequest& req, const db::GroupRecord& g,
                           const std::vector<std::string>& volumes = {}) {
  nlohmann::json j = {{"id", g.id},
                      {"name", g.name},
                      {"status", g.status},
                      {"description", g.description},
                      {"availability_zone", g.availability_zone},
                      {"created_at", FormatIsoMicros(g.created_at)},
                      {"group_type", g.group_type_id},
                      {"volume_types", g.volume_type_ids},
                      {"group_snapshot_id", OrNull(g.group_snapshot_id)},
                      {"source_group_id", OrNull(g.source_group_id)}};
  if (req.version.AtLeast(3, 25) && !volumes.empty()) j["volumes"] = volumes;
  if (req.version.AtLeast(3, 38)) j["replication_status"] = "disabled";
  return j;
}

nlohmann::json GroupSnapshotDetail(const db::GroupSnapshotRecord& g) {
  return {{"id", g.id},
          {"name", g.name},
          {"status", g.status},
          {"description", g.description},
          {"created_at", FormatIsoMicros(g.created_at)},
          {"group_id", g.group_id},
          {"group_type_id", g.group_type_id}};
}

Result<std::vector<std::string>> MemberIds(engine::Engine* e,
                                           const std::string& group_id) {
  STRATA_ASSIGN_OR_RETURN(auto vols, e->catalog()->VolumesOfGroup(group_id));
  std::vector<std::string> ids;
  for (const auto& v : vols) ids.push_back(v.id);
  return ids;
}

// The caller's group (an admin sees any), status settled, or 404.
Result<db::GroupRecord> LoadGroup(engine::Engine* e, const ApiRequest& req,
                                  const std::string& id) {
  return VisibleRow(req.ctx, e->groups().GetGroup(id),
                    "Group " + id + " could not be found.");
}

Result<db::GroupSnapshotRecord> LoadGroupSnapshot(engine::Engine* e,
                                                  const ApiRequest& req,
                                                  const std::string& id) {
  return VisibleRow(req.ctx, e->groups().GetGroupSnapshot(id),
                    "GroupSnapshot " + id + " could not be found.");
}

// "id1,id2" (Cinder's add_volumes / remove_volumes, the os-strata:servers
// group spec), blanks around each id dropped.
std::vector<std::string> SplitIds(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string id;
  while (std::getline(in, id, ','))
    if (id.find_first_not_of(" \t") != std::string::npos) {
      id.erase(0, id.find_first_not_of(" \t"));
      id.erase(id.find_last_not_of(" \t") + 1);
      out.push_back(id);
    }
  return out;
}

// The status of a reset_status action body, one of `allowed`.
Result<std::string> ResetStatus(const ApiRequest& req,
                                const std::set<std::string>& allowed) {
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* a,
                          RequireObject(req.body, "reset_status"));
  STRATA_ASSIGN_OR_RETURN(std::string status, RequireString(*a, "status"));
  if (!allowed.count(status))
    return Status::InvalidArgument("Invalid input received: " + status +
                                   " is not a valid status.");
  return status;
}

// ---- groups ----

HandlerResult CreateGroup(engine::Engine* e, ApiRequest& req,
                          const std::string& zone) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 13, "Groups"));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "group"));
  db::GroupRecord g;
  g.id = NewUuid();
  g.project_id = req.ctx.project_id;
  g.user_id = req.ctx.user_id;
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name", 255));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description", 255));
  g.name = name.value_or("");
  g.description = desc.value_or("");
  STRATA_ASSIGN_OR_RETURN(auto az, OptString(*b, "availability_zone", 255));
  if (az && *az != zone)
    return Status::InvalidArgument(
        "Invalid input received: Availability zone '" + *az + "' is invalid.");
  g.availability_zone = zone;
  STRATA_ASSIGN_OR_RETURN(auto type_ref, OptString(*b, "group_type", 255));
  if (!type_ref)
    return Status::InvalidArgument(
        "Invalid input received: group_type must be provided to create "
        "group " +
        g.name + ".");
  auto type = e->catalog()->GetGroupType(*type_ref);
  if (!type.ok() || (!type->is_public && !req.ctx.is_admin))
    return Status::NotFound("Group type " + *type_ref + " could not be found.");
  g.group_type_id = type->id;
  if (!b->contains("volume_types") || !(*b)["volume_types"].is_array() ||
      (*b)["volume_types"].empty())
    return Status::InvalidArgument(
        "Invalid input received: volume_types must be provided to create "
        "group " +
        g.name + ".");
  for (const auto& v : (*b)["volume_types"]) {
    if (!v.is_string())
      return Status::InvalidArgument(
          "Invalid input received: volume_types must be a list of names or "
          "ids.");
    STRATA_ASSIGN_OR_RETURN(
        db::VolumeTypeRecord t,
        e->catalog()->ResolveVolumeType(v.get<std::string>(), req.ctx.is_admin,
                                        req.ctx.project_id));
    g.volume_type_ids.push_back(t.id);
  }
  STRATA_ASSIGN_OR_RETURN(g, e->groups().CreateGroup(g));
  return ApiResponse::Json(202, {{"group", {{"id", g.id}, {"name", g.name}}}});
}

HandlerResult CreateGroupFromSource(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 14, "Groups from a source"));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "create-from-src"));
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name", 255));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description", 255));
  STRATA_ASSIGN_OR_RETURN(auto snap_id, OptString(*b, "group_snapshot_id", 36));
  STRATA_ASSIGN_OR_RETURN(auto src_id, OptString(*b, "source_group_id", 36));
  if ((snap_id ? 1 : 0) + (src_id ? 1 : 0) != 1)
    return Status::InvalidArgument(
        "Invalid input received: Either 'group_snapshot_id' or "
        "'source_group_id' must be provided to create group " +
        name.value_or("") + " from source.");
  db::GroupRecord g;
  std::vector<db::VolumeRecord> members;
  if (snap_id) {
    STRATA_ASSIGN_OR_RETURN(db::GroupSnapshotRecord gs,
                            LoadGroupSnapshot(e, req, *snap_id));
    STRATA_ASSIGN_OR_RETURN(db::GroupRecord src,
                            e->catalog()->GetGroup(gs.group_id));
    g = src;
    g.group_snapshot_id = gs.id;
    g.source_group_id.reset();
    STRATA_ASSIGN_OR_RETURN(auto snaps,
                            e->catalog()->SnapshotsOfGroupSnapshot(gs.id));
    for (const auto& s : snaps) {
      STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v,
                              e->catalog()->GetVolume(s.volume_id));
      v.virtual_size = s.virtual_size;
      members.push_back(v);
    }
  } else {
    STRATA_ASSIGN_OR_RETURN(db::GroupRecord src, LoadGroup(e, req, *src_id));
    g = src;
    g.group_snapshot_id.reset();
    g.source_group_id = src.id;
    STRATA_ASSIGN_OR_RETURN(members, e->catalog()->VolumesOfGroup(src.id));
  }
  g.id = NewUuid();
  g.project_id = req.ctx.project_id;
  g.user_id = req.ctx.user_id;
  g.name = name.value_or("");
  g.description = desc.value_or("");
  // The new volumes count against the project's quotas, as Cinder's.
  auto quota_lock = HoldQuotaLock();
  QuotaDelta d;
  for (const auto& m : members) {
    d.volumes += 1;
    d.gigabytes += engine::SizeGiB(m.virtual_size);
    d.volume_size = std::max(d.volume_size, engine::SizeGiB(m.virtual_size));
    if (!d.volume_type_id) d.volume_type_id = m.volume_type_id;
  }
  if (!members.empty())
    STRATA_RETURN_IF_ERROR(EnforceQuota(e, g.project_id, d));
  STRATA_ASSIGN_OR_RETURN(g, e->groups().CreateGroup(g));
  return ApiResponse::Json(202, {{"group", {{"id", g.id}, {"name", g.name}}}});
}

HandlerResult ListGroups(engine::Engine* e, ApiRequest& req, bool detail) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 13, "Groups"));
  STRATA_ASSIGN_OR_RETURN(db::ListQuery q,
                          ParseListQuery(req, {"name", "status", "project_id",
                                               "group_type", "list_volume"}));
  // list_volume is a view option, not a filter on a column.
  q.filters.erase("list_volume");
  STRATA_ASSIGN_OR_RETURN(auto page, e->groups().ListGroups(q));
  nlohmann::json items = nlohmann::json::array();
  // Cinder lists the members only when asked (list_volume=True).
  const auto list_volume = req.Query("list_volume");
  const bool with_volumes =
      list_volume &&
      (*list_volume == "True" || *list_volume == "true" || *list_volume == "1");
  for (const auto& g : page.rows) {
    if (!detail) {
      items.push_back({{"id", g.id}, {"name", g.name}});
      continue;
    }
    std::vector<std::string> ids;
    if (with_volumes) {
      STRATA_ASSIGN_OR_RETURN(ids, MemberIds(e, g.id));
    }
    items.push_back(GroupDetail(req, g, ids));
  }
  nlohmann::json body = {{"groups", items}};
  if (page.more && !page.rows.empty())
    body["group_links"] =
        NextLink(req, detail ? "groups/detail" : "groups", page.rows.back().id);
  return ApiResponse::Json(200, body);
}

HandlerResult ShowGroup(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 13, "Groups"));
  STRATA_ASSIGN_OR_RETURN(db::GroupRecord g,
                          LoadGroup(e, req, req.params.at("id")));
  STRATA_ASSIGN_OR_RETURN(auto ids, MemberIds(e, g.id));
  return ApiResponse::Json(200, {{"group", GroupDetail(req, g, ids)}});
}

HandlerResult UpdateGroup(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 13, "Groups"));
  STRATA_ASSIGN_OR_RETURN(db::GroupRecord g,
                          LoadGroup(e, req, req.params.at("id")));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "group"));
  engine::GroupUpdate u;
  STRATA_ASSIGN_OR_RETURN(u.name, OptString(*b, "name", 255));
  STRATA_ASSIGN_OR_RETURN(u.description, OptString(*b, "description", 255));
  STRATA_ASSIGN_OR_RETURN(auto add, OptString(*b, "add_volumes"));
  STRATA_ASSIGN_OR_RETURN(auto remove, OptString(*b, "remove_volumes"));
  if (add) u.add_volumes = SplitIds(*add);
  if (remove) u.remove_volumes = SplitIds(*remove);
  if (!u.name && !u.description && u.add_volumes.empty() &&
      u.remove_volumes.empty())
    return Status::InvalidArgument(
        "Invalid input received: Name, description, add_volumes, and "
        "remove_volumes can not be all empty in the request body.");
  STRATA_RETURN_IF_ERROR(e->groups().UpdateGroup(g.id, u));
  return ApiResponse::Empty(202);
}

HandlerResult GroupAction(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 13, "Groups"));
  STRATA_ASSIGN_OR_RETURN(db::GroupRecord g,
                          LoadGroup(e, req, req.params.at("id")));
  if (!req.body.is_object() || req.body.size() != 1)
    return Status::InvalidArgument(
        "Malformed request body: one action expected.");
  const std::string action = req.body.begin().key();
  if (action == "delete") {
    STRATA_ASSIGN_OR_RETURN(const nlohmann::json* a,
                            RequireObject(req.body, "delete"));
    STRATA_ASSIGN_OR_RETURN(bool delete_volumes,
                            OptBool(*a, "delete-volumes", false));
    STRATA_RETURN_IF_ERROR(e->groups().DeleteGroup(g.id, delete_volumes));
    return ApiResponse::Empty(202);
  }
  if (action == "reset_status") {
    STRATA_RETURN_IF_ERROR(NeedsVersion(req, 20, "Group status resets"));
    STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGroupResetStatus));
    STRATA_ASSIGN_OR_RETURN(std::string status,
                            ResetStatus(req, kGroupStatuses));
    STRATA_RETURN_IF_ERROR(
        e->catalog()->ModifyGroup(g.id, [&](db::GroupRecord& r) {
          r.status = status;
          r.follows_members = false;
          return Status::OK();
        }));
    return ApiResponse::Empty(202);
  }
  return Status::InvalidArgument("Invalid input received: group action " +
                                 action + " is not supported by Strata.");
}

// ---- group snapshots ----

// The servers a group snapshot is to cut: the request's
// "os-strata:servers" (a list), else the group type's group spec of that
// name (a comma-separated list, so an unmodified client can snapshot
// them); none for a group of volumes.
Result<std::vector<std::string>> ServersOf(engine::Engine* e,
                                           const nlohmann::json& b,
                                           const db::GroupRecord& g) {
  constexpr char kKey[] = "os-strata:servers";
  if (b.contains(kKey)) {
    STRATA_ASSIGN_OR_RETURN(auto out, OptIdList(b, kKey));
    if (out.empty())
      return Status::InvalidArgument(
          "Invalid input for field/attribute os-strata:servers: a list of "
          "server ids.");
    return out;
  }
  auto type = e->catalog()->GetGroupType(g.group_type_id);
  if (!type.ok()) return std::vector<std::string>();
  auto it = type->group_specs.find(kKey);
  if (it == type->group_specs.end()) return std::vector<std::string>();
  return SplitIds(it->second);
}

HandlerResult CreateGroupSnapshot(engine::Engine* e,
                                  coordinator::GroupCoordinator* coord,
                                  ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 14, "Group snapshots"));
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "group_snapshot"));
  STRATA_ASSIGN_OR_RETURN(std::string group_id,
                          RequireString(*b, "group_id", 36));
  STRATA_ASSIGN_OR_RETURN(auto name, OptString(*b, "name", 255));
  STRATA_ASSIGN_OR_RETURN(auto desc, OptString(*b, "description", 255));
  STRATA_ASSIGN_OR_RETURN(db::GroupRecord g, LoadGroup(e, req, group_id));
  // A group of servers on any hosts (issue 22): the request's
  // "os-strata:servers", else its group type's spec of that name.
  STRATA_ASSIGN_OR_RETURN(auto servers, ServersOf(e, *b, g));
  if (!servers.empty()) {
    if (!coord)
      return Status::InvalidArgument(
          "Invalid input received: this stratad coordinates no group "
          "snapshots of servers.");
    coordinator::CoordinatedSnapshot cs;
    cs.row.id = NewUuid();
    cs.row.group_id = g.id;
    cs.row.group_type_id = g.group_type_id;
    cs.row.project_id = req.ctx.project_id;
    cs.row.user_id = req.ctx.user_id;
    cs.row.name = name.value_or("");
    cs.row.description = desc.value_or("");
    cs.servers = std::move(servers);
    cs.token = req.Header("x-auth-token");
    STRATA_ASSIGN_OR_RETURN(db::GroupSnapshotRecord gs,
                            coord->Start(std::move(cs)));
    return ApiResponse::Json(202, {{"group_snapshot",
                                    {{"id", gs.id},
                                     {"name", gs.name},
                                     {"group_type_id", gs.group_type_id}}}});
  }
  STRATA_ASSIGN_OR_RETURN(auto members, e->catalog()->VolumesOfGroup(g.id));
  // One snapshot a member, against the project's quotas.
  auto quota_lock = HoldQuotaLock();
  QuotaDelta d;
  for (const auto& m : members) {
    d.snapshots += 1;
    d.gigabytes += engine::SizeGiB(m.virtual_size);
    if (!d.volume_type_id) d.volume_type_id = m.volume_type_id;
  }
  if (!members.empty())
    STRATA_RETURN_IF_ERROR(EnforceQuota(e, g.project_id, d));
  STRATA_ASSIGN_OR_RETURN(db::GroupSnapshotRecord gs,
                          e->groups().CreateGroupSnapshot(
                              g.id, name.value_or(""), desc.value_or(""),
                              req.ctx.project_id, req.ctx.user_id));
  return ApiResponse::Json(202, {{"group_snapshot",
                                  {{"id", gs.id},
                                   {"name", gs.name},
                                   {"group_type_id", gs.group_type_id}}}});
}

HandlerResult ListGroupSnapshots(engine::Engine* e, ApiRequest& req,
                                 bool detail) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 14, "Group snapshots"));
  STRATA_ASSIGN_OR_RETURN(
      db::ListQuery q,
      ParseListQuery(req, {"name", "status", "project_id", "group_id"}));
  STRATA_ASSIGN_OR_RETURN(auto page, e->groups().ListGroupSnapshots(q));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& g : page.rows)
    items.push_back(detail ? GroupSnapshotDetail(g)
                           : nlohmann::json{{"id", g.id}, {"name", g.name}});
  nlohmann::json body = {{"group_snapshots", items}};
  if (page.more && !page.rows.empty())
    body["group_snapshot_links"] =
        NextLink(req, detail ? "group_snapshots/detail" : "group_snapshots",
                 page.rows.back().id);
  return ApiResponse::Json(200, body);
}

HandlerResult ShowGroupSnapshot(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 14, "Group snapshots"));
  STRATA_ASSIGN_OR_RETURN(db::GroupSnapshotRecord g,
                          LoadGroupSnapshot(e, req, req.params.at("id")));
  return ApiResponse::Json(200, {{"group_snapshot", GroupSnapshotDetail(g)}});
}

// A coordinated group snapshot (issue 22) goes from every host; a
// coordinator's request for one host's part (X-Strata-Group-Part: its
// instance id) deletes only the part here, and none when it comes from
// this very process (the coordinator handles its own part itself).
HandlerResult DeleteGroupSnapshot(engine::Engine* e,
                                  coordinator::GroupCoordinator* coord,
                                  ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 14, "Group snapshots"));
  const std::string part = req.Header("x-strata-group-part");
  if (!part.empty() && coord && part == coord->instance())
    return ApiResponse::Empty(204);
  STRATA_ASSIGN_OR_RETURN(db::GroupSnapshotRecord g,
                          LoadGroupSnapshot(e, req, req.params.at("id")));
  if (part.empty() && coord && coord->Coordinates(g.id))
    STRATA_RETURN_IF_ERROR(coord->Delete(g.id, req.Header("x-auth-token")));
  else
    STRATA_RETURN_IF_ERROR(e->groups().DeleteGroupSnapshot(g.id));
  return ApiResponse::Empty(202);
}

HandlerResult GroupSnapshotAction(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedsVersion(req, 19, "Group snapshot actions"));
  STRATA_ASSIGN_OR_RETURN(db::GroupSnapshotRecord g,
                          LoadGroupSnapshot(e, req, req.params.at("id")));
  if (!req.body.is_object() || req.body.size() != 1 ||
      !req.body.contains("reset_status"))
    return Status::InvalidArgument(
        "Invalid input received: the only group snapshot action is "
        "reset_status.");
  STRATA_RETURN_IF_ERROR(req.ctx.Enforce(rules::kGroupSnapshotResetStatus));
  STRATA_ASSIGN_OR_RETURN(std::string status,
                          ResetStatus(req, kGroupSnapshotStatuses));
  STRATA_RETURN_IF_ERROR(
      e->catalog()->ModifyGroupSnapshot(g.id, [&](db::GroupSnapshotRecord& r) {
        r.status = status;
        r.follows_members = false;
        return Status::OK();
      }));
  return ApiResponse::Empty(202);
}

}  // namespace

void AddGroupRoutes(Router& r, engine::Engine* e, std::string availability_zone,
                    coordinator::GroupCoordinator* coord) {
  auto bind = [e](HandlerResult (*fn)(engine::Engine*, ApiRequest&)) {
    return [e, fn](ApiRequest& q) { return fn(e, q); };
  };
  r.Add("POST", "/v3/groups", [e, availability_zone](ApiRequest& q) {
    return CreateGroup(e, q, availability_zone);
  });
  r.Add("GET", "/v3/groups",
        [e](ApiRequest& q) { return ListGroups(e, q, false); });
  r.Add("GET", "/v3/groups/detail",
        [e](ApiRequest& q) { return ListGroups(e, q, true); });
  r.Add("POST", "/v3/groups/action", bind(CreateGroupFromSource));
  r.Add("GET", "/v3/groups/{id}", bind(ShowGroup));
  r.Add("PUT", "/v3/groups/{id}", bind(UpdateGroup));
  r.Add("POST", "/v3/groups/{id}/action", bind(GroupAction));
  r.Add("POST", "/v3/group_snapshots",
        [e, coord](ApiRequest& q) { return CreateGroupSnapshot(e, coord, q); });
  r.Add("GET", "/v3/group_snapshots",
        [e](ApiRequest& q) { return ListGroupSnapshots(e, q, false); });
  r.Add("GET", "/v3/group_snapshots/detail",
        [e](ApiRequest& q) { return ListGroupSnapshots(e, q, true); });
  r.Add("GET", "/v3/group_snapshots/{id}", bind(ShowGroupSnapshot));
  r.Add("DELETE", "/v3/group_snapshots/{id}",
        [e, coord](ApiRequest& q) { return DeleteGroupSnapshot(e, coord, q); });
  r.Add("POST", "/v3/group_snapshots/{id}/action", bind(GroupSnapshotAction));
}

}  // namespace strata::api
