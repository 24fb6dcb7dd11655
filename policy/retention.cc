// Retention decisions: Proxmox Backup Server's prune, then R1.6's cap.
//
// Design, after PBS's pbs-datastore/src/prune.rs (compute_prune_info,
// mark_selections). Snapshots are sorted newest first and each gets at most
// one mark; a mark, once set, is final. The rules run in the order last,
// hourly, daily, weekly, monthly, yearly. A rule sees each snapshot as a
// bucket key:
//   keep-last     the snapshot's own id (every snapshot its own bucket)
//   keep-hourly   "%Y/%m/%d/%H"   keep-daily   "%Y/%m/%d"
//   keep-weekly   "%G/%V" (ISO week year and week: 2027-01-01 is 2026/53)
//   keep-monthly  "%Y/%m"         keep-yearly  "%Y"
// in the policy's zone, so "daily" means the operator's days, not UTC's.
// A rule first notes the buckets of snapshots already marked keep (by
// earlier rules): those periods are covered. Walking newest first over
// unmarked snapshots, it marks a protected one protected (no bucket used),
// skips one in a covered bucket (a later rule may still take it), keeps the
// first of each new bucket until it has kept N buckets (then stops), and
// marks later snapshots of a bucket it took remove. Snapshots left unmarked
// are removed; with no keep rule at all, all are kept, as PBS's callers do
// ("No prune selection - keeping all files").
//
// The cap (R1.6) comes last: while more than max_count snapshots are kept
// or protected, the oldest kept one is removed. Protected snapshots are
// never removed, so they alone may exceed the cap.
#include "policy/retention.h"

#include <date/date.h>
#include <date/iso_week.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

namespace strata::policy {

namespace {

using schedule::WallTime;
using schedule::ZoneClock;

constexpr int kMaxRuleValue = 100000;

// The JSON keys, in the order RetentionRulesToJson writes them.
struct RuleField {
  const char* key;
  int RetentionRules::*value;
};
constexpr RuleField kRuleFields[] = {
    {"keep_last", &RetentionRules::keep_last},
    {"keep_hourly", &RetentionRules::keep_hourly},
    {"keep_daily", &RetentionRules::keep_daily},
    {"keep_weekly", &RetentionRules::keep_weekly},
    {"keep_monthly", &RetentionRules::keep_monthly},
    {"keep_yearly", &RetentionRules::keep_yearly},
    {"max_count", &RetentionRules::max_count},
};

Status InvalidField(std::string_view path, std::string_view what) {
  return Status::InvalidArgument("Invalid input for field/attribute " +
                                 std::string(path) + ": " + std::string(what));
}

// The prune rules, in PBS's order.
enum class BucketKind { kLast, kHourly, kDaily, kWeekly, kMonthly, kYearly };
struct KeepRule {
  const char* name;  // as in reasons: "keep-daily"
  BucketKind kind;
  int RetentionRules::*count;
};
constexpr KeepRule kKeepRules[] = {
    {"keep-last", BucketKind::kLast, &RetentionRules::keep_last},
    {"keep-hourly", BucketKind::kHourly, &RetentionRules::keep_hourly},
    {"keep-daily", BucketKind::kDaily, &RetentionRules::keep_daily},
    {"keep-weekly", BucketKind::kWeekly, &RetentionRules::keep_weekly},
    {"keep-monthly", BucketKind::kMonthly, &RetentionRules::keep_monthly},
    {"keep-yearly", BucketKind::kYearly, &RetentionRules::keep_yearly},
};

// A snapshot on its way through the rules.
struct Candidate {
  RetentionItem item;
  WallTime local;  // created_at in the policy's zone
  bool marked = false;
  RetentionVerdict verdict = RetentionVerdict::kRemove;
  std::string reason;

