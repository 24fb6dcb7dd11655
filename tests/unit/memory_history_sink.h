// Test helpers for the write history (R0.11): an in-memory WriteHistorySink
// that can be told to fail, and a clock the test moves by hand.
// Thread-safety: the sink locks; the clock is an atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cache/write_history_sink.h"

namespace strata::cache::testing {

class MemoryHistorySink : public WriteHistorySink {
 public:
  Status AddSlotPeriods(const std::string& export_name, uint32_t slot_seconds,
                        const WriteSlotMap& deltas) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_) return Status::Unavailable("sink down (test)");
    ++adds_;
    WriteSlotMap& m = stored_[{export_name, slot_seconds}];
    for (const auto& [slot, t] : deltas) m[slot] += t;
    return Status::OK();
  }
  Result<WriteSlotMap> LoadSlots(const std::string& export_name,
                                 uint32_t slot_seconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_[{export_name, slot_seconds}];
  }

  void Put(const std::string& export_name, uint32_t slot_seconds, uint32_t slot,
           WriteSlotTotals t) {
    std::lock_guard<std::mutex> lock(mu_);
    stored_[{export_name, slot_seconds}][slot] = t;
  }
  void SetFailing(bool f) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = f;
  }
  int adds() {
    std::lock_guard<std::mutex> lock(mu_);
    return adds_;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, uint32_t>, WriteSlotMap> stored_;
  bool fail_ = false;
  int adds_ = 0;
};

// Wall-clock µs the test sets; starts at midnight UTC of a day in 2024, so
// slot 0 begins at `kDay0`.
struct ManualClock {
  static constexpr int64_t kDay0 = int64_t{19723} * 86400 * 1000000;
  std::shared_ptr<std::atomic<int64_t>> now =
      std::make_shared<std::atomic<int64_t>>(kDay0);
  void SetSeconds(double s_after_day0) {
    *now = kDay0 + static_cast<int64_t>(s_after_day0 * 1e6);
  }
  std::function<int64_t()> Fn() const {
    return [n = now] { return n->load(); };
  }
};

}  // namespace strata::cache::testing
