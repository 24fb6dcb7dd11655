// Retention of a backup policy's snapshots (issue 19): which stored
// snapshots to keep and which to delete, as Proxmox Backup Server's prune
// decides it (keep-last/hourly/daily/weekly/monthly/yearly), followed by the
// retention cap of R1.6 ("when the number of stored snapshots reaches the
// preset cap, find the oldest by creation time and delete it").
//
// A pure decision: no I/O, no clock of its own. The caller lists the
// snapshots, deletes those marked kRemove, and records the reasons.
//
// Thread-safety: free functions over values; safe from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "schedule/zone_clock.h"
#include "util/status.h"

namespace strata::policy {

// How many snapshots each prune rule keeps (0: the rule is off), and the cap.
struct RetentionRules {
  int keep_last = 0, keep_hourly = 0, keep_daily = 0, keep_weekly = 0,
      keep_monthly = 0, keep_yearly = 0;
  int max_count = 0;          // R1.6's cap; 0: no cap
  bool HasKeepRules() const;  // any keep_* > 0
};

// Rules from a JSON object such as {"max_count": 8, "keep_last": 3,
// "keep_daily": 7}: every key optional (absent is 0), each a whole number
// from 0 to 100000; unknown keys, floats (even 3.0), strings, booleans and
// null are refused. On bad input, InvalidArgument with an OpenStack-style
// message, e.g. "Invalid input for field/attribute retention.keep_daily: a
// whole number of 0 or more."
[[nodiscard]] Result<RetentionRules> ParseRetentionRules(
    const nlohmann::json& j);
// Every key, zeros included; ParseRetentionRules reads it back unchanged.
nlohmann::json RetentionRulesToJson(const RetentionRules& r);

struct RetentionItem {
  std::string id;                 // unique within the list
  int64_t created_at_micros = 0;  // Unix µs
  bool is_protected = false;      // never removed
};

enum class RetentionVerdict { kKeep, kProtected, kRemove };

struct RetentionDecision {
  std::string id;
  int64_t created_at_micros = 0;
  RetentionVerdict verdict = RetentionVerdict::kKeep;
  // Why, for the log and the API: "keep-last", "keep-daily 2026/12/05",
  // "keep-weekly 2026/49" (ISO week year/week), "protected", "no keep rule
  // set", "over the cap of 8 (R1.6)", "not selected by any keep rule", or
  // "keep-daily 2026/12/05 holds a newer snapshot".
  std::string reason;
};

// One decision for every item, newest first (equal times: smaller id first).
// The prune rules run as PBS's compute_prune_info does, in the order last,
// hourly, daily, weekly, monthly, yearly, each taking the newest snapshot of
// up to N buckets (hour, day, ISO week, month, year of `zone`'s wall clock)
// not already covered by a snapshot an earlier rule kept. Protected
// snapshots are kept without using up a bucket. With no keep rule at all
// every snapshot is kept. Then, when max_count > 0 and more than max_count
// snapshots are kept or protected, the oldest kept ones are removed until
// max_count remain, or only protected ones are left over the cap.
std::vector<RetentionDecision> DecideRetention(std::vector<RetentionItem> items,
                                               const RetentionRules& rules,
                                               const schedule::ZoneClock& zone);

// "keep", "protected", "remove".
const char* VerdictName(RetentionVerdict v);

}  // namespace strata::policy
