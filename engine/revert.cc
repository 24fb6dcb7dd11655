// The revert task (R2.10–R2.11): download the layers from the volume's base
// up to the chosen snapshot, verify each against its SHA-256, merge them, and
// make the disk that state.
//
// Steps (journalled): revert.download → revert.merge → revert.install (the
// atomic rename of a new overlay over the disk's path: the commit point) →
// revert.cleanup. Before the install the disk is untouched; after it the old
// chain is garbage. Unlike Cinder (latest snapshot only), any available
// snapshot of the volume can be the target, also one older than a previous
// revert: snapshots form a tree through parent_id.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/qemu_img.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"
#include "util/time_util.h"

namespace strata::engine {
namespace {

// Reverting to a snapshot whose lineage is one layer: that layer, as stored,
// is the whole new history. When the store keeps it as a file on the disk's
// file system (local store) and its backing is already the volume's base,
// it is hard-linked and the link verified against its SHA-256, instead of
// copied. Nothing modifies a history in place (merges write into backups,
// and a history with a second name is never retired into a spare), so the
// stored object stays as stored. NotSupported: download it instead.
Status LinkStoredLayer(store::Store& store, const db::SnapshotRecord& snap,
                       const std::string& to, const std::string& base,
                       const std::string& base_format) {
  STRATA_ASSIGN_OR_RETURN(std::string from, store.LocalFile(*snap.store_key));
  auto h = ReadQcow2Header(from);
  if (!h.ok() || h->backing_file != base ||
      (!base.empty() && h->backing_format != base_format))
    return Status::NotSupported("the stored layer needs a new backing");
  if (link(from.c_str(), to.c_str()) != 0)
    return Status::NotSupported("link " + from + ": " + strerror(errno));
  auto sha = Sha256File(to);
  if (!sha.ok() || *sha != *snap.sha256) {
    RemoveFile(to);
    if (!sha.ok()) return sha.status();
    return Status::Corruption("the stored layer of snapshot " + snap.id +
                              " has sha256 " + *sha + ", expected " +
                              *snap.sha256);
  }
  return FsyncDir(DirName(to));
}

}  // namespace

Status Engine::RunRevert(Journal& j, db::VolumeRecord vol,
                         const db::SnapshotRecord& target) {
  const std::string& disk = vol.path;
  // The target's lineage, root first.
  std::vector<db::SnapshotRecord> lineage;
  std::optional<std::string> cur = target.id;
  while (cur) {
    if (lineage.size() > 100000)
      return Status::Internal("snapshot lineage loops at " + *cur);
    STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, catalog_->GetSnapshot(*cur));
    if (!s.store_key || !s.sha256)
      return Status::Conflict("snapshot " + s.id + " in the lineage of " +
                              target.id + " has no stored layer");
    cur = s.parent_id;
    lineage.insert(lineage.begin(), std::move(s));
  }
  if (vol.base_path && !PathExists(*vol.base_path))
    return Status::NotFound("the volume's base image " + *vol.base_path +
                            " is missing");

  // The new chain. Without a foreign base and with more than one layer:
  // root history ← history ← new top, where the root history is the root
  // layer as stored (hard-linked from a local store, never written) and the
  // history the other layers merged. Only those, a fraction of the disk in
  // an incremental lineage, are written and made durable; the root layer's
  // verification runs beside their download. With a foreign base the layers
  // are merged into one history instead, so that the chain stays within
  // four files (base ← history ← layer ← top) while a snapshot runs.
  const bool split = lineage.size() > 1 && !vol.base_path;
  std::vector<std::string> files;
  for (size_t i = 0; i < lineage.size(); ++i)
    files.push_back(TempPath(disk, "dl" + std::to_string(i), j.task_id()));
  const std::string history = NewHistoryPath(disk, target.id);
  const std::string root_history =
      split ? NewHistoryPath(disk, lineage[0].id) : "";
  const std::string overlay = TempPath(disk, "overlay", j.task_id());
  // The first file the others are committed into.
  const size_t merge_base = split ? 1 : 0;
  j.state()["downloads"] = files;
  j.state()["history"] = history;
  if (split) j.state()["root_history"] = root_history;
  j.state()["overlay"] = overlay;
  auto cleanup = [&] {
    for (const auto& f : files) RemoveFile(f);
    RemoveFile(overlay);
  };

