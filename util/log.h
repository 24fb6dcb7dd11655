// Leveled logging to stderr: one line per message, timestamped, as text or
// (SetLogFormat kJson, `[DEFAULT] use_json` as oslo.log names it) one JSON
// object per line. Each line carries the request id of the API request it
// serves: ApiServer sets it for the request's thread (ScopedLogContext),
// and TaskRunner hands it to the worker that runs the job the request
// started, so a snapshot's lines name the request that asked for it.
// Never log tokens or secrets.
// Thread-safety: lines from different threads do not interleave; the
// context is per thread.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace strata {

enum class LogLevel { kDebug = 0, kInfo, kWarning, kError };

enum class LogFormat { kText, kJson };

void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
void Log(LogLevel level, std::string_view message);

// The request id this thread's lines carry ("" : none).
const std::string& CurrentRequestId();
// Sets this thread's request id until it goes (then the previous one).
class ScopedLogContext {
 public:
  explicit ScopedLogContext(std::string request_id);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  std::string previous_;
};

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
