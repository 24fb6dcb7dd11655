// A fixed pool of worker threads that runs long disk operations off the
// request threads. Jobs run in submission order per free worker; Stop() lets
// running jobs finish, drops nothing already queued, and joins.
// Workers can run at a lower CPU priority (nice): the processes they start
// (qemu-img) inherit it, so on a busy host a running VM's own threads win.
// Thread-safety: Submit/WaitIdle/Stop are safe from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strata {

class TaskRunner {
 public:
  // `nice`: added to each worker thread's nice value (0: unchanged).
  explicit TaskRunner(int workers, int nice = 0);
  ~TaskRunner();  // Stop()

  void Submit(std::function<void()> job);
  // Blocks until no job is queued or running.
  void WaitIdle();
  // Runs what is queued, then joins the workers. Idempotent.
  void Stop();
  // Jobs waiting for a worker, and jobs running now (/metrics).
  size_t Queued();
  int Running();

 private:
  void WorkerLoop(int nice);

  std::mutex mu_;
  std::condition_variable cv_;               // signals new jobs or stop
  std::condition_variable idle_cv_;          // signals a job finished
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  int running_ = 0;                          // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

}  // namespace strata
