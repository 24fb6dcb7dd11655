// The redirect cache (R0). See redirect_cache.h.
//
// Design. The cache sits between an NBD export and its `next` backend.
// Outside snapshots it is a pass-through. StartRedirect() switches writes
// to an append-only record log (each write a checksummed record, R0.5–R0.6)
// and keeps an in-memory extent map: for every byte range written since,
// the record holding its newest data (R0.7). The snapshot then works on a
// quiet `next`. StartDrain() writes the records back to `next` in receive
// order, a batch at a time, each batch flushed and then marked drained in
// the log's header (so a crash never applies a record twice, and never
// loses one); new writes keep landing at the log's tail meanwhile (R0.9).
// After each batch the policy decides whether to stop taking writes for the
// rest (R0.10) — unless the write history forecasts a busy near future,
// which buys a few more batches first (R0.11); once the log is empty it is
// formatted and the cache is bypassed again (R0.12).
//
// clang-format off
// State table (per cache):
//   state      writes go to   reads come from   moves on to
//   bypass     next           next              redirect: StartRedirect
//   redirect   log tail       map, else next    draining: StartDrain
//   draining   log tail       map, else next    +blocked: the policy says so
//                                               (R0.10) and the forecast
//                                               does not put it off (R0.11)
//   +blocked   wait           map, else next    bypass: log empty, formatted
// clang-format on
// Per byte range, the extent map says: absent = next has the newest data;
// present = record R has it (a write's bytes in the log, or zeroes for a
// zero/trim record); a range leaves the map once R is written back.
//
// Crash: Open() replays every complete record after the drained mark into
// `next` in order, flushes, formats. Acknowledged writes are in the log
// (FUA and FLUSH sync it), so none is lost; the drained mark moves only
// after `next` is flushed, so none is applied twice.
#include "cache/redirect_cache.h"

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "util/crc32c.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/time_util.h"

namespace strata::cache {

CacheState RedirectCache::PublicState() const {
  if (blocked_) return CacheState::kBlocked;
  switch (state_) {
    case State::kBypass:
      return CacheState::kBypass;
    case State::kRedirect:
      return CacheState::kRedirect;
    case State::kDraining:
      return CacheState::kDraining;
  }
  return CacheState::kDraining;
}

Result<std::unique_ptr<RedirectCache>> RedirectCache::Open(
    std::shared_ptr<nbd::BlockBackend> next, const std::string& log_path,
    DrainPolicy policy, std::shared_ptr<WriteHistory> history) {
  STRATA_ASSIGN_OR_RETURN(auto log, RecordLog::Open(log_path, next->Size()));
  STRATA_ASSIGN_OR_RETURN(std::vector<Record> left, log->Scan());
  std::unique_ptr<RedirectCache> c(new RedirectCache(
      std::move(next), std::move(log), policy, std::move(history)));
  if (!left.empty()) {
    LogWarning("cache " + log_path + ": replaying " +
               std::to_string(left.size()) + " records a crash left");
    std::string buf;
    for (const Record& r : left) STRATA_RETURN_IF_ERROR(c->WriteBack(r, &buf));
    STRATA_RETURN_IF_ERROR(c->next_->Flush());
  }
  STRATA_RETURN_IF_ERROR(c->log_->Format());
  STRATA_RETURN_IF_ERROR(c->log_->ReleaseSpace());
  c->stats_.replayed_at_open = left.size();
  return c;
}

RedirectCache::~RedirectCache() {
  if (drain_thread_.joinable()) drain_thread_.join();
}

std::string RedirectCache::Describe() const {
  return "redirect-cache(" + log_->path() + ") over " + next_->Describe();
}

Status RedirectCache::StartRedirect(double expected_seconds,
                                    uint64_t write_bytes_per_s) {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ != State::kBypass)
    return Status::Conflict("the cache is already in use (" +
                            std::string(CacheStateName(PublicState())) + ")");
  // R0.3: the bytes the VM will write during the snapshot — from the
  // caller's rate, or, without one, from the write history's forecast for
  // the snapshot's expected duration.
  const double seconds = std::max(0.0, expected_seconds);
  const bool from_forecast = write_bytes_per_s == 0 && history_ != nullptr;
  const double expected_bytes =
      from_forecast ? history_->Forecast(seconds).bytes
                    : seconds * static_cast<double>(write_bytes_per_s);
  // Room for twice that, at least 64 MiB; reserved now, so the snapshot's
  // writes do not find the file system full.
  const uint64_t capacity = std::max<uint64_t>(
      64ull << 20, static_cast<uint64_t>(expected_bytes * 2));
  state_ = State::kRedirect;
  stats_.capacity_bytes = capacity;
  stats_.expected_write_bytes = expected_bytes;
  stats_.expected_from_forecast = from_forecast;
  stats_.error.clear();
  stats_.written_back = 0;
  cv_.wait(lock, [&] { return bypass_writes_in_flight_ == 0; });
  lock.unlock();
  // The reservation is advisory: where it fails, the log still grows on
  // demand.
  if (Status r = log_->Reserve(capacity); !r.ok())
    LogWarning("cache " + log_->path() + ": " + r.ToString());
  Status s = next_->Flush();
  if (!s.ok()) {
    // Writes may have reached the log since the switch; they must be
    // written back by a drain, so the cache stays redirecting unless none
    // did.
    lock.lock();
    if (pending_.empty()) state_ = State::kBypass;
    return s;
  }
  lock.lock();
  next_clean_ = true;
  lock.unlock();
  LogInfo("cache " + log_->path() + ": redirecting writes (capacity " +
          std::to_string(capacity >> 20) + " MiB)");
  return Status::OK();
}

