// Worker pool. See task_runner.h.
#include "util/task_runner.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include "util/log.h"

namespace strata {

TaskRunner::TaskRunner(int workers, int nice) {
  for (int i = 0; i < (workers < 1 ? 1 : workers); ++i)
    workers_.emplace_back([this, nice] { WorkerLoop(nice); });
}

TaskRunner::~TaskRunner() { Stop(); }

void TaskRunner::Submit(std::function<void()> job) {
  // The job's log lines carry the request id of whoever submitted it.
  if (!CurrentRequestId().empty())
    job = [id = CurrentRequestId(), inner = std::move(job)] {
      ScopedLogContext context(id);
      inner();
    };
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void TaskRunner::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
}

void TaskRunner::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void TaskRunner::WorkerLoop(int nice) {
  // Linux keeps a nice value per thread; children inherit the caller's.
  if (nice != 0) {
    const id_t tid = static_cast<id_t>(gettid());
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, tid);
    if (errno == 0) setpriority(PRIO_PROCESS, tid, cur + nice);
  }
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    job();
    job = nullptr;  // release what the job holds (a volume lease) first
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
    }
    idle_cv_.notify_all();
  }
}

size_t TaskRunner::Queued() {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size();
}

int TaskRunner::Running() {
  std::lock_guard<std::mutex> l(mu_);
  return running_;
}

}  // namespace strata