  void Mark(RetentionVerdict v, std::string why) {
    marked = true;
    verdict = v;
    reason = std::move(why);
  }
};

std::string IsoWeekKey(const WallTime& t) {
  const date::sys_days day =
      date::year_month_day{date::year{static_cast<int>(t.year)},
                           date::month{static_cast<unsigned>(t.month)},
                           date::day{static_cast<unsigned>(t.day)}};
  const iso_week::year_weeknum_weekday iso{day};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d/%02u", static_cast<int>(iso.year()),
                static_cast<unsigned>(iso.weeknum()));
  return buf;
}

std::string BucketKey(BucketKind kind, const Candidate& c) {
  const WallTime& t = c.local;
  const auto y = static_cast<long long>(t.year);
  const auto mo = static_cast<long long>(t.month);
  const auto d = static_cast<long long>(t.day);
  const auto h = static_cast<long long>(t.hour);
  char buf[32];
  switch (kind) {
    case BucketKind::kLast:
      return c.item.id;
    case BucketKind::kHourly:
      std::snprintf(buf, sizeof buf, "%04lld/%02lld/%02lld/%02lld", y, mo, d,
                    h);
      return buf;
    case BucketKind::kDaily:
      std::snprintf(buf, sizeof buf, "%04lld/%02lld/%02lld", y, mo, d);
      return buf;
    case BucketKind::kWeekly:
      return IsoWeekKey(t);
    case BucketKind::kMonthly:
      std::snprintf(buf, sizeof buf, "%04lld/%02lld", y, mo);
      return buf;
    case BucketKind::kYearly:
      std::snprintf(buf, sizeof buf, "%04lld", y);
      return buf;
  }
  return {};
}

// "keep-last" names no bucket: the bucket is the snapshot itself.
std::string KeepReason(const KeepRule& rule, const std::string& bucket) {
  if (rule.kind == BucketKind::kLast) return rule.name;
  return std::string(rule.name) + " " + bucket;
}

// PBS's mark_selections for one rule keeping `keep` buckets.
void ApplyKeepRule(const KeepRule& rule, int keep,
                   std::vector<Candidate>& candidates) {
  std::set<std::string> covered;  // periods an earlier rule already kept
  for (const Candidate& c : candidates) {
    if (c.marked && c.verdict == RetentionVerdict::kKeep)
      covered.insert(BucketKey(rule.kind, c));
  }
  std::set<std::string> taken;  // buckets this rule keeps
  for (Candidate& c : candidates) {
    if (c.marked) continue;
    if (c.item.is_protected) {
      c.Mark(RetentionVerdict::kProtected, "protected");
      continue;
    }
    std::string bucket = BucketKey(rule.kind, c);
    if (covered.contains(bucket)) continue;
    if (taken.contains(bucket)) {
      c.Mark(RetentionVerdict::kRemove,
             KeepReason(rule, bucket) + " holds a newer snapshot");
      continue;
    }
    if (static_cast<int>(taken.size()) >= keep) break;
    c.Mark(RetentionVerdict::kKeep, KeepReason(rule, bucket));
    taken.insert(std::move(bucket));
  }
}

// R1.6: remove the oldest kept snapshots while more than max_count remain.
void ApplyCap(int max_count, std::vector<Candidate>& candidates) {
  if (max_count <= 0) return;
  int remaining = static_cast<int>(std::count_if(
      candidates.begin(), candidates.end(), [](const Candidate& c) {
        return c.verdict != RetentionVerdict::kRemove;
      }));
  const std::string reason =
      "over the cap of " + std::to_string(max_count) + " (R1.6)";
  for (auto it = candidates.rbegin();
       it != candidates.rend() && remaining > max_count; ++it) {
    if (it->verdict != RetentionVerdict::kKeep) continue;
    it->Mark(RetentionVerdict::kRemove, reason);
    --remaining;
  }
}

}  // namespace

bool RetentionRules::HasKeepRules() const {
  return std::any_of(std::begin(kKeepRules), std::end(kKeepRules),
                     [this](const KeepRule& r) { return this->*r.count > 0; });
}

