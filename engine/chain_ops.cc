// Chain maintenance on a quiet disk: the R2.6 merge of failed layers, the
// R2.8–R2.9 merge of uploaded layers into history, and removal of files the
// chain no longer uses.
//
// Every merge follows R2.9: the sources are copied to backups, the backups'
// backing relations are checked against the sources' and fixed, the backups
// are merged (qemu-img commit), and only after the result is in place and the
// chain points at it are the sources deleted. Until that switch the old chain
// is intact, so a crash at any step leaves a valid chain plus garbage that
// CollectGarbage removes.
//
// Copying the history for every merge would cost as much I/O as the disk
// holds data, per snapshot, and that I/O stalls a running VM's writes. So a
// merge keeps its sources instead of deleting them: the replaced history
// becomes the new history's "spare" and the merged layer its "delta". The
// next merge makes its backup of the history by committing the delta into
// the spare (the same operation on the same inputs that made the history),
// which reads and writes only the delta. The price is disk space: one more
// history-sized file per disk. Without a usable spare (the first merges, or
// after a revert or a crash), the history is copied.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "engine/chain_maintenance.h"
#include "engine/layer_apply.h"
#include "engine/qemu_img.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::engine {
namespace {

// R2.9: the backup's backing relation must equal the source's; fix it if not.
Status MatchBacking(const std::string& backup, const std::string& want,
                    const std::string& want_fmt) {
  STRATA_ASSIGN_OR_RETURN(qcow2::Qcow2Header h, qcow2::ReadQcow2Header(backup));
  if (h.backing_file == want && (want.empty() || h.backing_format == want_fmt))
    return Status::OK();
  return SetBackingUnsafe(backup, want, want_fmt);
}

std::string BackingFmt(const Chain& c, size_t i) {
  return i + 1 < c.length() ? c.layers[i + 1].format : "";
}
std::string BackingPath(const Chain& c, size_t i) {
  return i + 1 < c.length() ? c.layers[i + 1].path : "";
}

}  // namespace

Result<std::vector<std::string>> ChainMaintenance::MergeFailedLayers(
    Journal& j, const db::VolumeRecord& vol, const Chain& chain, size_t last) {
  const std::string& disk = vol.path;
  const std::string& top_id = chain.layers[1].name.snapshot_id;
  std::vector<std::string> backups;
  std::vector<std::string> covered;
  STRATA_RETURN_IF_ERROR(j.Step("create.merge_failed", 11));
  auto cleanup = [&] {
    for (const auto& b : backups)
      LogIfError(RemoveFileNoSymlinks(b),
                 "cleanup (garbage collection retries)");
  };
  for (size_t i = 1; i <= last; ++i) {
    std::string b = TempPath(disk, "merge", chain.layers[i].name.snapshot_id);
    Status s = CopyFileSparseNoSymlinks(chain.layers[i].path, b);
    if (!s.ok()) {
      cleanup();
      return s;
    }
    backups.push_back(b);
    if (i > 1) covered.push_back(chain.layers[i].name.snapshot_id);
  }
  // Backups chain to each other exactly as the sources did; the bottom one
  // keeps the sources' base.
  for (size_t i = 0; i < backups.size(); ++i) {
    bool bottom = i + 1 == backups.size();
    Status s = bottom ? MatchBacking(backups[i], BackingPath(chain, last),
                                     BackingFmt(chain, last))
                      : MatchBacking(backups[i], backups[i + 1], "qcow2");
    if (!s.ok()) {
      cleanup();
      return s;
    }
  }
  Status s = CommitInto(backups);
  if (s.ok()) s = CheckImage(backups.back());
  if (!s.ok()) {
    cleanup();
    return s;
  }
  // The merged file replaces the new snapshot layer under the same name (the
  // disk's backing name does not change); the failed layers become garbage.
  STRATA_RETURN_IF_ERROR(j.Step("create.install_merged", 13));
  s = RenameDurableNoSymlinks(backups.back(), chain.layers[1].path);
  backups.pop_back();
  cleanup();
  STRATA_RETURN_IF_ERROR(s);
  for (size_t i = 2; i <= last; ++i)
    LogIfError(RemoveFileNoSymlinks(chain.layers[i].path),
               "cleanup (garbage collection retries)");
  for (const auto& id : covered) {
    Status noted = catalog_->ModifySnapshot(id, [&](db::SnapshotRecord& s) {
      s.layer_file.reset();
      s.error = "its writes are carried by snapshot " + top_id + " (R2.6)";
      return Status::OK();
    });
    // The row may be gone (deleted while in error): nothing to note then.
    if (!noted.ok() && !noted.IsNotFound())
      LogWarning("snapshot " + id +
                 ": noting its carrier: " + noted.ToString());
  }
  return covered;
}

