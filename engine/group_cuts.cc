// This host's part of a group snapshot whose cut another stratad drives
// (issue 22, R4.4): hold, cut, release and abort as REST calls, each
// answered with the gate's report (group_hold.h). The member snapshots and
// this host's row of the group snapshot carry the coordinator's group
// snapshot id, so the host lists and deletes them as any group snapshot.
#include <chrono>

#include "engine/group_lifecycle.h"
#include "util/log.h"
#include "util/time_util.h"

namespace strata::engine {
namespace {

constexpr int64_t kKeepFinishedMicros = int64_t{3600} * 1000000;

}  // namespace

Result<GroupCutReport> GroupLifecycle::HoldGroupCut(const GroupCutRequest& r) {
  if (r.id.empty())
    return Status::InvalidArgument("A group cut needs the group snapshot id.");
  if (r.volume_ids.empty())
    return Status::InvalidArgument("A group cut needs at least one volume.");
  const int64_t hold_ms = r.hold_ms > 0
                              ? std::min(r.hold_ms, opts_.group_hold_ms)
                              : opts_.group_hold_ms;
  // The deadline counts from the request: the coordinator's budget.
  auto gate = std::make_shared<GroupCutGate>(
      r.id, /*driven=*/true,
      HoldClock::now() + std::chrono::milliseconds(hold_ms));
  bool coordinators_row = false;
  {
    std::lock_guard<std::mutex> l(cuts_mu_);
    const int64_t now = NowMicros();
    for (auto it = cuts_.begin(); it != cuts_.end();) {
      const auto rep = it->second->Report();
      if (it->second->Finished() && now - rep.released_at > kKeepFinishedMicros)
        it = cuts_.erase(it);
      else
        ++it;
    }
    auto row = catalog_->GetGroupSnapshot(r.id);
    // The coordinator's own row, when it runs on this host: made for the
    // coordinator to settle, with no members yet.
    auto members = catalog_->SnapshotsOfGroupSnapshot(r.id);
    coordinators_row = row.ok() && !row->follows_members &&
                       row->status == "creating" && members.ok() &&
                       members->empty();
    if (cuts_.count(r.id) || (row.ok() && !coordinators_row))
      return Status::Conflict("Group snapshot " + r.id +
                              " already exists on this host.");
    cuts_[r.id] = gate;
  }
  if (auto started = StartGroupSnapshot(r, gate, !coordinators_row);
      !started.ok()) {
    std::lock_guard<std::mutex> l(cuts_mu_);
    cuts_.erase(r.id);
    return started.status();
  }
  return gate->AwaitHeld();
}

Result<std::shared_ptr<GroupCutGate>> GroupLifecycle::Gate(
    const std::string& id) {
  std::lock_guard<std::mutex> l(cuts_mu_);
  auto it = cuts_.find(id);
  if (it == cuts_.end())
    return Status::NotFound("Group cut " + id + " could not be found.");
  return it->second;
}

Result<GroupCutReport> GroupLifecycle::CutGroupCut(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(auto gate, Gate(id));
  return gate->RequestCut();
}

Result<GroupCutReport> GroupLifecycle::ReleaseGroupCut(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(auto gate, Gate(id));
  return gate->RequestRelease();
}

Result<GroupCutReport> GroupLifecycle::AbortGroupCut(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(auto gate, Gate(id));
  return gate->RequestAbort();
}

Result<GroupCutReport> GroupLifecycle::GetGroupCut(const std::string& id) {
  auto gate = Gate(id);
  if (gate.ok()) return (*gate)->Report();
  // A cut this process did not hold (stratad restarted since, or the
  // report was pruned): what the catalog still says of this host's part.
  auto row = catalog_->GetGroupSnapshot(id);
  if (!row.ok()) return gate.status();
  STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfGroupSnapshot(id));
  GroupCutReport r;
  r.id = id;
  r.phase = "ended";
  for (const auto& s : snaps) r.snapshot_ids.push_back(s.id);
  return r;
}

}  // namespace strata::engine
