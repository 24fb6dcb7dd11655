// ScopedBackgroundPriority: the calling thread's CPU and I/O priority
// lowered for a scope and given back after, for background work that must
// yield to a VM on these 2 cores and one disk (a rollback's copy while the
// restored guest boots). The nice value is raised, and the I/O priority set
// to the idle class (the block layer serves it when nothing else waits:
// mq-deadline honours I/O classes). Linux keeps both per thread; threads
// and children started meanwhile inherit them. Giving the nice value back
// needs CAP_SYS_NICE (stratad runs as root); without it the thread stays
// lowered.
// Thread-safety: affects only the calling thread.
#pragma once

namespace strata {

class ScopedBackgroundPriority {
 public:
  explicit ScopedBackgroundPriority(int nice);
  ~ScopedBackgroundPriority();
  ScopedBackgroundPriority(const ScopedBackgroundPriority&) = delete;
  ScopedBackgroundPriority& operator=(const ScopedBackgroundPriority&) = delete;

 private:
  int saved_nice_ = 0;
  bool nice_changed_ = false;
  int saved_ioprio_ = -1;  // -1: not changed
};

}  // namespace strata
