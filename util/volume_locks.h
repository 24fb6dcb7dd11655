// One operation per disk at a time.
//
// A request that starts a disk operation takes the volume's lease before it
// answers; a second request finds it taken and gets 409 at once. The lease
// travels with the task and is released when the task ends (RAII), so
// different disks proceed in parallel and the same disk never sees two
// chain changes at once.
// Thread-safety: VolumeLocks is safe from any thread; a lease is one owner's.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "util/status.h"

namespace strata {

class VolumeLocks;

// Held while an operation runs on one volume; releases on destruction.
class VolumeLease {
 public:
  VolumeLease(VolumeLocks* owner, std::string volume_id)
      : owner_(owner), volume_id_(std::move(volume_id)) {}
  VolumeLease(const VolumeLease&) = delete;
  VolumeLease& operator=(const VolumeLease&) = delete;
  ~VolumeLease();
  const std::string& volume_id() const { return volume_id_; }

 private:
  VolumeLocks* owner_;
  std::string volume_id_;
};

class VolumeLocks {
 public:
  // The lease, or Conflict naming `what` holds the volume.
  Result<std::shared_ptr<VolumeLease>> TryAcquire(const std::string& volume_id,
                                                  const std::string& what);
  bool IsHeld(const std::string& volume_id);

 private:
  friend class VolumeLease;
  void Release(const std::string& volume_id);

  std::mutex mu_;
  std::set<std::string> held_;  // GUARDED_BY(mu_)
};

}  // namespace strata
