// Cinder's generic volume groups and group snapshots. See
// group_lifecycle.h; messages are Cinder's (cinder/group/api.py).
#include "engine/group_lifecycle.h"

#include <algorithm>

#include "util/log.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::engine {
namespace {

bool AnyStatus(const auto& rows, const char* status) {
  return std::any_of(rows.begin(), rows.end(),
                     [&](const auto& r) { return r.status == status; });
}

std::string TypeOf(const db::VolumeRecord& v) {
  return v.volume_type_id.value_or(db::kDefaultVolumeTypeId);
}

// What a status that follows the members (a group's volumes, a group
// snapshot's snapshots) becomes: nullopt while they are still at work (or
// for a status that follows nothing), "" once a delete has taken them all
// (the row goes), else the status they settled on.
std::optional<std::string> FollowedStatus(const std::string& status,
                                          const auto& members) {
  if (status == "creating") {
    if (AnyStatus(members, "creating")) return std::nullopt;
    return AnyStatus(members, "error") ? "error" : "available";
  }
  if (status == "deleting") {
    if (members.empty()) return "";
    if (AnyStatus(members, "error_deleting")) return "error_deleting";
  }
  return std::nullopt;
}

// Puts FollowedStatus's answer `to` into `row` through the catalog's
// methods for its table: nothing, the row deleted (nullopt), or the new
// status, unless an admin's reset or another reader changed it meanwhile.
template <class Row>
Result<std::optional<Row>> ApplyFollowed(
    db::Catalog* c, Row row, const std::optional<std::string>& to,
    Status (db::Catalog::*drop)(const std::string&),
    Status (db::Catalog::*modify)(const std::string&,
                                  const std::function<Status(Row&)>&),
    Result<Row> (db::Catalog::*get)(const std::string&)) {
  if (!to) return std::optional<Row>(std::move(row));
  if (to->empty()) {
    Status s = (c->*drop)(row.id);
    if (!s.ok() && !s.IsNotFound()) return s;
    return std::optional<Row>();
  }
  const std::string from = row.status;
  STRATA_RETURN_IF_ERROR((c->*modify)(row.id, [&](Row& r) {
    if (!r.follows_members || r.status != from) return Status::OK();
    r.status = *to;
    r.follows_members = false;
    return Status::OK();
  }));
  STRATA_ASSIGN_OR_RETURN(row, (c->*get)(row.id));
  return std::optional<Row>(std::move(row));
}

// A listed page with every row settled by `settle`; rows whose delete
// finished drop out.
template <class Row, class Settler>
Result<db::ListResult<Row>> SettlePage(db::ListResult<Row> listed,
                                       const Settler& settle) {
  db::ListResult<Row> out = listed;
  out.rows.clear();
  for (auto& row : listed.rows) {
    STRATA_ASSIGN_OR_RETURN(auto settled, settle(std::move(row)));
    if (settled) out.rows.push_back(std::move(*settled));
  }
  return out;
}

}  // namespace

Status GroupIsUsable(const db::GroupRecord& g) {
  if (g.status != "available" && g.status != "in-use")
    return Status::InvalidArgument(
        "Invalid group: Group status must be available or in-use, but "
        "current status is: " +
        g.status + ".");
  return Status::OK();
}

Result<db::GroupRecord> GroupLifecycle::CreateGroup(db::GroupRecord g) {
  const bool from_source = g.group_snapshot_id || g.source_group_id;
  g.status = from_source ? "creating" : "available";
  g.follows_members = from_source;
  g.created_at = g.updated_at = NowMicros();
  STRATA_RETURN_IF_ERROR(catalog_->InsertGroup(g));
  if (from_source) {
    Status s = CreateMembers(g);
    if (!s.ok()) {
      // Nothing built: the create fails as a whole. Some built: the group
      // stays, in error, as Cinder leaves a failed create.
      STRATA_ASSIGN_OR_RETURN(auto built, catalog_->VolumesOfGroup(g.id));
      if (built.empty()) {
        LogIfError(catalog_->DeleteGroup(g.id), "dropping group " + g.id);
        return s;
      }
      LogError("group " + g.id + ": creating its volumes: " + s.ToString());
      STRATA_RETURN_IF_ERROR(
          catalog_->ModifyGroup(g.id, [](db::GroupRecord& r) {
            r.status = "error";
            r.follows_members = false;
            return Status::OK();
          }));
    }
  }
  return catalog_->GetGroup(g.id);
}

