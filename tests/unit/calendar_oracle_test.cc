// Calendar schedules (R1.5) against systemd-analyze calendar, the oracle
// issue 19 names: for each expression below, from several base times in
// several zones (DST changes in both directions, a 30-minute DST, a zone
// without DST), Strata's CalendarEvent must accept what systemd accepts,
// normalize it as systemd does, and give the same next 20 instants (to the
// second, as systemd prints them); what systemd rejects, Strata rejects.
// The oracle runs at test time: nothing here is a recorded answer.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "schedule/calendar_event.h"
#include "schedule/zone_clock.h"
#include "temp_dir.h"

namespace {

using strata::schedule::CalendarEvent;
using strata::schedule::WallTime;
using strata::schedule::ZoneClock;

constexpr int kIterations = 20;

// Accepted and rejected expressions: the issue's examples, every syntax
// element of systemd.time(7), DST-sensitive times, and malformed ones.
const std::vector<std::string> kExpressions = {
    // The issue's.
    "wed 22:00", "monthly", "*-*-01 03:00", "mon..fri 02:30",
    "Sat *-1..7 15:00",
    // Shorthands.
    "minutely", "hourly", "daily", "weekly", "yearly", "annually", "quarterly",
    "semiannually", "bi-annually", "DAILY",
    // Weekdays.
    "Mon,Fri 08:00", "Mon-Wed 01:00", "Sun 23:59:59", "Monday 00:00",
    "Sat,Sun *-*-* 10:00", "Tue..Thu,Sat 12:30", "fri,", "Mon..Sun 05:00",
    // Dates.
    "*-*-* 00:00", "2027-01-01", "2026-12-24 18:00", "*-02-29 00:00", "*-12-25",
    "*-*-31 12:00", "*-1,4,7,10-1 06:00", "*-*-1/10", "*-*-2..28/3 00:00",
    "27-06-15 00:00", "2026..2028-03-01", "*-02~01", "*-*~01", "*-*~07/2",
    "*-*~1..3 04:00", "Fri *-*~7..1 18:00",
    // Times.
    "*:0/15", "*:*:0/10", "*:05,35", "0/4:00", "9..17:00", "*:0..59/20",
    "02:30", "02:00..03:30/30 ", "*-*-* 02:30", "*-*-* 01:30", "*:30",
    "*-*-* 03:00", "12:00:00.5", "*:*:0/7.5", "*-*-* 02:15:30", "8..18/2:00",
    "23:59:59",
    // Zones in the expression.
    "*-*-* 02:30 Europe/Berlin", "Mon 09:00 America/New_York", "daily UTC",
    "*-*-* 12:00 Asia/Kolkata", "*:00 Australia/Lord_Howe", "*-*-* 00:00 utc",
    // An epoch.
    "@1800000000",
    // Never after the base, or out of range, or malformed.
    "*-02-30", "2020-01-01", "*-04-31", "", "bogus", "Mon..", "Fri..Mon",
    "*-13-01", "25:00", "*:60", "*-*-* 00:00:61", "*:0/0", "2200-01-01",
    "Mond 10:00", "12:00 Nowhere/City", "*-*-32", "1..", "*-*~30", "Mon Tue",
    "10:00:00:00"};

const std::vector<std::string> kZones = {"UTC", "Europe/Berlin",
                                         "America/New_York",
                                         "Australia/Lord_Howe", "Asia/Kolkata"};

// Unix seconds: the day before each DST change of these zones in 2026 (20
// runs of an hourly or finer expression cross it), and an ordinary day.
const std::vector<int64_t> kBases = {
    1774612800,  // 2026-03-27 12:00 UTC: Europe springs forward 03-29
    1792843200,  // 2026-10-24 12:00 UTC: Europe falls back 10-25
    1772884800,  // 2026-03-07 12:00 UTC: the US springs forward 03-08
    1793448000,  // 2026-10-31 12:00 UTC: the US falls back 11-01
    1775304000,  // 2026-04-04 12:00 UTC: Lord Howe falls back 30 min 04-05
    1791028800,  // 2026-10-03 12:00 UTC: Lord Howe springs forward 10-04
    1780000000,  // 2026-05-28 20:26:40 UTC
};

struct OracleAnswer {
  bool accepted = false;
  std::string normalized;
  std::vector<int64_t> seconds;  // Unix seconds, up to kIterations
};

std::string ShellQuote(const std::string& s) { return "'" + s + "'"; }

int64_t ParseUtcLine(const std::string& line) {
  // "... Wed 2026-12-09 22:00:00 UTC"
  const size_t colon = line.find(": ");
  std::istringstream in(line.substr(colon + 2));
  std::string weekday;
  int y, mo, d, h, mi, s;
  char dash1, dash2, c1, c2;
  in >> weekday >> y >> dash1 >> mo >> dash2 >> d >> h >> c1 >> mi >> c2 >> s;
  return ZoneClock::Utc().ToUnixMicros(WallTime{y, mo, d, h, mi, s, 0}, 0) /
         1000000;
}

std::map<std::string, OracleAnswer> AskSystemd(const std::string& zone,
                                               int64_t base,
                                               const std::string& err_path) {
  std::string cmd = "TZ=" + zone + " systemd-analyze calendar --base-time=@" +
                    std::to_string(base) +
                    " --iterations=" + std::to_string(kIterations);
  for (const std::string& e : kExpressions) cmd += " " + ShellQuote(e);
  cmd += " 2>" + err_path;
  FILE* f = popen(cmd.c_str(), "r");
  REQUIRE(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);

  std::set<std::string> rejected;
  std::ifstream err(err_path);
  for (std::string line; std::getline(err, line);) {
    const std::string tag = "Failed to parse calendar specification '";
    const size_t at = line.find(tag);
    if (at == std::string::npos) continue;
    const size_t end = line.find("': ", at + tag.size());
    REQUIRE(end != std::string::npos);
    rejected.insert(line.substr(at + tag.size(), end - at - tag.size()));
  }
  // Blocks, in the order of the accepted expressions.
  std::vector<OracleAnswer> blocks;
  std::istringstream in(out);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.find("Normalized form: ") != std::string::npos) {
      blocks.emplace_back();
      blocks.back().accepted = true;
      blocks.back().normalized = line.substr(line.find(": ") + 2);
    } else if (line.find("Next elapse: ") != std::string::npos ||
               line.find("Iter. #") != std::string::npos) {
      REQUIRE(!blocks.empty());
      if (line.find("never") != std::string::npos) continue;
      const bool utc_next =
          i + 1 < lines.size() &&
          lines[i + 1].find("(in UTC): ") != std::string::npos;
      const std::string& utc_line = utc_next ? lines[i + 1] : line;
      REQUIRE(utc_line.size() > 4);
      REQUIRE(utc_line.substr(utc_line.size() - 4) == " UTC");
      blocks.back().seconds.push_back(ParseUtcLine(utc_line));
    }
  }
  std::map<std::string, OracleAnswer> answers;
  size_t b = 0;
  for (const std::string& e : kExpressions) {
    if (rejected.count(e) || e.empty()) {
      answers[e] = OracleAnswer{};
      continue;
    }
    REQUIRE_MESSAGE(b < blocks.size(), "no block for '" << e << "'");
    answers[e] = blocks[b++];
  }
  CHECK(b == blocks.size());
  return answers;
}

