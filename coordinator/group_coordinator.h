// GroupCoordinator: a group snapshot of servers on several compute hosts,
// consistent across them (issue 22, R4.3–R4.6). The stratad that receives
// the request coordinates it; each host's stratad holds, cuts and releases
// its own servers' disks (api/group_cuts.cc, engine/group_hold.h):
//   resolve  which registered host runs each server (R4.3: each host is
//            asked; a server on none, or on two, fails the snapshot);
//   hold     every host holds its servers' writers and acknowledges;
//   cut      only once all have acknowledged, every host cuts;
//   release  once all have cut, every host releases, and says whether it
//            held from before its cut to the release (held_through);
//   settle   each host's part is stored; the group snapshot is "available"
//            when every host held through and stored its members, else
//            "error".
// Each phase goes to all hosts at once (a thread per host; they wait on
// the network, not the cores), so a cut costs what the slowest host
// costs, not the sum (R4.5). A phase that fails on any host aborts the
// others; a host that hears nothing releases at its own deadline.
//
// A cut that fails once any host was asked to hold ends "error" and
// cleaned: every host is told to abort, and once its members settle each
// other host deletes its part (row and members) and this host its members,
// keeping the row that says "error". Deleting a coordinated group snapshot
// deletes every host's part (Delete).
//
// Journal: a "group_coordinate" task per group snapshot (no volume), its
// state the hosts and their servers. A restart finishes an interrupted
// one that got to "settle" (every host held through its cut and released)
// and aborts and cleans any other, on a thread of its own once stratad
// serves again (the hosts' holds have ended by their deadlines by then).
//
// This host's own part is never deleted through REST: a part delete
// carries the process's `instance()` id (X-Strata-Group-Part), and the
// host that finds its own id there leaves its part to `LocalParts`.
// Thread-safety: Start, Delete and RecoverInterrupted from any thread;
// each cut runs on a thread of its own, joined by the destructor.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "db/catalog.h"
#include "engine/journal.h"

namespace strata::coordinator {

struct CoordinatorOptions {
  // Every host's API root, this one's included ([groups] hosts).
  std::vector<std::string> hosts;
  // The hold's deadline on each host, from its hold request.
  int64_t hold_ms = 10000;
};

// This host's own part of a group snapshot, as its engine handles it.
struct LocalParts {
  // Deletes the members of group snapshot `id` and keeps its row.
  std::function<Status(const std::string& id)> discard_members;
  // Deletes the group snapshot `id`, row and members.
  std::function<Status(const std::string& id)> delete_group_snapshot;
};

struct CoordinatedSnapshot {
  db::GroupSnapshotRecord row;  // id, group, type, owner, name, description
  std::vector<std::string> servers;
  std::string token;  // the caller's, for the hosts' APIs
};

class GroupCoordinator {
 public:
  GroupCoordinator(db::Catalog* catalog, CoordinatorOptions opts,
                   LocalParts local);
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  bool enabled() const { return !opts_.hosts.empty(); }
  // Random per process: a part delete carrying it comes from this process.
  const std::string& instance() const { return instance_; }
  // Whether this stratad coordinated group snapshot `id`.
  bool Coordinates(const std::string& id);
  // Records the group snapshot ("creating"; its status is the
  // coordinator's to set, not its members') and its task, and runs the cut
  // on a thread of its own. InvalidArgument without hosts or servers.
  Result<db::GroupSnapshotRecord> Start(CoordinatedSnapshot s);
  // Deletes every host's part of coordinated group snapshot `id` (status
  // available or error), then its row here. When a host cannot delete its
  // part, the row stays, "error", and the fault says which host.
  Status Delete(const std::string& id, const std::string& token);
  // Picks up every group_coordinate task a restart interrupted (see the
  // top), each on a thread of its own.
  void RecoverInterrupted();

 private:
  void Run(CoordinatedSnapshot s, engine::Journal j);
  Status RunPhases(const CoordinatedSnapshot& s, engine::Journal& j);
  // Ends a failed cut: every host aborts, and once its members settle its
  // part goes (this host's members only).
  void Clean(const std::string& id, const std::string& token,
             const std::vector<std::string>& hosts);
  // Waits until every host's members settle and returns their statuses
  // ("" for a host without a part); gives up at `limit`.
  Result<std::vector<std::string>> Settled(
      const std::string& id, const std::string& token,
      const std::vector<std::string>& hosts, std::chrono::seconds limit);
  // Every other host deletes its part of `id` (202, or 404: none there).
  Status DropRemoteParts(const std::string& id, const std::string& token,
                         const std::vector<std::string>& hosts);
  // A recovered task: settled to "available", or cleaned to "error".
  void Resume(db::TaskRecord t);
  void SetStatus(const std::string& id, const std::string& status);

  db::Catalog* const catalog_;
  const CoordinatorOptions opts_;
  const LocalParts local_;
  const std::string instance_;
  std::mutex mu_;
  std::vector<std::thread> runs_;
  std::atomic<bool> stopping_{false};  // the settle loop ends early
};

}  // namespace strata::coordinator
