// BenchVolume. See bench_volume.h.
#include "bench/bench_volume.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "storage-drivers/store_registry.h"
#include "util/fs.h"
#include "util/time_util.h"

namespace strata::bench {
namespace {

constexpr char kProject[] = "bench";
constexpr char kUser[] = "bench";

// Polls the catalog until the layer is recorded as stored or `stop` is set,
// noting when the cut-over and the upload became visible. (The status turns
// "available" only after the merge into history, at the task's end.)
void WatchSnapshot(db::Catalog* catalog, const std::string& id, int64_t start,
                   const std::atomic<bool>& stop, SnapshotTiming* t) {
  while (!stop.load()) {
    auto s = catalog->GetSnapshot(id);
    int64_t now = MonotonicMicros() - start;
    if (s.ok() && t->cutover_us < 0 && s->layer_file) t->cutover_us = now;
    if (s.ok() && s->store_key) {
      if (t->cutover_us < 0) t->cutover_us = now;
      t->stored_us = now;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

Result<std::unique_ptr<BenchVolume>> BenchVolume::Create(
    const std::string& dir, const std::string& image,
    const engine::OverlayLayout& overlay) {
  std::unique_ptr<BenchVolume> v(new BenchVolume());
  v->dir_ = dir;
  const std::string disks = JoinPath(dir, "disks");
  STRATA_RETURN_IF_ERROR(MakeDirs(disks));
  STRATA_RETURN_IF_ERROR(MakeDirs(JoinPath(dir, "store")));
  STRATA_ASSIGN_OR_RETURN(std::string canon_disks, CanonicalPath(disks));
  STRATA_ASSIGN_OR_RETURN(v->store_root_,
                          CanonicalPath(JoinPath(dir, "store")));
  v->disk_ = JoinPath(canon_disks, "vm.qcow2");
  STRATA_RETURN_IF_ERROR(CopyFileSparse(image, v->disk_));

  STRATA_ASSIGN_OR_RETURN(v->catalog_,
                          db::Catalog::Open(JoinPath(dir, "catalog.db")));
  store::RegisterBuiltinStores();
  STRATA_ASSIGN_OR_RETURN(v->store_, store::StoreRegistry::Global().Create(
                                         "local:" + v->store_root_));
  engine::EngineOptions opts;
  opts.allowed_dirs = {canon_disks};
  opts.overlay = overlay;
  v->engine_ = std::make_unique<engine::Engine>(v->catalog_.get(),
                                                v->store_.get(), opts);
  STRATA_RETURN_IF_ERROR(v->engine_->Recover());
  STRATA_ASSIGN_OR_RETURN(
      db::VolumeRecord vol,
      v->engine_->ManageVolume(
          {kProject, kUser, "bench-vm", "", v->disk_, false, {}}));
  v->volume_id_ = vol.id;
  return v;
}

BenchVolume::~BenchVolume() {
  if (engine_) engine_->Stop();
  engine_.reset();
}

Result<SnapshotTiming> BenchVolume::TimedSnapshot(const std::string& name) {
  SnapshotTiming t;
  const int64_t start = MonotonicMicros();
  STRATA_ASSIGN_OR_RETURN(
      db::SnapshotRecord snap,
      engine_->CreateSnapshot({kProject, kUser, volume_id_, name, "", {}}));
  std::atomic<bool> stop{false};
  std::thread watcher(WatchSnapshot, catalog_.get(), snap.id, start,
                      std::cref(stop), &t);
  engine_->WaitTasksDone();
  t.merged_us = MonotonicMicros() - start;
  engine_->WaitIdle();
  t.total_us = MonotonicMicros() - start;
  stop.store(true);
  watcher.join();
  STRATA_ASSIGN_OR_RETURN(t.record, catalog_->GetSnapshot(snap.id));
  if (t.record.status != "available")
    return Status::Internal("snapshot " + name + " ended in status " +
                            t.record.status + ": " + t.record.error);
  return t;
}

Result<int64_t> BenchVolume::TimedRevert(const std::string& snapshot_id) {
  const int64_t start = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(engine_->RevertVolume(volume_id_, snapshot_id));
  // Timed to the volume's status leaving "reverting" (what an API caller
  // waits for; polled every 1 ms); what the engine's reaper does afterwards
  // (a merged history's write-back, the removal of the old chain's files)
  // is not counted, but waited for before the next step.
  int64_t elapsed = 0;
  for (;;) {
    auto v = catalog_->GetVolume(volume_id_);
    if (!v.ok() || v->status != "reverting") {
      elapsed = MonotonicMicros() - start;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  engine_->WaitIdle();
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog_->GetVolume(volume_id_));
  if (vol.head_snapshot_id != snapshot_id || vol.status != "available")
    return Status::Internal("revert to " + snapshot_id +
                            " did not complete (volume status " + vol.status +
                            "); rerun with --verbose for the engine's log");
  return elapsed;
}

Result<db::VolumeRecord> BenchVolume::Record() const {
  return catalog_->GetVolume(volume_id_);
}

Result<std::vector<db::SnapshotRecord>> BenchVolume::Lineage(
    const std::string& snapshot_id) {
  std::vector<db::SnapshotRecord> lineage;
  std::optional<std::string> cur = snapshot_id;
  while (cur) {
    if (lineage.size() > 10000)
      return Status::Internal("snapshot lineage loops at " + *cur);
    STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, catalog_->GetSnapshot(*cur));
    cur = s.parent_id;
    lineage.insert(lineage.begin(), std::move(s));
  }
  return lineage;
}

std::string BenchVolume::LayerObjectPath(const db::SnapshotRecord& snap) const {
  return JoinPath(store_root_, snap.store_key.value_or(""));
}

}  // namespace strata::bench