TEST_CASE("calendar events match systemd-analyze calendar (R1.5)") {
  if (system("command -v systemd-analyze >/dev/null") != 0)
    FAIL("systemd-analyze is missing (Debian package systemd): the oracle");
  strata::testing::TempDir dir;
  const std::string err_path = dir.path + "/stderr";
  int compared = 0, accepted = 0, rejected = 0, instants = 0;
  for (const std::string& zone_name : kZones) {
    const ZoneClock zone = *ZoneClock::Find(zone_name);
    for (int64_t base : kBases) {
      const auto answers = AskSystemd(zone_name, base, err_path);
      for (const std::string& e : kExpressions) {
        CAPTURE(e);
        CAPTURE(zone_name);
        CAPTURE(base);
        const OracleAnswer& want = answers.at(e);
        auto got = CalendarEvent::Parse(e);
        ++compared;
        CHECK(got.ok() == want.accepted);
        if (!got.ok()) {
          CHECK(got.status().code() == strata::StatusCode::kInvalidArgument);
          rejected += !want.accepted;
          continue;
        }
        if (!want.accepted) continue;
        ++accepted;
        CHECK(got->Normalized() == want.normalized);
        std::vector<int64_t> mine;
        int64_t t = base * 1000000;
        for (int i = 0; i < kIterations; ++i) {
          auto next = got->Next(t, zone);
          if (!next) break;
          mine.push_back(*next / 1000000);
          t = *next;
        }
        CHECK(mine == want.seconds);
        instants += static_cast<int>(want.seconds.size());
      }
    }
  }
  MESSAGE("compared " << compared << " answers (" << accepted << " accepted, "
                      << rejected << " rejected by both), " << instants
                      << " instants");
  CHECK(accepted > 1500);
  CHECK(instants > 25000);
}

}  // namespace
