// Minimal leveled logging to stderr: one line per message, timestamped, with
// the request id when the caller has one. Never log tokens or secrets.
// Thread-safety: lines from different threads do not interleave.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace strata {

enum class LogLevel { kDebug = 0, kInfo, kWarning, kError };

void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }
inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }

// For a best-effort step whose failure changes nothing for the caller (a
// temporary left for garbage collection, a retry that comes later anyway):
// a failure is logged as a warning, "<context>: <status>", and dropped.
// Steps whose failure matters are handled where they fail, never here.
inline void LogIfError(const Status& s, std::string_view context) {
  if (!s.ok()) LogWarning(std::string(context) + ": " + s.ToString());
}

}  // namespace strata