Status RedirectCache::StartDrain() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kRedirect)
    return Status::Conflict(state_ == State::kBypass
                                ? "the cache is not redirecting"
                                : "the cache is draining already");
  if (drain_thread_.joinable()) drain_thread_.join();
  state_ = State::kDraining;
  stats_.forecast_writes = 0;
  stats_.deferrals = 0;
  stats_.written_back_at_block = 0;
  drain_done_ = false;
  drain_result_ = Status::OK();
  drain_thread_ = std::thread([this] {
    // An exception ends the drain as an error would: records stay in the
    // log, writes stay redirected, a waiter learns why.
    Status s = CatchAll("cache.drain", [&] {
      DrainLoop();
      return Status::OK();
    });
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      EndDrain(s);
    }
  });
  return Status::OK();
}

Status RedirectCache::WaitDrained() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return drain_done_; });
  return drain_result_;
}

bool RedirectCache::WaitDrainedFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return drain_done_; });
}

CacheStatus RedirectCache::GetStatus() {
  std::lock_guard<std::mutex> lock(mu_);
  CacheStatus s = stats_;
  s.state = PublicState();
  s.records = pending_.size();
  s.bytes = pending_bytes_;
  return s;
}

// ---- the data path ----

Status RedirectCache::Pread(void* buf, uint32_t count, uint64_t offset) {
  // The pieces of the range: from the log (a record) or from next.
  struct Piece {
    uint64_t at;  // disk offset
    uint32_t len;
    bool from_log;
    Record rec;
  };
  std::vector<Piece> pieces;
  std::shared_lock<std::shared_mutex> data_lock;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t end = offset + count;
    uint64_t at = offset;
    auto it = extents_.upper_bound(offset);
    if (it != extents_.begin()) --it;
    for (; it != extents_.end() && it->first < end; ++it) {
      if (it->second.end <= at) continue;
      const uint64_t s = std::max(it->first, at);
      const uint64_t e = std::min(it->second.end, end);
      if (s > at)
        pieces.push_back({at, static_cast<uint32_t>(s - at), false, {}});
      pieces.push_back({s, static_cast<uint32_t>(e - s), true, it->second.rec});
      at = e;
    }
    if (at < end)
      pieces.push_back({at, static_cast<uint32_t>(end - at), false, {}});
    // Taken before mu_ is let go: the log cannot be formatted under us.
    data_lock = std::shared_lock<std::shared_mutex>(log_data_mu_);
  }
  auto* out = static_cast<char*>(buf);
  for (Piece& p : pieces) {
    char* dst = out + (p.at - offset);
    if (!p.from_log) {
      STRATA_RETURN_IF_ERROR(next_->Pread(dst, p.len, p.at));
    } else if (p.rec.kind == RecordKind::kWrite) {
      STRATA_RETURN_IF_ERROR(
          log_->ReadData(p.rec, p.at - p.rec.offset, dst, p.len));
    } else {
      std::memset(dst, 0, p.len);
    }
  }
  return Status::OK();
}

