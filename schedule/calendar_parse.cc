// CalendarEvent::Parse and Normalized: systemd.time(7)'s calendar syntax.
#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <cstring>

#include "schedule/calendar_event.h"

namespace strata::schedule {
namespace {

constexpr int kMicrosPerSecond = 1000000;
constexpr int kMinYear = 1970;
constexpr int kMaxYear = 2199;
constexpr int kAllWeekdays = 127;
constexpr size_t kMaxComponents = 240;  // a chain's items: bounds the work

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && StartsWithNoCase(a, b);
}

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         EqualsNoCase(s.substr(s.size() - suffix.size()), suffix);
}

char At(std::string_view s, size_t i) { return i < s.size() ? s[i] : '\0'; }

Status Invalid(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("invalid calendar expression '" +
                                 std::string(text) + "': " + std::string(why));
}

}  // namespace

// The parser's state: the text left and the event being built.
class CalendarParser {
 public:
  CalendarParser(std::string_view all, CalendarEvent* ev)
      : all_(all), ev_(ev) {}

  Status Run(std::string_view body);

 private:
  using Chain = CalendarEvent::Chain;

  Status Weekdays();
  // 1: "@epoch" filled every field; 0: go on with the time.
  Result<int> Date();
  Status Time();
  Status ChainAt(bool micros, Chain* out);
  Status Component(bool micros, Chain* out);
  Status Decimal(bool micros, int* value);
  Status Fail(std::string_view why) const { return Invalid(all_, why); }

  std::string_view all_;
  std::string_view p_;
  CalendarEvent* ev_;
};

Status CalendarParser::Decimal(bool micros, int* value) {
  if (!std::isdigit(static_cast<unsigned char>(At(p_, 0))))
    return Fail("a number was expected");
  unsigned long long v = 0;
  size_t i = 0;
  for (; std::isdigit(static_cast<unsigned char>(At(p_, i))); ++i) {
    v = v * 10 + static_cast<unsigned>(p_[i] - '0');
    if (v > static_cast<unsigned long long>(INT_MAX))
      return Fail("number too large");
  }
  if (micros) {
    v *= kMicrosPerSecond;
    // One '.' is a decimal point, ".." a range.
    if (At(p_, i) == '.' && At(p_, i + 1) != '.') {
      ++i;
      unsigned long long frac = 0;
      int digits = 0;
      for (; std::isdigit(static_cast<unsigned char>(At(p_, i))); ++i)
        if (digits < 6) {
          frac = frac * 10 + static_cast<unsigned>(p_[i] - '0');
          ++digits;
        }
      for (; digits < 6; ++digits) frac *= 10;
      v += frac;
    }
    if (v > static_cast<unsigned long long>(INT_MAX))
      return Fail("number too large");
  }
  *value = static_cast<int>(v);
  p_.remove_prefix(i);
  return Status::OK();
}

Status CalendarParser::Component(bool micros, Chain* out) {
  for (;;) {
    if (out->size() > kMaxComponents) return Fail("too many items in a field");
    CalendarComponent c;
    STRATA_RETURN_IF_ERROR(Decimal(micros, &c.start));
    if (At(p_, 0) == '.' && At(p_, 1) == '.') {
      p_.remove_prefix(2);
      STRATA_RETURN_IF_ERROR(Decimal(micros, &c.stop));
      c.repeat = micros ? kMicrosPerSecond : 1;
    }
    if (At(p_, 0) == '/') {
      p_.remove_prefix(1);
      STRATA_RETURN_IF_ERROR(Decimal(micros, &c.repeat));
      if (c.repeat == 0) return Fail("a repetition of 0");
    }
    if (!std::strchr(" ,-~:", At(p_, 0))) return Fail("unexpected character");
    out->push_back(c);
    if (At(p_, 0) != ',') return Status::OK();
    p_.remove_prefix(1);
  }
}

Status CalendarParser::ChainAt(bool micros, Chain* out) {
  out->clear();
  if (At(p_, 0) == '*') {
    if (micros) out->push_back({0, -1, kMicrosPerSecond});
    p_.remove_prefix(1);
    return Status::OK();
  }
  return Component(micros, out);
}

