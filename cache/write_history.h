// WriteHistory: one NBD export's writes per time-of-day slot, and the
// forecast R0.11 (and R0.3's sizing) read from it.
//
// The day (UTC) is cut into slots of `slot_seconds` (default 900: 96 a
// day). One occurrence of a slot — today's 10:00–10:15 — is a *period*.
// The cache notes every write it receives (NoteWrite: counters under a
// small mutex, no I/O); when the wall clock crosses a slot boundary the
// period is closed: its counts are added to the slot's sums (periods,
// writes, bytes) in memory at once, and to the sink (the catalog) by
// Persist(), which a thread of the history's own runs after every boundary.
// Periods the clock passed without a single write are closed with zero
// writes: a quiet slot is history too. The period the history started in
// and the one it is destroyed in were seen only in part and are not
// recorded (they would understate the slot). A clock that steps back is
// ignored until it passes the open period again.
//
// Forecast(seconds) is the mean, over the slots the window [now,
// now+seconds) touches, of each slot's average per period, scaled from a
// slot's length to the window's. A slot with no history counts as 0 in
// that mean (it is no evidence of writes; `slots_with_history` says how
// much history the number rests on).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cache/write_history_sink.h"

namespace strata::cache {

struct WriteForecast {
  double writes = 0;                // writes expected in the window
  double bytes = 0;                 // write payload bytes expected
  uint32_t slots = 0;               // slots the window touches
  uint32_t slots_with_history = 0;  // of them, with a period recorded
};

class WriteHistory {
 public:
  struct Options {
    uint32_t slot_seconds = 900;  // must divide a day (86400)
    // The wall clock, µs since the epoch; empty: NowMicros(). Tests pass
    // their own.
    std::function<int64_t()> now_micros;
    // A thread persists closed periods after each slot boundary; without
    // it, only Persist() (and the destructor) do.
    bool persist_in_background = true;
  };

  // Loads the export's sums for this slot length from `sink` and starts
  // observing. InvalidArgument for a slot length that does not divide a
  // day; the sink's error when it cannot load.
  static Result<std::unique_ptr<WriteHistory>> Open(
      std::string export_name, std::shared_ptr<WriteHistorySink> sink,
      Options options);
  // Stops the thread and persists what is closed (a failure is logged).
  ~WriteHistory();
  WriteHistory(const WriteHistory&) = delete;
  WriteHistory& operator=(const WriteHistory&) = delete;

  // Counts one write (a write, zero or trim request) of `payload_bytes`
  // (0 for zero and trim: nothing of theirs takes room in a log).
  void NoteWrite(uint64_t payload_bytes);
  // Writes and bytes expected in [now, now + seconds); 0 for seconds <= 0.
  WriteForecast Forecast(double seconds);
  // Closes the periods the clock has passed and adds every closed period
  // not yet in the sink to it. On failure they stay queued for the next
  // call, and the error is returned.
  Status Persist();

  uint32_t slot_seconds() const { return slot_seconds_; }
  uint32_t slots_per_day() const { return slots_per_day_; }
  // The sums of one slot (loaded and closed since), for status and tests.
  WriteSlotTotals SlotTotals(uint32_t slot);

 private:
  WriteHistory(std::string export_name, std::shared_ptr<WriteHistorySink> sink,
               Options options);
  int64_t Now() const;
  // The period (slots since the epoch) that `micros` falls in.
  int64_t PeriodAt(int64_t micros) const;
  uint32_t SlotOfPeriod(int64_t period) const;
  // Closes the open period and any passed since when `now` is past it.
  // REQUIRES: mu_.
  void RollTo(int64_t now);
  // Adds `periods` periods of `slot` with these counts. REQUIRES: mu_.
  void AddClosed(uint32_t slot, uint64_t periods, uint64_t writes,
                 uint64_t bytes);
  void PersistLoop();

  const std::string export_name_;
  const std::shared_ptr<WriteHistorySink> sink_;
  const uint32_t slot_seconds_;
  const uint32_t slots_per_day_;
  const std::function<int64_t()> now_micros_;

  std::mutex persist_mu_;  // serialises Persist(); taken before mu_
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;                   // GUARDED_BY(mu_)
  int64_t open_period_ = 0;             // GUARDED_BY(mu_)
  bool open_period_partial_ = false;    // GUARDED_BY(mu_): seen in part
  uint64_t open_writes_ = 0;            // GUARDED_BY(mu_)
  uint64_t open_bytes_ = 0;             // GUARDED_BY(mu_)
  std::vector<WriteSlotTotals> slots_;  // GUARDED_BY(mu_): by slot
  WriteSlotMap unsaved_;                // GUARDED_BY(mu_): not in the sink
  std::thread persist_thread_;
};

}  // namespace strata::cache
