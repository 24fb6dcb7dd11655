// Wall-clock timestamps in the forms OpenStack APIs use.
// Thread-safety: all functions are safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace strata {

// Microseconds since the Unix epoch (CLOCK_REALTIME).
int64_t NowMicros();
// Monotonic microseconds, for durations.
int64_t MonotonicMicros();
// "2026-11-22T02:21:28.123456" (UTC, no zone suffix), as Cinder prints.
std::string FormatIsoMicros(int64_t micros);

}  // namespace strata
