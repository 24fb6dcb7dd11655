// ScopedBackgroundPriority (util/background_priority.h): inside the scope
// the calling thread runs at the given nice value with its I/O in the idle
// class, and both are given back after; other threads are not touched.
#include "util/background_priority.h"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>

using namespace strata;

namespace {
pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }
int Nice(pid_t tid) {
  errno = 0;
  return getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
}
int IoClass(pid_t tid) {
  return static_cast<int>(syscall(SYS_ioprio_get, 1, tid)) >> 13;
}
}  // namespace

TEST_CASE(
    "the scope lowers this thread's CPU and I/O priority, then restores them") {
  const pid_t me = Tid();
  const int nice_before = Nice(me);
  const int io_before = IoClass(me);
  REQUIRE(nice_before < 19);
  REQUIRE(io_before != 3);
  // A thread that runs already keeps its own priorities.
  std::atomic<pid_t> other{0};
  std::atomic<bool> done{false};
  std::thread running([&] {
    other = Tid();
    while (!done) std::this_thread::yield();
  });
  while (other == 0) std::this_thread::yield();
  {
    ScopedBackgroundPriority low(19);
    CHECK(Nice(me) == 19);
    CHECK(IoClass(me) == 3);  // IOPRIO_CLASS_IDLE
    CHECK(Nice(other) == nice_before);
    CHECK(IoClass(other) != 3);
    // A thread started inside inherits them.
    int child_nice = -100, child_io = -1;
    std::thread([&] {
      child_nice = Nice(Tid());
      child_io = IoClass(Tid());
    }).join();
    CHECK(child_nice == 19);
    CHECK(child_io == 3);
  }
  done = true;
  running.join();
  CHECK(Nice(me) == nice_before);
  CHECK(IoClass(me) == io_before);
}
