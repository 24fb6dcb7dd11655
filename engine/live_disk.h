// LiveDisks: the disks of running domains (R2.2, R2.3, R2.8 live): which
// domain runs a volume's disk, the snapshot cut-over under a running VM, the
// repoint of a running top, and their crash reconciliation. live_disk.cc
// says why each goes through a temporary overlay and a pivot back.
// Thread-safety: REQUIRES the volume's lease for every method that changes a
// chain; the lookups may run from any thread.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "engine/engine_part.h"
#include "engine/journal.h"

namespace strata::engine {

class LiveDisks : public EnginePart {
 public:
  explicit LiveDisks(EngineContext& ctx) : EnginePart(ctx) {}

  // R2.2: the running domain using the volume's disk, or nullopt when none
  // runs.
  Result<std::optional<LiveDisk>> LiveDiskOf(const db::VolumeRecord& vol);
  // Finds the domain (and target) whose disk is `path`, if any.
  Result<std::optional<std::pair<hypervisor::DomainInfo, std::string>>>
  DomainUsing(const std::string& path);
  // R2.3 for a running VM, the cut-over: the top's writes so far become
  // `layer` (a hard link, then the only name of that file) and the VM
  // continues on a new, empty overlay at the disk's path. In steps, so
  // that a cut's instant can come later (a group's, group_cut.cc, holds
  // its VMs for SwitchLive alone): PrepareLiveSwitch links the top to
  // `layer` and makes a temporary overlay on it (returned), journalled up
  // to create.switch_vm, and changes nothing the VM sees; SwitchLive is the
  // cut, after which the VM writes to that overlay; UndoLiveSwitch removes
  // both names when the switch failed or will not happen (a crash in
  // between is recovery's); LivePivotBack then puts the VM back on the
  // disk's path.
  Result<std::string> PrepareLiveSwitch(Journal& j, const db::VolumeRecord& vol,
                                        const std::string& layer,
                                        uint64_t virtual_size);
  Status SwitchLive(const LiveDisk& live, const std::string& cut);
  void UndoLiveSwitch(const std::string& layer, const std::string& cut);
  Status LivePivotBack(Journal& j, const db::VolumeRecord& vol,
                       const LiveDisk& live, const std::string& layer,
                       uint64_t virtual_size, const std::string& cut);
  // Repoints the running domain's top (the disk's path) onto `backing`: the
  // top is renamed aside, a new overlay on `backing` takes the path, a
  // shallow block copy with pivot moves the top's own writes into it, and
  // the old top is deleted. REQUIRES: the volume's lease.
  Status RepointLiveTop(Journal* j, const db::VolumeRecord& vol,
                        const LiveDisk& live, const std::string& backing);
  // Crash recovery for a running VM: aborts a block job a crash left behind
  // and, when the VM runs on one of Strata's temporary overlays, moves it
  // back onto a fresh overlay at the disk's path. Runs before any file of
  // the volume is judged garbage.
  Status ReconcileLiveDisk(const db::VolumeRecord& vol);
  // Makes the hypervisor's view of the disk's chain match the files: when
  // they differ, repoints the top onto its true backing file.
  Status SyncHypervisorView(Journal* j, const db::VolumeRecord& vol);

 private:
  // The common last leg of a cut-over, a repoint and recovery: a fresh
  // overlay on `backing` takes the disk's path (journalling `step`, if
  // given, once it is there), the VM pivots onto it from the temporary top
  // `from`, and `from` is deleted.
  Status PivotOntoDisk(Journal* j, const char* step,
                       const db::VolumeRecord& vol, const LiveDisk& live,
                       const std::string& backing, uint64_t virtual_size,
                       const std::string& from);
};

}  // namespace strata::engine
