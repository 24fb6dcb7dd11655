// A time zone's wall clock, as the calendar schedules see it (R1.5).
//
// Schedules are written in local time ("wed 22:00" in the policy's zone, by
// default the host's), and a time zone's clock jumps: in a spring-forward
// gap some wall times never happen, in a fall-back overlap some happen
// twice. ZoneClock answers the two questions the schedule search asks, the
// way systemd's timers answer them (glibc's mktime), so that systemd-analyze
// calendar is an oracle for Strata's schedules:
// - Normalize: fields out of range carry into the next (minute 75 is the
//   next hour's 15; day 0 is the previous month's last), and a wall time in a
//   gap moves forward by the gap's length (02:30 on a day whose clocks jump
//   from 02:00 to 03:00 is 03:30);
// - ToUnixMicros: a wall time in an overlap is the earlier of its two
//   instants when that one is still after `after`, else the later.
// Zones come from the system's tz database (/usr/share/zoneinfo, through the
// date library's OS tzdb).
//
// Thread-safety: immutable after construction; the tz database is loaded
// once, thread-safely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace date {
class time_zone;
}

namespace strata::schedule {

// A wall-clock reading. Fields may be out of range before Normalize.
struct WallTime {
  int64_t year = 1970;
  int64_t month = 1;  // 1..12
  int64_t day = 1;    // 1..31
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  int64_t micros = 0;  // within the second
  bool operator==(const WallTime&) const = default;
};

// 0 = Monday … 6 = Sunday, of a normalized wall time.
int WeekdayOf(const WallTime& t);

class ZoneClock {
 public:
  static ZoneClock Utc();
  // An IANA name ("Europe/Berlin") or "UTC". NotFound when the system's tz
  // database has no such zone.
  static Result<ZoneClock> Find(std::string_view name);
  // $TZ (a zone name, optionally after ':'), else /etc/localtime, else UTC.
  static ZoneClock Host();

  const std::string& name() const { return name_; }
  bool utc() const { return zone_ == nullptr; }

  WallTime Normalize(const WallTime& t) const;
  // `t` normalized (Normalize(t) == t).
  int64_t ToUnixMicros(const WallTime& t, int64_t after) const;
  WallTime FromUnixMicros(int64_t micros) const;

 private:
  ZoneClock(const date::time_zone* zone, std::string name)
      : zone_(zone), name_(std::move(name)) {}

  const date::time_zone* zone_;  // null: UTC, no database needed
  std::string name_;
};

}  // namespace strata::schedule
