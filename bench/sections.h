// The benchmark's sections: the data-filled image every section starts from
// (setup), incremental snapshots under one write pattern, and rollback of
// chains of 1, 2, 4, 8 layers against qemu-img anchors.
//
// Each incremental section runs in a world of its own (BenchVolume) so the
// patterns do not see each other's layers; the rollback section reuses the
// world pattern (a) left behind, with its snapshots and expected contents.
//
// Thread-safety: run from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_config.h"
#include "bench/bench_volume.h"
#include "bench/disk_model.h"
#include "bench/guest_io.h"
#include "bench/report.h"
#include "util/status.h"

namespace strata::bench {

// The qcow2 image with the initial data, copied into each section's world.
struct BenchImage {
  std::string path;
  DiskModel content;
  int64_t create_us = 0;  // qemu-img create
  int64_t fill_us = 0;    // the qemu-io fill writes
};

// Creates `<dir>/image.qcow2` (cfg.disk_bytes) and fills cfg.data_bytes.
Result<BenchImage> BuildImage(const BenchConfig& cfg, const std::string& dir);

// One incremental pattern: what each round writes, and the overlays' cluster
// size the engine is told to use.
struct PatternSpec {
  std::string key;    // short name: "a", "b", "b-4k"
  std::string title;  // for the table
  uint64_t write_size = 0;
  engine::OverlayLayout overlay;  // default: qemu-img's (64 KiB clusters)
  std::string note;               // printed under the table
  bool sequential = false;        // one run of writes, not random offsets
};

// Per-pattern figures for the summary table.
struct PatternSummary {
  std::string key;
  double median_ratio = 0, max_ratio = 0;
  double median_cutover_ms = 0, max_cutover_ms = 0;
  double median_merged_ms = 0, max_merged_ms = 0;
  double median_total_ms = 0, max_total_ms = 0;
  // The machine's part of the cleanup: removing a copy of one of the
  // section's layer files, alone (ext4 frees a file of many extents slowly).
  double layer_rm_ms = 0;
  // The machine's part of each write of a layer's data into a history or
  // its backup: one round of the row's writes made alone into a sparse
  // file of the disk's size and synced, median of three.
  double device_write_ms = 0;
  GuestIoPair guest;  // through the chain the section left (guest_io.h)
};

// What a finished incremental section leaves behind.
struct IncrementalRun {
  explicit IncrementalRun(const DiskModel& start) : current(start) {}

  std::unique_ptr<BenchVolume> volume;
  SnapshotTiming full;                    // snapshot #1 (the full layer)
  std::vector<db::SnapshotRecord> snaps;  // #1, #2, … oldest first
  std::vector<DiskModel> states;          // expected content at each
  DiskModel current;                      // what the disk holds now
  std::unique_ptr<Table> table;
  PatternSummary summary;
};

// Builds the world in `dir`, takes snapshot #1, then cfg.rounds rounds of
// random writes + snapshot; checks the disk's content at the end.
Result<std::unique_ptr<IncrementalRun>> RunIncremental(const BenchConfig& cfg,
                                                       const PatternSpec& spec,
                                                       const BenchImage& image,
                                                       const std::string& dir,
                                                       std::mt19937_64& rng);

// Reverts `run`'s volume to the snapshots whose lineage has 1, 2, 4, 8
// layers, verifying the data after each, and times the qemu-img anchors on
// copies of the same layers in `scratch`. Corruption on a data mismatch.
Result<std::unique_ptr<Table>> RunRollback(const BenchConfig& cfg,
                                           IncrementalRun& run,
                                           const std::string& scratch,
                                           std::mt19937_64& rng);

// Microseconds → milliseconds.
inline double Ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

// A progress line on stderr ("[bench] …").
void Progress(const std::string& line);

}  // namespace strata::bench