Status GroupLifecycle::CreateMembers(const db::GroupRecord& g) {
  std::vector<CreateVolumeRequest> reqs;
  auto request_for = [&](const db::VolumeRecord& src) {
    CreateVolumeRequest r;
    r.project_id = g.project_id;
    r.user_id = g.user_id;
    r.name = src.name;
    r.description = src.description;
    r.size_gib = SizeGiB(src.virtual_size);
    r.volume_type_id = src.volume_type_id;
    r.group_id = g.id;
    return r;
  };
  if (g.group_snapshot_id) {
    STRATA_ASSIGN_OR_RETURN(db::GroupSnapshotRecord gs,
                            catalog_->GetGroupSnapshot(*g.group_snapshot_id));
    if (gs.status != "available")
      return Status::InvalidArgument(
          "Invalid group snapshot: Group snapshot status must be available, "
          "but it is " +
          gs.status + ".");
    STRATA_ASSIGN_OR_RETURN(auto snaps,
                            catalog_->SnapshotsOfGroupSnapshot(gs.id));
    for (const auto& s : snaps) {
      STRATA_ASSIGN_OR_RETURN(db::VolumeRecord src,
                              catalog_->GetVolume(s.volume_id));
      CreateVolumeRequest r = request_for(src);
      r.size_gib = SizeGiB(s.virtual_size);
      r.snapshot_id = s.id;
      reqs.push_back(std::move(r));
    }
  } else {
    STRATA_ASSIGN_OR_RETURN(db::GroupRecord src_group,
                            catalog_->GetGroup(*g.source_group_id));
    if (src_group.status != "available")
      return Status::InvalidArgument(
          "Invalid group: Source group status must be available, but it is " +
          src_group.status + ".");
    STRATA_ASSIGN_OR_RETURN(auto members,
                            catalog_->VolumesOfGroup(src_group.id));
    for (const auto& src : members) {
      CreateVolumeRequest r = request_for(src);
      r.source_volid = src.id;
      reqs.push_back(std::move(r));
    }
  }
  for (const auto& r : reqs)
    STRATA_RETURN_IF_ERROR(volumes_->CreateVolume(r).status());
  return Status::OK();
}

Result<std::optional<db::GroupRecord>> GroupLifecycle::Settle(
    db::GroupRecord g) {
  if (!g.follows_members) return std::optional<db::GroupRecord>(g);
  STRATA_ASSIGN_OR_RETURN(auto vols, catalog_->VolumesOfGroup(g.id));
  auto to = FollowedStatus(g.status, vols);
  return ApplyFollowed(catalog_, std::move(g), to, &db::Catalog::DeleteGroup,
                       &db::Catalog::ModifyGroup, &db::Catalog::GetGroup);
}

Result<db::GroupRecord> GroupLifecycle::GetGroup(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(db::GroupRecord g, catalog_->GetGroup(id));
  STRATA_ASSIGN_OR_RETURN(auto settled, Settle(std::move(g)));
  if (!settled) return Status::NotFound("Group " + id + " could not be found.");
  return *settled;
}

Result<db::ListResult<db::GroupRecord>> GroupLifecycle::ListGroups(
    const db::ListQuery& q) {
  STRATA_ASSIGN_OR_RETURN(auto listed, catalog_->ListGroups(q));
  return SettlePage(std::move(listed),
                    [this](db::GroupRecord g) { return Settle(std::move(g)); });
}

Status GroupLifecycle::UpdateGroup(const std::string& id,
                                   const GroupUpdate& u) {
  STRATA_ASSIGN_OR_RETURN(db::GroupRecord g, GetGroup(id));
  STRATA_RETURN_IF_ERROR(GroupIsUsable(g));
  std::vector<db::VolumeRecord> adding;
  for (const auto& vid : u.add_volumes) {
    auto v = catalog_->GetVolume(vid);
    if (!v.ok() || v->status == "deleted" || v->project_id != g.project_id)
      return Status::InvalidArgument("Invalid volume: Cannot add volume " +
                                     vid + " to group " + id +
                                     " because volume cannot be found.");
    if (v->group_id && *v->group_id != id)
      return Status::InvalidArgument(
          "Invalid volume: Cannot add volume " + vid + " to group " + id +
          " because it is already in group " + *v->group_id + ".");
    if (std::find(g.volume_type_ids.begin(), g.volume_type_ids.end(),
                  TypeOf(*v)) == g.volume_type_ids.end())
      return Status::InvalidArgument("Invalid volume: Cannot add volume " +
                                     vid + " to group " + id +
                                     " because volume type " + TypeOf(*v) +
                                     " is not supported by the group.");
    if (v->status != "available" && v->status != "in-use")
      return Status::InvalidArgument(
          "Invalid volume: Cannot add volume " + vid + " to group " + id +
          " because volume is in an invalid state: " + v->status +
          ". Valid states are: ('available', 'in-use').");
    adding.push_back(*v);
  }
  for (const auto& vid : u.remove_volumes) {
    auto v = catalog_->GetVolume(vid);
    if (!v.ok() || v->group_id != id)
      return Status::InvalidArgument("Invalid volume: Cannot remove volume " +
                                     vid + " from group " + id +
                                     " because it is not in the group.");
  }
  return catalog_->Transaction([&]() -> Status {
    for (const auto& v : adding)
      STRATA_RETURN_IF_ERROR(
          catalog_->ModifyVolume(v.id, [&](db::VolumeRecord& r) {
            r.group_id = id;
            return Status::OK();
          }));
    for (const auto& vid : u.remove_volumes)
      STRATA_RETURN_IF_ERROR(
          catalog_->ModifyVolume(vid, [&](db::VolumeRecord& r) {
            r.group_id.reset();
            return Status::OK();
          }));
    return catalog_->ModifyGroup(id, [&](db::GroupRecord& r) {
      if (u.name) r.name = *u.name;
      if (u.description) r.description = *u.description;
      return Status::OK();
    });
  });
}

