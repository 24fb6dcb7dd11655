// Rollback: RevertVolume to the snapshots whose lineage has K = 1, 2, 4, 8
// layers, timed to WaitIdle and verified by reading the disk back, side by
// side with two qemu-img anchors run on copies of the same K layer files
// (each timed --reps times, the median shown):
//   convert  qemu-img convert -O qcow2 <top> out.qcow2   (flatten the chain)
//   rebase   qemu-img rebase -F qcow2 -b <bottom> <top>  (safe mode: the
//            middle layers' data is copied into the top)
// See sections.h.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

#include "bench/qemu_io.h"
#include "bench/sections.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/subprocess.h"
#include "util/time_util.h"

namespace strata::bench {
namespace {

constexpr uint64_t kCheckRegion = 64 << 10;
constexpr uint8_t kUncommittedPattern = 0xee;
constexpr int kUncommittedWrites = 64;
constexpr size_t kConvertColumn = 6;    // "Strata/convert"
constexpr size_t kMinAnchorColumn = 7;  // "Strata/min(anchor)"

struct AnchorTimes {
  int64_t convert_us = 0;
  int64_t rebase_us = -1;  // -1: not applicable (one layer)
};

// The median of `v` (not empty).
int64_t Median(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Writes back what earlier steps left dirty, so that no timed run pays for
// another's writeback.
void SyncAll() {
  // A failed sync only makes the next timing noisier.
  if (!RunProcess({"sync"}).ok()) std::cerr << "sync failed\n";
}

Result<int64_t> TimeCommand(const std::vector<std::string>& argv) {
  SyncAll();
  const int64_t start = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(RunChecked(argv).status());
  return MonotonicMicros() - start;
}

// Copies the lineage's layers from the store into `dir` as l0.qcow2 … and
// points each at the one below it (the stored names are the host's).
Result<std::vector<std::string>> StageLayers(
    const BenchVolume& vol, const std::vector<db::SnapshotRecord>& lineage,
    const std::string& dir) {
  std::vector<std::string> files;
  for (size_t i = 0; i < lineage.size(); ++i) {
    std::string f = JoinPath(dir, "l" + std::to_string(i) + ".qcow2");
    STRATA_RETURN_IF_ERROR(CopyFileSparse(vol.LayerObjectPath(lineage[i]), f));
    std::vector<std::string> argv = {"qemu-img", "rebase", "-q", "-u",
                                     "-f",       "qcow2",  "-b"};
    if (i == 0) {
      argv.push_back("");
    } else {
      argv.insert(argv.end(), {files.back(), "-F", "qcow2"});
    }
    argv.push_back(f);
    STRATA_RETURN_IF_ERROR(RunChecked(argv).status());
    files.push_back(f);
  }
  return files;
}

// Times both anchors `cfg.rollback_reps` times each (medians) on fresh
// copies of the layers, and checks each result holds the expected data.
Result<AnchorTimes> MeasureAnchors(
    const BenchConfig& cfg, const BenchVolume& vol,
    const std::vector<db::SnapshotRecord>& lineage,
    const std::vector<DiskWrite>& checks, const std::string& dir) {
  std::vector<int64_t> convert_us, rebase_us;
  for (int rep = 0; rep < cfg.rollback_reps; ++rep) {
    STRATA_RETURN_IF_ERROR(MakeDirs(dir));
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> files,
                            StageLayers(vol, lineage, dir));
    const std::string out = JoinPath(dir, "out.qcow2");
    STRATA_ASSIGN_OR_RETURN(
        int64_t c, TimeCommand({"qemu-img", "convert", "-f", "qcow2", "-O",
                                "qcow2", files.back(), out}));
    convert_us.push_back(c);
    Status s = QemuIoVerify(out, checks, cfg.batch);
    if (!s.ok()) return s.WithContext("qemu-img convert result");
    LogIfError(RemoveFile(out), "removing " + out);
    if (files.size() > 1) {
      STRATA_ASSIGN_OR_RETURN(
          int64_t r, TimeCommand({"qemu-img", "rebase", "-f", "qcow2", "-F",
                                  "qcow2", "-b", files.front(), files.back()}));
      rebase_us.push_back(r);
      s = QemuIoVerify(files.back(), checks, cfg.batch);
      if (!s.ok()) return s.WithContext("qemu-img rebase result");
    }
    STRATA_RETURN_IF_ERROR(RemoveTree(dir));
  }
  AnchorTimes t;
  t.convert_us = Median(convert_us);
  if (!rebase_us.empty()) t.rebase_us = Median(rebase_us);
  return t;
}

// Live writes no snapshot holds: the revert must discard them.
Status WriteUncommitted(const BenchConfig& cfg, IncrementalRun& run,
                        std::mt19937_64& rng) {
  STRATA_ASSIGN_OR_RETURN(
      std::vector<DiskWrite> junk,
      RandomWrites(cfg.disk_bytes, kCheckRegion, kUncommittedWrites,
                   kUncommittedPattern, rng));
  STRATA_RETURN_IF_ERROR(QemuIoWrite(run.volume->disk(), junk, cfg.batch));
  run.current.Apply(junk);
  return Status::OK();
}

// Reverts to run.snaps[i] --reps times and returns the median time. Each
// timed revert follows fresh writes no snapshot holds and `sync`, and the
// disk is read back after each (`*checks`: the last run's reads). With
// `away`, every repeat first reverts, untimed, to run.snaps[*away].
Result<int64_t> TimedReverts(const BenchConfig& cfg, IncrementalRun& run,
                             size_t i, std::optional<size_t> away,
                             std::mt19937_64& rng,
                             std::vector<DiskWrite>* checks) {
  std::vector<int64_t> runs;
  for (int rep = 0; rep < cfg.rollback_reps; ++rep) {
    if (rep > 0 && away) {
      STRATA_RETURN_IF_ERROR(
          run.volume->TimedRevert(run.snaps[*away].id).status());
      run.current = run.states[*away];
    }
    STRATA_RETURN_IF_ERROR(WriteUncommitted(cfg, run, rng));
    *checks = SampleChecks(run.current, run.states[i], cfg.verify_samples,
                           kCheckRegion, rng);
    SyncAll();
    STRATA_ASSIGN_OR_RETURN(int64_t us,
                            run.volume->TimedRevert(run.snaps[i].id));
    runs.push_back(us);
    Status v = QemuIoVerify(run.volume->disk(), *checks, cfg.batch);
    if (!v.ok())
      return v.WithContext("disk after revert to snapshot #" +
                           std::to_string(i + 1));
    run.current = run.states[i];
  }
  return Median(runs);
}

// One row: revert to the snapshot with `k` layers, verify, run the anchors.
Result<std::vector<Cell>> RollbackRow(const BenchConfig& cfg,
                                      IncrementalRun& run, size_t k,
                                      const std::string& scratch,
                                      std::mt19937_64& rng) {
  const db::SnapshotRecord& target = run.snaps[k - 1];
  STRATA_ASSIGN_OR_RETURN(std::vector<db::SnapshotRecord> lineage,
                          run.volume->Lineage(target.id));
  if (lineage.size() != k)
    return Status::Internal("snapshot #" + std::to_string(k) + " has " +
                            std::to_string(lineage.size()) + " layers, not " +
                            std::to_string(k));
  int64_t layer_bytes = 0;
  for (const auto& s : lineage) layer_bytes += s.layer_bytes;

  // Once the disk is at #k, #k is the latest snapshot, whose revert needs
  // no layers (the "latest" row): the repeats start from another one.
  const size_t away = k == run.snaps.size() ? 0 : run.snaps.size() - 1;
  std::vector<DiskWrite> checks;
  STRATA_ASSIGN_OR_RETURN(int64_t strata_us,
                          TimedReverts(cfg, run, k - 1, away, rng, &checks));

  STRATA_ASSIGN_OR_RETURN(
      AnchorTimes a,
      MeasureAnchors(cfg, *run.volume, lineage, checks,
                     JoinPath(scratch, "k" + std::to_string(k))));
  double best =
      Ms(a.rebase_us < 0 ? a.convert_us : std::min(a.convert_us, a.rebase_us));
  Progress("rollback: " + std::to_string(k) + " layers: Strata " +
           Num(Ms(strata_us), 0).text + " ms, best anchor " +
           Num(best, 0).text + " ms, " + std::to_string(checks.size()) +
           " reads verified");
  return std::vector<Cell>{
      Num(static_cast<double>(k), 0),
      Text("#" + std::to_string(k)),
      Num(static_cast<double>(layer_bytes) / kMiB, 1),
      Num(Ms(strata_us), 1),
      Num(Ms(a.convert_us), 1),
      a.rebase_us < 0 ? Text("n/a") : Num(Ms(a.rebase_us), 1),
      Num(Ms(strata_us) / Ms(a.convert_us), 2),
      Num(Ms(strata_us) / best, 2),
      Text(std::to_string(checks.size()) + " ok")};
}

// The revert to the latest snapshot, the one the disk was last reverted
// to: a new overlay on the history already in the chain (docs/engine.md),
// nothing to compare with qemu-img.
Result<std::vector<Cell>> LatestRow(const BenchConfig& cfg, IncrementalRun& run,
                                    std::mt19937_64& rng) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, run.volume->Record());
  size_t i = 0;
  while (i < run.snaps.size() && run.snaps[i].id != vol.head_snapshot_id) ++i;
  if (i == run.snaps.size())
    return Status::Internal("the volume's head is none of the snapshots");
  std::vector<DiskWrite> checks;
  STRATA_ASSIGN_OR_RETURN(
      int64_t us, TimedReverts(cfg, run, i, std::nullopt, rng, &checks));
  return std::vector<Cell>{Text("latest"),
                           Text("#" + std::to_string(i + 1)),
                           Text("-"),
                           Num(Ms(us), 1),
                           Text("n/a"),
                           Text("n/a"),
                           Text("n/a"),
                           Text("n/a"),
                           Text(std::to_string(checks.size()) + " ok")};
}

