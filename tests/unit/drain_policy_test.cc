// Tests for cache/drain_policy: the drain's decisions (R0.9-R0.11) on what
// it measured, apart from the write-back mechanics redirect_cache_test
// drives with real I/O.
#include "cache/drain_policy.h"

#include <doctest/doctest.h>

namespace strata::cache {
namespace {

DrainProgress Progress(uint64_t records, uint64_t bytes, uint64_t before,
                       double rate) {
  DrainProgress d;
  d.records_left = records;
  d.bytes_left = bytes;
  d.bytes_before_batch = before;
  d.batch_empty = false;
  d.write_back_bytes_per_s = rate;
  return d;
}

TEST_CASE("R0.9: a cache that does not shrink throttles to a fraction") {
  DrainPolicy p;  // throttle_ratio 0.5
  // Grew from 10 to 12 MiB while 100 MB/s were written back.
  CHECK(ThrottleRate(p, Progress(500, 12 << 20, 10 << 20, 100e6)) ==
        doctest::Approx(50e6));
  // Unchanged counts as not shrinking.
  CHECK(ThrottleRate(p, Progress(500, 10 << 20, 10 << 20, 100e6)) > 0);
  // Shrinking, no rate yet, an empty batch, or throttling off: no change.
  CHECK(ThrottleRate(p, Progress(500, 9 << 20, 10 << 20, 100e6)) == 0);
  CHECK(ThrottleRate(p, Progress(500, 12 << 20, 10 << 20, 0)) == 0);
  DrainProgress empty = Progress(500, 12 << 20, 10 << 20, 100e6);
  empty.batch_empty = true;
  CHECK(ThrottleRate(p, empty) == 0);
  p.throttle_ratio = 0;
  CHECK(ThrottleRate(p, Progress(500, 12 << 20, 10 << 20, 100e6)) == 0);
}

TEST_CASE("R0.10: any one threshold starts the final stretch") {
  DrainPolicy p;  // below 64 records, 4 MiB or 50 ms
  double eta = 0;
  // 1000 records, 64 MiB at 100 MB/s: ~0.67 s left, no threshold met.
  CHECK_FALSE(FinalStretchDue(p, Progress(1000, 64 << 20, 0, 100e6), &eta));
  CHECK(eta == doctest::Approx((64 << 20) / 100e6));
  CHECK(FinalStretchDue(p, Progress(63, 64 << 20, 0, 100e6), &eta));
  CHECK(FinalStretchDue(p, Progress(1000, (4 << 20) - 1, 0, 100e6), &eta));
  // 8 MiB at 1 GB/s: ~8 ms < 50 ms.
  CHECK(FinalStretchDue(p, Progress(1000, 8 << 20, 0, 1e9), &eta));
  CHECK(FinalStretchDue(p, Progress(0, 0, 0, 0), &eta));
  // No rate measured yet: the time threshold cannot be met.
  CHECK_FALSE(FinalStretchDue(p, Progress(1000, 64 << 20, 0, 0), &eta));
  CHECK(eta == doctest::Approx(1e9));
}

TEST_CASE(
    "R0.11: the forecast puts the final stretch off, a bounded number "
    "of times") {
  DrainPolicy p;
  CHECK_FALSE(ForecastMatters(p, true, 10, 0));  // off by default
  p.defer_above_forecast_writes = 100;
  p.max_forecast_deferrals = 3;
  CHECK(ForecastMatters(p, true, 10, 0));
  CHECK_FALSE(ForecastMatters(p, false, 10, 0));  // no history
  CHECK_FALSE(ForecastMatters(p, true, 0, 0));    // empty: nothing to stall
  CHECK_FALSE(ForecastMatters(p, true, 10, 3));   // out of deferrals
  CHECK(ForecastDefersBlock(p, 10, 2, 101));
  CHECK_FALSE(ForecastDefersBlock(p, 10, 2, 100));  // not above the bound
  CHECK_FALSE(ForecastDefersBlock(p, 10, 3, 1e6));
}

}  // namespace
}  // namespace strata::cache
