// GroupLifecycle: Cinder's generic volume groups (issue 18): a group is a
// set of volumes snapshotted together, a group snapshot one snapshot of
// each member cut at one instant (SnapshotCreator::CreateGroupSnapshot,
// group_cut.cc).
//   - create: empty ("available"), or from a group snapshot (one new volume
//     per member snapshot, each holding that snapshot's state) or from
//     another group (one clone per member volume); such a group is
//     "creating" until every new volume is built;
//   - update: name, description, volumes added (of one of the group's
//     volume types, in no other group) or removed;
//   - delete: refused while it has group snapshots, or volumes unless
//     `delete_volumes` (then each is deleted; "deleting" until all are
//     gone);
//   - group snapshot delete: its member snapshots are deleted; "deleting"
//     until all are gone.
// Statuses that wait on members are settled from the catalog when read
// (`follows_members`, as SettleBackup does for backups): nothing is kept
// in memory, so after a crash the members' own recovery settles them. An
// admin's reset clears `follows_members`, so the status it sets stays.
// Thread-safety: any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine_part.h"
#include "engine/group_hold.h"
#include "engine/snapshot_create.h"
#include "engine/snapshot_delete.h"
#include "engine/volume_lifecycle.h"

namespace strata::engine {

// One host's part of a group snapshot whose cut another stratad drives
// (issue 22): the group snapshot's id and row fields, this host's member
// volumes, and how long the hold may last.
struct GroupCutRequest {
  std::string id, group_id, group_type_id, project_id, user_id;
  std::string name, description;
  std::vector<std::string> volume_ids;
  int64_t hold_ms = 0;  // capped by [groups] hold_max_ms; 0: that
};

// A group's changes (Cinder's group update).
struct GroupUpdate {
  std::optional<std::string> name, description;
  std::vector<std::string> add_volumes, remove_volumes;
};

// OK when the group may change or gain members and snapshots
// ("available" or "in-use"), else Cinder's 400.
[[nodiscard]] Status GroupIsUsable(const db::GroupRecord& g);

class GroupLifecycle : public EnginePart {
 public:
  GroupLifecycle(EngineContext& ctx, SnapshotCreator* creator,
                 SnapshotDeleter* deleter, VolumeLifecycle* volumes)
      : EnginePart(ctx),
        creator_(creator),
        deleter_(deleter),
        volumes_(volumes) {}

  // Records `g` (its id, owner, name, type and volume types set). With
  // g.group_snapshot_id or g.source_group_id set, the member volumes are
  // created from that source (the caller checked it is the caller's).
  Result<db::GroupRecord> CreateGroup(db::GroupRecord g);
  // The group, status settled; NotFound once a delete has finished.
  Result<db::GroupRecord> GetGroup(const std::string& id);
  Result<db::ListResult<db::GroupRecord>> ListGroups(const db::ListQuery& q);
  Status UpdateGroup(const std::string& id, const GroupUpdate& u);
  Status DeleteGroup(const std::string& id, bool delete_volumes);

  // Records the group snapshot and starts its members' cut.
  Result<db::GroupSnapshotRecord> CreateGroupSnapshot(
      const std::string& group_id, const std::string& name,
      const std::string& description, const std::string& project_id,
      const std::string& user_id);
  Result<db::GroupSnapshotRecord> GetGroupSnapshot(const std::string& id);
  Result<db::ListResult<db::GroupSnapshotRecord>> ListGroupSnapshots(
      const db::ListQuery& q);
  Status DeleteGroupSnapshot(const std::string& id);
  // Deletes the member snapshots of group snapshot `id` and keeps its row
  // (a coordinated cut that failed: its row says "error", and no partial
  // data stays behind). InvalidArgument while a member is still creating.
  Status DiscardMembers(const std::string& id);

 private:
  // The member volumes of a new group built from its source.
  Status CreateMembers(const db::GroupRecord& g);
  // Settles a status that follows the members; nullopt once the row went.
  Result<std::optional<db::GroupRecord>> Settle(db::GroupRecord g);
  Result<std::optional<db::GroupSnapshotRecord>> Settle(
      db::GroupSnapshotRecord g);

  SnapshotCreator* const creator_;
  SnapshotDeleter* const deleter_;
  VolumeLifecycle* const volumes_;

  // ---- this host's part of a cut driven from elsewhere (group_cuts.cc) --
 public:
  // Holds the writers of `r`'s volumes (their snapshots and this host's
  // row of the group snapshot `r.id` recorded first) and returns once they
  // are held, or why not (the report's phase "error"/"expired"). Conflict
  // when the id is taken or a volume is busy (nothing recorded).
  Result<GroupCutReport> HoldGroupCut(const GroupCutRequest& r);
  // The phases of a held cut (group_hold.h); NotFound for an unknown id.
  Result<GroupCutReport> CutGroupCut(const std::string& id);
  Result<GroupCutReport> ReleaseGroupCut(const std::string& id);
  Result<GroupCutReport> AbortGroupCut(const std::string& id);
  // Also a part this process did not hold, from the catalog (phase
  // "ended"): a host whose stratad restarted still answers for it.
  Result<GroupCutReport> GetGroupCut(const std::string& id);
  // Where this host's member snapshots of group snapshot `id` stand, as a
  // group snapshot that follows them would: "creating" while any is, then
  // "error" if any failed, else "available" (the coordinator's own row
  // does not follow its members, so its host is asked this instead).
  Result<std::string> MembersStatus(const std::string& id);

 private:
  Result<std::shared_ptr<GroupCutGate>> Gate(const std::string& id);
  // Records the group snapshot `r` ("creating", following its members;
  // without `insert_row` its row is the coordinator's, already there) and
  // starts its members' cut through `gate` (none: at once); nothing stays
  // recorded when it cannot start.
  Result<db::GroupSnapshotRecord> StartGroupSnapshot(
      const GroupCutRequest& r, std::shared_ptr<GroupCutGate> gate,
      bool insert_row);
  std::mutex cuts_mu_;
  // The cuts of this process's life, finished ones pruned after an hour.
  std::map<std::string, std::shared_ptr<GroupCutGate>> cuts_;
};

}  // namespace strata::engine
