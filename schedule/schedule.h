// A policy's schedule (R1.5): a calendar event ("wed 22:00", systemd's
// syntax, calendar_event.h) or a true interval ("every 10d from
// 2026-12-01 22:00", interval_event.h), read in a time zone: the one the
// expression names, else the policy's, else the host's.
//
// Thread-safety: immutable after Parse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "schedule/calendar_event.h"
#include "schedule/interval_event.h"
#include "schedule/zone_clock.h"
#include "util/status.h"

namespace strata::schedule {

class Schedule {
 public:
  // InvalidArgument, saying why, for an expression neither form accepts.
  static Result<Schedule> Parse(std::string_view text);

  std::string Normalized() const;
  // The next run strictly after `after_micros` (Unix µs), in `zone` unless
  // the expression names its own; nullopt when there is none.
  std::optional<int64_t> Next(int64_t after_micros,
                              const ZoneClock& zone) const;
  // The next `count` runs after `after_micros` (the API's preview).
  std::vector<int64_t> NextRuns(int64_t after_micros, const ZoneClock& zone,
                                size_t count) const;

 private:
  explicit Schedule(std::variant<CalendarEvent, IntervalEvent> ev)
      : ev_(std::move(ev)) {}
  std::variant<CalendarEvent, IntervalEvent> ev_;
};

}  // namespace strata::schedule
