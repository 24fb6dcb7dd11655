// LibvirtHypervisor: the Hypervisor interface over the libvirt C API.
//
// One virConnectPtr (thread-safe in libvirt) opened at Connect() and opened
// again if libvirtd restarted; every virDomainPtr and snapshot handle lives
// in a unique_ptr with its libvirt free function. libvirt errors become
// Status values: no such domain → NotFound, an operation the domain's state
// refuses → Conflict, a daemon that cannot be reached → Unavailable.
// Thread-safety: all methods may be called concurrently; mu_ guards conn_.
#pragma once

#include <libvirt/libvirt.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "hypervisor/hypervisor.h"

namespace strata::hypervisor {

struct ConnectCloser {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
struct DomainFreer {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using ConnectHandle = std::unique_ptr<virConnect, ConnectCloser>;
using DomainHandle = std::unique_ptr<virDomain, DomainFreer>;

class LibvirtHypervisor : public Hypervisor {
 public:
  // Opens `uri` (e.g. qemu:///system). Unavailable when libvirtd is down.
  static Result<std::unique_ptr<LibvirtHypervisor>> Connect(
      const std::string& uri);
  // Like Connect, but connects on first use (and again after libvirtd
  // restarts), so stratad can start before libvirtd.
  static std::unique_ptr<LibvirtHypervisor> ConnectLazily(
      const std::string& uri);

  Result<std::vector<DomainInfo>> ListDomains() override;
  Result<DomainInfo> GetDomain(const std::string& uuid_or_name) override;
  Status SwitchToOverlay(const std::string& uuid, const std::string& target,
                         const std::string& new_top, bool quiesce) override;
  Status CopyTopAndPivot(const std::string& uuid, const std::string& target,
                         const std::string& dest) override;
  Status AbortBlockJob(const std::string& uuid,
                       const std::string& target) override;
  Status BlockPull(const std::string& uuid, const std::string& target,
                   const std::string& base) override;
  Status BlockCommit(const std::string& uuid, const std::string& target,
                     const std::string& top, const std::string& base) override;
  Status PowerOff(const std::string& uuid) override;
  Status PowerOn(const std::string& uuid) override;

 private:
  LibvirtHypervisor(std::string uri, ConnectHandle conn)
      : uri_(std::move(uri)), conn_(std::move(conn)) {}
  // The live connection, reopened if libvirtd went away. REQUIRES: mu_.
  Result<virConnectPtr> Conn();
  Result<DomainHandle> Lookup(virConnectPtr c, const std::string& uuid_or_name);
  Result<DomainInfo> Describe(virDomainPtr d);
  // The domain as a handle that stays valid without mu_ (it holds its own
  // reference on the connection), for waits that must not block others.
  Result<DomainHandle> LookupUnlocked(const std::string& uuid_or_name);
  // Waits (≤ `limit`) until disk `target` of `d` has no block job left.
  Status WaitBlockJobGone(virDomainPtr d, const std::string& target,
                          std::chrono::seconds limit);

  const std::string uri_;
  std::mutex mu_;
  ConnectHandle conn_;  // GUARDED_BY(mu_)
};

// The last libvirt error of this thread as a Status, with `what` in front.
Status LibvirtError(const std::string& what);

}  // namespace strata::hypervisor
