// STRATA_SKIP(reason): ends a test case that cannot run on this machine (a
// tool or server is missing). Outside CI it is a message and an early return,
// so a developer without, say, Glance can still run the rest. Under CI=true,
// where scripts/install-deps.sh --test has installed everything, it is a
// failure: a skip must never be counted as a pass there (issue 16, item 9).
// Thread-safety: test code; reads the environment only.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstring>

namespace strata::testing {

inline bool InCi() {
  const char* ci = getenv("CI");
  return ci && std::strcmp(ci, "true") == 0;
}

}  // namespace strata::testing

#define STRATA_SKIP(reason)                         \
  do {                                              \
    if (::strata::testing::InCi())                  \
      FAIL("cannot run under CI=true: " << reason); \
    MESSAGE("skipped: " << reason);                 \
    return;                                         \
  } while (0)