Status GroupLifecycle::DeleteGroup(const std::string& id, bool delete_volumes) {
  STRATA_ASSIGN_OR_RETURN(db::GroupRecord g, GetGroup(id));
  if (g.status != "available" && g.status != "error" &&
      g.status != "error_deleting")
    return Status::InvalidArgument(
        "Invalid group: Group status must be available or error or "
        "error_deleting, but current status is: " +
        g.status + ".");
  db::ListQuery q;
  q.filters["group_id"] = id;
  STRATA_ASSIGN_OR_RETURN(auto group_snaps, catalog_->ListGroupSnapshots(q));
  if (!group_snaps.rows.empty())
    return Status::InvalidArgument(
        "Invalid group: Delete group failed. Group " + id +
        " has existing snapshots.");
  STRATA_ASSIGN_OR_RETURN(auto vols, catalog_->VolumesOfGroup(id));
  if (vols.empty()) return catalog_->DeleteGroup(id);
  if (!delete_volumes)
    return Status::InvalidArgument(
        "Invalid group: Group " + id +
        " still contains volumes. The delete-volumes flag is required to "
        "delete it.");
  for (const auto& v : vols) {
    if (v.status == "in-use" || v.status == "attaching")
      return Status::InvalidArgument("Invalid group: Volume in group " + id +
                                     " is attached. Need to detach first.");
    STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfVolume(v.id));
    if (std::any_of(snaps.begin(), snaps.end(),
                    [](const auto& s) { return !s.hidden; }))
      return Status::InvalidArgument("Invalid group: Volume in group " + id +
                                     " still has dependent snapshots.");
  }
  STRATA_RETURN_IF_ERROR(catalog_->ModifyGroup(id, [](db::GroupRecord& r) {
    r.status = "deleting";
    r.follows_members = true;
    return Status::OK();
  }));
  Status failed;
  for (const auto& v : vols) {
    Status s = volumes_->DeleteVolume(v.id, /*cascade=*/false, /*force=*/false);
    if (!s.ok()) {
      LogError("group " + id + ": deleting volume " + v.id + ": " +
               s.ToString());
      failed = s;
    }
  }
  if (!failed.ok())
    LogIfError(catalog_->ModifyGroup(id,
                                     [](db::GroupRecord& r) {
                                       r.status = "error_deleting";
                                       r.follows_members = false;
                                       return Status::OK();
                                     }),
               "marking group " + id + " error_deleting");
  return Status::OK();
}

Result<db::GroupSnapshotRecord> GroupLifecycle::CreateGroupSnapshot(
    const std::string& group_id, const std::string& name,
    const std::string& description, const std::string& project_id,
    const std::string& user_id) {
  STRATA_ASSIGN_OR_RETURN(db::GroupRecord g, GetGroup(group_id));
  STRATA_RETURN_IF_ERROR(GroupIsUsable(g));
  STRATA_ASSIGN_OR_RETURN(auto vols, catalog_->VolumesOfGroup(group_id));
  GroupCutRequest r;
  r.id = NewUuid();
  r.group_id = g.id;
  r.group_type_id = g.group_type_id;
  r.project_id = project_id;
  r.user_id = user_id;
  r.name = name;
  r.description = description;
  for (const auto& v : vols) r.volume_ids.push_back(v.id);
  return StartGroupSnapshot(r, nullptr, /*insert_row=*/true);
}

