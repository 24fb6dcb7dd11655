// ZoneClock: wall times of a tz database zone, normalized as mktime does.
#include "schedule/zone_clock.h"

#include <date/tz.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace strata::schedule {
namespace {

using std::chrono::seconds;

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kSecondsPerDay = 86400;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Days since 1970-01-01 of a proleptic Gregorian date; month may be any
// value (carried into the year), day any value (carried through months).
int64_t DaysOf(int64_t year, int64_t month, int64_t day) {
  const int64_t m0 = month - 1;
  year += FloorDiv(m0, 12);
  const int64_t month_in_year = m0 - FloorDiv(m0, 12) * 12 + 1;
  const date::sys_days first =
      date::year(static_cast<int>(year)) /
      date::month(static_cast<unsigned>(month_in_year)) / date::day(1);
  return first.time_since_epoch().count() + (day - 1);
}

// The wall time `micros` after 1970-01-01 00:00:00 on a clock with no
// jumps.
WallTime WallOf(int64_t micros) {
  const int64_t secs = FloorDiv(micros, kMicrosPerSecond);
  const int64_t days = FloorDiv(secs, kSecondsPerDay);
  const int64_t in_day = secs - days * kSecondsPerDay;
  const date::year_month_day ymd{date::sys_days(date::days(days))};
  WallTime t;
  t.year = static_cast<int>(ymd.year());
  t.month = static_cast<unsigned>(ymd.month());
  t.day = static_cast<unsigned>(ymd.day());
  t.hour = in_day / 3600;
  t.minute = in_day / 60 % 60;
  t.second = in_day % 60;
  t.micros = micros - secs * kMicrosPerSecond;
  return t;
}

// `t` as micros on a clock with no jumps (fields carried).
int64_t LinearMicros(const WallTime& t) {
  const int64_t secs = DaysOf(t.year, t.month, t.day) * kSecondsPerDay +
                       t.hour * 3600 + t.minute * 60 + t.second;
  return secs * kMicrosPerSecond + t.micros;
}

}  // namespace

int WeekdayOf(const WallTime& t) {
  const int64_t days = DaysOf(t.year, t.month, t.day);
  // 1970-01-01 was a Thursday (3 when Monday is 0).
  return static_cast<int>((days % 7 + 7 + 3) % 7);
}

ZoneClock ZoneClock::Utc() { return ZoneClock(nullptr, "UTC"); }

Result<ZoneClock> ZoneClock::Find(std::string_view name) {
  if (name == "UTC") return Utc();
  if (name.empty() || name.size() > 255 || name.front() == '/' ||
      name.find("..") != std::string_view::npos)
    return Status::NotFound("unknown time zone '" + std::string(name) + "'");
  try {
    return ZoneClock(date::locate_zone(name), std::string(name));
  } catch (const std::exception&) {
    return Status::NotFound("unknown time zone '" + std::string(name) + "'");
  }
}

ZoneClock ZoneClock::Host() {
  if (const char* tz = std::getenv("TZ"); tz && *tz) {
    std::string_view name(tz);
    if (name.front() == ':') name.remove_prefix(1);
    Result<ZoneClock> z = Find(name);
    if (z.ok()) return *z;
  }
  try {
    const date::time_zone* zone = date::current_zone();
    if (zone->name() == "UTC" || zone->name() == "Etc/UTC") return Utc();
    return ZoneClock(zone, zone->name());
  } catch (const std::exception&) {
    return Utc();
  }
}

WallTime ZoneClock::Normalize(const WallTime& t) const {
  const int64_t linear = LinearMicros(t);
  if (!zone_) return WallOf(linear);
  const date::local_seconds local{seconds(FloorDiv(linear, kMicrosPerSecond))};
  const date::local_info info = zone_->get_info(local);
  if (info.result != date::local_info::nonexistent) return WallOf(linear);
  // In a gap: read with the offset before it, shown with the one after.
  const int64_t jump = std::chrono::duration_cast<seconds>(info.second.offset -
                                                           info.first.offset)
                           .count();
  return WallOf(linear + jump * kMicrosPerSecond);
}

int64_t ZoneClock::ToUnixMicros(const WallTime& t, int64_t after) const {
  const int64_t linear = LinearMicros(t);
  if (!zone_) return linear;
  const date::local_seconds local{seconds(FloorDiv(linear, kMicrosPerSecond))};
  const date::local_info info = zone_->get_info(local);
  auto at = [&](const date::sys_info& i) {
    return linear - std::chrono::duration_cast<seconds>(i.offset).count() *
                        kMicrosPerSecond;
  };
  if (info.result == date::local_info::ambiguous) {
    const int64_t earlier = at(info.first);
    return earlier > after ? earlier : at(info.second);
  }
  return at(info.first);
}

WallTime ZoneClock::FromUnixMicros(int64_t micros) const {
  if (!zone_) return WallOf(micros);
  const date::sys_seconds sys{seconds(FloorDiv(micros, kMicrosPerSecond))};
  const date::sys_info info = zone_->get_info(sys);
  return WallOf(micros +
                std::chrono::duration_cast<seconds>(info.offset).count() *
                    kMicrosPerSecond);
}

}  // namespace strata::schedule