Status ChainMaintenance::CheckBackupSize(const std::string& backup,
                                         uint64_t history_size) {
  STRATA_ASSIGN_OR_RETURN(qcow2::Qcow2Header got,
                          qcow2::ReadQcow2Header(backup));
  if (got.virtual_size != history_size)
    return Status::Corruption(backup + " has virtual size " +
                              std::to_string(got.virtual_size) +
                              ", the history " + std::to_string(history_size));
  return Status::OK();
}

Status ChainMaintenance::BackupHistory(Journal* j, const Chain& chain, size_t h,
                                       const std::string& backup,
                                       std::string* source,
                                       std::string* used_delta) {
  const std::string& disk = chain.layers[0].path;
  const ChainLayer& history = chain.layers[h];
  const std::string spare = SparePath(disk, history.path);
  const std::string delta = DeltaPath(disk, history.path);
  const std::string ready = ReadyPath(disk, history.path);
  *source = "history copied";
  used_delta->clear();
  SpareClaim claim = ClaimSpares(disk, /*wait=*/true);
  if (IsSoleName(ready)) {
    // Built ahead by the reaper (spare_prebuild.cc): the history's content,
    // synced. Only its backing relation and size are checked, as a copy's
    // would be.
    Status s = RenameDurableNoSymlinks(ready, backup);
    if (s.ok()) {
      if (j) s = j->Step("compact.rebuild_backup", 100);
      if (s.ok())
        s = MatchBacking(backup, BackingPath(chain, h), BackingFmt(chain, h));
      if (s.ok()) s = CheckBackupSize(backup, history.header.virtual_size);
      if (s.ok()) {
        *source = "history's backup built ahead";
        return Status::OK();
      }
      LogWarning("the backup of " + history.path +
                 " built ahead is unusable (" + s.ToString() +
                 "); copying the history");
      LogIfError(RemoveFileNoSymlinks(backup),
                 "cleanup (garbage collection retries)");
    }
  }
  if (IsSoleName(spare) && IsSoleName(delta)) {
    // The spare is the history this one replaced and the delta the layer
    // merged into it then: committing the delta into the spare makes a file
    // with the history's content, as a copy would, reading only the delta.
    // The spare is renamed first: a crash mid-way leaves a temporary that
    // garbage collection removes, never a half-updated spare.
    Status s = RenameDurableNoSymlinks(spare, backup);
    if (s.ok() && j) s = j->Step("compact.rebuild_backup", 100);
    if (s.ok())
      s = MatchBacking(backup, BackingPath(chain, h), BackingFmt(chain, h));
    if (s.ok()) s = MatchBacking(delta, backup, "qcow2");
    if (s.ok()) {
      s = ApplyLayerInto(delta, backup, /*sync=*/false, nullptr);
      // A spare whose clusters are not all its own: an unbacked history is
      // copied instead, preallocated, so that the histories made from now
      // on are; one with a backing file is committed into.
      if (s.code() == StatusCode::kNotSupported &&
          !history.header.backing_file.empty())
        s = CommitInto({delta, backup});
    }
    if (s.ok()) s = CheckBackupSize(backup, history.header.virtual_size);
    if (s.ok()) {
      // A layer of small writes is a file of many extents, slow to free (a
      // second for 16 000 on this host's ext4 with discard): in the
      // background, after the merge.
      *used_delta = delta;
      *source = "history rebuilt from its spare";
      return Status::OK();
    }
    LogIfError(RemoveFileNoSymlinks(delta),
               "cleanup (garbage collection retries)");
    LogIfError(RemoveFileNoSymlinks(backup),
               "cleanup (garbage collection retries)");
    if (s.code() == StatusCode::kNotSupported)
      LogInfo("copying " + history.path + ": its spare is not preallocated");
    else
      LogWarning("rebuilding the backup of " + history.path +
                 " from its spare failed (" + s.ToString() + "); copying it");
  }
  LogIfError(RemoveFileNoSymlinks(spare),
             "cleanup (garbage collection retries)");
  LogIfError(RemoveFileNoSymlinks(delta),
             "cleanup (garbage collection retries)");
  // A history with no backing file is copied with every cluster allocated,
  // so that merges into it and into the histories made from it write the
  // layers' extents in place (layer_apply.h). One with a backing file
  // cannot be: a preallocated cluster would hide the backing file's data.
  Status copied = Status::NotSupported("the history has a backing file");
  if (history.header.backing_file.empty()) {
    copied =
        CopyPreallocated(history.path, backup, history.header.cluster_size);
    if (!copied.ok())
      LogWarning("a preallocated copy of " + history.path + " failed (" +
                 copied.ToString() + "); copying it as it is");
  }
  if (!copied.ok())
    STRATA_RETURN_IF_ERROR(CopyFileSparseNoSymlinks(history.path, backup));
  return MatchBacking(backup, BackingPath(chain, h), BackingFmt(chain, h));
}

