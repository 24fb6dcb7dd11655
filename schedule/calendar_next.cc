// CalendarEvent::Next: the search for the next matching wall time.
//
// As systemd's timers search (so that systemd-analyze is the oracle): from
// the wall time just after the base, each field from the year down is moved
// to its next matching value; a field that moves resets the ones below it;
// a field that runs out carries into the one above; and after each step the
// wall time is normalized in the zone. A step the normalization changes
// (day 31 of a 30-day month, a wall time a DST gap skips) starts the search
// again from the normalized time.
#include "schedule/calendar_event.h"

namespace strata::schedule {
namespace {

constexpr int kMicrosPerSecond = 1000000;
constexpr int kMaxYear = 2199;

// The last day of `t`'s month minus (`back` - 1), or -1 when that leaves the
// month ("~" days count back from the month's end).
int EndOfMonthDay(const ZoneClock& clock, const WallTime& t, int back) {
  WallTime x = t;
  x.month += 1;
  x.day = 1 - back;
  const WallTime n = clock.Normalize(x);
  if (n.month != t.month || n.year != t.year) return -1;
  return static_cast<int>(n.day);
}

}  // namespace

bool CalendarEvent::Matches(int weekday) const {
  return weekdays_ < 0 || (weekdays_ & (1 << weekday)) != 0;
}

std::optional<int64_t> CalendarEvent::Next(int64_t after_micros,
                                           const ZoneClock& caller_zone) const {
  Result<ZoneClock> own = utc_            ? ZoneClock::Utc()
                          : zone_.empty() ? caller_zone
                                          : ZoneClock::Find(zone_);
  if (!own.ok()) return std::nullopt;
  const ZoneClock& clock = *own;

  // The next value of `chain` at or after `*val` (1 moved, 0 kept, -1 none).
  auto match = [&](const Chain& chain, const WallTime& t, bool day_field,
                   int64_t* val) -> int {
    if (chain.empty()) return 0;
    bool found = false;
    int64_t best = 0;
    for (const CalendarComponent& c : chain) {
      int64_t start = c.start, stop = c.stop;
      if (end_of_month_ && day_field) {
        start = EndOfMonthDay(clock, t, c.start);
        stop = EndOfMonthDay(clock, t, c.stop);
        if (stop > 0) std::swap(start, stop);
      }
      if (start >= *val) {
        if (!found || start < best) best = start, found = true;
      } else if (c.repeat > 0) {
        const int64_t k =
            start + c.repeat * ((*val - start + c.repeat - 1) / c.repeat);
        if ((!found || k < best) && (stop < 0 || k <= stop))
          best = k, found = true;
      }
    }
    if (!found) return -1;
    const int moved = *val != best;
    *val = best;
    return moved;
  };
  // 1: `t` is a real wall time. 0: normalizing moved it forward (now done),
  // to the start of the first unit that changed (March 33 is April 1, not
  // April 2, so that April 1 is not skipped). -1: past the last year, or
  // moved backwards.
  auto within = [&](WallTime* t) -> int {
    if (t->year > kMaxYear) return -1;
    WallTime n = clock.Normalize(*t);
    int cmp = 0;
    auto differ = [&](int64_t a, int64_t b) {
      cmp = a < b ? -1 : a > b ? 1 : 0;
      return cmp != 0;
    };
    if (differ(n.year, t->year))
      n.month = 1;
    else if (differ(n.month, t->month))
      n.day = 1;
    else if (differ(n.day, t->day))
      n.hour = 0;
    else if (differ(n.hour, t->hour))
      n.minute = 0;
    else if (differ(n.minute, t->minute))
      n.second = 0;
    else
      differ(n.second, t->second);
    if (cmp < 0) return -1;
    if (cmp == 0) return 1;
    *t = n;
    return 0;
  };

  WallTime c = clock.FromUnixMicros(after_micros + 1);
  // As systemd, a search that has not converged after 1000 steps gives up.
  for (int step = 0; step < 1000; ++step) {
    c = clock.Normalize(c);
    int r = match(year_, c, false, &c.year);
    if (r > 0)
      c.month = 1, c.day = 1, c.hour = c.minute = c.second = 0, c.micros = 0;
    if (r < 0 || within(&c) <= 0) return std::nullopt;

    r = match(month_, c, false, &c.month);
    if (r > 0) c.day = 1, c.hour = c.minute = c.second = 0, c.micros = 0;
    if (r < 0 || (r = within(&c)) < 0) {
      c.year += 1, c.month = 1, c.day = 1, c.hour = c.minute = c.second = 0,
                   c.micros = 0;
      continue;
    }
    if (r == 0) continue;

    r = match(day_, c, true, &c.day);
    if (r > 0) c.hour = c.minute = c.second = 0, c.micros = 0;
    if (r < 0 || (r = within(&c)) < 0) {
      c.month += 1, c.day = 1, c.hour = c.minute = c.second = 0, c.micros = 0;
      continue;
    }
    if (r == 0) continue;

    if (!Matches(WeekdayOf(clock.Normalize(c)))) {
      c.day += 1, c.hour = c.minute = c.second = 0, c.micros = 0;
      continue;
    }

    r = match(hour_, c, false, &c.hour);
    if (r > 0) c.minute = c.second = 0, c.micros = 0;
    if (r < 0 || (r = within(&c)) < 0) {
      c.day += 1, c.hour = c.minute = c.second = 0, c.micros = 0;
      continue;
    }
    if (r == 0) continue;  // that hour is missing today (DST)

    r = match(minute_, c, false, &c.minute);
    if (r > 0) c.second = 0, c.micros = 0;
    if (r < 0 || (r = within(&c)) < 0) {
      c.hour += 1, c.minute = c.second = 0, c.micros = 0;
      continue;
    }
    if (r == 0) continue;

    int64_t us = c.second * kMicrosPerSecond + c.micros;
    r = match(micros_, c, false, &us);
    c.second = us / kMicrosPerSecond;
    c.micros = us % kMicrosPerSecond;
    if (r < 0 || (r = within(&c)) < 0) {
      c.minute += 1, c.second = 0, c.micros = 0;
      continue;
    }
    if (r == 0) continue;
    return clock.ToUnixMicros(c, after_micros);
  }
  return std::nullopt;
}

}  // namespace strata::schedule
