// Schedules (R1.5): true intervals from an anchor ("every 10d from …",
// which calendar syntax cannot say) across DST changes, the dispatch
// between the two forms, and ZoneClock's answers for wall times a DST
// change skips or repeats. Calendar events themselves are checked against
// systemd in calendar_oracle_test.cc.
#include "schedule/schedule.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "schedule/zone_clock.h"

namespace {

using strata::StatusCode;
using strata::schedule::Schedule;
using strata::schedule::WallTime;
using strata::schedule::ZoneClock;

constexpr int64_t kSec = 1000000;

int64_t Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return ZoneClock::Utc().ToUnixMicros(WallTime{y, mo, d, h, mi, s, 0}, 0);
}

std::vector<int64_t> Runs(const std::string& text, int64_t after, size_t n,
                          const std::string& zone = "UTC") {
  auto s = Schedule::Parse(text);
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return s->NextRuns(after, *ZoneClock::Find(zone), n);
}

TEST_CASE(
    "ZoneClock: a skipped wall time moves forward, a repeated one runs "
    "at its first instant still ahead") {
  const ZoneClock berlin = *ZoneClock::Find("Europe/Berlin");
  // 2026-03-29: 02:00 CET becomes 03:00 CEST.
  const WallTime gap{2026, 3, 29, 2, 30, 0, 0};
  CHECK(berlin.Normalize(gap) == WallTime{2026, 3, 29, 3, 30, 0, 0});
  // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
  const WallTime twice{2026, 10, 25, 2, 30, 0, 0};
  CHECK(berlin.Normalize(twice) == twice);
  CHECK(berlin.ToUnixMicros(twice, 0) == Utc(2026, 10, 25, 0, 30));
  CHECK(berlin.ToUnixMicros(twice, Utc(2026, 10, 25, 0, 45)) ==
        Utc(2026, 10, 25, 1, 30));
  // Carries: day 0 is the previous month's last, minute 75 the next hour.
  CHECK(ZoneClock::Utc().Normalize(WallTime{2027, 3, 0, 23, 75, 0, 0}) ==
        WallTime{2027, 3, 1, 0, 15, 0, 0});
  CHECK(berlin.FromUnixMicros(Utc(2026, 7, 1, 12, 0)) ==
        WallTime{2026, 7, 1, 14, 0, 0, 0});
  CHECK(ZoneClock::Find("Nowhere/City").status().code() ==
        StatusCode::kNotFound);
  CHECK_FALSE(ZoneClock::Find("../../etc/passwd").ok());
}

TEST_CASE("every N days keeps the wall time across DST changes") {
  // Berlin: CET (UTC+1) until 2027-03-28, then CEST (UTC+2).
  const auto runs = Runs("every 10d from 2026-12-01 22:00 Europe/Berlin",
                         Utc(2027, 3, 2, 0, 0), 3);
  REQUIRE(runs.size() == 3);
  CHECK(runs[0] == Utc(2027, 3, 11, 21, 0));  // 22:00 CET
  CHECK(runs[1] == Utc(2027, 3, 21, 21, 0));
  CHECK(runs[2] == Utc(2027, 3, 31, 20, 0));  // 22:00 CEST
  // The zone may come from the caller instead.
  CHECK(Runs("every 10d from 2026-12-01 22:00", Utc(2027, 3, 2, 0, 0), 3,
             "Europe/Berlin") == runs);
  // Weeks are 7 days of wall time.
  CHECK(
      Runs("every 2w from 2026-12-02 22:00", Utc(2026, 12, 3, 0, 0), 2) ==
      std::vector<int64_t>{Utc(2026, 12, 16, 22, 0), Utc(2026, 12, 30, 22, 0)});
}

TEST_CASE(
    "a daily wall time in a DST gap runs after the gap, in an overlap "
    "once") {
  CHECK(Runs("every 1d from 2026-03-27 02:30 Europe/Berlin",
             Utc(2026, 3, 27, 12, 0), 3) ==
        std::vector<int64_t>{Utc(2026, 3, 28, 1, 30),    // 02:30 CET
                             Utc(2026, 3, 29, 1, 30),    // 03:30 CEST
                             Utc(2026, 3, 30, 0, 30)});  // 02:30 CEST
  CHECK(Runs("every 1d from 2026-10-23 02:30 Europe/Berlin",
             Utc(2026, 10, 24, 12, 0), 2) ==
        std::vector<int64_t>{Utc(2026, 10, 25, 0, 30),  // the first 02:30
                             Utc(2026, 10, 26, 1, 30)});
}

TEST_CASE("hours and smaller are elapsed time, from the anchor") {
  const auto runs = Runs("every 6h from 2026-10-24 00:00 Europe/Berlin",
                         Utc(2026, 10, 24, 12, 0), 4);
  REQUIRE(runs.size() == 4);
  for (size_t i = 1; i < runs.size(); ++i)
    CHECK(runs[i] - runs[i - 1] == 6 * 3600 * kSec);
  CHECK(runs[0] == Utc(2026, 10, 24, 16, 0));  // 18:00 CEST
  // No anchor: 1970-01-01 00:00 in the zone, so aligned runs.
  CHECK(
      Runs("every 15min", Utc(2026, 12, 6, 10, 7), 2) ==
      std::vector<int64_t>{Utc(2026, 12, 6, 10, 15), Utc(2026, 12, 6, 10, 30)});
  // Strictly after: a base on a run gives the next one.
  CHECK(Runs("every 90s", Utc(2026, 12, 6, 10, 3), 1) ==
        std::vector<int64_t>{Utc(2026, 12, 6, 10, 4, 30)});
  // Before the anchor, the anchor itself is the first run.
  CHECK(Runs("every 3d from 2027-01-01 05:00 UTC", Utc(2026, 12, 6, 0, 0), 2) ==
        std::vector<int64_t>{Utc(2027, 1, 1, 5, 0), Utc(2027, 1, 4, 5, 0)});
}

TEST_CASE("Schedule: both forms, normalized, and faults for bad input") {
  auto cal = Schedule::Parse("wed 22:00");
  REQUIRE(cal.ok());
  CHECK(cal->Normalized() == "Wed *-*-* 22:00:00");
  CHECK(
      cal->NextRuns(Utc(2026, 12, 6, 10, 0), ZoneClock::Utc(), 2) ==
      std::vector<int64_t>{Utc(2026, 12, 9, 22, 0), Utc(2026, 12, 16, 22, 0)});
  auto every = Schedule::Parse("Every 10 days from 2026-12-01 22:00 UTC");
  REQUIRE(every.ok());
  CHECK(every->Normalized() == "every 10d from 2026-12-01 22:00:00 UTC");
  for (const char* bad :
       {"every 0d", "every 5 fortnights", "every d", "every 3d from 2026-13-01",
        "every 3d from 2026-02-30 10:00", "every 3d from 2026-12-01 Nowhere/X",
        "every 3d sometimes", "bogus", "", "wed 25:00",
        "every 3d from 1900-01-01"}) {
    CAPTURE(bad);
    auto s = Schedule::Parse(bad);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == StatusCode::kInvalidArgument);
    CHECK_FALSE(s.status().message().empty());
  }
  // A schedule with no more runs gives none.
  auto past = Schedule::Parse("2020-01-01 00:00");
  REQUIRE(past.ok());
  CHECK(past->NextRuns(Utc(2026, 1, 1, 0, 0), ZoneClock::Utc(), 5).empty());
}

}  // namespace