Status CalendarParser::Weekdays() {
  static const struct {
    const char* name;
    int nr;
  } kDays[] = {{"Monday", 0},    {"Mon", 0}, {"Tuesday", 1},  {"Tue", 1},
               {"Wednesday", 2}, {"Wed", 2}, {"Thursday", 3}, {"Thu", 3},
               {"Friday", 4},    {"Fri", 4}, {"Saturday", 5}, {"Sat", 5},
               {"Sunday", 6},    {"Sun", 6}};
  int range_from = -1;
  bool first = true;
  int& bits = ev_->weekdays_;
  bits = 0;
  for (;;) {
    const auto* day = std::find_if(
        std::begin(kDays), std::end(kDays),
        [&](const auto& d) { return StartsWithNoCase(p_, d.name); });
    if (day == std::end(kDays)) {
      if (first) return Status::OK();  // no weekdays: the date follows
      return Fail("a weekday was expected");
    }
    const size_t skip = std::strlen(day->name);
    if (!std::strchr("-., ", At(p_, skip)))
      return Fail("unexpected character after a weekday");
    bits |= 1 << day->nr;
    if (range_from >= 0) {
      if (range_from > day->nr) return Fail("a weekday range runs backwards");
      for (int j = range_from + 1; j < day->nr; ++j) bits |= 1 << j;
    }
    p_.remove_prefix(skip);
    if (p_.empty()) return Status::OK();
    if (p_[0] == ' ') {
      p_.remove_prefix(std::min(p_.find_first_not_of(' '), p_.size()));
      return Status::OK();
    }
    if (p_[0] == '.') {
      if (range_from >= 0 || At(p_, 1) != '.') return Fail("bad weekday range");
      range_from = day->nr;
      p_.remove_prefix(2);
    } else if (p_[0] == '-') {  // the old range syntax
      if (range_from >= 0) return Fail("bad weekday range");
      range_from = day->nr;
      p_.remove_prefix(1);
    } else if (p_[0] == ',') {
      range_from = -1;
      p_.remove_prefix(1);
    }
    // A trailing comma is allowed, an open range is not.
    if (p_.empty() || p_[0] == ' ') {
      p_.remove_prefix(std::min(p_.find_first_not_of(' '), p_.size()));
      if (range_from >= 0) return Fail("an open weekday range");
      return Status::OK();
    }
    first = false;
  }
}

Result<int> CalendarParser::Date() {
  if (p_.empty()) return 0;
  if (p_[0] == '@') {
    p_.remove_prefix(1);
    if (!std::isdigit(static_cast<unsigned char>(At(p_, 0))))
      return Fail("a number was expected after '@'");
    int64_t secs = 0;
    while (std::isdigit(static_cast<unsigned char>(At(p_, 0)))) {
      secs = secs * 10 + (p_[0] - '0');
      if (secs > (int64_t{1} << 40)) return Fail("timestamp out of range");
      p_.remove_prefix(1);
    }
    const WallTime t = ZoneClock::Utc().FromUnixMicros(secs * kMicrosPerSecond);
    ev_->utc_ = true;
    ev_->year_ = {{static_cast<int>(t.year), -1, 0}};
    ev_->month_ = {{static_cast<int>(t.month), -1, 0}};
    ev_->day_ = {{static_cast<int>(t.day), -1, 0}};
    ev_->hour_ = {{static_cast<int>(t.hour), -1, 0}};
    ev_->minute_ = {{static_cast<int>(t.minute), -1, 0}};
    ev_->micros_ = {{static_cast<int>(t.second) * kMicrosPerSecond, -1, 0}};
    return 1;
  }
  const std::string_view start = p_;
  Chain first, second, third;
  STRATA_RETURN_IF_ERROR(ChainAt(false, &first));
  // The end or a ':': that was a time, not a date.
  if (p_.empty() || p_[0] == ':') {
    p_ = start;
    return 0;
  }
  if (p_[0] == '~')
    ev_->end_of_month_ = true;
  else if (p_[0] != '-')
    return Fail("'-' was expected in the date");
  p_.remove_prefix(1);
  STRATA_RETURN_IF_ERROR(ChainAt(false, &second));
  auto skip_spaces = [&] {
    p_.remove_prefix(std::min(p_.find_first_not_of(' '), p_.size()));
  };
  if (p_.empty() || p_[0] == ' ') {  // month-day
    skip_spaces();
    ev_->month_ = std::move(first);
    ev_->day_ = std::move(second);
    return 0;
  }
  if (ev_->end_of_month_) return Fail("'~' must come before the day");
  if (p_[0] == '~')
    ev_->end_of_month_ = true;
  else if (p_[0] != '-')
    return Fail("'-' was expected in the date");
  p_.remove_prefix(1);
  STRATA_RETURN_IF_ERROR(ChainAt(false, &third));
  if (!p_.empty() && p_[0] != ' ')
    return Fail("unexpected text after the date");
  skip_spaces();
  ev_->year_ = std::move(first);
  ev_->month_ = std::move(second);
  ev_->day_ = std::move(third);
  return 0;
}

