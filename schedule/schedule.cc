// Schedule: a calendar event or an interval, behind one interface.
#include "schedule/schedule.h"

namespace strata::schedule {

Result<Schedule> Schedule::Parse(std::string_view text) {
  if (IntervalEvent::LooksLikeInterval(text)) {
    STRATA_ASSIGN_OR_RETURN(IntervalEvent ev, IntervalEvent::Parse(text));
    return Schedule(std::move(ev));
  }
  STRATA_ASSIGN_OR_RETURN(CalendarEvent ev, CalendarEvent::Parse(text));
  return Schedule(std::move(ev));
}

std::string Schedule::Normalized() const {
  return std::visit([](const auto& ev) { return ev.Normalized(); }, ev_);
}

std::optional<int64_t> Schedule::Next(int64_t after_micros,
                                      const ZoneClock& zone) const {
  return std::visit([&](const auto& ev) { return ev.Next(after_micros, zone); },
                    ev_);
}

std::vector<int64_t> Schedule::NextRuns(int64_t after_micros,
                                        const ZoneClock& zone,
                                        size_t count) const {
  std::vector<int64_t> out;
  int64_t t = after_micros;
  while (out.size() < count) {
    std::optional<int64_t> next = Next(t, zone);
    if (!next) break;
    out.push_back(*next);
    t = *next;
  }
  return out;
}

}  // namespace strata::schedule
