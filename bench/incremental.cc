// Incremental snapshots under one write pattern: each round writes
// cfg.round_bytes at random distinct offsets, then times CreateSnapshot →
// WaitIdle and compares the bytes stored with the bytes written.
// See sections.h.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "bench/qemu_io.h"
#include "bench/sections.h"
#include "engine/qemu_img.h"
#include "util/fs.h"
#include "util/space_reserve.h"
#include "util/time_util.h"

namespace strata::bench {
namespace {

constexpr uint64_t kCheckRegion = 64 << 10;
constexpr double kRatioGoal = 1.05;

// Pattern byte of round `round` (1-based): 0x40 + round, never a fill byte.
uint8_t RoundPattern(int round) { return static_cast<uint8_t>(0x40 + round); }

struct RoundFigures {
  double written_mib = 0, stored_mib = 0, ratio = 0;
  double cutover_ms = 0, stored_ms = 0, merged_ms = 0, total_ms = 0;
};

// One round of the row's writes, in pattern byte `pattern`.
Result<std::vector<DiskWrite>> RoundWrites(const BenchConfig& cfg,
                                           const PatternSpec& spec,
                                           uint8_t pattern,
                                           std::mt19937_64& rng) {
  const uint64_t count = cfg.round_bytes / spec.write_size;
  return spec.sequential ? SequentialWrites(cfg.disk_bytes, spec.write_size,
                                            count, pattern, rng)
                         : RandomWrites(cfg.disk_bytes, spec.write_size, count,
                                        pattern, rng);
}

// Writes one round, snapshots it and records the snapshot and its state.
Result<RoundFigures> RunRound(const BenchConfig& cfg, const PatternSpec& spec,
                              int round, IncrementalRun& run,
                              std::mt19937_64& rng) {
  const uint64_t count = cfg.round_bytes / spec.write_size;
  STRATA_ASSIGN_OR_RETURN(std::vector<DiskWrite> writes,
                          RoundWrites(cfg, spec, RoundPattern(round), rng));
  STRATA_RETURN_IF_ERROR(QemuIoWrite(run.volume->disk(), writes, cfg.batch));
  run.current.Apply(writes);
  STRATA_ASSIGN_OR_RETURN(
      SnapshotTiming t,
      run.volume->TimedSnapshot(spec.key + "-round-" + std::to_string(round)));
  run.snaps.push_back(t.record);
  run.states.push_back(run.current);

  RoundFigures f;
  f.written_mib = static_cast<double>(count * spec.write_size) / kMiB;
  f.stored_mib = static_cast<double>(t.record.layer_bytes) / kMiB;
  f.ratio = f.stored_mib / f.written_mib;
  f.cutover_ms = Ms(t.cutover_us);
  f.stored_ms = Ms(t.stored_us);
  f.merged_ms = Ms(t.merged_us);
  f.total_ms = Ms(t.total_us);
  return f;
}

std::unique_ptr<Table> NewTable(const PatternSpec& spec) {
  return std::make_unique<Table>(
      spec.title, std::vector<std::string>{
                      "round", "written MiB", "stored MiB", "stored/written",
                      "cut-over ms", "stored ms", "merged ms", "total ms"});
}

// The median and max rows, the notes, and the summary figures.
void Summarise(const PatternSpec& spec, const std::vector<RoundFigures>& rounds,
               IncrementalRun& run) {
  std::vector<double> ratio, cutover, stored, merged, total, stored_mib;
  for (const auto& f : rounds) {
    ratio.push_back(f.ratio);
    cutover.push_back(f.cutover_ms);
    stored.push_back(f.stored_ms);
    merged.push_back(f.merged_ms);
    total.push_back(f.total_ms);
    stored_mib.push_back(f.stored_mib);
  }
  Table& t = *run.table;
  t.AddSeparator();
  t.AddRow({Text("median"), Text(""), Num(Median(stored_mib), 2),
            Num(Median(ratio), 3), Num(Median(cutover), 1),
            Num(Median(stored), 1), Num(Median(merged), 1),
            Num(Median(total), 1)});
  t.AddRow({Text("max"), Text(""), Num(Max(stored_mib), 2), Num(Max(ratio), 3),
            Num(Max(cutover), 1), Num(Max(stored), 1), Num(Max(merged), 1),
            Num(Max(total), 1)});
  char goal[160];
  std::snprintf(goal, sizeof goal, "goal stored/written <= %.2f: %s (max %.3f)",
                kRatioGoal, Max(ratio) <= kRatioGoal ? "met" : "NOT met",
                Max(ratio));
  t.AddNote(goal);
  t.AddNote(
      "round r = snapshot #(r+1); snapshot #1, the full layer, is in "
      "the setup table");
  t.AddNote(
      "written = bytes qemu-io wrote since the previous snapshot "
      "(distinct offsets); stored = SnapshotRecord.layer_bytes, the "
      "layer as uploaded, qcow2 metadata included");
  t.AddNote(
      "cut-over = CreateSnapshot() -> new empty overlay installed on "
      "the disk's path (catalog polled every 1 ms); stored = -> the "
      "layer recorded as stored (uploaded, SHA-256 verified); merged = -> "
      "the snapshot's task done (merged into the history, the chain "
      "repointed: Engine::WaitTasksDone()); total = -> WaitIdle() (also "
      "the background removal of the files the merge left unused)");
  if (!spec.note.empty()) t.AddNote(spec.note);
  run.summary.key = spec.key;
  run.summary.median_ratio = Median(ratio);
  run.summary.max_ratio = Max(ratio);
  run.summary.median_cutover_ms = Median(cutover);
  run.summary.max_cutover_ms = Max(cutover);
  run.summary.median_merged_ms = Median(merged);
  run.summary.max_merged_ms = Max(merged);
  run.summary.median_total_ms = Median(total);
  run.summary.max_total_ms = Max(total);
}

// The control for the cleanup a round leaves: a layer file made as a
// round makes one (an overlay in the row's layout on the live disk, one
// round of the row's writes, its reservation released as before an upload),
// removed alone after a sync, as the reaper removes a layer
// (RemoveBigFileGently).
Result<double> TimeLayerRemoval(const BenchConfig& cfg, const PatternSpec& spec,
                                const std::string& disk, std::mt19937_64& rng) {
  const std::string layer = JoinPath(DirName(disk), "layer-rm-control.qcow2");
  (void)RemoveFile(layer);
  STRATA_RETURN_IF_ERROR(engine::CreateOverlay(layer, disk, "qcow2",
                                               cfg.disk_bytes, spec.overlay));
  STRATA_ASSIGN_OR_RETURN(std::vector<DiskWrite> writes,
                          RoundWrites(cfg, spec, RoundPattern(0), rng));
  Status s = QemuIoWrite(layer, writes, cfg.batch);
  if (s.ok()) s = ReleaseSpacePastEnd(layer);
  if (!s.ok()) {
    (void)RemoveFile(layer);
    return s;
  }
  sync();
  const int64_t start = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(RemoveBigFileGently(layer));
  STRATA_RETURN_IF_ERROR(FsyncDir(DirName(disk)));
  return Ms(MonotonicMicros() - start);
}

// The control for the writes a merge and the backup built ahead make:
// the device alone writing one round of the row's writes (its sizes, at
// random offsets, in offset order as a merge writes them) into a sparse
// file of the disk's size, then fdatasync; median of three. Small random
// writes cost this host's disk per request, so a round of 4 KiB writes
// takes several times a round of 64 KiB ones whatever writes it.
Result<double> TimeDeviceWrite(const BenchConfig& cfg, const PatternSpec& spec,
                               const std::string& disk, std::mt19937_64& rng) {
  const std::string path = JoinPath(DirName(disk), "device-write-control");
  std::vector<double> runs;
  for (int rep = 0; rep < 3; ++rep) {
    STRATA_ASSIGN_OR_RETURN(std::vector<DiskWrite> writes,
                            RoundWrites(cfg, spec, RoundPattern(0), rng));
    std::sort(writes.begin(), writes.end(),
              [](const DiskWrite& x, const DiskWrite& y) {
                return x.offset < y.offset;
              });
    (void)RemoveFile(path);
    UniqueFd fd(
        open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return Status::FromErrno("create " + path, errno);
    if (ftruncate(fd.get(), static_cast<off_t>(cfg.disk_bytes)) != 0)
      return Status::FromErrno("truncate " + path, errno);
    sync();
    std::vector<char> buf;
    const int64_t start = MonotonicMicros();
    for (const DiskWrite& w : writes) {
      buf.assign(w.length, static_cast<char>(w.pattern));
      STRATA_RETURN_IF_ERROR(
          PwriteAll(fd.get(), buf.data(), buf.size(), w.offset, path));
    }
    if (fdatasync(fd.get()) != 0)
      return Status::FromErrno("fsync " + path, errno);
    runs.push_back(Ms(MonotonicMicros() - start));
    fd.reset();
    STRATA_RETURN_IF_ERROR(RemoveFile(path));
  }
  return Median(runs);
}

}  // namespace

Result<std::unique_ptr<IncrementalRun>> RunIncremental(const BenchConfig& cfg,
                                                       const PatternSpec& spec,
                                                       const BenchImage& image,
                                                       const std::string& dir,
                                                       std::mt19937_64& rng) {
  auto run = std::make_unique<IncrementalRun>(image.content);
  STRATA_RETURN_IF_ERROR(MakeDirs(dir));
  STRATA_ASSIGN_OR_RETURN(run->volume,
                          BenchVolume::Create(dir, image.path, spec.overlay));
  STRATA_ASSIGN_OR_RETURN(run->full,
                          run->volume->TimedSnapshot(spec.key + "-full"));
  run->snaps.push_back(run->full.record);
  run->states.push_back(run->current);
  Progress(spec.key + ": snapshot #1 (full) stored " +
           std::to_string(run->full.record.layer_bytes >> 20) + " MiB in " +
           std::to_string(run->full.total_us / 1000) + " ms");

  run->table = NewTable(spec);
  std::vector<RoundFigures> rounds;
  for (int r = 1; r <= cfg.rounds; ++r) {
    STRATA_ASSIGN_OR_RETURN(RoundFigures f, RunRound(cfg, spec, r, *run, rng));
    rounds.push_back(f);
    run->table->AddRow({Text(std::to_string(r)), Num(f.written_mib, 2),
                        Num(f.stored_mib, 2), Num(f.ratio, 3),
                        Num(f.cutover_ms, 1), Num(f.stored_ms, 1),
                        Num(f.merged_ms, 1), Num(f.total_ms, 1)});
    Progress(spec.key + ": round " + std::to_string(r) + "/" +
             std::to_string(cfg.rounds) + " stored/written " +
             Num(f.ratio, 3).text + ", total " + Num(f.total_ms, 0).text +
             " ms");
  }
  Summarise(spec, rounds, *run);

  STRATA_ASSIGN_OR_RETURN(
      run->summary.layer_rm_ms,
      TimeLayerRemoval(cfg, spec, run->volume->disk(), rng));
  STRATA_ASSIGN_OR_RETURN(run->summary.device_write_ms,
                          TimeDeviceWrite(cfg, spec, run->volume->disk(), rng));

  // The live disk must still read back everything the rounds wrote.
  std::vector<DiskWrite> checks = SampleChecks(
      run->states.front(), run->current, cfg.verify_samples, kCheckRegion, rng);
  Status v = QemuIoVerify(run->volume->disk(), checks, cfg.batch);
  if (!v.ok()) return v.WithContext(spec.key + ": live disk after the rounds");
  return run;
}

}  // namespace strata::bench
