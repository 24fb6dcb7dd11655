// The revert task (R2.10–R2.11): download the layers from the volume's base
// up to the chosen snapshot, verify each against its SHA-256, merge them into
// one file, and make the disk that state.
//
// Steps (journalled): revert.download → revert.merge → revert.install (the
// atomic rename of a new overlay over the disk's path: the commit point) →
// revert.cleanup. Before the install the disk is untouched; after it the old
// chain is garbage. Unlike Cinder (latest snapshot only), any available
// snapshot of the volume can be the target, also one older than a previous
// revert: snapshots form a tree through parent_id.
#include "engine/engine.h"
#include "engine/qemu_img.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/time_util.h"

namespace strata::engine {

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

  std::vector<std::string> files;
  for (size_t i = 0; i < lineage.size(); ++i)
    files.push_back(TempPath(disk, "dl" + std::to_string(i), j.task_id()));
  const std::string history = NewHistoryPath(disk, target.id);
  const std::string overlay = TempPath(disk, "overlay", j.task_id());
  j.state()["downloads"] = files;
  j.state()["history"] = history;
  j.state()["overlay"] = overlay;
  auto cleanup = [&] {
    for (const auto& f : files) RemoveFile(f);
    RemoveFile(overlay);
  };

  // Every layer is verified before the disk is touched.
  const int64_t t_start = MonotonicMicros();
  int64_t download_bytes = 0;
  for (size_t i = 0; i < lineage.size(); ++i) {
    download_bytes += lineage[i].layer_bytes;
    STRATA_RETURN_IF_ERROR(j.Step(
        "revert.download", static_cast<int>(5 + 70 * i / lineage.size())));
    // Only the bottom download becomes the new history (the layers above
    // are committed into it, then deleted): it alone must end on disk, and
    // is written back as it arrives; the others stay scratch.
    store::FileSinkOptions file;
    file.write_behind = i == 0;
    file.durable = i == 0;
    Status s = store::GetToFile(*store_, *lineage[i].store_key, files[i],
                                *lineage[i].sha256, {}, file);
    if (!s.ok()) {
      cleanup();
      return s.WithContext("download of snapshot " + lineage[i].id);
    }
  }
  const int64_t t_downloaded = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(j.Step("revert.merge", 80));
  Status s = SetBackingUnsafe(files[0], vol.base_path.value_or(""),
                              vol.base_format.value_or(""));
  for (size_t i = 1; s.ok() && i < files.size(); ++i)
    s = SetBackingUnsafe(files[i], files[i - 1], "qcow2");
  if (s.ok() && files.size() > 1) s = CommitInto(files.back(), files.front());
  if (s.ok()) s = CheckImage(files.front());
  if (s.ok()) s = RenameDurable(files.front(), history);
  if (s.ok())
    s = CreateOverlay(overlay, history, "qcow2", target.virtual_size,
                      opts_.overlay_cluster_size);
  if (!s.ok()) {
    cleanup();
    RemoveFile(history);
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
          " MiB downloaded+verified in " +
          std::to_string((t_downloaded - t_start) / 1000) + " ms, merged in " +
          std::to_string((t_merged - t_downloaded) / 1000) + " ms");
  STRATA_RETURN_IF_ERROR(CollectGarbage(vol));
  return DropUnneededLayers(vol.id);
}

}  // namespace strata::engine
