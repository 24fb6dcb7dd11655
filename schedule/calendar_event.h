// Calendar event expressions, as systemd.time(7) defines them (R1.5):
// "wed 22:00", "monthly", "*-*-01 03:00", "mon..fri 02:30",
// "Sat *-1..7 15:00", "*-*~01" (the last day of each month),
// "*:0/15" (every quarter hour), "2027-01-01 00:00 Europe/Berlin".
//
// Operators know this syntax from systemd timers and Proxmox's backup jobs,
// and Debian's systemd-analyze calendar is the oracle the tests compare
// with: Parse accepts what systemd 252 accepts (timezone abbreviations of
// the host's zone, such as "CET", excepted: a zone is named or "UTC"), and
// Next gives the instants systemd gives, DST changes included (a wall time
// a spring-forward skips does not run that day; one a fall-back repeats
// runs once).
//
// Thread-safety: immutable after Parse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schedule/zone_clock.h"
#include "util/status.h"

namespace strata::schedule {

// One comma-separated item of a field: `start`, `start..stop`, with
// `/repeat`. In the seconds field the values are microseconds.
struct CalendarComponent {
  int start = 0;
  int stop = -1;   // -1: none
  int repeat = 0;  // 0: none
  auto operator<=>(const CalendarComponent&) const = default;
};

class CalendarEvent {
 public:
  // InvalidArgument, with the reason, for what systemd rejects.
  static Result<CalendarEvent> Parse(std::string_view text);

  // systemd's normalized form ("Wed *-*-* 22:00:00").
  std::string Normalized() const;
  // The zone the expression names ("UTC" included), or empty: the caller's.
  std::string Zone() const { return utc_ ? "UTC" : zone_; }

  // The first instant strictly after `after_micros` (Unix time, µs) that
  // the expression matches, read in its own zone or else `zone`; nullopt
  // when there is none before the year 2200.
  std::optional<int64_t> Next(int64_t after_micros,
                              const ZoneClock& zone) const;

 private:
  using Chain = std::vector<CalendarComponent>;  // empty: any value

  bool Matches(int weekday) const;

  int weekdays_ = -1;          // bit 0 Monday … bit 6 Sunday; -1 every day
  bool end_of_month_ = false;  // "~": days count back from the month's end
  bool utc_ = false;
  std::string zone_;
  Chain year_, month_, day_, hour_, minute_, micros_;

  friend class CalendarParser;
};

}  // namespace strata::schedule
