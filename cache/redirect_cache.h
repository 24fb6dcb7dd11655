// RedirectCache: the hypervisor-side redirect cache (R0) as a layer over a
// `next` backend, in the manner of an nbdkit filter. While a snapshot works
// on `next`, the VM's writes go to a record log instead (RecordLog) and
// reads see them; afterwards they are written back in receive order, in
// batches, and the cache steps aside again. With a WriteHistory it notes
// every write it receives there, sizes the cache from its forecast (R0.3)
// and lets the forecast put off the final stretch (R0.11). Design and state
// table at the top of redirect_cache.cc; the file format in
// docs/redirect-cache.md.
//
// Thread-safety: all methods may be called from any thread; NBD
// connections call the BlockBackend methods concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "cache/cache_status.h"
#include "cache/drain_policy.h"
#include "cache/record_log.h"
#include "cache/write_history.h"
#include "nbd/block_backend.h"

namespace strata::cache {

class RedirectCache : public nbd::BlockBackend {
 public:
  // Opens (or creates) the log at `log_path` for `next` and replays into
  // `next` whatever a crash left in it (every complete record after the
  // drained mark, in order), flushes `next`, and formats the log: the cache
  // starts in bypass. `history`, when given, is told of every write the
  // cache receives and forecasts for R0.3 and R0.11; it may be shared.
  static Result<std::unique_ptr<RedirectCache>> Open(
      std::shared_ptr<nbd::BlockBackend> next, const std::string& log_path,
      DrainPolicy policy = {}, std::shared_ptr<WriteHistory> history = nullptr);
  ~RedirectCache() override;  // waits for a running drain

  // R0.3: sizes the cache from the snapshot's expected duration and the
  // disk's write rate (space reserved in the log's file system) — with a
  // rate of 0 and a write history, the bytes the history forecasts for
  // those seconds instead — waits for
  // writes already on their way to `next`, flushes `next`, and redirects:
  // from its return on, `next` gets no writes until a drain. Conflict when
  // not in bypass.
  Status StartRedirect(double expected_seconds, uint64_t write_bytes_per_s);
  // R0.8–R0.12: starts writing the cache back (on a thread of its own) and
  // returns; WaitDrained blocks until the cache is back in bypass or the
  // drain stopped on an error (returned). Conflict when not redirecting.
  Status StartDrain();
  Status WaitDrained();
  // Waits at most `timeout` for a running drain to end; false when it
  // still runs.
  bool WaitDrainedFor(std::chrono::milliseconds timeout);
  CacheStatus GetStatus();

  // ---- BlockBackend ----
  std::string Describe() const override;
  uint64_t Size() const override { return next_->Size(); }
  bool CanWrite() const override { return next_->CanWrite(); }
  bool CanFlush() const override { return true; }
  bool CanFua() const override { return true; }
  bool CanTrim() const override { return next_->CanTrim(); }
  bool CanZero() const override { return next_->CanZero(); }
  bool CanMultiConn() const override { return next_->CanMultiConn(); }
  Status Pread(void* buf, uint32_t count, uint64_t offset) override;
  Status Pwrite(const void* buf, uint32_t count, uint64_t offset,
                bool fua) override;
  Status Flush() override;
  Status Trim(uint32_t count, uint64_t offset, bool fua) override;
  Status Zero(uint32_t count, uint64_t offset, bool may_trim,
              bool fua) override;

 private:
  enum class State { kBypass, kRedirect, kDraining };
  // Where the newest data of a range is: a record of the log.
  struct Extent {
    uint64_t end = 0;
    Record rec;
  };

