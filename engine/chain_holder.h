// ChainHolder: something outside the engine that keeps a volume's qcow2
// chain open and serves it to a VM — Strata's own NBD exports, whose
// qemu-storage-daemon serves the chain through the redirect cache (R0,
// issue 6). Before a snapshot's chain work the engine asks the holder to
// let go of the files (the VM's writes go to the cache meanwhile: R0.3–R0.4)
// and afterwards to take the new chain back and write the cache back
// (R0.8–R0.12). So the work itself is the quiet-disk flow of the spine
// (rename top, new overlay, upload, merge), and the VM does not wait for it.
//
// Thread-safety: implementations are called from the engine's workers and
// the API's threads concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "util/status.h"

namespace strata::engine {

// A redirect cache's state (cache/redirect_cache.h fills it), as the REST
// API shows it on the volume and on /strata/v1/nbd-exports. Defined here
// so that a held chain's status can carry it.
struct CacheStatus {
  std::string state;                // bypass, redirect, draining, blocked
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

// What the REST API shows of a held chain on its volume.
struct HeldChainStatus {
  std::string export_name;
  bool released = false;             // the chain work has the files
  std::optional<CacheStatus> cache;  // a redirect cache takes the VM's writes
};

class ChainHolder {
 public:
  virtual ~ChainHolder() = default;
  // True when it serves the chain whose top is `disk` (a canonical path).
  virtual bool Holds(const std::string& disk) = 0;
  // Redirects the VM's writes (the cache sized for `expected_seconds`,
  // R0.3) and lets go of the chain's files: from its return on, nothing
  // writes or locks them, and reads still work. OK when already released.
  virtual Status Release(const std::string& disk, double expected_seconds) = 0;
  // Opens the chain at `disk` again (its top may be a new file) and starts
  // writing the redirected writes back. Errors leave it released, the VM's
  // writes still safe in the cache; the next Release/Reacquire tries again.
  virtual Status Reacquire(const std::string& disk) = 0;
  virtual std::optional<HeldChainStatus> StatusOf(const std::string& disk) = 0;
  // The disk (canonical path) served on the unix socket `socket`, which a
  // domain's network disk names; nullopt when none is.
  virtual std::optional<std::string> DiskServedOn(
      const std::string& socket) = 0;
};

}  // namespace strata::engine
