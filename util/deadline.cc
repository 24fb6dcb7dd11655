// A request's time bound. See deadline.h.
#include "util/deadline.h"

#include <string>

namespace strata {

Deadline::Deadline(std::chrono::milliseconds timeout,
                   std::chrono::seconds stall)
    : stall_(stall), timeout_(timeout) {
  if (timeout.count() > 0) at_ = std::chrono::steady_clock::now() + timeout;
}

bool Deadline::Expired() const {
  return at_ && std::chrono::steady_clock::now() >= *at_;
}

Status Deadline::Check() const {
  if (!Expired()) return Status::OK();
  return Status::Unavailable(
      "deadline of " + std::to_string(timeout_.count()) + " ms exceeded",
      /*retryable=*/true);
}

}  // namespace strata
