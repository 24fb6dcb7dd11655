// BenchVolume: one managed disk in a world of its own — a catalog, a local
// store and an Engine under one directory — with timed snapshot and revert
// calls for the benchmark.
//
// Layout under `dir`: disks/vm.qcow2 (the managed disk and Strata's layers
// next to it), store/ (the "local" store: store/volumes/<vol>/<snap>.qcow2),
// catalog.db.
//
// Thread-safety: not thread-safe; one benchmark thread drives it (a helper
// thread only reads the catalog while a snapshot is timed).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "db/catalog.h"
#include "engine/engine.h"
#include "storage-drivers/store.h"
#include "util/status.h"

namespace strata::bench {

// Times of one snapshot, in microseconds from the CreateSnapshot() call.
struct SnapshotTiming {
  db::SnapshotRecord record;  // as the catalog holds it once idle
  // The new overlay is live (the snapshot record names its layer file, which
  // the engine records right after installing the overlay). Polled every
  // millisecond, so an upper bound; -1 when never seen.
  int64_t cutover_us = -1;
  int64_t stored_us = -1;  // status "available": uploaded and verified
  // The snapshot's task is done: merged into the history and the chain
  // repointed (Engine::WaitTasksDone).
  int64_t merged_us = 0;
  // Idle (WaitIdle): also the background removal of the files the merge
  // left unused.
  int64_t total_us = 0;
};

class BenchVolume {
 public:
  // Creates the world under `dir` (which must exist and be empty), copies
  // `image` to its disk and manages it. `overlay` is passed to
  // EngineOptions.
  static Result<std::unique_ptr<BenchVolume>> Create(
      const std::string& dir, const std::string& image,
      const engine::OverlayLayout& overlay);
  ~BenchVolume();
  BenchVolume(const BenchVolume&) = delete;
  BenchVolume& operator=(const BenchVolume&) = delete;

  // CreateSnapshot + WaitTasksDone + WaitIdle, timed. Internal when it does not
  // end "available".
  Result<SnapshotTiming> TimedSnapshot(const std::string& name);
  // RevertVolume until the volume is no longer "reverting"; microseconds.
  // Internal when the volume's head is not the target afterwards.
  Result<int64_t> TimedRevert(const std::string& snapshot_id);
  // The volume's catalog row (its head snapshot, status).
  Result<db::VolumeRecord> Record() const;
  // The snapshots whose layers make up `snapshot_id`'s state, root first.
  Result<std::vector<db::SnapshotRecord>> Lineage(
      const std::string& snapshot_id);
  // Where the local store keeps a snapshot's layer.
  std::string LayerObjectPath(const db::SnapshotRecord& snap) const;

  const std::string& disk() const { return disk_; }
  const std::string& dir() const { return dir_; }

 private:
  BenchVolume() = default;

  std::string dir_, disk_, store_root_, volume_id_;
  // Declared in destruction order's reverse: the engine goes first.
  std::unique_ptr<db::Catalog> catalog_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<engine::Engine> engine_;
};

}  // namespace strata::bench