Status RedirectCache::Redirectable(RecordKind kind, const void* data,
                                   uint32_t count, uint64_t offset,
                                   bool may_trim, bool fua) {
  // Every write counts towards the history, whatever the state (R0.11's
  // forecast is of the VM's writes, not of the cache's).
  if (history_) history_->NoteWrite(kind == RecordKind::kWrite ? count : 0);
  std::unique_lock<std::mutex> lock(mu_);
  // A record's CRC is computed outside the lock (appends are serialised on
  // it), once the state says the write goes to the log.
  std::optional<uint32_t> crc;
  for (;;) {
    cv_.wait(lock, [&] { return !blocked_; });
    if (state_ == State::kBypass || crc || kind != RecordKind::kWrite) break;
    lock.unlock();
    crc = Crc32c(data, count);
    lock.lock();
  }
  if (state_ == State::kBypass) {
    ++bypass_writes_in_flight_;
    lock.unlock();
    Status s;
    switch (kind) {
      case RecordKind::kWrite:
        s = next_->Pwrite(data, count, offset, fua);
        break;
      case RecordKind::kZero:
        s = next_->Zero(count, offset, may_trim, fua);
        break;
      case RecordKind::kTrim:
        s = next_->Trim(count, offset, fua);
        break;
    }
    lock.lock();
    if (--bypass_writes_in_flight_ == 0) cv_.notify_all();
    return s;
  }
  // R0.4: timestamped, in receive order, at the log's tail.
  STRATA_ASSIGN_OR_RETURN(
      Record rec, log_->Append(kind, offset, data, count,
                               static_cast<uint64_t>(NowMicros()), crc));
  MapRecord(rec);
  pending_.push_back(rec);
  pending_bytes_ += count;
  // A zero or trim record costs the write-back a call, not its length.
  const auto delay =
      ThrottleDelay(kind == RecordKind::kWrite ? count : uint64_t{4096});
  lock.unlock();
  Status s = fua ? log_->Sync() : Status::OK();
  // In the log (durable as asked), acknowledged later: the VM's queue
  // depth bounds what it sends meanwhile.
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  return s;
}

std::chrono::steady_clock::duration RedirectCache::ThrottleDelay(
    uint64_t cost) {
  using Clock = std::chrono::steady_clock;
  const double rate = stats_.throttle_bytes_per_s;
  if (state_ != State::kDraining || rate <= 0) return Clock::duration::zero();
  const Clock::time_point now = Clock::now();
  throttle_next_ = std::max(throttle_next_, now) +
                   std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(cost / rate));
  return throttle_next_ - now;
}

Status RedirectCache::Pwrite(const void* buf, uint32_t count, uint64_t offset,
                             bool fua) {
  return Redirectable(RecordKind::kWrite, buf, count, offset, false, fua);
}

Status RedirectCache::Zero(uint32_t count, uint64_t offset, bool may_trim,
                           bool fua) {
  return Redirectable(RecordKind::kZero, nullptr, count, offset, may_trim, fua);
}

Status RedirectCache::Trim(uint32_t count, uint64_t offset, bool fua) {
  return Redirectable(RecordKind::kTrim, nullptr, count, offset, true, fua);
}

Status RedirectCache::Flush() {
  // What was acknowledged is in the log or, written back, in `next`
  // (flushed batch by batch), or was written to `next` in bypass. Once a
  // redirect's own flush of `next` is done, the log is all there is to
  // sync: `next` is not asked (a released chain, a flush round trip the VM
  // would wait for).
  bool only_log;
  {
    std::lock_guard<std::mutex> lock(mu_);
    only_log = next_clean_;
  }
  STRATA_RETURN_IF_ERROR(log_->Sync());
  return only_log ? Status::OK() : next_->Flush();
}

