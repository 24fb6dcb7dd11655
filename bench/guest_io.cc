// qemu-img bench on a section's live disk. See guest_io.h.
#include "bench/guest_io.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

#include "bench/report.h"
#include "util/fs.h"
#include "util/subprocess.h"

namespace strata::bench {
namespace {

// The 1 MiB runs are short (512 MiB at ~2 GB/s: a quarter second) and
// spread more between identical layouts than the goal's margin (0.90-1.10
// for a median of 7 here), so they get more reps than the 4 KiB runs.
constexpr int kSequentialRepsPer4k = 3;

// Seconds one `qemu-img bench` run took.
Result<double> BenchSeconds(const std::string& disk,
                            const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"qemu-img", "bench", "-f", "qcow2",
                                   "-t",       "none",  "-d", "16"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(disk);
  STRATA_ASSIGN_OR_RETURN(ProcessResult r, RunChecked(argv));
  const std::string key = "Run completed in ";
  const size_t at = r.out.find(key);
  if (at == std::string::npos)
    return Status::Internal("qemu-img bench printed no time: " + r.out);
  return std::stod(r.out.substr(at + key.size()));
}

}  // namespace

Result<GuestIoPair> MeasureGuestIo(const std::string& disk, uint64_t disk_bytes,
                                   const engine::OverlayLayout& layout,
                                   uint64_t bytes, int reps) {
  const uint64_t n4k = bytes / 4096;
  const uint64_t n1m = std::min(8 * bytes, disk_bytes / 2) >> 20;
  // Odd strides of 4 KiB slots: scattered, no slot twice within a run.
  const std::string wstep = std::to_string(4096ull * 7919);
  const std::string rstep = std::to_string(4096ull * 104729);
  const std::string top = disk + ".guest-io.qcow2";
  // The previous run's top is removed, and the file system's work for that
  // (discards at the journal's commit, on this host) done, before the next
  // timed run: otherwise each run pays for the one before it.
  auto fresh = [&](const engine::OverlayLayout& l) {
    (void)RemoveFile(top);
    sync();
    Status s = engine::CreateOverlay(top, disk, "qcow2", disk_bytes, l);
    sync();
    return s;
  };
  // A rep of the 4 KiB runs, as {IOPS, IOPS, -, -}.
  auto rep4k = [&](const engine::OverlayLayout& l) -> Result<GuestIo> {
    STRATA_RETURN_IF_ERROR(fresh(l));
    STRATA_ASSIGN_OR_RETURN(
        double w, BenchSeconds(top, {"-w", "-s", "4k", "-S", wstep, "-c",
                                     std::to_string(n4k)}));
    STRATA_ASSIGN_OR_RETURN(double r,
                            BenchSeconds(top, {"-s", "4k", "-S", rstep, "-c",
                                               std::to_string(2 * n4k)}));
    return GuestIo{static_cast<double>(n4k) / w,
                   static_cast<double>(2 * n4k) / r, 0, 0};
  };
  // A rep of the 1 MiB runs, as {-, -, MB/s, MB/s}.
  auto rep1m = [&](const engine::OverlayLayout& l) -> Result<GuestIo> {
    STRATA_RETURN_IF_ERROR(fresh(l));
    STRATA_ASSIGN_OR_RETURN(
        double sw, BenchSeconds(top, {"-w", "-s", "1M", "-S", "1M", "-c",
                                      std::to_string(n1m)}));
    STRATA_ASSIGN_OR_RETURN(
        double sr,
        BenchSeconds(top, {"-s", "1M", "-S", "1M", "-c", std::to_string(n1m)}));
    return GuestIo{0, 0, static_cast<double>(n1m) * 1.048576 / sw,
                   static_cast<double>(n1m) * 1.048576 / sr};
  };
  struct Runs {
    std::vector<double> w4, r4, w1, r1;
    void Add4k(const GuestIo& g) {
      w4.push_back(g.write4k_iops);
      r4.push_back(g.read4k_iops);
    }
    void Add1m(const GuestIo& g) {
      w1.push_back(g.write1m_mbs);
      r1.push_back(g.read1m_mbs);
    }
    GuestIo Medians() const {
      return GuestIo{Median(w4), Median(r4), Median(w1), Median(r1)};
    }
  } mine, anchor, ratio;
  // Pairs of reps, the section's layout and qemu's; which runs first
  // alternates, so an effect of the order cancels.
  auto pairs = [&](int n, auto&& rep, auto&& add) -> Status {
    for (int i = 0; i < n; ++i) {
      Result<GuestIo> g = GuestIo{}, a = GuestIo{};
      if (i % 2 == 0) {
        g = rep(layout);
        if (g.ok()) a = rep(engine::OverlayLayout());
      } else {
        a = rep(engine::OverlayLayout());
        if (a.ok()) g = rep(layout);
      }
      if (!g.ok()) return g.status();
      if (!a.ok()) return a.status();
      add(mine, *g);
      add(anchor, *a);
      add(ratio, GuestIo{Ratio(g->write4k_iops, a->write4k_iops),
                         Ratio(g->read4k_iops, a->read4k_iops),
                         Ratio(g->write1m_mbs, a->write1m_mbs),
                         Ratio(g->read1m_mbs, a->read1m_mbs)});
    }
    return Status::OK();
  };
  Status s = pairs(reps, rep4k, [](Runs& r, const GuestIo& g) { r.Add4k(g); });
  if (s.ok())
    s = pairs(kSequentialRepsPer4k * reps, rep1m,
              [](Runs& r, const GuestIo& g) { r.Add1m(g); });
  (void)RemoveFile(top);
  if (!s.ok()) return s;
  return GuestIoPair{mine.Medians(), anchor.Medians(), ratio.Medians()};
}

}  // namespace strata::bench