Status CalendarParser::Time() {
  Chain h, m, s;
  if (p_.empty()) {  // no time: midnight
    ev_->hour_ = {{0, -1, 0}};
    ev_->minute_ = {{0, -1, 0}};
    ev_->micros_ = {{0, -1, 0}};
    return Status::OK();
  }
  STRATA_RETURN_IF_ERROR(ChainAt(false, &h));
  if (At(p_, 0) != ':') return Fail("':' was expected in the time");
  p_.remove_prefix(1);
  STRATA_RETURN_IF_ERROR(ChainAt(false, &m));
  if (p_.empty()) {
    s = {{0, -1, 0}};
  } else {
    if (p_[0] != ':') return Fail("':' was expected in the time");
    p_.remove_prefix(1);
    STRATA_RETURN_IF_ERROR(ChainAt(true, &s));
    if (!p_.empty()) return Fail("unexpected text after the time");
  }
  ev_->hour_ = std::move(h);
  ev_->minute_ = std::move(m);
  ev_->micros_ = std::move(s);
  return Status::OK();
}

namespace {

void FixYears(std::vector<CalendarComponent>* chain) {
  auto fix = [](int& y) {
    if (y >= 0 && y < 70)
      y += 2000;
    else if (y >= 70 && y < 100)
      y += 1900;
  };
  for (CalendarComponent& c : *chain) {
    fix(c.start);
    fix(c.stop);
  }
}

void NormalizeChain(std::vector<CalendarComponent>* chain) {
  for (CalendarComponent& c : *chain)
    if (c.stop > c.start && c.repeat > 0)
      c.stop -= (c.stop - c.start) % c.repeat;
  std::sort(chain->begin(), chain->end());
  chain->erase(std::unique(chain->begin(), chain->end()), chain->end());
}

bool ChainValid(const std::vector<CalendarComponent>& chain, int from, int to,
                bool end_of_month) {
  if (end_of_month) to -= 3;  // at most 28 days back from the end
  for (const CalendarComponent& c : chain) {
    if (c.start < from || c.start > to) return false;
    if (c.repeat > to - from) return false;
    if (c.stop >= 0) {
      if (c.stop < from || c.stop > to) return false;
      if (c.start + c.repeat > c.stop) return false;
    } else if (end_of_month ? c.start - c.repeat < from
                            : c.start + c.repeat > to) {
      return false;
    }
  }
  return true;
}

// "Mon..Wed,Fri" from the weekday bits.
std::string FormatWeekdays(int bits) {
  static const char* kNames[] = {"Mon", "Tue", "Wed", "Thu",
                                 "Fri", "Sat", "Sun"};
  std::string out;
  int run = -1;
  auto close_run = [&](int end) {  // the run [run, end) ends
    if (end > run + 1) {
      out += end > run + 2 ? ".." : ",";
      out += kNames[end - 1];
    }
  };
  int x = 0;
  for (; x < 7; ++x) {
    if (bits & (1 << x)) {
      if (run < 0) {
        if (!out.empty()) out += ',';
        out += kNames[x];
        run = x;
      }
    } else if (run >= 0) {
      close_run(x);
      run = -1;
    }
  }
  if (run >= 0) close_run(x);
  return out;
}

std::string FormatChain(const std::vector<CalendarComponent>& chain, int width,
                        bool micros) {
  const int d = micros ? kMicrosPerSecond : 1;
  if (chain.empty()) return "*";
  if (micros && chain.size() == 1 && chain[0].start == 0 &&
      chain[0].repeat == kMicrosPerSecond && chain[0].stop < 0)
    return "*";
  std::string out;
  char buf[64];
  for (const CalendarComponent& c : chain) {
    if (!out.empty()) out += ',';
    std::snprintf(buf, sizeof buf, "%0*d", width, c.start / d);
    out += buf;
    if (c.start % d > 0) {
      std::snprintf(buf, sizeof buf, ".%06d", c.start % d);
      out += buf;
    }
    if (c.stop > 0) {
      std::snprintf(buf, sizeof buf, "..%0*d", width, c.stop / d);
      out += buf;
    }
    if (c.stop > 0 && c.stop % d > 0) {
      std::snprintf(buf, sizeof buf, ".%06d", c.stop % d);
      out += buf;
    }
    if (c.repeat > 0 && !(c.stop > 0 && c.repeat == d)) {
      std::snprintf(buf, sizeof buf, "/%d", c.repeat / d);
      out += buf;
    }
    if (c.repeat % d > 0) {
      std::snprintf(buf, sizeof buf, ".%06d", c.repeat % d);
      out += buf;
    }
  }
  return out;
}

}  // namespace

