// Small helpers of the hypervisor types. See hypervisor.h.
#include "hypervisor/hypervisor.h"

#include "util/fs.h"

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

const DomainDisk* DomainInfo::Disk(const std::string& target) const {
  for (const auto& d : disks)
    if (d.target == target) return &d;
  return nullptr;
}

int DomainDisk::ChainPosition(const std::string& name) const {
  if (name.empty() || source.empty()) return -1;
  const std::string path =
      name[0] == '/' ? name : JoinPath(DirName(source), name);
  auto canon = CanonicalPath(path);
  auto same = [&](const std::string& p) {
    if (p == path) return true;
    auto c = CanonicalPath(p);
    return canon.ok() && c.ok() && *c == *canon;
  };
  if (same(source)) return 0;
  for (size_t i = 0; i < backing_chain.size(); ++i)
    if (same(backing_chain[i])) return static_cast<int>(i) + 1;
  return -1;
}

}  // namespace strata::hypervisor