bool ChainMaintenance::RetireIntoSpare(const std::string& disk,
                                       const std::string& old_history,
                                       const std::string& layer,
                                       const std::string& new_history) {
  // The delta is later emptied by qemu-img commit: only a file with no
  // other name may become one.
  if (!IsSoleName(old_history) || !IsSoleName(layer)) return false;
  SpareClaim claim = ClaimSpares(disk, /*wait=*/true);
  // The spare is later read as the history it was: it must be on the disk
  // (a revert's history may still be settling: settle.cc).
  if (!FsyncPath(old_history).ok()) return false;
  const std::string spare = SparePath(disk, new_history);
  const std::string delta = DeltaPath(disk, new_history);
  if (RenameDurableNoSymlinks(layer, delta).ok() &&
      RenameDurableNoSymlinks(old_history, spare).ok())
    return true;
  LogIfError(RemoveFileNoSymlinks(delta),
             "cleanup (garbage collection retries)");
  LogIfError(RemoveFileNoSymlinks(spare),
             "cleanup (garbage collection retries)");
  return false;
}

void ChainMaintenance::DropSpares(const std::string& disk) {
  auto chain = ReadChain(disk, disk, confinement_);
  if (!chain.ok()) return;
  SpareClaim claim = ClaimSpares(disk, /*wait=*/true);
  for (const auto& l : chain->layers) {
    if (l.name.kind != LayerKind::kHistory) continue;
    LogIfError(Discard(disk, SparePath(disk, l.path)),
               "cleanup (garbage collection retries)");
    LogIfError(RemoveFileNoSymlinks(DeltaPath(disk, l.path)),
               "cleanup (garbage collection retries)");
    LogIfError(Discard(disk, ReadyPath(disk, l.path)),
               "cleanup (garbage collection retries)");
  }
}

Status ChainMaintenance::Repoint(Journal* j, const db::VolumeRecord& vol,
                                 const std::string& above,
                                 const std::string& backing) {
  if (above == vol.path) {
    STRATA_ASSIGN_OR_RETURN(auto live, live_->LiveDiskOf(vol));
    if (live) return live_->RepointLiveTop(j, vol, *live, backing);
  }
  return SetBackingUnsafe(above, backing, "qcow2");
}

