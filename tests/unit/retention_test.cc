// Retention of a backup policy's snapshots (issue 19): Proxmox Backup
// Server's prune rules in the policy's zone, and the retention cap of R1.6
// ("when the number of stored snapshots reaches the preset cap, find the
// oldest by creation time and delete it"). Expected outcomes are worked out
// by hand from PBS's compute_prune_info (pbs-datastore/src/prune.rs).
#include "policy/retention.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "schedule/zone_clock.h"

namespace {

using strata::StatusCode;
using strata::policy::DecideRetention;
using strata::policy::ParseRetentionRules;
using strata::policy::RetentionDecision;
using strata::policy::RetentionItem;
using strata::policy::RetentionRules;
using strata::policy::RetentionRulesToJson;
using strata::policy::RetentionVerdict;
using strata::policy::VerdictName;
using strata::schedule::WallTime;
using strata::schedule::ZoneClock;

int64_t Utc(int y, int mo, int d, int h, int mi) {
  return ZoneClock::Utc().ToUnixMicros(WallTime{y, mo, d, h, mi, 0, 0}, 0);
}

RetentionItem Item(std::string id, int64_t created, bool is_protected = false) {
  return RetentionItem{std::move(id), created, is_protected};
}

// "id verdict: reason" for every decision, in the order given: one string
// to compare makes a failure show the whole outcome.
std::vector<std::string> Outcome(const std::vector<RetentionDecision>& ds) {
  std::vector<std::string> out;
  for (const RetentionDecision& d : ds)
    out.push_back(d.id + " " + VerdictName(d.verdict) + ": " + d.reason);
  return out;
}

std::vector<std::string> Ids(const std::vector<RetentionDecision>& ds,
                             RetentionVerdict verdict) {
  std::vector<std::string> out;
  for (const RetentionDecision& d : ds)
    if (d.verdict == verdict) out.push_back(d.id);
  return out;
}

using Strings = std::vector<std::string>;

TEST_CASE("keep-last keeps the newest N, decisions newest first") {
  // Given out of order; times irregular.
  const std::vector<RetentionItem> items = {
      Item("c", Utc(2026, 12, 3, 7, 15)),  Item("a", Utc(2026, 12, 1, 9, 0)),
      Item("e", Utc(2026, 12, 5, 23, 59)), Item("b", Utc(2026, 12, 2, 0, 1)),
      Item("d", Utc(2026, 12, 5, 23, 58)),
  };
  RetentionRules rules;
  rules.keep_last = 2;
  const auto ds = DecideRetention(items, rules, ZoneClock::Utc());
  CHECK(Outcome(ds) == Strings{"e keep: keep-last", "d keep: keep-last",
                               "c remove: not selected by any keep rule",
                               "b remove: not selected by any keep rule",
                               "a remove: not selected by any keep rule"});
  REQUIRE(ds.size() == 5);
  CHECK(ds[0].created_at_micros == Utc(2026, 12, 5, 23, 59));
  // Equal times: the smaller id first, whatever the input order.
  const auto tie = DecideRetention(
      {Item("y", Utc(2026, 12, 1, 0, 0)), Item("x", Utc(2026, 12, 1, 0, 0))},
      rules, ZoneClock::Utc());
  CHECK(Outcome(tie) == Strings{"x keep: keep-last", "y keep: keep-last"});
}

TEST_CASE("keep-daily keeps the newest snapshot of each of the last N days") {
  const std::vector<RetentionItem> items = {
      Item("a1", Utc(2026, 12, 5, 8, 0)),  Item("a2", Utc(2026, 12, 5, 13, 0)),
      Item("a3", Utc(2026, 12, 5, 22, 0)), Item("b1", Utc(2026, 12, 4, 10, 0)),
      Item("c1", Utc(2026, 12, 3, 1, 0)),  Item("c2", Utc(2026, 12, 3, 23, 59)),
      Item("d1", Utc(2026, 12, 1, 12, 0)),
  };
  RetentionRules rules;
  rules.keep_daily = 3;
  CHECK(Outcome(DecideRetention(items, rules, ZoneClock::Utc())) ==
        Strings{
            "a3 keep: keep-daily 2026/12/05",
            "a2 remove: keep-daily 2026/12/05 holds a newer snapshot",
            "a1 remove: keep-daily 2026/12/05 holds a newer snapshot",
            "b1 keep: keep-daily 2026/12/04",
            "c2 keep: keep-daily 2026/12/03",
            "c1 remove: keep-daily 2026/12/03 holds a newer snapshot",
            "d1 remove: not selected by any keep rule",
        });
}

TEST_CASE("keep-hourly buckets by the local hour") {
  RetentionRules rules;
  rules.keep_hourly = 2;
  const auto ds = DecideRetention({Item("h1", Utc(2026, 12, 5, 13, 5)),
                                   Item("h2", Utc(2026, 12, 5, 13, 55)),
                                   Item("h3", Utc(2026, 12, 5, 14, 0))},
                                  rules, ZoneClock::Utc());
  CHECK(Outcome(ds) ==
        Strings{"h3 keep: keep-hourly 2026/12/05/14",
                "h2 keep: keep-hourly 2026/12/05/13",
                "h1 remove: keep-hourly 2026/12/05/13 holds a newer snapshot"});
}

TEST_CASE("keep-yearly takes the newest of each year") {
  RetentionRules rules;
  rules.keep_yearly = 5;
  const auto ds = DecideRetention(
      {Item("y1", Utc(2025, 3, 1, 0, 0)), Item("y2", Utc(2026, 1, 1, 0, 0)),
       Item("y3", Utc(2026, 12, 31, 23, 0))},
      rules, ZoneClock::Utc());
  CHECK(Outcome(ds) ==
        Strings{"y3 keep: keep-yearly 2026",
                "y2 remove: keep-yearly 2026 holds a newer snapshot",
                "y1 keep: keep-yearly 2025"});
}

TEST_CASE(
    "keep-last 2 + daily 3 + weekly 2 + monthly 2 over two months: later "
    "rules skip periods earlier rules kept") {
  // Irregular times over 2026-10-02 .. 2026-11-30 (UTC). ISO weeks:
  // 11-30 is W49; 11-25..11-29 W48; 11-16..11-22 W47; 11-09..11-13 W46;
  // 11-04 W45; 10-31 and 11-01 W44.
  const std::vector<RetentionItem> items = {
      Item("s01", Utc(2026, 10, 2, 3, 10)),
      Item("s02", Utc(2026, 10, 9, 17, 45)),
      Item("s03", Utc(2026, 10, 15, 9, 0)),
      Item("s04", Utc(2026, 10, 20, 22, 30)),
      Item("s05", Utc(2026, 10, 31, 23, 50)),
      Item("s06", Utc(2026, 11, 1, 0, 20)),
      Item("s07", Utc(2026, 11, 4, 6, 0)),
      Item("s08", Utc(2026, 11, 9, 11, 11)),
      Item("s09", Utc(2026, 11, 9, 19, 40)),
      Item("s10", Utc(2026, 11, 13, 4, 5)),
      Item("s11", Utc(2026, 11, 16, 8, 0)),
      Item("s12", Utc(2026, 11, 18, 14, 0)),
      Item("s13", Utc(2026, 11, 21, 2, 0)),
      Item("s14", Utc(2026, 11, 21, 20, 0)),
      Item("s15", Utc(2026, 11, 22, 7, 30)),
      Item("s16", Utc(2026, 11, 25, 12, 0)),
      Item("s17", Utc(2026, 11, 25, 18, 0)),
      Item("s18", Utc(2026, 11, 27, 9, 15)),
      Item("s19", Utc(2026, 11, 29, 23, 0)),
      Item("s20", Utc(2026, 11, 30, 0, 30)),
      Item("s21", Utc(2026, 11, 30, 1, 0)),
      Item("s22", Utc(2026, 11, 30, 3, 0)),
  };
  RetentionRules rules;
  rules.keep_last = 2;
  rules.keep_daily = 3;
  rules.keep_weekly = 2;
  rules.keep_monthly = 2;
  const auto ds = DecideRetention(items, rules, ZoneClock::Utc());
  // keep-last: s22, s21. keep-daily: 11/30 is covered (s20 skipped, never
  // kept), then 11/29, 11/27, 11/25 (s16 loses to s17); stops at 11/22.
  // keep-weekly: W49, W48 covered; W47 (s15, newest of s11..s15), W46 (s10
  // over s09, s08); stops at W45. keep-monthly: 2026/11 covered (s07, s06
  // skipped); 2026/10 is s05; nothing older is left for the second month.
  CHECK(Outcome(ds) ==
        Strings{
            "s22 keep: keep-last",
            "s21 keep: keep-last",
            "s20 remove: not selected by any keep rule",
            "s19 keep: keep-daily 2026/11/29",
            "s18 keep: keep-daily 2026/11/27",
            "s17 keep: keep-daily 2026/11/25",
            "s16 remove: keep-daily 2026/11/25 holds a newer snapshot",
            "s15 keep: keep-weekly 2026/47",
            "s14 remove: keep-weekly 2026/47 holds a newer snapshot",
            "s13 remove: keep-weekly 2026/47 holds a newer snapshot",
            "s12 remove: keep-weekly 2026/47 holds a newer snapshot",
            "s11 remove: keep-weekly 2026/47 holds a newer snapshot",
            "s10 keep: keep-weekly 2026/46",
            "s09 remove: keep-weekly 2026/46 holds a newer snapshot",
            "s08 remove: keep-weekly 2026/46 holds a newer snapshot",
            "s07 remove: not selected by any keep rule",
            "s06 remove: not selected by any keep rule",
            "s05 keep: keep-monthly 2026/10",
            "s04 remove: keep-monthly 2026/10 holds a newer snapshot",
            "s03 remove: keep-monthly 2026/10 holds a newer snapshot",
            "s02 remove: keep-monthly 2026/10 holds a newer snapshot",
            "s01 remove: keep-monthly 2026/10 holds a newer snapshot",
        });
}

TEST_CASE("buckets are the policy zone's days, not UTC's") {
  // Asia/Kolkata is UTC+5:30, no DST. k1 is 23:30 on 12-04 there, k2 00:30
  // on 12-05 and k3 22:30 on 12-05; in UTC k1 and k2 share 12-04.
  const std::vector<RetentionItem> items = {
      Item("k1", Utc(2026, 12, 4, 18, 0)),
      Item("k2", Utc(2026, 12, 4, 19, 0)),
      Item("k3", Utc(2026, 12, 5, 17, 0)),
  };
  RetentionRules rules;
  rules.keep_daily = 2;
  const ZoneClock kolkata = *ZoneClock::Find("Asia/Kolkata");
  CHECK(Outcome(DecideRetention(items, rules, kolkata)) ==
        Strings{"k3 keep: keep-daily 2026/12/05",
                "k2 remove: keep-daily 2026/12/05 holds a newer snapshot",
                "k1 keep: keep-daily 2026/12/04"});
  // The same snapshots under a UTC policy: the other answer.
  CHECK(Outcome(DecideRetention(items, rules, ZoneClock::Utc())) ==
        Strings{"k3 keep: keep-daily 2026/12/05",
                "k2 keep: keep-daily 2026/12/04",
                "k1 remove: keep-daily 2026/12/04 holds a newer snapshot"});
  // Local hours too: 19:00 UTC is 00:30 in Kolkata.
  RetentionRules hourly;
  hourly.keep_hourly = 1;
  CHECK(Outcome(DecideRetention({items[1]}, hourly, kolkata)) ==
        Strings{"k2 keep: keep-hourly 2026/12/05/00"});
}

TEST_CASE("ISO weeks: the first days of 2027 are week 2026/53") {
  // 2026 starts on a Thursday, so it has 53 ISO weeks: Mon 12-28 .. Sun
  // 2027-01-03. 2027/01 starts on Mon 2027-01-04.
  const std::vector<RetentionItem> items = {
      Item("w1", Utc(2026, 12, 27, 10, 0)),  // Sun: 2026/52
      Item("w2", Utc(2026, 12, 28, 10, 0)),  // Mon: 2026/53
      Item("w3", Utc(2026, 12, 31, 10, 0)),  // Thu: 2026/53
      Item("w4", Utc(2027, 1, 1, 10, 0)),    // Fri: 2026/53
      Item("w5", Utc(2027, 1, 3, 10, 0)),    // Sun: 2026/53
      Item("w6", Utc(2027, 1, 4, 10, 0)),    // Mon: 2027/01
  };
  RetentionRules rules;
  rules.keep_weekly = 3;
  CHECK(Outcome(DecideRetention(items, rules, ZoneClock::Utc())) ==
        Strings{"w6 keep: keep-weekly 2027/01", "w5 keep: keep-weekly 2026/53",
                "w4 remove: keep-weekly 2026/53 holds a newer snapshot",
                "w3 remove: keep-weekly 2026/53 holds a newer snapshot",
                "w2 remove: keep-weekly 2026/53 holds a newer snapshot",
                "w1 keep: keep-weekly 2026/52"});
  // Other boundaries, checked against `date +%G/%V`: Mon 2024-12-30 is
  // 2025/01; Sun 2021-01-03 and Thu 2020-12-31 are 2020/53.
  rules.keep_weekly = 10;
  CHECK(Outcome(DecideRetention({Item("x1", Utc(2024, 12, 30, 12, 0)),
                                 Item("x2", Utc(2024, 12, 29, 12, 0)),
                                 Item("x3", Utc(2021, 1, 3, 12, 0)),
                                 Item("x4", Utc(2020, 12, 28, 12, 0))},
                                rules, ZoneClock::Utc())) ==
        Strings{"x1 keep: keep-weekly 2025/01", "x2 keep: keep-weekly 2024/52",
                "x3 keep: keep-weekly 2020/53",
                "x4 remove: keep-weekly 2020/53 holds a newer snapshot"});
}

TEST_CASE("protected snapshots are never removed and use up no bucket") {
  RetentionRules rules;
  rules.keep_daily = 1;
  // As in PBS's mark_selections, p is marked protected before its day is
  // looked at, so the day is still free and a, older, is kept for it.
  const auto ds = DecideRetention(
      {Item("p", Utc(2026, 12, 5, 20, 0), true),
       Item("a", Utc(2026, 12, 5, 8, 0)), Item("b", Utc(2026, 12, 4, 8, 0))},
      rules, ZoneClock::Utc());
  CHECK(Outcome(ds) == Strings{"p protected: protected",
                               "a keep: keep-daily 2026/12/05",
                               "b remove: not selected by any keep rule"});
  // An old protected snapshot no rule reaches stays.
  rules = RetentionRules{};
  rules.keep_last = 1;
  CHECK(Outcome(DecideRetention({Item("new", Utc(2026, 12, 5, 8, 0)),
                                 Item("mid", Utc(2026, 12, 4, 8, 0)),
                                 Item("old", Utc(2026, 1, 1, 8, 0), true)},
                                rules, ZoneClock::Utc())) ==
        Strings{"new keep: keep-last",
                "mid remove: not selected by any keep rule",
                "old protected: protected"});
}

TEST_CASE("R1.6 cap alone: 5 snapshots, cap 3, the 2 oldest go") {
  RetentionRules rules;
  rules.max_count = 3;
  const auto ds = DecideRetention(
      {Item("n3", Utc(2026, 12, 3, 0, 0)), Item("n5", Utc(2026, 12, 5, 0, 0)),
       Item("n1", Utc(2026, 12, 1, 0, 0)), Item("n4", Utc(2026, 12, 4, 0, 0)),
       Item("n2", Utc(2026, 12, 2, 0, 0))},
      rules, ZoneClock::Utc());
  CHECK(Outcome(ds) == Strings{"n5 keep: no keep rule set",
                               "n4 keep: no keep rule set",
                               "n3 keep: no keep rule set",
                               "n2 remove: over the cap of 3 (R1.6)",
                               "n1 remove: over the cap of 3 (R1.6)"});
  // At the cap nothing goes.
  rules.max_count = 5;
  CHECK(Ids(DecideRetention({Item("n1", 1), Item("n2", 2), Item("n3", 3),
                             Item("n4", 4), Item("n5", 5)},
                            rules, ZoneClock::Utc()),
            RetentionVerdict::kRemove)
            .empty());
}

TEST_CASE("R1.6 cap after keep rules trims the oldest kept") {
  RetentionRules rules;
  rules.keep_daily = 4;
  rules.max_count = 2;
  const auto ds = DecideRetention(
      {Item("d5b", Utc(2026, 12, 5, 20, 0)),
       Item("d5a", Utc(2026, 12, 5, 8, 0)), Item("d4", Utc(2026, 12, 4, 8, 0)),
       Item("d3", Utc(2026, 12, 3, 8, 0)), Item("d2", Utc(2026, 12, 2, 8, 0)),
       Item("d1", Utc(2026, 12, 1, 8, 0))},
      rules, ZoneClock::Utc());
  CHECK(Outcome(ds) ==
        Strings{"d5b keep: keep-daily 2026/12/05",
                "d5a remove: keep-daily 2026/12/05 holds a newer snapshot",
                "d4 keep: keep-daily 2026/12/04",
                "d3 remove: over the cap of 2 (R1.6)",
                "d2 remove: over the cap of 2 (R1.6)",
                "d1 remove: not selected by any keep rule"});
}

TEST_CASE("R1.6 cap never removes protected snapshots") {
  RetentionRules rules;
  rules.max_count = 3;
  // Two protected among five: the two oldest unprotected go.
  const auto ds = DecideRetention(
      {Item("i1", Utc(2026, 12, 1, 0, 0), true),
       Item("i2", Utc(2026, 12, 2, 0, 0), true),
       Item("i3", Utc(2026, 12, 3, 0, 0)), Item("i4", Utc(2026, 12, 4, 0, 0)),
       Item("i5", Utc(2026, 12, 5, 0, 0))},
      rules, ZoneClock::Utc());
  CHECK(Outcome(ds) == Strings{"i5 keep: no keep rule set",
                               "i4 remove: over the cap of 3 (R1.6)",
                               "i3 remove: over the cap of 3 (R1.6)",
                               "i2 protected: protected",
                               "i1 protected: protected"});
  // More protected than the cap: every unprotected one goes, and the
  // protected ones stay over the cap.
  rules.max_count = 2;
  const auto over = DecideRetention({Item("p1", Utc(2026, 12, 1, 0, 0), true),
                                     Item("p2", Utc(2026, 12, 2, 0, 0), true),
                                     Item("u3", Utc(2026, 12, 3, 0, 0)),
                                     Item("p4", Utc(2026, 12, 4, 0, 0), true)},
                                    rules, ZoneClock::Utc());
  CHECK(Outcome(over) == Strings{"p4 protected: protected",
                                 "u3 remove: over the cap of 2 (R1.6)",
                                 "p2 protected: protected",
                                 "p1 protected: protected"});
  // With keep rules too.
  rules = RetentionRules{};
  rules.keep_last = 3;
  rules.max_count = 1;
  CHECK(Outcome(DecideRetention({Item("q1", Utc(2026, 12, 1, 0, 0), true),
                                 Item("q2", Utc(2026, 12, 2, 0, 0)),
                                 Item("q3", Utc(2026, 12, 3, 0, 0))},
                                rules, ZoneClock::Utc())) ==
        Strings{"q3 remove: over the cap of 1 (R1.6)",
                "q2 remove: over the cap of 1 (R1.6)",
                "q1 protected: protected"});
}

TEST_CASE("no rules at all keeps everything") {
  const RetentionRules none;
  CHECK_FALSE(none.HasKeepRules());
  CHECK(Outcome(DecideRetention({Item("a", Utc(2020, 1, 1, 0, 0)),
                                 Item("b", Utc(2026, 12, 5, 0, 0), true),
                                 Item("c", Utc(2026, 12, 5, 0, 1))},
                                none, ZoneClock::Utc())) ==
        Strings{"c keep: no keep rule set", "b protected: protected",
                "a keep: no keep rule set"});
  CHECK(DecideRetention({}, none, ZoneClock::Utc()).empty());
  // The cap alone is not a keep rule.
  RetentionRules cap_only;
  cap_only.max_count = 4;
  CHECK_FALSE(cap_only.HasKeepRules());
  RetentionRules yearly;
  yearly.keep_yearly = 1;
  CHECK(yearly.HasKeepRules());
}

TEST_CASE("ParseRetentionRules: good input, and round trip") {
  auto r = ParseRetentionRules(nlohmann::json::parse(
      R"({"max_count": 8, "keep_last": 3, "keep_daily": 7,
          "keep_yearly": 100000})"));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->max_count == 8);
  CHECK(r->keep_last == 3);
  CHECK(r->keep_daily == 7);
  CHECK(r->keep_yearly == 100000);
  CHECK(r->keep_hourly == 0);
  CHECK(r->keep_weekly == 0);
  CHECK(r->keep_monthly == 0);
  const nlohmann::json j = RetentionRulesToJson(*r);
  CHECK(j == nlohmann::json::parse(
                 R"({"keep_last": 3, "keep_hourly": 0, "keep_daily": 7,
                     "keep_weekly": 0, "keep_monthly": 0,
                     "keep_yearly": 100000, "max_count": 8})"));
  auto back = ParseRetentionRules(j);
  REQUIRE(back.ok());
  CHECK(RetentionRulesToJson(*back) == j);
  auto empty = ParseRetentionRules(nlohmann::json::object());
  REQUIRE(empty.ok());
  CHECK(RetentionRulesToJson(*empty) ==
        nlohmann::json::parse(
            R"({"keep_last": 0, "keep_hourly": 0, "keep_daily": 0,
                "keep_weekly": 0, "keep_monthly": 0, "keep_yearly": 0,
                "max_count": 0})"));
}

TEST_CASE("ParseRetentionRules: faults for bad input") {
  auto negative = ParseRetentionRules(nlohmann::json{{"keep_daily", -1}});
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.status().code() == StatusCode::kInvalidArgument);
  CHECK(negative.status().message() ==
        "Invalid input for field/attribute retention.keep_daily: a whole "
        "number of 0 or more.");
  for (const char* bad : {
           R"({"keep_daily": 2.5})",
           R"({"keep_daily": 3.0})",
           R"({"max_count": "3"})",
           R"({"keep_last": true})",
           R"({"keep_last": null})",
           R"({"keep_last": [1]})",
           R"({"keep_last": 100001})",
           R"({"keep_last": 18446744073709551615})",
           R"({"keep_minutely": 3})",
           R"({"keep_last": 1, "Keep_Last": 1})",
           R"([{"keep_last": 1}])",
           R"("keep_last=1")",
           R"(5)",
           R"(null)",
       }) {
    CAPTURE(bad);
    auto r = ParseRetentionRules(nlohmann::json::parse(bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK_FALSE(r.status().message().empty());
    CHECK(r.status().message().starts_with(
        "Invalid input for field/attribute retention"));
  }
  auto unknown = ParseRetentionRules(nlohmann::json{{"keep_minutely", 3}});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().message().find("'keep_minutely'") !=
        std::string::npos);
}

TEST_CASE("VerdictName") {
  CHECK(std::string(VerdictName(RetentionVerdict::kKeep)) == "keep");
  CHECK(std::string(VerdictName(RetentionVerdict::kProtected)) == "protected");
  CHECK(std::string(VerdictName(RetentionVerdict::kRemove)) == "remove");
}

}  // namespace
