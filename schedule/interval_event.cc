// IntervalEvent: "every N<unit> from <anchor>".
#include "schedule/interval_event.h"

#include <cctype>
#include <cstdio>

namespace strata::schedule {
namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kSecondsPerDay = 86400;

Status Invalid(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("invalid interval '" + std::string(text) +
                                 "': " + std::string(why));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(ch));
  return out;
}

int64_t UnitSeconds(std::string_view unit) {
  const std::string u = Lower(unit);
  for (const char* s : {"s", "sec", "secs", "second", "seconds"})
    if (u == s) return 1;
  for (const char* s : {"m", "min", "mins", "minute", "minutes"})
    if (u == s) return 60;
  for (const char* s : {"h", "hr", "hour", "hours"})
    if (u == s) return 3600;
  for (const char* s : {"d", "day", "days"})
    if (u == s) return kSecondsPerDay;
  for (const char* s : {"w", "week", "weeks"})
    if (u == s) return 7 * kSecondsPerDay;
  return 0;
}

std::string UnitName(int64_t seconds) {
  switch (seconds) {
    case 1:
      return "s";
    case 60:
      return "min";
    case 3600:
      return "h";
    case kSecondsPerDay:
      return "d";
    default:
      return "w";
  }
}

}  // namespace

bool IntervalEvent::LooksLikeInterval(std::string_view text) {
  return Lower(text.substr(0, 6)) == "every ";
}

Result<IntervalEvent> IntervalEvent::Parse(std::string_view text) {
  if (!LooksLikeInterval(text))
    return Invalid(text, "must start with 'every '");
  IntervalEvent ev;
  std::string_view p = text.substr(6);
  auto skip_spaces = [&] {
    while (!p.empty() && p.front() == ' ') p.remove_prefix(1);
  };
  skip_spaces();
  size_t i = 0;
  while (i < p.size() && std::isdigit(static_cast<unsigned char>(p[i]))) {
    ev.count_ = ev.count_ * 10 + (p[i] - '0');
    if (ev.count_ > 1000000) return Invalid(text, "the count is too large");
    ++i;
  }
  if (i == 0 || ev.count_ == 0)
    return Invalid(text, "a positive count was expected");
  p.remove_prefix(i);
  skip_spaces();
  size_t u = 0;
  while (u < p.size() && std::isalpha(static_cast<unsigned char>(p[u]))) ++u;
  ev.unit_seconds_ = UnitSeconds(p.substr(0, u));
  if (ev.unit_seconds_ == 0)
    return Invalid(text, "the unit must be s, min, h, d or w");
  p.remove_prefix(u);
  skip_spaces();
  if (Lower(p.substr(0, 5)) == "from ") {
    p.remove_prefix(5);
    skip_spaces();
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, n = 0;
    const std::string rest(p);
    if (std::sscanf(rest.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
      return Invalid(text, "the anchor must be YYYY-MM-DD[ HH:MM[:SS]]");
    size_t used = static_cast<size_t>(n);
    int n2 = 0;
    if (std::sscanf(rest.c_str() + used, " %2d:%2d%n", &h, &mi, &n2) == 2) {
      used += static_cast<size_t>(n2);
      int n3 = 0;
      if (std::sscanf(rest.c_str() + used, ":%2d%n", &s, &n3) == 1)
        used += static_cast<size_t>(n3);
    }
    ev.anchor_ = WallTime{y, mo, d, h, mi, s, 0};
    if (y < 1970 || y > 2199 ||
        ZoneClock::Utc().Normalize(ev.anchor_) != ev.anchor_)
      return Invalid(text, "the anchor is not a date and time");
    p.remove_prefix(used);
    skip_spaces();
  }
  if (!p.empty()) {
    if (p == "UTC" || p == "utc") {
      ev.zone_ = "UTC";
    } else {
      Result<ZoneClock> zone = ZoneClock::Find(p);
      if (!zone.ok()) return Invalid(text, zone.status().message());
      ev.zone_ = std::string(p);
    }
  }
  return ev;
}

std::string IntervalEvent::Normalized() const {
  char buf[96];
  std::snprintf(buf, sizeof buf,
                "every %lld%s from %04lld-%02lld-%02lld %02lld:%02lld:%02lld",
                static_cast<long long>(count_), UnitName(unit_seconds_).c_str(),
                static_cast<long long>(anchor_.year),
                static_cast<long long>(anchor_.month),
                static_cast<long long>(anchor_.day),
                static_cast<long long>(anchor_.hour),
                static_cast<long long>(anchor_.minute),
                static_cast<long long>(anchor_.second));
  std::string out = buf;
  if (!zone_.empty()) out += " " + zone_;
  return out;
}

std::optional<int64_t> IntervalEvent::Next(int64_t after_micros,
                                           const ZoneClock& caller_zone) const {
  Result<ZoneClock> own =
      zone_.empty() ? Result<ZoneClock>(caller_zone) : ZoneClock::Find(zone_);
  if (!own.ok()) return std::nullopt;
  const ZoneClock& clock = *own;
  const int64_t period = count_ * unit_seconds_ * kMicrosPerSecond;
  const WallTime anchor = clock.Normalize(anchor_);
  const int64_t start = clock.ToUnixMicros(anchor, INT64_MIN);
  // The k-th run: elapsed time, or the anchor's wall time k periods later.
  auto run = [&](int64_t k) {
    if (unit_seconds_ < kSecondsPerDay) return start + k * period;
    WallTime t = anchor_;
    t.day += k * count_ * (unit_seconds_ / kSecondsPerDay);
    // A repeated wall time is its first instant, whatever `after` is, so
    // that the runs are one fixed series.
    return clock.ToUnixMicros(clock.Normalize(t), INT64_MIN);
  };
  if (after_micros < start) return start;
  // A DST change moves a wall-time run by at most a day: start two periods
  // early and step.
  int64_t k = (after_micros - start) / period - 2;
  if (k < 0) k = 0;
  for (int i = 0; i < 8; ++i, ++k) {
    const int64_t t = run(k);
    if (t > after_micros) {
      if (t > INT64_C(7258118400) * kMicrosPerSecond) return std::nullopt;
      return t;
    }
  }
  return std::nullopt;
}

}  // namespace strata::schedule