Status ChainMaintenance::CompactChain(Journal* j, const db::VolumeRecord& vol) {
  const std::string& disk = vol.path;
  for (int round = 0; round < 32; ++round) {
    STRATA_ASSIGN_OR_RETURN(Chain chain, ReadChain(disk, disk, confinement_));
    // The lowest uploaded snapshot layer (index u ≥ 1).
    size_t u = 0;
    for (size_t i = chain.length(); i-- > 1;) {
      const LayerName& n = chain.layers[i].name;
      if (n.kind != LayerKind::kSnapshot) continue;
      STRATA_ASSIGN_OR_RETURN(bool up, catalog_->IsUploaded(n.snapshot_id));
      if (up) {
        u = i;
        break;
      }
    }
    if (u == 0) return Status::OK();
    const ChainLayer& layer = chain.layers[u];
    const std::string& above = chain.layers[u - 1].path;
    if (u > 1) {
      // A running VM holds the files below its top open read-only; their
      // headers cannot be rewritten under it. Merge only under the top.
      STRATA_ASSIGN_OR_RETURN(auto live, live_->LiveDiskOf(vol));
      if (live) {
        LogInfo("compaction of " + disk + " waits: " + layer.path +
                " is not directly under the running VM's top");
        return Status::OK();
      }
    }
    const std::string history = NewHistoryPath(disk, layer.name.snapshot_id);
    bool has_history = u + 1 < chain.length() &&
                       chain.layers[u + 1].name.kind == LayerKind::kHistory;
    if (u + 1 < chain.length() &&
        chain.layers[u + 1].name.kind == LayerKind::kSnapshot)
      return Status::Internal("chain of " + disk +
                              " is inconsistent: " + chain.layers[u + 1].path +
                              " lies under an uploaded layer");
    if (j) {
      j->state()["history"] = history;
      STRATA_RETURN_IF_ERROR(j->Step("compact.begin", 100));
    }
    if (!has_history) {
      // First uploaded layer on the base: it becomes the history as is.
      STRATA_RETURN_IF_ERROR(LinkNoSymlinks(layer.path, history));
      STRATA_RETURN_IF_ERROR(FsyncDir(DirName(history)));
      if (j) STRATA_RETURN_IF_ERROR(j->Step("compact.repoint", 100));
      STRATA_RETURN_IF_ERROR(Repoint(j, vol, above, history));
      STRATA_RETURN_IF_ERROR(RemoveFileNoSymlinks(layer.path));
      continue;
    }
    // R2.9: merge backups of the layer and the history into a new history.
    const ChainLayer& old_history = chain.layers[u + 1];
    const std::string hist_backup =
        TempPath(disk, "hist", layer.name.snapshot_id);
    const std::string layer_backup =
        TempPath(disk, "layer", layer.name.snapshot_id);
    if (j) STRATA_RETURN_IF_ERROR(j->Step("compact.backup", 100));
    const int64_t t_begin = MonotonicMicros();
    std::string backup_source;
    std::string used_delta;
    Status s = BackupHistory(j, chain, u + 1, hist_backup, &backup_source,
                             &used_delta);
    const int64_t t_backed_up = MonotonicMicros();
    bool applied = false;
    if (s.ok() && j) s = j->Step("compact.merge", 100);
    if (s.ok()) {
      // By its extents, the layer is only read (layer_apply.h): it needs no
      // backup. qemu-img commit opens its top for writing, so it gets one.
      s = ApplyLayerInto(layer.path, hist_backup, /*sync=*/true, nullptr);
      applied = s.ok();
      if (s.code() == StatusCode::kNotSupported) {
        LogInfo("merging " + layer.path +
                " with qemu-img commit: " + s.message());
        s = CopyFileSparseNoSymlinks(layer.path, layer_backup);
        if (s.ok()) s = MatchBacking(layer_backup, hist_backup, "qcow2");
        if (s.ok()) s = CommitInto({layer_backup, hist_backup});  // syncs
        LogIfError(RemoveFileNoSymlinks(layer_backup),
                   "cleanup (garbage collection retries)");
      }
    }
    if (s.ok()) s = CheckImage(hist_backup);
    if (s.ok()) s = RenameDurableNoSymlinks(hist_backup, history);
    // The delta the backup was rebuilt from is freed by the reaper, after
    // the next backup's prebuild (below) when all goes well.
    auto discard_used = [&] {
      if (!used_delta.empty())
        LogIfError(Discard(disk, used_delta),
                   "cleanup (garbage collection retries)");
      used_delta.clear();
    };
    if (!s.ok()) {
      discard_used();
      LogIfError(RemoveFileNoSymlinks(hist_backup),
                 "cleanup (garbage collection retries)");
      return s;
    }
    const int64_t t_merged = MonotonicMicros();
    if (j) s = j->Step("compact.repoint", 100);
    if (s.ok()) s = Repoint(j, vol, above, history);
    if (!s.ok()) {
      discard_used();
      return s;
    }
    LogInfo("merged " + BaseName(layer.path) + " into a new history of " +
            BaseName(disk) + ": backups " +
            std::to_string((t_backed_up - t_begin) / 1000) + " ms (" +
            backup_source + "), merge " +
            std::to_string((t_merged - t_backed_up) / 1000) + " ms (" +
            (applied ? "by extents" : "qemu-img commit") + "), repoint " +
            std::to_string((MonotonicMicros() - t_merged) / 1000) + " ms");
    // The sources are no longer in the chain (for a running VM: Repoint has
    // pivoted it off them). They become the spare and delta of the new
    // history, so the next merge rebuilds its backup from them instead of
    // copying the whole history.
    if (j) s = j->Step("compact.delete_sources", 100);
    if (s.ok()) {
      if (RetireIntoSpare(disk, old_history.path, layer.path, history)) {
        PrebuildLater(disk, history);
      } else {
        s = RemoveFileNoSymlinks(layer.path);
        if (s.ok()) s = Discard(disk, old_history.path);
      }
    }
    discard_used();
    STRATA_RETURN_IF_ERROR(s);
  }
  return Status::Internal("compaction of " + disk + " did not converge");
}

