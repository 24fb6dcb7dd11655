// Crash injection. See crash_point.h.
#include "util/crash_point.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "util/log.h"

namespace strata {

void CrashPoint(const char* step) {
#ifdef STRATA_FAULT_INJECTION
  static const char* target = std::getenv("STRATA_CRASH_AT");
  if (target && std::strcmp(target, step) == 0) {
    Log(LogLevel::kWarning, std::string("injected crash at ") + step);
    _exit(86);
  }
  static const char* stop = std::getenv("STRATA_STOP_AT");
  if (stop && std::strcmp(stop, step) == 0) {
    Log(LogLevel::kWarning, std::string("injected stop at ") + step);
    raise(SIGSTOP);  // the whole process, until SIGCONT
  }
#else
  (void)step;
#endif
}

void ThrowPoint(const char* entry) {
#ifdef STRATA_FAULT_INJECTION
  const char* target = std::getenv("STRATA_THROW_AT");
  if (target && std::strcmp(target, entry) == 0)
    throw std::runtime_error(std::string("injected exception at ") + entry);
#else
  (void)entry;
#endif
}

}  // namespace strata