// `worst_ratio`: the largest Strata/min(anchor); `worst_moving`: the same
// where rebase counts only when it moves data (K >= 3).
void AddRollbackNotes(Table& t, double worst_ratio, double worst_moving) {
  char goal[240];
  std::snprintf(goal, sizeof goal,
                "goal Strata/min(anchor) <= 1.0x: %s (max %.2fx); with "
                "rebase counted only where it moves data (K >= 3): %s "
                "(max %.2fx)",
                worst_ratio <= 1.0 ? "met" : "NOT met", worst_ratio,
                worst_moving <= 1.0 ? "met" : "NOT met", worst_moving);
  t.AddNote(goal);
  t.AddNote(
      "Strata = RevertVolume() -> the volume leaves status reverting "
      "(catalog polled every 1 ms); it includes getting the K layers from "
      "the local store, each verified (every layer a hard link of the "
      "stored file, checked with the XXH3-128 check recorded at upload, "
      "on two threads; K > 1: beside that, qemu-img commit of the layers "
      "above the root into a new file on it, which leaves root <- merged "
      "layers, the shape rebase leaves), qemu-img check, a new overlay "
      "and the catalog updates. Like the anchors' results, the merged "
      "file is left in the page cache: Strata writes it back after the "
      "revert and rebuilds it from the layers if a crash lost it "
      "(docs/engine.md, settling); the old chain's files are removed "
      "after it, in the background");
  t.AddNote(
      "convert = qemu-img convert -O qcow2 <top> out.qcow2; rebase = "
      "qemu-img rebase -F qcow2 -b <bottom> <top> (safe mode; n/a for "
      "one layer). Both run on copies of the same layer files already "
      "in a scratch dir, backing names fixed with rebase -u (copy time "
      "not counted)");
  t.AddNote(
      "rebase only copies what the layers between <bottom> and <top> "
      "hold: with K=2 there are none and it rewrites nothing, and its "
      "result is still a two-file chain, as Strata's is (K=2: both "
      "stored files linked as they are, nothing merged); Strata still "
      "checks every layer. convert produces one file holding the whole "
      "lineage");
  t.AddNote(
      "verified = read -P checks (one per uniform run in the sampled "
      "64 KiB regions, about half of them regions the revert had to "
      "change) passed on the disk and on both anchors' results");
  t.AddNote(
      "latest = a revert to the snapshot the disk was last reverted to, its "
      "latest: a new empty overlay on the history file already in the "
      "chain, which holds exactly that snapshot's state (nothing "
      "downloaded or merged; Cinder allows only this revert); the goal "
      "column leaves it out");
  t.AddNote(
      "each ms column is the median of --reps runs (default 3), each after "
      "`sync`; a repeat of row K first reverts (untimed) to another "
      "snapshot, so that #K is not the latest; all files are in the page "
      "cache: a warm run");
}

}  // namespace

