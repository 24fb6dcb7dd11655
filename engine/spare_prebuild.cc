// The next merge's history backup, built by the reaper ahead of the merge.
//
// A merge into a history works on a backup of it (R2.9, chain_ops.cc),
// rebuilt from the history's spare (the history it replaced) and delta (the
// layer merged into that): the delta's extents written into the spare. For
// a layer of 4 KiB random writes that is 16 000 scattered writes, synced
// with the merge's own 16 000: twice the I/O of the merge itself on the
// snapshot's path (issue 17). After each merge the reaper does that rebuild
// ahead, while the VM runs: the spare, renamed to a temporary, gets the
// delta's extents, is synced, and is renamed to the history's ready file
// (ReadyPath); the delta is discarded as soon as it is read, its removal
// overlapping that sync. The next merge takes the ready file as its backup
// and writes only its own layer.
//
// The reaper holds no volume lease. The files of a disk's spares (spare,
// delta, ready, the prebuild's temporary) are claimed instead: the prebuild
// tries the claim and gives up when a task holds it; BackupHistory,
// RetireIntoSpare, DropSpares and CollectGarbage wait for a prebuild under
// way. A merge that comes first uses the spare and delta itself, and the
// prebuild then finds nothing to do.
//
// Crash: a prebuild cut short leaves its temporary, which garbage
// collection removes, and no spare, so the next merge copies the history,
// as after any loss of the spare. The ready file is synced before its
// rename: after a crash it is whole or absent.
#include "engine/chain_maintenance.h"
#include "engine/layer_apply.h"
#include "engine/layer_names.h"
#include "qcow2/qcow2_header.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::engine {

ChainMaintenance::SpareClaim ChainMaintenance::ClaimSpares(
    const std::string& disk, bool wait) {
  std::unique_lock<std::mutex> lock(spares_mu_);
  if (!wait && spares_claimed_.count(disk)) return SpareClaim();
  spares_freed_.wait(lock, [&] { return !spares_claimed_.count(disk); });
  spares_claimed_.insert(disk);
  return SpareClaim(this, disk);
}

void ChainMaintenance::ReleaseSpares(const std::string& disk) {
  {
    std::lock_guard<std::mutex> lock(spares_mu_);
    spares_claimed_.erase(disk);
  }
  spares_freed_.notify_all();
}

void ChainMaintenance::PrebuildLater(const std::string& disk,
                                     const std::string& history) {
  reaper_.Submit([this, disk, history] {
    Status s = PrebuildBackup(disk, history);
    if (!s.ok())
      LogWarning("building the next backup of " + history + " ahead: " +
                 s.ToString() + " (the next merge copies the history)");
  });
}

Status ChainMaintenance::PrebuildBackup(const std::string& disk,
                                        const std::string& history) {
  SpareClaim claim = ClaimSpares(disk, /*wait=*/false);
  if (!claim.held()) return Status::OK();  // a task is at them
  const std::string spare = SparePath(disk, history);
  const std::string delta = DeltaPath(disk, history);
  const std::string ready = ReadyPath(disk, history);
  // Gone (merged into a newer history, reverted away) or done already.
  if (!IsSoleName(spare) || !IsSoleName(delta) || PathExists(ready) ||
      !PathExists(history))
    return Status::OK();
  STRATA_ASSIGN_OR_RETURN(qcow2::Qcow2Header want,
                          qcow2::ReadQcow2Header(history));
  const int64_t t0 = MonotonicMicros();
  const std::string building = TempPath(disk, "building", NewUuid());
  STRATA_RETURN_IF_ERROR(RenameDurableNoSymlinks(spare, building));
  ApplyStats stats;
  Status s = ApplyLayerInto(delta, building, /*sync=*/false, &stats);
  if (s.code() == StatusCode::kNotSupported) {
    // Nothing was written: the spare goes back for the merge, which then
    // commits the delta with qemu-img.
    return RenameDurableNoSymlinks(building, spare);
  }
  // The delta is read: its removal (the remover's thread) overlaps the sync
  // here. The spare is already gone, so a crash from here on leaves no pair
  // whatever is removed first, and the next merge copies the history.
  if (s.ok())
    LogIfError(Discard(disk, delta), "cleanup (garbage collection retries)");
  if (s.ok()) s = FsyncPath(building);
  if (s.ok()) s = CheckBackupSize(building, want.virtual_size);
  if (s.ok()) s = RenameDurableNoSymlinks(building, ready);
  if (!s.ok()) {
    LogIfError(RemoveFileNoSymlinks(building),
               "cleanup (garbage collection retries)");
    return s;
  }
  LogInfo("built the next backup of " + BaseName(history) +
          " ahead: " + std::to_string(stats.extents) + " extents (" +
          std::to_string(stats.bytes >> 10) + " KiB) written and synced in " +
          std::to_string((MonotonicMicros() - t0) / 1000) + " ms");
  return Status::OK();
}

}  // namespace strata::engine
