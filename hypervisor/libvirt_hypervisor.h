// LibvirtHypervisor: the Hypervisor interface over the libvirt C API.
//
// One virConnectPtr (thread-safe in libvirt), shared through
// LibvirtConnection, which opens it again if libvirtd restarted and bounds
// every wait on a libvirtd that stopped answering; every virDomainPtr and
// snapshot handle lives in a unique_ptr with its libvirt free function.
// libvirt errors become Status values: no such domain → NotFound, an
// operation the domain's state refuses → Conflict, a daemon that cannot be
// reached or stopped answering → Unavailable.
// Thread-safety: all methods may be called concurrently. Each takes a turn
// on the connection (LibvirtConnection::Take) for its few quick calls, never
// across a sleep: a wait for a block job polls, a turn per poll, so it
// holds up no other caller for long.
#pragma once

#include <libvirt/libvirt.h>

#include <chrono>
#include <memory>
#include <string>

#include "hypervisor/hypervisor.h"
#include "hypervisor/libvirt_connection.h"

namespace strata::hypervisor {

struct DomainFreer {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using DomainHandle = std::unique_ptr<virDomain, DomainFreer>;

class LibvirtHypervisor : public Hypervisor {
 public:
  // Opens `opts.uri` (e.g. qemu:///system). Unavailable when libvirtd is
  // down or does not answer within opts.connect_timeout.
  static Result<std::unique_ptr<LibvirtHypervisor>> Connect(
      LibvirtConnectionOptions opts);
  // Like Connect, but connects on first use (and again after libvirtd
  // restarts), so stratad can start before libvirtd.
  static std::unique_ptr<LibvirtHypervisor> ConnectLazily(
      LibvirtConnectionOptions opts);

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
  Status DefineDiskBacking(
      const std::string& uuid, const std::string& target,
      const std::vector<BackingFile>& chain,
      const std::optional<DiskErrorPolicy>& policy = std::nullopt) override;
  Status Pause(const std::string& uuid) override;
  Status Resume(const std::string& uuid) override;
  // libvirt_guest_network.cc.
  Result<GuestNetwork> GetGuestNetwork(const std::string& uuid) override;
  // libvirt_memory.cc.
  Status StartMigrationToFd(const std::string& uuid, int fd,
                            const MigrationTuning& tuning) override;
  Result<MigrationProgress> QueryMigration(const std::string& uuid) override;
  Status CancelMigration(const std::string& uuid) override;
  Result<std::string> QueryRunState(const std::string& uuid) override;
  Status RestoreFromImage(const std::string& path) override;
  Result<std::string> GetSaveXml(const std::string& uuid) override;

 private:
  explicit LibvirtHypervisor(LibvirtConnectionOptions opts)
      : conn_(std::move(opts)) {}
  // The domain, by UUID or name, as a handle of its own (it holds its own
  // reference on the connection). NotFound when there is none.
  Result<DomainHandle> Lookup(const LibvirtConnection::Turn& turn,
                              const std::string& uuid_or_name);
  Result<DomainInfo> Describe(virDomainPtr d);
  // One QMP command through libvirt's passthrough, with `fd` passed along
  // when >= 0; QEMU's "return" value, or its error.
  Result<std::string> Qmp(virDomainPtr d, const std::string& command,
                          int fd = -1);
  // Waits (≤ `limit`) until disk `target` of `d` has no block job left.
  Status WaitBlockJobGone(virDomainPtr d, const std::string& target,
                          std::chrono::seconds limit);

  LibvirtConnection conn_;
};

}  // namespace strata::hypervisor