  RedirectCache(std::shared_ptr<nbd::BlockBackend> next,
                std::unique_ptr<RecordLog> log, DrainPolicy policy,
                std::shared_ptr<WriteHistory> history)
      : next_(std::move(next)),
        log_(std::move(log)),
        policy_(policy),
        history_(std::move(history)) {}
  // Applies `rec` (read from the log) to `next`.
  Status WriteBack(const Record& rec, std::string* buf);
  // A write of any kind: to `next` in bypass, else appended to the log.
  Status Redirectable(RecordKind kind, const void* data, uint32_t count,
                      uint64_t offset, bool may_trim, bool fua);
  // Makes [start, end) point at `rec`. REQUIRES: mu_.
  void MapRecord(const Record& rec);
  // Forgets the ranges still pointing at `rec` (written back). REQUIRES: mu_.
  void UnmapRecord(const Record& rec);
  // The drain (R0.8-R0.12), one batch a round: TakeBatch, WriteBackBatch
  // (without mu_), then under mu_ RetireBatch and either FinishDrain (empty
  // in the final stretch) or the policy's steps (drain_policy.h).
  void DrainLoop();
  // The next batch (R0.9's batch size) and the bytes in the cache now.
  std::vector<Record> TakeBatch(uint64_t* bytes_before);
  // Writes `batch` back to `next`, flushes, marks it drained in the log,
  // and updates the measured rate. Without mu_.
  Status WriteBackBatch(const std::vector<Record>& batch, std::string* buf,
                        double* bytes_per_s);
  // Forgets a written-back batch. REQUIRES: mu_.
  void RetireBatch(const std::vector<Record>& batch);
  // R0.12: formats the log, back to bypass, writers go. REQUIRES: `lock`
  // holds mu_; releases it.
  void FinishDrain(std::unique_lock<std::mutex>& lock,
                   std::chrono::steady_clock::time_point blocked_at);
  // R0.9's throttle, when the cache does not shrink. REQUIRES: mu_.
  void ApplyThrottle(const DrainProgress& progress);
  // R0.10-R0.11: blocks new writes for the final stretch when due and not
  // put off by the forecast; true when it did. REQUIRES: mu_.
  bool StartFinalStretch(const DrainProgress& progress);
  // R0.11: true when the forecast puts off a block the thresholds asked
  // for (and counts it). REQUIRES: mu_.
  bool DeferBlockForForecast();
  // The state as the API shows it (blocked is a redirect whose writes
  // wait). REQUIRES: mu_.
  CacheState PublicState() const;
  // Ends a drain. REQUIRES: mu_.
  void EndDrain(const Status& s);
  // How long a write of `cost` bytes arriving now waits before it is
  // acknowledged, under the drain's throttle (zero when none). REQUIRES: mu_.
  std::chrono::steady_clock::duration ThrottleDelay(uint64_t cost);

  const std::shared_ptr<nbd::BlockBackend> next_;
  const std::unique_ptr<RecordLog> log_;
  const DrainPolicy policy_;
  const std::shared_ptr<WriteHistory> history_;  // may be null

  std::mutex mu_;
  std::condition_variable cv_;    // blocked_ lifted, in-flight writes done
  State state_ = State::kBypass;  // GUARDED_BY(mu_)
  // GUARDED_BY(mu_): out of bypass, and StartRedirect's flush of `next`
  // has made every write `next` got durable; until the cache is back in
  // bypass, a client's FLUSH then needs only the log (drained batches are
  // flushed before they leave it).
  bool next_clean_ = false;
  bool blocked_ = false;                // GUARDED_BY(mu_): final drain
  int bypass_writes_in_flight_ = 0;     // GUARDED_BY(mu_)
  std::map<uint64_t, Extent> extents_;  // GUARDED_BY(mu_): by start
  std::deque<Record> pending_;          // GUARDED_BY(mu_): receive order
  uint64_t pending_bytes_ = 0;          // GUARDED_BY(mu_)
  CacheStatus stats_;                   // GUARDED_BY(mu_)
  // The throttle's next free slot: writes are spaced by cost / rate.
  std::chrono::steady_clock::time_point throttle_next_{};  // GUARDED_BY(mu_)
  bool drain_done_ = true;                                 // GUARDED_BY(mu_)
  Status drain_result_;                                    // GUARDED_BY(mu_)
  std::thread drain_thread_;
  // Readers of log data hold it shared; Format takes it exclusively.
  std::shared_mutex log_data_mu_;
};

}  // namespace strata::cache