Result<db::GroupSnapshotRecord> GroupLifecycle::StartGroupSnapshot(
    const GroupCutRequest& r, std::shared_ptr<GroupCutGate> gate,
    bool insert_row) {
  db::GroupSnapshotRecord gs;
  gs.id = r.id;
  gs.group_id = r.group_id;
  gs.group_type_id = r.group_type_id;
  gs.project_id = r.project_id;
  gs.user_id = r.user_id;
  gs.name = r.name;
  gs.description = r.description;
  gs.status = "creating";
  gs.follows_members = true;
  gs.created_at = gs.updated_at = NowMicros();
  std::vector<CreateSnapshotRequest> reqs;
  for (const auto& v : r.volume_ids) {
    CreateSnapshotRequest c;
    c.project_id = r.project_id;
    c.user_id = r.user_id;
    c.volume_id = v;
    c.name = r.name;
    c.description = r.description;
    c.group_snapshot_id = gs.id;
    reqs.push_back(std::move(c));
  }
  // The row first: the members' cut may settle before this returns.
  if (insert_row) STRATA_RETURN_IF_ERROR(catalog_->InsertGroupSnapshot(gs));
  auto started = creator_->CreateGroupSnapshot(reqs, std::move(gate));
  if (!started.ok()) {
    if (insert_row)
      LogIfError(catalog_->DeleteGroupSnapshot(gs.id),
                 "dropping group snapshot " + gs.id);
    return started.status();
  }
  return gs;
}

Result<std::optional<db::GroupSnapshotRecord>> GroupLifecycle::Settle(
    db::GroupSnapshotRecord g) {
  if (!g.follows_members) return std::optional<db::GroupSnapshotRecord>(g);
  STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfGroupSnapshot(g.id));
  auto to = FollowedStatus(g.status, snaps);
  return ApplyFollowed(
      catalog_, std::move(g), to, &db::Catalog::DeleteGroupSnapshot,
      &db::Catalog::ModifyGroupSnapshot, &db::Catalog::GetGroupSnapshot);
}

Result<std::string> GroupLifecycle::MembersStatus(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfGroupSnapshot(id));
  return FollowedStatus("creating", snaps).value_or("creating");
}

Result<db::GroupSnapshotRecord> GroupLifecycle::GetGroupSnapshot(
    const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(db::GroupSnapshotRecord g,
                          catalog_->GetGroupSnapshot(id));
  STRATA_ASSIGN_OR_RETURN(auto settled, Settle(std::move(g)));
  if (!settled)
    return Status::NotFound("GroupSnapshot " + id + " could not be found.");
  return *settled;
}

Result<db::ListResult<db::GroupSnapshotRecord>>
GroupLifecycle::ListGroupSnapshots(const db::ListQuery& q) {
  STRATA_ASSIGN_OR_RETURN(auto listed, catalog_->ListGroupSnapshots(q));
  return SettlePage(std::move(listed), [this](db::GroupSnapshotRecord g) {
    return Settle(std::move(g));
  });
}

Status GroupLifecycle::DeleteGroupSnapshot(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(db::GroupSnapshotRecord g, GetGroupSnapshot(id));
  if (g.status != "available" && g.status != "error")
    return Status::InvalidArgument(
        "Invalid group snapshot: Group snapshot status must be available or "
        "error, but it is " +
        g.status + ".");
  STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfGroupSnapshot(id));
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifyGroupSnapshot(id, [](db::GroupSnapshotRecord& r) {
        r.status = "deleting";
        r.follows_members = true;
        return Status::OK();
      }));
  Status failed;
  for (const auto& s : snaps) {
    Status d = deleter_->DeleteSnapshot(s.id, /*force=*/false);
    if (!d.ok()) {
      LogError("group snapshot " + id + ": deleting snapshot " + s.id + ": " +
               d.ToString());
      failed = d;
    }
  }
  if (!failed.ok())
    LogIfError(catalog_->ModifyGroupSnapshot(id,
                                             [](db::GroupSnapshotRecord& r) {
                                               r.status = "error_deleting";
                                               r.follows_members = false;
                                               return Status::OK();
                                             }),
               "marking group snapshot " + id + " error_deleting");
  return Status::OK();
}

Status GroupLifecycle::DiscardMembers(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfGroupSnapshot(id));
  for (const auto& s : snaps)
    if (s.status == "creating")
      return Status::InvalidArgument("Invalid group snapshot: snapshot " +
                                     s.id + " of group snapshot " + id +
                                     " is still being created.");
  Status failed;
  for (const auto& s : snaps) {
    Status d = deleter_->DeleteSnapshot(s.id, /*force=*/false);
    if (!d.ok() && !d.IsNotFound()) {
      LogError("group snapshot " + id + ": discarding snapshot " + s.id + ": " +
               d.ToString());
      failed = d;
    }
  }
  return failed;
}

}  // namespace strata::engine
