// DrainPolicy: when a redirect cache's drain throttles the VM, stops
// taking its writes for the final stretch, or puts that off on the write
// history's forecast (R0.9-R0.11). Pure decisions on what the drain
// measured, kept apart from the mechanics of writing back
// (redirect_cache.cc) so that each reads as its design note does.
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>

namespace strata::cache {

// R0.10: when the drain stops taking new writes for its final stretch —
// any one threshold met (derived from how long a stall the VM tolerates).
struct DrainPolicy {
  uint64_t batch_bytes = 8 << 20;  // written back per batch (R0.9)
  uint64_t block_below_records = 64;
  uint64_t block_below_bytes = 4 << 20;
  double block_below_seconds = 0.05;  // estimated from the measured rate
  // R0.11: when the thresholds say block but the history forecasts more
  // than this many writes in the next `forecast_window_seconds`, write back
  // another batch first (0: off). At most `max_forecast_deferrals` times a
  // drain, so that a drain under steady writes still ends; a cache that is
  // empty never waits for the forecast (its final stretch costs nothing).
  uint64_t defer_above_forecast_writes = 0;
  double forecast_window_seconds = 60;
  uint32_t max_forecast_deferrals = 8;
  // Convergence (R0.9's "don't block" branch): when a batch leaves the
  // cache no smaller — the VM writes faster than `next` takes them back —
  // new writes are still accepted, but acknowledged at no more than this
  // fraction of the measured write-back rate for the rest of the drain, so
  // the cache shrinks and the final stretch comes (0: never throttle; the
  // drain then ends only when the VM slows down).
  double throttle_ratio = 0.5;
};

// What the drain knows after a batch.
struct DrainProgress {
  uint64_t records_left = 0, bytes_left = 0;  // still in the cache
  uint64_t bytes_before_batch = 0;    // in the cache when the batch began
  bool batch_empty = true;            // the batch wrote nothing back
  double write_back_bytes_per_s = 0;  // measured, flush and mark included
};

// R0.9's "don't block" branch: when a batch left the cache no smaller, the
// rate new writes are to be held to (a fraction of the write-back rate);
// 0 when nothing changes.
double ThrottleRate(const DrainPolicy& p, const DrainProgress& d);

// R0.10: true when any threshold says the rest is short enough to write
// back with the VM's writes waiting. `*eta_seconds` is the rest's estimated
// write-back time (1e9 with no rate measured yet).
bool FinalStretchDue(const DrainPolicy& p, const DrainProgress& d,
                     double* eta_seconds);

// R0.11: whether the final stretch is put off for another batch: on, a
// cache with records left, deferrals left, and more writes forecast than
// the policy's bound. `forecast_writes` is only asked for when needed.
bool ForecastDefersBlock(const DrainPolicy& p, uint64_t records_left,
                         uint64_t deferrals_so_far, double forecast_writes);
// Whether a forecast is worth computing at all (ForecastDefersBlock can be
// true).
bool ForecastMatters(const DrainPolicy& p, bool have_history,
                     uint64_t records_left, uint64_t deferrals_so_far);

}  // namespace strata::cache