Result<RetentionRules> ParseRetentionRules(const nlohmann::json& j) {
  if (!j.is_object()) {
    return InvalidField("retention",
                        "an object such as {\"keep_daily\": 7, "
                        "\"max_count\": 8}.");
  }
  RetentionRules rules;
  for (const auto& [key, value] : j.items()) {
    const auto* field =
        std::find_if(std::begin(kRuleFields), std::end(kRuleFields),
                     [&key](const RuleField& f) { return key == f.key; });
    if (field == std::end(kRuleFields)) {
      // Echo at most a short prefix of a key the caller made up.
      return InvalidField("retention", "unknown key '" + key.substr(0, 64) +
                                           "'; the keys are keep_last, "
                                           "keep_hourly, keep_daily, "
                                           "keep_weekly, keep_monthly, "
                                           "keep_yearly and max_count.");
    }
    const std::string path = "retention." + key;
    // is_number_integer: signed or unsigned, never a float or a boolean.
    if (!value.is_number_integer() ||
        (!value.is_number_unsigned() && value.get<int64_t>() < 0)) {
      return InvalidField(path, "a whole number of 0 or more.");
    }
    const uint64_t n = value.is_number_unsigned()
                           ? value.get<uint64_t>()
                           : static_cast<uint64_t>(value.get<int64_t>());
    if (n > static_cast<uint64_t>(kMaxRuleValue)) {
      return InvalidField(path,
                          "at most " + std::to_string(kMaxRuleValue) + ".");
    }
    rules.*(field->value) = static_cast<int>(n);
  }
  return rules;
}

nlohmann::json RetentionRulesToJson(const RetentionRules& r) {
  nlohmann::json j = nlohmann::json::object();
  for (const RuleField& f : kRuleFields) j[f.key] = r.*f.value;
  return j;
}

std::vector<RetentionDecision> DecideRetention(
    std::vector<RetentionItem> items, const RetentionRules& rules,
    const schedule::ZoneClock& zone) {
  std::sort(items.begin(), items.end(),
            [](const RetentionItem& a, const RetentionItem& b) {
              if (a.created_at_micros != b.created_at_micros)
                return a.created_at_micros > b.created_at_micros;
              return a.id < b.id;
            });
  std::vector<Candidate> candidates;
  candidates.reserve(items.size());
  for (RetentionItem& item : items) {
    Candidate c;
    c.local = zone.FromUnixMicros(item.created_at_micros);
    c.item = std::move(item);
    candidates.push_back(std::move(c));
  }

  if (rules.HasKeepRules()) {
    for (const KeepRule& rule : kKeepRules) {
      const int keep = rules.*rule.count;
      if (keep > 0) ApplyKeepRule(rule, keep, candidates);
    }
  }
  const char* unmarked_reason = rules.HasKeepRules()
                                    ? "not selected by any keep rule"
                                    : "no keep rule set";
  for (Candidate& c : candidates) {
    // Protected wins over any mark, as in PBS's final pass.
    if (c.item.is_protected) {
      c.Mark(RetentionVerdict::kProtected, "protected");
    } else if (!c.marked) {
      c.Mark(rules.HasKeepRules() ? RetentionVerdict::kRemove
                                  : RetentionVerdict::kKeep,
             unmarked_reason);
    }
  }
  ApplyCap(rules.max_count, candidates);

  std::vector<RetentionDecision> decisions;
  decisions.reserve(candidates.size());
  for (Candidate& c : candidates) {
    decisions.push_back(RetentionDecision{std::move(c.item.id),
                                          c.item.created_at_micros, c.verdict,
                                          std::move(c.reason)});
  }
  return decisions;
}

const char* VerdictName(RetentionVerdict v) {
  switch (v) {
    case RetentionVerdict::kKeep:
      return "keep";
    case RetentionVerdict::kProtected:
      return "protected";
    case RetentionVerdict::kRemove:
      return "remove";
  }
  return "unknown";
}

}  // namespace strata::policy
