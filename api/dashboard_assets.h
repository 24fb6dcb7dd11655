// The dashboard's files (dashboard/*), embedded in the binary at build
// time by scripts/embed-files.cmake.
#pragma once

#include <cstddef>
#include <string>

namespace strata::api {

struct DashboardAsset {
  const char* name;  // "app.js"
  const char* data;
  size_t size;
};

// The file `name` ("index.html"), or nullptr.
const DashboardAsset* FindDashboardAsset(const std::string& name);

}  // namespace strata::api
