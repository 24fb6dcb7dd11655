// Per-volume operation leases. See volume_locks.h.
#include "util/volume_locks.h"

namespace strata {

VolumeLease::~VolumeLease() { owner_->Release(volume_id_); }

Result<std::shared_ptr<VolumeLease>> VolumeLocks::TryAcquire(
    const std::string& volume_id, const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!held_.insert(volume_id).second)
    return Status::Conflict("Volume " + volume_id +
                            " is busy with another operation; " + what +
                            " cannot start until it ends.");
  return std::make_shared<VolumeLease>(this, volume_id);
}

bool VolumeLocks::IsHeld(const std::string& volume_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.count(volume_id) > 0;
}

void VolumeLocks::Release(const std::string& volume_id) {
  std::lock_guard<std::mutex> lock(mu_);
  held_.erase(volume_id);
}

}  // namespace strata