Status ChainMaintenance::Discard(const std::string& disk,
                                 const std::string& path) {
  const std::string trash = TempPath(disk, "trash", NewUuid());
  Status renamed = RenameDurableNoSymlinks(path, trash);
  // A directory that is not what its name says is left alone.
  if (renamed.code() == StatusCode::kInvalidArgument) return renamed;
  if (!renamed.ok()) return RemoveBigFileGently(path);
  remover_.Submit([trash] {
    Status s = RemoveBigFileGently(trash);
    if (!s.ok()) LogWarning("removing " + trash + ": " + s.ToString());
  });
  return Status::OK();
}

Status ChainMaintenance::CollectGarbage(const db::VolumeRecord& vol, bool now) {
  const std::string& disk = vol.path;
  STRATA_ASSIGN_OR_RETURN(Chain chain, ReadChain(disk, disk, confinement_));
  std::set<std::string> live;
  for (const auto& l : chain.layers) {
    live.insert(BaseName(l.path));
    if (l.name.kind == LayerKind::kHistory) {
      live.insert(BaseName(SparePath(disk, l.path)));
      live.insert(BaseName(DeltaPath(disk, l.path)));
      live.insert(BaseName(ReadyPath(disk, l.path)));
    }
  }
  // Not under a prebuild's feet: its temporary is in no chain either.
  SpareClaim claim = ClaimSpares(disk, /*wait=*/true);
  const std::string dir = DirName(disk);
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names,
                          ListDirNoSymlinks(dir));
  std::vector<std::string> doomed;
  for (const std::string& name : names) {
    std::string path = JoinPath(dir, name);
    const bool temp = IsTempOf(disk, path);
    bool ours = temp || ParseLayerName(disk, path).kind != LayerKind::kForeign;
    // Trash is already queued for the reaper (after a crash: `now`).
    bool trash =
        temp && BaseName(path).find(".strata-trash-") != std::string::npos;
    if (ours && !live.count(name) && (now || !trash)) doomed.push_back(path);
  }
  for (const auto& path : doomed) {
    LogInfo("removing unused file " + path);
    Status s = PathExists(path + "/.") ? RemoveTree(path)
               : now                   ? RemoveBigFileGently(path)
                                       : Discard(disk, path);
    if (!s.ok()) LogWarning(s.ToString());
  }
  return Status::OK();
}

}  // namespace strata::engine
