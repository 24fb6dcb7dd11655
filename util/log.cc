// stderr logging. See log.h.
#include "util/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "util/time_util.h"

namespace strata {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mu;  // guards stderr so lines do not interleave
const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

void Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::string ts = FormatIsoMicros(NowMicros());
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "%s %s stratad: %.*s\n", ts.c_str(), LevelName(level),
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

}  // namespace strata
