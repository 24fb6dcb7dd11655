// Settling the histories a revert merged: their write-back to the disk,
// taken out of the revert itself.
//
// A revert with K > 1 layers merges K − 1 of them into a new history file
// and puts it in the disk's chain straight from the page cache (revert.cc):
// its durable write, the union of the layers, was most of a revert's time.
// Before the install the revert records the file as unsettled (catalog
// table unsettled_histories, with the snapshots whose layers it merged);
// after it the reaper settles it: takes its fast check (util/file_check.h)
// into the row, fsyncs it, and drops the row.
//
// A process crash (kill -9) loses nothing from the page cache; a host crash
// may lose any part of the file. At start, every row left is settled: a
// history whose recorded check still matches is only fsynced; any other is
// rebuilt from its layers (stored, verified) by the same merge, written
// back, and renamed over it. Its content is a function of those layers, and
// the overlays above it address guest offsets, not its clusters, so the
// writes made on it since stay valid. A row whose history is no longer in
// its disk's chain (the revert never installed, or a snapshot merged it
// into a new history since) is dropped; a history retired into a merge's
// spare is fsynced first (chain_ops.cc).
#include "engine/chain_maintenance.h"
#include "engine/layer_fetch.h"
#include "engine/qemu_img.h"
#include "util/file_check.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::engine {

void ChainMaintenance::SettleLater(const std::string& history) {
  reaper_.Submit([this, history] {
    Status s = SettleHistory(history);
    if (!s.ok())
      LogWarning("writing back " + history + ": " + s.ToString() +
                 " (settled at the next start)");
  });
}

Status ChainMaintenance::SettleHistory(const std::string& history) {
  const int64_t t0 = MonotonicMicros();
  auto check = FileCheck(history, 1);
  if (check.ok()) {
    STRATA_RETURN_IF_ERROR(catalog_->SetUnsettledHistoryCheck(history, *check));
    Status s = FsyncPath(history);
    if (!s.ok() && PathExists(history)) return s;
  } else if (check.status().code() != StatusCode::kNotFound) {
    return check.status();
  }
  // Written back, or gone: removed, or renamed into a spare (fsynced first).
  STRATA_RETURN_IF_ERROR(catalog_->RemoveUnsettledHistory(history));
  LogInfo("history " + history + " written back in " +
          std::to_string((MonotonicMicros() - t0) / 1000) + " ms");
  return Status::OK();
}

Status ChainMaintenance::RebuildHistory(const db::UnsettledHistoryRecord& u,
                                        const Chain& chain, size_t h) {
  const std::string& disk = chain.layers[0].path;
  const ChainLayer& history = chain.layers[h];
  const std::string id = NewUuid();
  std::vector<std::string> files;
  const std::string rebuilt = TempPath(disk, "rebuilt", id);
  const std::string scratch = TempPath(disk, "commit-top", id);
  auto cleanup = [&] {
    for (const auto& f : files)
      LogIfError(RemoveFileNoSymlinks(f),
                 "cleanup (garbage collection retries)");
    LogIfError(RemoveFileNoSymlinks(rebuilt),
               "cleanup (garbage collection retries)");
    LogIfError(RemoveFileNoSymlinks(scratch),
               "cleanup (garbage collection retries)");
  };
  Status s;
  for (size_t i = 0; s.ok() && i < u.layers.size(); ++i) {
    auto snap = catalog_->GetSnapshot(u.layers[i]);
    if (!snap.ok() || !snap->store_key || !snap->sha256) {
      s = Status::NotFound("the layer of snapshot " + u.layers[i] +
                           " is no longer stored");
      break;
    }
    files.push_back(TempPath(disk, "settle" + std::to_string(i), id));
    s = FetchLayerToRead(*store_, *snap, files.back())
            .WithContext("layer of snapshot " + snap->id);
  }
  if (s.ok())
    s = MergeIntoNewImage(
        files, rebuilt, history.header.backing_file,
        history.header.backing_format, history.header.virtual_size,
        OverlayLayout{history.header.cluster_size, history.header.extended_l2},
        scratch,
        /*flush=*/true);
  if (s.ok()) s = FsyncPath(rebuilt);
  if (s.ok()) s = RenameDurableNoSymlinks(rebuilt, history.path);
  cleanup();
  return s;
}

Status ChainMaintenance::SettleAfterCrash() {
  STRATA_ASSIGN_OR_RETURN(auto rows, catalog_->UnsettledHistories());
  for (const auto& u : rows) {
    auto vol = catalog_->GetVolume(u.volume_id);
    Chain chain;
    size_t h = 0;  // the history's place in the chain; 0: not in it
    if (vol.ok()) {
      auto c = ReadChain(vol->path, vol->path, confinement_);
      if (!c.ok()) {  // e.g. a create's top not yet back in place
        LogWarning("recovery: the chain of " + vol->path + " is unreadable (" +
                   c.status().ToString() + "); " + u.path +
                   " is settled later");
        continue;
      }
      for (size_t i = 1; i + 1 < c->length(); ++i)
        if (c->layers[i].path == u.path) h = i;
      chain = std::move(*c);
    }
    if (h == 0) {
      LogInfo("recovery: " + u.path + " is in no chain now: nothing to settle");
      STRATA_RETURN_IF_ERROR(catalog_->RemoveUnsettledHistory(u.path));
      continue;
    }
    if (u.file_check) {
      auto now = FileCheck(u.path, 2);
      if (now.ok() && *now == *u.file_check) {
        STRATA_RETURN_IF_ERROR(FsyncPath(u.path));
        LogInfo("recovery: history " + u.path +
                " kept its content; written back");
        STRATA_RETURN_IF_ERROR(catalog_->RemoveUnsettledHistory(u.path));
        continue;
      }
    }
    const int64_t t0 = MonotonicMicros();
    Status r = RebuildHistory(u, chain, h);
    if (r.ok()) {
      LogWarning("recovery: history " + u.path +
                 (u.file_check ? " had lost part of its content"
                               : " may not have been written back") +
                 "; rebuilt from the layers of " +
                 std::to_string(u.layers.size()) + " snapshot(s) in " +
                 std::to_string((MonotonicMicros() - t0) / 1000) + " ms");
      STRATA_RETURN_IF_ERROR(catalog_->RemoveUnsettledHistory(u.path));
      continue;
    }
    // Its content is unknown: the volume is not used until an operator
    // looks (the row stays: the next start tries again).
    LogError("recovery: history " + u.path + " of volume " + u.volume_id +
             " may have lost content in a crash and could not be rebuilt: " +
             r.ToString());
    SettleVolumeStatus(u.volume_id, "error");
  }
  return Status::OK();
}

}  // namespace strata::engine
