// True intervals from an anchor (R1.5): "every 10d from 2026-12-01 22:00",
// which calendar expressions cannot say ("*-*-1/10" restarts each month).
//
// Syntax: "every <N><unit> [from YYYY-MM-DD[ HH:MM[:SS]]] [<zone>|UTC]",
// unit one of s, min, h, d, w (or their long names). Seconds, minutes and
// hours are elapsed time: "every 6h" runs every 21600 s, whatever the wall
// clock does. Days and weeks keep the wall time in the zone: "every 10d
// from 2026-12-01 22:00 Europe/Berlin" runs at 22:00 Berlin time across DST
// changes (a wall time a spring-forward skips runs at the first time after
// the gap, as a calendar event's normalization moves it; one a fall-back
// repeats runs once, at its first instant). Without "from", the anchor is 1970-01-01 00:00:00 in
// the zone, so "every 6h" runs at 00:00, 06:00, … UTC.
//
// Thread-safety: immutable after Parse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schedule/zone_clock.h"
#include "util/status.h"

namespace strata::schedule {

class IntervalEvent {
 public:
  // InvalidArgument with the reason.
  static Result<IntervalEvent> Parse(std::string_view text);
  static bool LooksLikeInterval(std::string_view text);

  std::string Normalized() const;
  std::string Zone() const { return zone_; }  // empty: the caller's
  std::optional<int64_t> Next(int64_t after_micros,
                              const ZoneClock& zone) const;

 private:
  int64_t count_ = 0;
  int64_t unit_seconds_ = 0;  // 1, 60, 3600: elapsed; 86400, 604800: wall
  WallTime anchor_;
  std::string zone_;
};

}  // namespace strata::schedule