Status CalendarParser::Run(std::string_view body) {
  p_ = body;
  if (p_.empty()) return Fail("empty");
  const auto set = [&](std::vector<int> months, int day, int weekdays, int hour,
                       int minute) {
    for (int m : months) ev_->month_.push_back({m, -1, 0});
    if (day > 0) ev_->day_ = {{day, -1, 0}};
    ev_->weekdays_ = weekdays;
    if (hour >= 0) ev_->hour_ = {{hour, -1, 0}};
    if (minute >= 0) ev_->minute_ = {{minute, -1, 0}};
    ev_->micros_ = {{0, -1, 0}};
  };
  if (EqualsNoCase(p_, "minutely")) {
    set({}, 0, -1, -1, -1);
  } else if (EqualsNoCase(p_, "hourly")) {
    set({}, 0, -1, -1, 0);
  } else if (EqualsNoCase(p_, "daily")) {
    set({}, 0, -1, 0, 0);
  } else if (EqualsNoCase(p_, "monthly")) {
    set({}, 1, -1, 0, 0);
  } else if (EqualsNoCase(p_, "annually") || EqualsNoCase(p_, "yearly") ||
             EqualsNoCase(p_, "anually")) {
    set({1}, 1, -1, 0, 0);
  } else if (EqualsNoCase(p_, "weekly")) {
    set({}, 0, 1, 0, 0);
  } else if (EqualsNoCase(p_, "quarterly")) {
    set({1, 4, 7, 10}, 1, -1, 0, 0);
  } else if (EqualsNoCase(p_, "biannually") ||
             EqualsNoCase(p_, "bi-annually") ||
             EqualsNoCase(p_, "semiannually") ||
             EqualsNoCase(p_, "semi-annually")) {
    set({1, 7}, 1, -1, 0, 0);
  } else {
    STRATA_RETURN_IF_ERROR(Weekdays());
    STRATA_ASSIGN_OR_RETURN(int done, Date());
    if (done == 0) STRATA_RETURN_IF_ERROR(Time());
    if (!p_.empty()) return Fail("unexpected text at the end");
  }
  // Normalize, as systemd does before it validates.
  if (ev_->weekdays_ <= 0 || ev_->weekdays_ >= kAllWeekdays)
    ev_->weekdays_ = -1;
  if (ev_->end_of_month_ && ev_->day_.empty()) ev_->end_of_month_ = false;
  FixYears(&ev_->year_);
  for (auto* chain : {&ev_->year_, &ev_->month_, &ev_->day_, &ev_->hour_,
                      &ev_->minute_, &ev_->micros_})
    NormalizeChain(chain);
  if (!ChainValid(ev_->year_, kMinYear, kMaxYear, false))
    return Fail("year out of range");
  if (!ChainValid(ev_->month_, 1, 12, false)) return Fail("month out of range");
  if (!ChainValid(ev_->day_, 1, 31, ev_->end_of_month_))
    return Fail("day out of range");
  if (!ChainValid(ev_->hour_, 0, 23, false)) return Fail("hour out of range");
  if (!ChainValid(ev_->minute_, 0, 59, false))
    return Fail("minute out of range");
  if (!ChainValid(ev_->micros_, 0, 60 * kMicrosPerSecond - 1, false))
    return Fail("second out of range");
  return Status::OK();
}

Result<CalendarEvent> CalendarEvent::Parse(std::string_view text) {
  if (text.size() > 1024) return Invalid(text.substr(0, 64), "too long");
  CalendarEvent ev;
  std::string_view body = text;
  if (EndsWithNoCase(body, " UTC")) {
    ev.utc_ = true;
    body.remove_suffix(4);
  } else if (size_t sp = body.rfind(' '); sp != std::string_view::npos) {
    Result<ZoneClock> zone = ZoneClock::Find(body.substr(sp + 1));
    if (zone.ok()) {
      ev.zone_ = std::string(body.substr(sp + 1));
      if (ev.zone_ == "UTC") {
        ev.utc_ = true;
        ev.zone_.clear();
      }
      body = body.substr(0, sp);
    }
  }
  CalendarParser parser(text, &ev);
  STRATA_RETURN_IF_ERROR(parser.Run(body));
  return ev;
}

std::string CalendarEvent::Normalized() const {
  std::string out;
  if (weekdays_ > 0 && weekdays_ <= kAllWeekdays)
    out += FormatWeekdays(weekdays_) + " ";
  out += FormatChain(year_, 4, false) + "-" + FormatChain(month_, 2, false) +
         (end_of_month_ ? "~" : "-") + FormatChain(day_, 2, false) + " " +
         FormatChain(hour_, 2, false) + ":" + FormatChain(minute_, 2, false) +
         ":" + FormatChain(micros_, 2, true);
  if (utc_)
    out += " UTC";
  else if (!zone_.empty())
    out += " " + zone_;
  return out;
}

}  // namespace strata::schedule