void RedirectCache::MapRecord(const Record& rec) {
  const uint64_t start = rec.offset, end = rec.offset + rec.length;
  if (start == end) return;
  auto it = extents_.lower_bound(start);
  if (it != extents_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > start) {
      if (prev->second.end > end) extents_[end] = prev->second;  // right part
      prev->second.end = start;
    }
  }
  while (it != extents_.end() && it->first < end) {
    if (it->second.end > end) {
      Extent rest = it->second;
      extents_.erase(it);
      extents_[end] = rest;
      break;
    }
    it = extents_.erase(it);
  }
  extents_[start] = {end, rec};
}

void RedirectCache::UnmapRecord(const Record& rec) {
  const uint64_t end = rec.offset + rec.length;
  auto it = extents_.upper_bound(rec.offset);
  if (it != extents_.begin()) --it;
  while (it != extents_.end() && it->first < end) {
    if (it->second.rec.seq == rec.seq)
      it = extents_.erase(it);
    else
      ++it;
  }
}

Status RedirectCache::WriteBack(const Record& rec, std::string* buf) {
  switch (rec.kind) {
    case RecordKind::kWrite:
      buf->resize(rec.length);
      STRATA_RETURN_IF_ERROR(log_->ReadData(rec, 0, buf->data(), rec.length));
      return next_->Pwrite(buf->data(), rec.length, rec.offset, false);
    case RecordKind::kZero:
      return next_->Zero(rec.length, rec.offset, false, false);
    case RecordKind::kTrim:
      return next_->Trim(rec.length, rec.offset, false);
  }
  return Status::Internal("unknown record kind");
}

std::vector<Record> RedirectCache::TakeBatch(uint64_t* bytes_before) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Record> batch;
  uint64_t bytes = 0;
  for (const Record& r : pending_) {
    if (!batch.empty() && bytes + r.length > policy_.batch_bytes) break;
    batch.push_back(r);
    bytes += r.length;
  }
  *bytes_before = pending_bytes_;
  return batch;
}

Status RedirectCache::WriteBackBatch(const std::vector<Record>& batch,
                                     std::string* buf, double* bytes_per_s) {
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t batch_bytes = 0;
  for (const Record& r : batch) {
    STRATA_RETURN_IF_ERROR(WriteBack(r, buf));
    batch_bytes += r.length;
  }
  if (batch.empty()) return Status::OK();
  STRATA_RETURN_IF_ERROR(next_->Flush());
  STRATA_RETURN_IF_ERROR(log_->MarkDrained(batch.back().seq));
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  if (secs > 0 && batch_bytes > 0) *bytes_per_s = batch_bytes / secs;
  return Status::OK();
}

void RedirectCache::RetireBatch(const std::vector<Record>& batch) {
  for (const Record& r : batch) {
    UnmapRecord(r);
    pending_.pop_front();
    pending_bytes_ -= r.length;
    ++stats_.written_back;
  }
}

void RedirectCache::FinishDrain(
    std::unique_lock<std::mutex>& lock,
    std::chrono::steady_clock::time_point blocked_at) {
  // R0.12: empty — format, bypass, let the writers go. No reader sees the
  // log from the format on (held to the end, space release included).
  std::unique_lock<std::shared_mutex> data_lock(log_data_mu_);
  Status f = log_->Format();
  if (!f.ok()) return EndDrain(f);
  extents_.clear();
  state_ = State::kBypass;
  next_clean_ = false;
  stats_.last_pause_ms = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - blocked_at)
                             .count();
  LogInfo("cache " + log_->path() + ": drained; writes paused " +
          std::to_string(stats_.last_pause_ms) + " ms at the end");
  metrics::Describe("strata_cache_drain_pause_seconds",
                    metrics::Type::kHistogram,
                    "How long a drain's final stretch held the VM's writes "
                    "(R0: the only stall a snapshot through the cache "
                    "costs).");
  metrics::Observe("strata_cache_drain_pause_seconds", {},
                   stats_.last_pause_ms / 1000);
  EndDrain(Status::OK());
  // The space back, now that writes flow again (they go to `next` in
  // bypass; a new redirect waits for this).
  lock.unlock();
  if (Status r = log_->ReleaseSpace(); !r.ok())
    LogWarning("cache " + log_->path() + ": " + r.ToString());
}

