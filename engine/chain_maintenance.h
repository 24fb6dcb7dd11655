// ChainMaintenance: a volume's chain kept short and clean (R2.6, R2.8-R2.9):
// merges of failed and uploaded layers into the history, repoints, removal of
// files the chain no longer uses (chain_ops.cc), and the write-back of the
// histories a revert merged, after the task or after a crash (settle.cc).
// Thread-safety: REQUIRES the volume's lease for every method that changes a
// chain; SettleLater and PrebuildLater hand work to the reaper, which claims
// a disk's spare files (SpareClaim) instead of its lease.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/chain.h"
#include "engine/engine_part.h"
#include "engine/journal.h"
#include "engine/live_disk.h"

namespace strata::engine {

class ChainMaintenance : public EnginePart {
 public:
  ChainMaintenance(EngineContext& ctx, LiveDisks* live)
      : EnginePart(ctx), live_(live) {}

  // R2.6: merges the failed layers just below the new snapshot layer
  // (layers[2..last]) into it; returns the ids of the snapshots merged.
  Result<std::vector<std::string>> MergeFailedLayers(
      Journal& j, const db::VolumeRecord& vol, const Chain& chain, size_t last);
  // R2.8-R2.9: merges every uploaded snapshot layer into the history layer
  // (or makes it the history when there is none), until none is left.
  Status CompactChain(Journal* j, const db::VolumeRecord& vol);
  // Removes the spare and delta of `disk`'s history (best effort).
  void DropSpares(const std::string& disk);
  // Points `above` (a file of the volume's chain) at `backing`: a header
  // rewrite, or for a running VM's top, RepointLiveTop.
  Status Repoint(Journal* j, const db::VolumeRecord& vol,
                 const std::string& above, const std::string& backing);
  // Removes every Strata-named file of the disk its chain does not use.
  // Large ones are renamed to a ".strata-trash-" name and removed by the
  // reaper after the task, unless `now`.
  Status CollectGarbage(const db::VolumeRecord& vol, bool now = false);

  // Write-back of the histories a revert merged (settle.cc). SettleLater
  // has the reaper settle `history` (SettleHistory: take its fast check,
  // fsync it, drop its unsettled row). SettleAfterCrash, at start, settles
  // every row left, rebuilding from its layers a history whose content a
  // crash may have lost (RebuildHistory: the history is chain.layers[h]).
  void SettleLater(const std::string& history);
  Status SettleAfterCrash();

  // The next merge's backup of `history`, built ahead by the reaper from
  // its spare and delta (spare_prebuild.cc), so that the merge writes only
  // its own layer.
  void PrebuildLater(const std::string& disk, const std::string& history);

 private:
  // Exclusive use of a disk's spare, delta and ready files and of the
  // prebuild's temporaries (spare_prebuild.cc), released on destruction.
  class SpareClaim {
   public:
    SpareClaim() = default;
    SpareClaim(ChainMaintenance* owner, std::string disk)
        : owner_(owner), disk_(std::move(disk)) {}
    SpareClaim(SpareClaim&& o) noexcept
        : owner_(std::exchange(o.owner_, nullptr)), disk_(std::move(o.disk_)) {}
    SpareClaim& operator=(SpareClaim&&) = delete;
    ~SpareClaim() {
      if (owner_) owner_->ReleaseSpares(disk_);
    }
    bool held() const { return owner_ != nullptr; }

   private:
    ChainMaintenance* owner_ = nullptr;
    std::string disk_;
  };
  // Waits for the claim when `wait`, else returns one not held() if taken.
  SpareClaim ClaimSpares(const std::string& disk, bool wait);
  void ReleaseSpares(const std::string& disk);
  Status PrebuildBackup(const std::string& disk, const std::string& history);
  // Corruption unless the qcow2 `backup` has the history's virtual size.
  static Status CheckBackupSize(const std::string& backup,
                                uint64_t history_size);

  // R2.9's backup of the history chain.layers[h] at `backup`: its ready
  // file (built ahead) or rebuilt from its spare and delta when those are
  // there, else copied; `*source` says which, for the log. Its backing relation
  // is made equal to the history's. A rebuilt backup is not yet fsynced (the
  // merge writes it again, then syncs it). `*used_delta` names a file for the
  // caller to Discard once the merge is done ("" if none): freeing a file of
  // many extents while the merge syncs would hold the merge's syncs up.
  Status BackupHistory(Journal* j, const Chain& chain, size_t h,
                       const std::string& backup, std::string* source,
                       std::string* used_delta);
  // After a merge: keeps the replaced history and the merged layer as the
  // new history's spare and delta. False (nothing renamed) if not possible.
  bool RetireIntoSpare(const std::string& disk, const std::string& old_history,
                       const std::string& layer,
                       const std::string& new_history);
  // Renames `path` (a file next to `disk`) to a trash name and has the
  // remover thread remove it; removes it at once if the rename fails.
  Status Discard(const std::string& disk, const std::string& path);
  Status SettleHistory(const std::string& history);
  Status RebuildHistory(const db::UnsettledHistoryRecord& u, const Chain& chain,
                        size_t h);

  LiveDisks* const live_;
  std::mutex spares_mu_;
  std::condition_variable spares_freed_;
  std::set<std::string> spares_claimed_;  // GUARDED_BY(spares_mu_)
};

}  // namespace strata::engine
