// Small helpers of the hypervisor types. See hypervisor.h.
#include "hypervisor/hypervisor.h"

namespace strata::hypervisor {

const char* NovaStatus(DomainState s) {
  switch (s) {
    case DomainState::kRunning:
      return "ACTIVE";
    case DomainState::kPaused:
      return "PAUSED";
    case DomainState::kShutoff:
      return "SHUTOFF";
    case DomainState::kOther:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

const DomainDisk* DomainInfo::SystemDisk() const {
  for (const auto& d : disks)
    if (d.device == "disk") return &d;
  return nullptr;
}

}  // namespace strata::hypervisor