Result<std::unique_ptr<Table>> RunRollback(const BenchConfig& cfg,
                                           IncrementalRun& run,
                                           const std::string& scratch,
                                           std::mt19937_64& rng) {
  auto table = std::make_unique<Table>(
      "3. Rollback: RevertVolume to a snapshot with K layers (pattern a) vs "
      "qemu-img",
      std::vector<std::string>{"K layers", "target", "layers MiB", "Strata ms",
                               "convert ms", "rebase ms", "Strata/convert",
                               "Strata/min(anchor)", "verified"});
  double worst = 0, worst_moving = 0;
  for (size_t k : {1, 2, 4, 8}) {
    if (k > run.snaps.size()) {
      Progress("rollback: skipping " + std::to_string(k) + " layers (only " +
               std::to_string(run.snaps.size()) + " snapshots)");
      continue;
    }
    STRATA_ASSIGN_OR_RETURN(std::vector<Cell> row,
                            RollbackRow(cfg, run, k, scratch, rng));
    worst = std::max(worst, *row[kMinAnchorColumn].number);
    worst_moving = std::max(
        worst_moving, *row[k >= 3 ? kMinAnchorColumn : kConvertColumn].number);
    table->AddRow(std::move(row));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<Cell> latest, LatestRow(cfg, run, rng));
  table->AddRow(std::move(latest));
  AddRollbackNotes(*table, worst, worst_moving);
  return table;
}

}  // namespace strata::bench
