// CacheStatus: a redirect cache's state and counters (RedirectCache fills
// it), as the REST API shows them on the volume and on
// /strata/v1/nbd-exports (R0.3-R0.12).
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <string>

namespace strata::cache {

// Where the VM's writes go. kBlocked: redirecting, but new writes wait
// until the drain has caught up (R0.11).
enum class CacheState { kBypass, kRedirect, kDraining, kBlocked };

// "bypass", "redirect", "draining" or "blocked", as the API shows it.
inline const char* CacheStateName(CacheState s) {
  switch (s) {
    case CacheState::kBypass:
      return "bypass";
    case CacheState::kRedirect:
      return "redirect";
    case CacheState::kDraining:
      return "draining";
    case CacheState::kBlocked:
      return "blocked";
  }
  return "draining";
}

struct CacheStatus {
  CacheState state = CacheState::kBypass;
  uint64_t records = 0, bytes = 0;  // in the cache, not yet written back
  uint64_t written_back = 0;        // records written back this drain
  uint64_t capacity_bytes = 0;      // R0.3's estimate for this snapshot
  // R0.3: the bytes the VM was expected to write during the snapshot, and
  // whether that came from the write history's forecast (the caller gave
  // no rate) rather than from the caller's rate.
  double expected_write_bytes = 0;
  bool expected_from_forecast = false;
  // R0.11, this drain: the last forecast of writes in the window asked
  // when the thresholds said block, how often it put the block off, and
  // how many records had been written back when writes were blocked.
  double forecast_writes = 0;
  uint64_t deferrals = 0;
  uint64_t written_back_at_block = 0;
  // This drain: the rate new writes are held to (0: not throttled).
  double throttle_bytes_per_s = 0;
  uint64_t replayed_at_open = 0;  // records a crash had left
  double last_pause_ms = 0;       // the last final drain's write stall
  std::string error;              // why the last drain stopped, if it did
};

}  // namespace strata::cache
