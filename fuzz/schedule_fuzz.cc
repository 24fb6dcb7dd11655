// Fuzz target: the schedule parser (schedule/schedule.h) behind a policy's
// "schedule" in the API: calendar events and intervals, then a few next
// runs in a zone with DST (the search must end, whatever it parsed).
#include <cstdint>
#include <string>

#include "schedule/schedule.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto s = strata::schedule::Schedule::Parse(
      std::string(reinterpret_cast<const char*>(data), size));
  if (!s.ok()) return 0;
  (void)s->Normalized();
  static const auto zone =
      *strata::schedule::ZoneClock::Find("Australia/Lord_Howe");
  (void)s->NextRuns(int64_t{1775304000} * 1000000, zone, 4);
  return 0;
}