  // Every layer is verified before the disk is touched.
  const int64_t t_start = MonotonicMicros();
  int64_t download_bytes = 0;
  for (const auto& l : lineage) download_bytes += l.layer_bytes;
  auto fetch = [&](size_t i) -> Status {
    // Only the files that end in the new chain are written back as they
    // arrive and made durable; the others stay scratch.
    const bool kept = i == 0 || i == merge_base;
    store::FileSinkOptions file;
    file.write_behind = kept;
    file.durable = kept;
    // The layer's own digest, once relay stages are undone (R1.3). Without
    // stages it is the stored bytes' digest, which the store's Get checks
    // over the same bytes already: hashed once, not twice.
    if (lineage[i].layer_sha256 != lineage[i].sha256)
      file.expected_sha256 = lineage[i].layer_sha256.value_or("");
    return store::GetToFile(*store_, *lineage[i].store_key, files[i],
                            *lineage[i].sha256, {}, file)
        .WithContext("download of snapshot " + lineage[i].id);
  };
  bool linked = false;
  auto fetch_root = [&]() -> Status {
    // The root layer as stored is the bottom of the new chain (one layer, or
    // the split shape): link it rather than copy it when the store can.
    if (lineage.size() == 1 || split) {
      Status l = LinkStoredLayer(*store_, lineage[0], files[0],
                                 vol.base_path.value_or(""),
                                 vol.base_format.value_or(""));
      if (l.ok()) {
        linked = true;
        return l;
      }
      if (l.code() != StatusCode::kNotSupported)
        return l.WithContext("download of snapshot " + lineage[0].id);
    }
    return fetch(0);
  };
  // The layers are fetched by two threads, the root (the largest, mostly
  // hashing) first: downloads are bound by hashing and copying, a core each.
  // Progress steps are journalled from this thread only.
  const size_t n = lineage.size();
  std::vector<Status> fetched(n);
  std::atomic<size_t> next{0};
  auto work = [&](bool journal) {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      if (journal && i > 0)
        fetched[i] =
            j.Step("revert.download", static_cast<int>(5 + 70 * i / n));
      if (fetched[i].ok()) fetched[i] = i == 0 ? fetch_root() : fetch(i);
      if (!fetched[i].ok()) next.store(n);  // the other thread stops too
    }
  };
  STRATA_RETURN_IF_ERROR(j.Step("revert.download", 5));
  {
    std::thread helper;
    if (n > 1) helper = std::thread(work, false);
    work(true);
    if (helper.joinable()) helper.join();
  }
  Status first_failure;
  for (const Status& f : fetched)
    if (!f.ok()) {
      first_failure = f;
      break;
    }
  if (!first_failure.ok()) {
    cleanup();
    return first_failure;
  }
  const int64_t t_downloaded = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(j.Step("revert.merge", 80));
  // (A linked layer's backing is already the base: it is not rewritten.)
  Status s = linked ? Status::OK()
                    : SetBackingUnsafe(files[0], vol.base_path.value_or(""),
                                       vol.base_format.value_or(""));
  if (s.ok() && split) s = RenameDurable(files[0], root_history);
  // (A crash here leaves the root history outside the chain: garbage.)
  if (s.ok() && split) s = j.Step("revert.merge_upper", 85);
  for (size_t i = 1; s.ok() && i < files.size(); ++i)
    s = SetBackingUnsafe(
        files[i], i == 1 && split ? root_history : files[i - 1], "qcow2");
  if (s.ok() && files.size() > merge_base + 1)
    s = CommitInto(files.back(), files[merge_base]);
  if (s.ok()) s = CheckImage(files[merge_base]);
  if (s.ok()) s = RenameDurable(files[merge_base], history);
  if (s.ok())
    s = CreateOverlay(overlay, history, "qcow2", target.virtual_size,
                      opts_.overlay_cluster_size);
  if (!s.ok()) {
    cleanup();
    RemoveFile(history);
    if (split) RemoveFile(root_history);
    return s;
  }
  const int64_t t_merged = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(j.Step("revert.install", 90));
  STRATA_RETURN_IF_ERROR(RenameDurable(overlay, disk));
  STRATA_RETURN_IF_ERROR(j.Step("revert.cleanup", 95));
  for (const auto& f : files) RemoveFile(f);
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifyVolume(vol.id, [&](db::VolumeRecord& v) {
        v.head_snapshot_id = target.id;
        return Status::OK();
      }));
  LogInfo("volume " + vol.id + " reverted to snapshot " + target.id + ": " +
          std::to_string(lineage.size()) + " layers, " +
          std::to_string(download_bytes >> 20) +
          (linked ? " MiB (the root layer linked) verified in "
                  : " MiB downloaded+verified in ") +
          std::to_string((t_downloaded - t_start) / 1000) + " ms, merged in " +
          std::to_string((t_merged - t_downloaded) / 1000) + " ms");
  STRATA_RETURN_IF_ERROR(CollectGarbage(vol));
  return DropUnneededLayers(vol.id);
}

}  // namespace strata::engine
