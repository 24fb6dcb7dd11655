// ScopedBackgroundPriority. See background_priority.h.
#include "util/background_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace strata {
namespace {

// linux/ioprio.h's values (glibc has no wrapper).
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioClassIdle = 3;

pid_t ThisThread() { return static_cast<pid_t>(syscall(SYS_gettid)); }

}  // namespace

ScopedBackgroundPriority::ScopedBackgroundPriority(int nice) {
  const pid_t tid = ThisThread();
  errno = 0;
  const int cur = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
  if (errno == 0 && cur < nice) {
    saved_nice_ = cur;
    nice_changed_ =
        setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) == 0;
  }
  const long io = syscall(SYS_ioprio_get, kIoprioWhoProcess, tid);
  if (io >= 0 && syscall(SYS_ioprio_set, kIoprioWhoProcess, tid,
                         kIoprioClassIdle << kIoprioClassShift) == 0)
    saved_ioprio_ = static_cast<int>(io);
}

ScopedBackgroundPriority::~ScopedBackgroundPriority() {
  const pid_t tid = ThisThread();
  if (nice_changed_)
    setpriority(PRIO_PROCESS, static_cast<id_t>(tid), saved_nice_);
  if (saved_ioprio_ >= 0)
    syscall(SYS_ioprio_set, kIoprioWhoProcess, tid, saved_ioprio_);
}

}  // namespace strata
