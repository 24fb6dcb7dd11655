// Deadline: the time bound of one request to a server (a store, Keystone,
// Cinder): an overall limit and a low-speed limit. The overall limit is
// checked between steps (Check); the low-speed limit is the transport's to
// apply (libcurl's LOW_SPEED_TIME): a server that accepts and then stalls
// never pins a caller.
// Thread-safety: a value; const methods are safe from any thread.
#pragma once

#include <chrono>
#include <optional>

#include "util/status.h"

namespace strata {

class Deadline {
 public:
  // `timeout` 0: no overall limit; `stall` 0: no low-speed limit.
  Deadline(std::chrono::milliseconds timeout, std::chrono::seconds stall);
  bool Expired() const;
  // Unavailable (retryable) once the deadline has passed, else OK.
  [[nodiscard]] Status Check() const;
  // No byte moved for this long fails the transfer (0: none).
  std::chrono::seconds stall_timeout() const { return stall_; }

 private:
  std::chrono::seconds stall_{0};
  std::optional<std::chrono::steady_clock::time_point> at_;
  std::chrono::milliseconds timeout_;
};

}  // namespace strata
