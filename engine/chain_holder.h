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

#include "cache/cache_status.h"
#include "util/status.h"

namespace strata::engine {

// What the REST API shows of a held chain on its volume.
struct HeldChainStatus {
  std::string export_name;
  bool released = false;  // the chain work has the files
  std::optional<cache::CacheStatus>
      cache;  // a redirect cache takes the VM's writes
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
