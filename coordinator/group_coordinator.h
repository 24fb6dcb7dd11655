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
// Journal: a "group_coordinate" task per group snapshot (no volume), its
// state the hosts and their servers. A restart ends an interrupted one in
// "error" (its hosts' holds have ended by their deadlines by then).
// Thread-safety: Start from any thread; each cut runs on a thread of its
// own, joined by the destructor.
#pragma once

#include <atomic>
#include <cstdint>
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

struct CoordinatedSnapshot {
  db::GroupSnapshotRecord row;  // id, group, type, owner, name, description
  std::vector<std::string> servers;
  std::string token;  // the caller's, for the hosts' APIs
};

class GroupCoordinator {
 public:
  GroupCoordinator(db::Catalog* catalog, CoordinatorOptions opts);
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  bool enabled() const { return !opts_.hosts.empty(); }
  // Records the group snapshot ("creating"; its status is the
  // coordinator's to set, not its members') and its task, and runs the cut
  // on a thread of its own. InvalidArgument without hosts or servers.
  Result<db::GroupSnapshotRecord> Start(CoordinatedSnapshot s);
  // Ends every group_coordinate task a restart interrupted: its group
  // snapshot becomes "error".
  void RecoverInterrupted();

 private:
  void Run(CoordinatedSnapshot s, engine::Journal j);
  Status RunPhases(const CoordinatedSnapshot& s, engine::Journal& j);
  void SetStatus(const std::string& id, const std::string& status);

  db::Catalog* const catalog_;
  const CoordinatorOptions opts_;
  std::mutex mu_;
  std::vector<std::thread> runs_;
  std::atomic<bool> stopping_{false};  // the settle loop ends early
};

}  // namespace strata::coordinator
