// Block pull and block commit on a running domain (LibvirtHypervisor), as
// Nova's libvirt driver runs them for os-assisted-volume-snapshots delete.
// The wait for the job polls, a turn on the connection per poll, so listing
// domains is not held up for the seconds a merge takes. libvirt's polling API
// does not say whether a finished job succeeded, so each operation checks the
// chain libvirt reports afterwards.
#include <libvirt/virterror.h>

#include <thread>

#include "hypervisor/libvirt_hypervisor.h"

namespace strata::hypervisor {

Status LibvirtHypervisor::WaitBlockJobGone(virDomainPtr d,
                                           const std::string& target,
                                           std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    virDomainBlockJobInfo job;
    int r;
    {
      STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn poll, conn_.Take());
      r = virDomainGetBlockJobInfo(d, target.c_str(), &job, 0);
    }
    if (r < 0) return LibvirtError("block job info of " + target, d);
    if (r == 0) return Status::OK();
    if (std::chrono::steady_clock::now() > deadline)
      return Status::Unavailable("the block job of " + target +
                                 " did not end within " +
                                 std::to_string(limit.count()) + " s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status LibvirtHypervisor::BlockPull(const std::string& uuid,
                                    const std::string& target,
                                    const std::string& base) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  STRATA_ASSIGN_OR_RETURN(DomainInfo before, Describe(d.get()));
  const DomainDisk* disk = before.Disk(target);
  if (!disk) return Status::NotFound("domain " + uuid + " has no " + target);
  if (!base.empty() && disk->ChainPosition(base) < 1)
    return Status::InvalidArgument(base + " is not a backing file of " +
                                   target);
  // RELATIVE keeps the top's backing name relative, as Cinder's remotefs
  // drivers need (each host mounts the share at its own path).
  unsigned flags = base.empty() ? 0 : VIR_DOMAIN_BLOCK_REBASE_RELATIVE;
  if (virDomainBlockRebase(d.get(), target.c_str(),
                           base.empty() ? nullptr : base.c_str(), 0,
                           flags) != 0)
    return LibvirtError("block pull of " + target, d.get());
  turn.Release();
  STRATA_RETURN_IF_ERROR(
      WaitBlockJobGone(d.get(), target, std::chrono::hours(2)));
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn again, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainInfo after, Describe(d.get()));
  disk = after.Disk(target);
  if (!disk) return Status::IoError(target + " vanished during a block pull");
  const bool done = base.empty() ? disk->backing_chain.empty()
                                 : disk->ChainPosition(base) == 1;
  if (!done)
    return Status::IoError("block pull of " + target +
                           " ended without the chain changing (failed job)");
  return Status::OK();
}

Status LibvirtHypervisor::BlockCommit(const std::string& uuid,
                                      const std::string& target,
                                      const std::string& top,
                                      const std::string& base) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  STRATA_ASSIGN_OR_RETURN(DomainInfo before, Describe(d.get()));
  const DomainDisk* disk = before.Disk(target);
  if (!disk) return Status::NotFound("domain " + uuid + " has no " + target);
  const int top_at = disk->ChainPosition(top);
  const int base_at = disk->ChainPosition(base);
  if (top_at < 1)
    return Status::InvalidArgument(top + " is not a backing file of " + target);
  if (base_at <= top_at)
    return Status::InvalidArgument(base + " is not a backing file below " +
                                   top + " in the chain of " + target);
  if (virDomainBlockCommit(d.get(), target.c_str(), base.c_str(), top.c_str(),
                           0, VIR_DOMAIN_BLOCK_COMMIT_RELATIVE) != 0)
    return LibvirtError("block commit of " + top + " into " + base, d.get());
  turn.Release();
  STRATA_RETURN_IF_ERROR(
      WaitBlockJobGone(d.get(), target, std::chrono::hours(2)));
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn again, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainInfo after, Describe(d.get()));
  disk = after.Disk(target);
  if (!disk) return Status::IoError(target + " vanished during a commit");
  if (disk->ChainPosition(top) >= 0 || disk->ChainPosition(base) < 1)
    return Status::IoError("block commit of " + top + " into " + base +
                           " ended without the chain changing (failed job)");
  return Status::OK();
}

}  // namespace strata::hypervisor