void RedirectCache::ApplyThrottle(const DrainProgress& progress) {
  // The VM outwrites the write-back: hold it to a fraction of it.
  const double rate = ThrottleRate(policy_, progress);
  if (rate <= 0) return;
  const bool first = stats_.throttle_bytes_per_s == 0;
  stats_.throttle_bytes_per_s = rate;
  if (first)
    LogInfo("cache " + log_->path() + ": not shrinking (" +
            std::to_string(pending_bytes_) + " bytes left); writes held to " +
            std::to_string(static_cast<int64_t>(rate)) + " bytes/s");
}

bool RedirectCache::StartFinalStretch(const DrainProgress& progress) {
  // R0.10: any threshold met → take no more writes for the rest.
  double eta = 0;
  if (!FinalStretchDue(policy_, progress, &eta) || DeferBlockForForecast())
    return false;
  blocked_ = true;
  stats_.written_back_at_block = stats_.written_back;
  LogInfo(
      "cache " + log_->path() +
      ": final stretch, writes wait: " + std::to_string(pending_.size()) +
      " records, " + std::to_string(pending_bytes_) + " bytes left" +
      (progress.write_back_bytes_per_s > 0
           ? ", ~" + std::to_string(static_cast<int64_t>(eta * 1000)) + " ms"
           : ", no write-back rate measured yet"));
  return true;
}

void RedirectCache::DrainLoop() {
  std::string buf;
  // The measured write-back rate, flush and mark included: a random 4 KiB
  // batch lands in the page cache at GB/s, but its flush takes the time.
  double bytes_per_s = 0;
  std::chrono::steady_clock::time_point blocked_at{};
  for (;;) {
    uint64_t bytes_before = 0;
    const std::vector<Record> batch = TakeBatch(&bytes_before);
    Status s = WriteBackBatch(batch, &buf, &bytes_per_s);
    std::unique_lock<std::mutex> lock(mu_);
    if (!s.ok()) return EndDrain(s);
    RetireBatch(batch);
    if (pending_.empty() && blocked_) return FinishDrain(lock, blocked_at);
    if (blocked_) continue;
    const DrainProgress progress{pending_.size(), pending_bytes_, bytes_before,
                                 batch.empty(), bytes_per_s};
    ApplyThrottle(progress);
    if (StartFinalStretch(progress))
      blocked_at = std::chrono::steady_clock::now();
  }
}

bool RedirectCache::DeferBlockForForecast() {
  if (!ForecastMatters(policy_, history_ != nullptr, pending_.size(),
                       stats_.deferrals))
    return false;
  const WriteForecast f = history_->Forecast(policy_.forecast_window_seconds);
  stats_.forecast_writes = f.writes;
  if (!ForecastDefersBlock(policy_, pending_.size(), stats_.deferrals,
                           f.writes))
    return false;
  ++stats_.deferrals;
  LogInfo("cache " + log_->path() + ": " +
          std::to_string(static_cast<uint64_t>(f.writes)) +
          " writes forecast in the next " +
          std::to_string(static_cast<int>(policy_.forecast_window_seconds)) +
          " s: another batch before blocking (" +
          std::to_string(stats_.deferrals) + " of at most " +
          std::to_string(policy_.max_forecast_deferrals) + ")");
  return true;
}

void RedirectCache::EndDrain(const Status& s) {
  if (!s.ok()) {
    // Records stay in the log and the map; writes keep being redirected.
    state_ = State::kRedirect;
    stats_.error = s.ToString();
    LogError("cache " + log_->path() + ": drain stopped: " + s.ToString());
  }
  blocked_ = false;
  stats_.throttle_bytes_per_s = 0;
  drain_done_ = true;
  drain_result_ = s;
  cv_.notify_all();
}

}  // namespace strata::cache
