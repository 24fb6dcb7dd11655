// The drain's decisions. See drain_policy.h.
#include "cache/drain_policy.h"

namespace strata::cache {

double ThrottleRate(const DrainPolicy& p, const DrainProgress& d) {
  if (p.throttle_ratio <= 0 || d.write_back_bytes_per_s <= 0 || d.batch_empty ||
      d.bytes_left < d.bytes_before_batch)
    return 0;
  return p.throttle_ratio * d.write_back_bytes_per_s;
}

bool FinalStretchDue(const DrainPolicy& p, const DrainProgress& d,
                     double* eta_seconds) {
  const double eta = d.write_back_bytes_per_s > 0
                         ? d.bytes_left / d.write_back_bytes_per_s
                         : 1e9;
  *eta_seconds = eta;
  return d.records_left == 0 || d.records_left < p.block_below_records ||
         d.bytes_left < p.block_below_bytes || eta < p.block_below_seconds;
}

bool ForecastMatters(const DrainPolicy& p, bool have_history,
                     uint64_t records_left, uint64_t deferrals_so_far) {
  // Off, nothing to forecast from, nothing left to stall on (an empty
  // cache's final stretch is a format), or out of deferrals (a VM that
  // always writes must not keep the drain going for ever).
  return p.defer_above_forecast_writes != 0 && have_history &&
         records_left != 0 && deferrals_so_far < p.max_forecast_deferrals;
}

bool ForecastDefersBlock(const DrainPolicy& p, uint64_t records_left,
                         uint64_t deferrals_so_far, double forecast_writes) {
  return ForecastMatters(p, /*have_history=*/true, records_left,
                         deferrals_so_far) &&
         forecast_writes > static_cast<double>(p.defer_above_forecast_writes);
}

}  // namespace strata::cache
