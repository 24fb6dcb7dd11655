// WriteHistory: per-slot write counts and R0.11's forecast. See
// write_history.h.
#include "cache/write_history.h"

#include <algorithm>
#include <chrono>

#include "util/guarded.h"
#include "util/log.h"
#include "util/time_util.h"

namespace strata::cache {
namespace {

constexpr int64_t kDaySeconds = 86400;
constexpr int64_t kMicros = 1000000;

// Floor division: periods before the epoch (a test's clock) still map to
// slots 0..n-1.
int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

}  // namespace

Result<std::unique_ptr<WriteHistory>> WriteHistory::Open(
    std::string export_name, std::shared_ptr<WriteHistorySink> sink,
    Options options) {
  if (options.slot_seconds == 0 || kDaySeconds % options.slot_seconds != 0)
    return Status::InvalidArgument(
        "a write-history slot must divide a day (86400 s), not " +
        std::to_string(options.slot_seconds) + " s");
  if (!sink) return Status::InvalidArgument("a write history needs a sink");
  STRATA_ASSIGN_OR_RETURN(WriteSlotMap stored,
                          sink->LoadSlots(export_name, options.slot_seconds));
  const bool background = options.persist_in_background;
  std::unique_ptr<WriteHistory> h(new WriteHistory(
      std::move(export_name), std::move(sink), std::move(options)));
  for (const auto& [slot, t] : stored)
    if (slot < h->slots_per_day_) h->slots_[slot] = t;
  // Observation starts now: the open period counts only if it starts now.
  const int64_t now = h->Now();
  h->open_period_ = h->PeriodAt(now);
  h->open_period_partial_ = now != h->open_period_ * h->slot_seconds_ * kMicros;
  if (background)
    h->persist_thread_ = std::thread([p = h.get()] {
      RunLogged("cache.history_persist", [&] { p->PersistLoop(); });
    });
  return h;
}

WriteHistory::WriteHistory(std::string export_name,
                           std::shared_ptr<WriteHistorySink> sink,
                           Options options)
    : export_name_(std::move(export_name)),
      sink_(std::move(sink)),
      slot_seconds_(options.slot_seconds),
      slots_per_day_(static_cast<uint32_t>(kDaySeconds / options.slot_seconds)),
      now_micros_(options.now_micros ? std::move(options.now_micros)
                                     : std::function<int64_t()>(NowMicros)),
      slots_(slots_per_day_) {}

WriteHistory::~WriteHistory() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (persist_thread_.joinable()) persist_thread_.join();
  if (Status s = Persist(); !s.ok())
    LogWarning("write history of " + export_name_ + ": " + s.ToString());
}

int64_t WriteHistory::Now() const { return now_micros_(); }

int64_t WriteHistory::PeriodAt(int64_t micros) const {
  return FloorDiv(micros, static_cast<int64_t>(slot_seconds_) * kMicros);
}

uint32_t WriteHistory::SlotOfPeriod(int64_t period) const {
  // Days start at a multiple of the slot length (it divides a day), so a
  // period's place in its day is its number modulo the slots in a day.
  const int64_t n = slots_per_day_;
  return static_cast<uint32_t>(((period % n) + n) % n);
}

void WriteHistory::AddClosed(uint32_t slot, uint64_t periods, uint64_t writes,
                             uint64_t bytes) {
  const WriteSlotTotals closed{periods, writes, bytes};
  slots_[slot] += closed;
  unsaved_[slot] += closed;
}

void WriteHistory::RollTo(int64_t now) {
  const int64_t period = PeriodAt(now);
  if (period <= open_period_) return;  // same period, or the clock stepped back
  if (!open_period_partial_)
    AddClosed(SlotOfPeriod(open_period_), 1, open_writes_, open_bytes_);
  // The periods passed in between had no write at all: each slot gets its
  // share of them, a whole number of days' worth plus the remainder.
  const int64_t quiet = period - open_period_ - 1;
  if (quiet > 0) {
    const int64_t n = slots_per_day_;
    const int64_t whole_days = quiet / n, rest = quiet % n;
    for (int64_t k = 0; k < n; ++k) {
      const uint64_t periods = whole_days + (k < rest ? 1 : 0);
      if (periods > 0)
        AddClosed(SlotOfPeriod(open_period_ + 1 + k), periods, 0, 0);
    }
  }
  open_period_ = period;
  open_period_partial_ = false;  // crossed into at its start: seen whole
  open_writes_ = open_bytes_ = 0;
}

void WriteHistory::NoteWrite(uint64_t payload_bytes) {
  const int64_t now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  RollTo(now);
  ++open_writes_;
  open_bytes_ += payload_bytes;
}

WriteForecast WriteHistory::Forecast(double seconds) {
  WriteForecast f;
  if (!(seconds > 0)) return f;
  const int64_t now = Now();
  const int64_t window_us =
      static_cast<int64_t>(std::min(seconds, 2.0 * kDaySeconds) * kMicros);
  std::lock_guard<std::mutex> lock(mu_);
  RollTo(now);
  const int64_t first = PeriodAt(now);
  const int64_t last = PeriodAt(now + std::max<int64_t>(window_us, 1) - 1);
  // A window longer than a day touches every slot once.
  const int64_t touched =
      std::min<int64_t>(last - first + 1, static_cast<int64_t>(slots_per_day_));
  double writes_per_period = 0, bytes_per_period = 0;
  for (int64_t k = 0; k < touched; ++k) {
    const WriteSlotTotals& t = slots_[SlotOfPeriod(first + k)];
    if (t.periods == 0) continue;  // no history: counts as 0
    ++f.slots_with_history;
    writes_per_period += static_cast<double>(t.writes) / t.periods;
    bytes_per_period += static_cast<double>(t.bytes) / t.periods;
  }
  f.slots = static_cast<uint32_t>(touched);
  const double scale = seconds / slot_seconds_ / static_cast<double>(touched);
  f.writes = writes_per_period * scale;
  f.bytes = bytes_per_period * scale;
  return f;
}

Status WriteHistory::Persist() {
  std::lock_guard<std::mutex> persisting(persist_mu_);
  WriteSlotMap batch;
  {
    const int64_t now = Now();
    std::lock_guard<std::mutex> lock(mu_);
    RollTo(now);
    batch.swap(unsaved_);
  }
  if (batch.empty()) return Status::OK();
  Status s = sink_->AddSlotPeriods(export_name_, slot_seconds_, batch);
  if (!s.ok()) {
    // Not added (the sink is atomic): queued again, merged with whatever
    // closed meanwhile.
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [slot, t] : batch) unsaved_[slot] += t;
  }
  return s;
}

WriteSlotTotals WriteHistory::SlotTotals(uint32_t slot) {
  const int64_t now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  RollTo(now);
  return slot < slots_per_day_ ? slots_[slot] : WriteSlotTotals{};
}

void WriteHistory::PersistLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    // Wake just after the next boundary (the clock may be a test's or may
    // jump: never sleep longer than a slot).
    const int64_t slot_us = static_cast<int64_t>(slot_seconds_) * kMicros;
    const int64_t until_next =
        (open_period_ + 1) * slot_us - Now() + 100 * 1000;
    const auto wait = std::chrono::microseconds(
        std::clamp<int64_t>(until_next, 100 * 1000, slot_us));
    stop_cv_.wait_for(lock, wait, [&] { return stop_; });
    if (stop_) return;
    lock.unlock();
    if (Status s = Persist(); !s.ok())
      LogWarning("write history of " + export_name_ + ": " + s.ToString());
    lock.lock();
  }
}

}  // namespace strata::cache
