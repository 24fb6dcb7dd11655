// Test helper: a fresh directory (canonical path) under `parent`, removed
// with everything in it when the test is done.
// Thread-safety: one per test.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <string>

#include "util/fs.h"

namespace strata::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "strata-test",
                   const std::string& parent = "/tmp") {
    std::string t = JoinPath(parent, prefix + ".XXXXXX");
    REQUIRE(mkdtemp(t.data()) != nullptr);
    auto canon = CanonicalPath(t);
    path = canon.ok() ? *canon : t;
  }
  // Best effort: a leftover test directory under /tmp harms nothing.
  ~TempDir() { (void)RemoveTree(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const {
    return JoinPath(path, name);
  }

  std::string path;
};

}  // namespace strata::testing
