// ExportedChains: the engine's ChainHolder (engine/chain_holder.h) for the
// disks Strata serves through its NBD exports with a `qcow2:` backend. For
// each such disk it knows the backend (which can release the chain's files)
// and the export's redirect cache, if any, and runs a snapshot's sequence
// on them (issue 6, point 4):
//   Release:   cache redirect (R0.3–R0.4; `next` flushed, no more writes to
//              it) → backend releases the files (reads from a read-only
//              daemon).
//   Reacquire: backend reopens the disk's new chain → cache drain
//              (R0.8–R0.12) on its own thread, back to bypass when empty.
// Without a cache the VM's writes wait while the chain is released.
//
// A drain still running from the previous snapshot is waited for (up to
// `drain_wait`) before the next redirect: the cache has one log, and a
// redirect starts from bypass.
// Thread-safety: Add before the engine uses it; the rest from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cache/redirect_cache.h"
#include "engine/chain_holder.h"
#include "nbd/qcow_chain_backend.h"

namespace strata::engine {

class ExportedChains : public ChainHolder {
 public:
  explicit ExportedChains(
      std::chrono::milliseconds drain_wait = std::chrono::seconds(60))
      : drain_wait_(drain_wait) {}

  // `disk` canonical; `socket` the export's unix socket; `cache` may be
  // null.
  void Add(const std::string& export_name, const std::string& disk,
           const std::string& socket,
           std::shared_ptr<nbd::QcowChainBackend> chain,
           std::shared_ptr<cache::RedirectCache> cache);

  bool Holds(const std::string& disk) override;
  Status Release(const std::string& disk, double expected_seconds) override;
  Status Reacquire(const std::string& disk) override;
  std::optional<HeldChainStatus> StatusOf(const std::string& disk) override;
  std::optional<std::string> DiskServedOn(const std::string& socket) override;

 private:
  struct Entry {
    std::string export_name;
    std::shared_ptr<nbd::QcowChainBackend> chain;
    std::shared_ptr<cache::RedirectCache> cache;
    std::mutex mu;  // one Release/Reacquire sequence at a time
  };
  Entry* Find(const std::string& disk);
  // Waits until the cache is back in bypass (a drain ended); Conflict when
  // it is not within drain_wait_ or the drain stopped on an error.
  Status AwaitBypass(Entry& e);

  const std::chrono::milliseconds drain_wait_;
  std::map<std::string, std::unique_ptr<Entry>> by_disk_;  // set up front
  std::map<std::string, std::string> disk_by_socket_;      // set up front
};

}  // namespace strata::engine
