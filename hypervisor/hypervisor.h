// The hypervisor as the engine sees it: the host's domains, their state,
// their disks with the backing chains the hypervisor believes in, and the
// live operations a snapshot needs. LibvirtHypervisor implements it over the
// libvirt C API; the engine never names libvirt.
//
// Thread-safety: implementations are safe to call from several threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace strata::hypervisor {

enum class DomainState { kRunning, kPaused, kShutoff, kOther };

// "ACTIVE", "PAUSED", "SHUTOFF", or "UNKNOWN": Nova's server statuses.
const char* NovaStatus(DomainState s);

struct DomainDisk {
  std::string target;  // guest device name, e.g. "vda"
  std::string device;  // "disk", "cdrom", …
  std::string source;  // file path ("" for network or empty drives)
  std::string format;  // driver type: "qcow2", "raw", …
  // The backing files below `source`, as the hypervisor records them (top
  // first). May disagree with the files' headers; see the engine.
  std::vector<std::string> backing_chain;
};

struct DomainInfo {
  std::string uuid;
  std::string name;
  DomainState state = DomainState::kOther;
  uint64_t memory_kib = 0;
  unsigned vcpus = 0;
  bool has_guest_agent = false;  // an org.qemu.guest_agent.0 channel
  // Owner from Nova's <nova:instance><nova:owner> metadata; "" if absent.
  std::string project_id;
  std::string user_id;
  std::vector<DomainDisk> disks;

  // The first disk with device "disk" (the system disk), or nullptr.
  const DomainDisk* SystemDisk() const;
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;
  // Every domain defined or running on this host, sorted by name.
  virtual Result<std::vector<DomainInfo>> ListDomains() = 0;
  // A domain by UUID or name; NotFound when there is none.
  virtual Result<DomainInfo> GetDomain(const std::string& uuid_or_name) = 0;
  // Makes the running domain's disk `target` switch to `new_top`, an existing
  // qcow2 whose backing file is the disk's current image (libvirt external
  // disk-only snapshot reusing the file, no libvirt metadata). With
  // `quiesce`, the guest agent freezes file systems first; a quiesce failure
  // is retried without it.
  virtual Status SwitchToOverlay(const std::string& uuid,
                                 const std::string& target,
                                 const std::string& new_top, bool quiesce) = 0;
  // Mirrors the running domain's top image of disk `target` into `dest`, an
  // existing qcow2 whose backing chain already holds everything below the
  // top (shallow copy, file reused), then pivots the domain onto `dest`.
  // Only the top's own clusters are copied. Afterwards the hypervisor's view
  // of the chain is read from `dest`'s headers, so it matches the files. On
  // failure the job is aborted and the domain stays on its old top.
  virtual Status CopyTopAndPivot(const std::string& uuid,
                                 const std::string& target,
                                 const std::string& dest) = 0;
  // Cancels a block job left on disk `target` (e.g. by a crash mid-copy);
  // OK when there is none. The domain stays on its current top.
  virtual Status AbortBlockJob(const std::string& uuid,
                               const std::string& target) = 0;
  // Powers the domain off at once (virDomainDestroy), as Nova's rebuild
  // does before it replaces the disk; OK when it is not running.
  virtual Status PowerOff(const std::string& uuid) = 0;
  // Starts the defined domain (virDomainCreate); OK when it already runs.
  virtual Status PowerOn(const std::string& uuid) = 0;
};

}  // namespace strata::hypervisor
