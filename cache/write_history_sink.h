// WriteHistorySink: where a WriteHistory (R0.11) keeps its per-slot sums
// between runs. The daemon's is the catalog (catalog_history_sink.h);
// tests use an in-memory one. A sink only adds and loads sums: averaging
// and forecasting are WriteHistory's.
//
// Thread-safety: implementations must allow calls from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "util/status.h"

namespace strata::cache {

// One time-of-day slot's history: periods of the slot observed, and the
// writes (requests) and write payload bytes they received, summed.
struct WriteSlotTotals {
  uint64_t periods = 0, writes = 0, bytes = 0;
  WriteSlotTotals& operator+=(const WriteSlotTotals& o) {
    periods += o.periods;
    writes += o.writes;
    bytes += o.bytes;
    return *this;
  }
};
// By slot index (0 = the day's first slot, UTC).
using WriteSlotMap = std::map<uint32_t, WriteSlotTotals>;

class WriteHistorySink {
 public:
  virtual ~WriteHistorySink() = default;
  // Adds each slot's totals to what the export has stored for that slot
  // length, atomically: on failure nothing is added (the caller may retry).
  virtual Status AddSlotPeriods(const std::string& export_name,
                                uint32_t slot_seconds,
                                const WriteSlotMap& deltas) = 0;
  // Everything stored for the export at that slot length (empty: none).
  virtual Result<WriteSlotMap> LoadSlots(const std::string& export_name,
                                         uint32_t slot_seconds) = 0;
};

}  // namespace strata::cache
