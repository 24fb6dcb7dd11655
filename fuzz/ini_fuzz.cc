// Fuzz target: the ini reader (util/ini_config.h) behind --config.
#include <cstdint>
#include <string>

#include "util/ini_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto c = strata::IniConfig::Parse(
      std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  if (c.ok()) (void)c->Get("engine", "workers");
  return 0;
}
