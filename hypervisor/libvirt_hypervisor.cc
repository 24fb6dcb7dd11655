// libvirt adapter. See libvirt_hypervisor.h.
#include "hypervisor/libvirt_hypervisor.h"

#include <libvirt/virterror.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "hypervisor/domain_xml.h"
#include "util/log.h"
#include "util/metrics.h"

namespace strata::hypervisor {
namespace {

// Issue 20's guest-stall metric: how long a libvirt call that Strata makes
// held a running guest's disk I/O. The external snapshot runs as one qemu
// transaction that drains the disk (with quiesce, the guest's file systems
// stay frozen from before it to after it); the block copy's pivot drains
// the disk while the mirror switches. Measured around the call, so an upper
// bound of the stall.
void RecordGuestStall(const std::string& operation, bool quiesced,
                      std::chrono::steady_clock::time_point since) {
  static const bool described = [] {
    metrics::Describe(
        "strata_guest_stall_seconds", metrics::Type::kHistogram,
        "How long a libvirt call of Strata held a running guest's disk I/O "
        "(external snapshot, quiesced or not; block copy pivot), measured "
        "around the call.");
    return true;
  }();
  (void)described;
  metrics::Observe(
      "strata_guest_stall_seconds",
      {{"operation", operation}, {"quiesced", quiesced ? "true" : "false"}},
      std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
          .count());
}

DomainState ToState(int s) {
  switch (s) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
      return DomainState::kRunning;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED:
      return DomainState::kPaused;
    case VIR_DOMAIN_SHUTOFF:
    case VIR_DOMAIN_SHUTDOWN:
    case VIR_DOMAIN_CRASHED:
      return DomainState::kShutoff;
    default:
      return DomainState::kOther;
  }
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<LibvirtHypervisor>> LibvirtHypervisor::Connect(
    LibvirtConnectionOptions opts) {
  auto hv = ConnectLazily(std::move(opts));
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, hv->conn_.Take());
  return hv;
}

std::unique_ptr<LibvirtHypervisor> LibvirtHypervisor::ConnectLazily(
    LibvirtConnectionOptions opts) {
  return std::unique_ptr<LibvirtHypervisor>(
      new LibvirtHypervisor(std::move(opts)));
}

Result<DomainHandle> LibvirtHypervisor::Lookup(const LibvirtConnection::Turn& c,
                                               const std::string& key) {
  virDomainPtr d = virDomainLookupByUUIDString(c.get(), key.c_str());
  if (!d) d = virDomainLookupByName(c.get(), key.c_str());
  if (!d) {
    // Not there, or libvirtd went away while it was asked.
    if (virConnectIsAlive(c.get()) == 0)
      return LibvirtError("looking up domain " + key, c.get());
    return Status::NotFound("no domain " + key + " on this host");
  }
  DomainHandle h(d);
  if (!conn_.Owns(virDomainGetName(d)))
    return Status::NotFound("no domain " + key + " on this host");
  return h;
}

Result<DomainInfo> LibvirtHypervisor::Describe(virDomainPtr d) {
  char* xml = virDomainGetXMLDesc(d, 0);
  if (!xml) return LibvirtError("virDomainGetXMLDesc", d);
  std::string doc(xml);
  free(xml);
  STRATA_ASSIGN_OR_RETURN(DomainInfo info, ParseDomainXml(doc));
  int state = 0, reason = 0;
  if (virDomainGetState(d, &state, &reason, 0) != 0)
    return LibvirtError("virDomainGetState " + info.name, d);
  info.state = ToState(state);
  info.paused_on_io_error =
      state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_IOERROR;
  info.persistent = virDomainIsPersistent(d) == 1;
  return info;
}

Result<std::vector<DomainInfo>> LibvirtHypervisor::ListDomains() {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn c, conn_.Take());
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(c.get(), &doms, 0);
  if (n < 0) return LibvirtError("virConnectListAllDomains", c.get());
  std::vector<DomainHandle> handles;
  for (int i = 0; i < n; ++i) handles.emplace_back(doms[i]);
  free(doms);
  std::vector<DomainInfo> out;
  for (auto& h : handles) {
    if (!conn_.Owns(virDomainGetName(h.get()))) continue;
    auto info = Describe(h.get());
    if (info.ok()) out.push_back(std::move(*info));
    // A domain undefined between the list and the lookup is simply gone;
    // a libvirtd gone meanwhile is not an empty host.
    else if (info.status().code() == StatusCode::kUnavailable)
      return info.status();
  }
  std::sort(
      out.begin(), out.end(),
      [](const DomainInfo& a, const DomainInfo& b) { return a.name < b.name; });
  return out;
}

Result<DomainInfo> LibvirtHypervisor::GetDomain(const std::string& key) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, key));
  return Describe(d.get());
}

Status LibvirtHypervisor::SwitchToOverlay(const std::string& uuid,
                                          const std::string& target,
                                          const std::string& new_top,
                                          bool quiesce) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  STRATA_ASSIGN_OR_RETURN(DomainInfo info, Describe(d.get()));
  // Only `target` gets the external overlay; every other disk is left alone.
  std::string xml = "<domainsnapshot><disks>";
  for (const auto& disk : info.disks) {
    if (disk.target == target)
      xml += "<disk name='" + XmlEscape(target) +
             "' snapshot='external' type='file'><source file='" +
             XmlEscape(new_top) + "'/><driver type='qcow2'/></disk>";
    else if (!disk.target.empty())
      xml += "<disk name='" + XmlEscape(disk.target) + "' snapshot='no'/>";
  }
  xml += "</disks></domainsnapshot>";
  unsigned flags = VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY |
                   VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT |
                   VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA |
                   VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC;
  if (quiesce) {
    const auto t0 = std::chrono::steady_clock::now();
    virDomainSnapshotPtr s = virDomainSnapshotCreateXML(
        d.get(), xml.c_str(), flags | VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE);
    if (s) {
      RecordGuestStall("snapshot", true, t0);
      virDomainSnapshotFree(s);
      return Status::OK();
    }
    LogWarning(
        LibvirtError("quiesced snapshot of " + info.name, d.get()).ToString() +
        "; retrying without quiesce");
  }
  const auto t0 = std::chrono::steady_clock::now();
  virDomainSnapshotPtr s =
      virDomainSnapshotCreateXML(d.get(), xml.c_str(), flags);
  if (!s)
    return LibvirtError("external snapshot of " + info.name + " " + target,
                        d.get());
  RecordGuestStall("snapshot", false, t0);
  virDomainSnapshotFree(s);
  return Status::OK();
}

Status LibvirtHypervisor::CopyTopAndPivot(const std::string& uuid,
                                          const std::string& target,
                                          const std::string& dest) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  const std::string xml = "<disk type='file'><source file='" + XmlEscape(dest) +
                          "'/><driver type='qcow2'/></disk>";
  // TRANSIENT_JOB: libvirt allows a copy job on a persistent domain only if
  // the job does not have to survive a domain restart.
  unsigned flags = VIR_DOMAIN_BLOCK_COPY_SHALLOW |
                   VIR_DOMAIN_BLOCK_COPY_REUSE_EXT |
                   VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB;
  if (virDomainBlockCopy(d.get(), target.c_str(), xml.c_str(), nullptr, 0,
                         flags) != 0)
    return LibvirtError("block copy of " + target + " to " + dest, d.get());
  turn.Release();
  // Wait for the mirror to be in sync (bounded), then pivot; others' calls
  // go between the polls.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::minutes(10);
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn poll, conn_.Take());
    virDomainBlockJobInfo job;
    int r = virDomainGetBlockJobInfo(d.get(), target.c_str(), &job, 0);
    if (r < 0) return LibvirtError("block job info of " + target, d.get());
    if (r == 0)
      return Status::IoError("block copy job of " + target + " vanished");
    if (job.end > 0 && job.cur == job.end) {
      const auto t0 = std::chrono::steady_clock::now();
      if (virDomainBlockJobAbort(d.get(), target.c_str(),
                                 VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) == 0) {
        RecordGuestStall("pivot", false, t0);
        return Status::OK();
      }
      // Not ready yet (the READY event lags the counters): try again.
    }
    if (std::chrono::steady_clock::now() > deadline) {
      virDomainBlockJobAbort(d.get(), target.c_str(), 0);
      return Status::Unavailable("block copy of " + target +
                                 " did not converge");
    }
    poll.Release();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status LibvirtHypervisor::AbortBlockJob(const std::string& uuid,
                                        const std::string& target) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  virDomainBlockJobInfo job;
  int r = virDomainGetBlockJobInfo(d.get(), target.c_str(), &job, 0);
  if (r < 0) return LibvirtError("block job info of " + target, d.get());
  if (r == 0) return Status::OK();  // no job
  LogWarning("aborting a block job left on " + target);
  if (virDomainBlockJobAbort(d.get(), target.c_str(),
                             VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC) != 0)
    return LibvirtError("aborting the block job of " + target, d.get());
  turn.Release();
  for (int i = 0; i < 2000; ++i) {  // ≤ 10 s
    {
      STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn poll, conn_.Take());
      r = virDomainGetBlockJobInfo(d.get(), target.c_str(), &job, 0);
    }
    if (r == 0) return Status::OK();
    if (r < 0) return LibvirtError("block job info of " + target, d.get());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Status::Unavailable("the block job of " + target + " did not end");
}

Status LibvirtHypervisor::PowerOff(const std::string& uuid) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  int active = virDomainIsActive(d.get());
  if (active < 0) return LibvirtError("state of domain " + uuid, d.get());
  if (active == 0) return Status::OK();
  if (virDomainIsPersistent(d.get()) == 0)
    return Status::Conflict("domain " + uuid +
                            " is transient: powered off, it could not be "
                            "started again");
  if (virDomainDestroy(d.get()) != 0)
    return LibvirtError("powering off domain " + uuid, d.get());
  return Status::OK();
}

Status LibvirtHypervisor::PowerOn(const std::string& uuid) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  int active = virDomainIsActive(d.get());
  if (active < 0) return LibvirtError("state of domain " + uuid, d.get());
  if (active == 1) return Status::OK();
  if (virDomainCreate(d.get()) != 0)
    return LibvirtError("starting domain " + uuid, d.get());
  return Status::OK();
}

Status LibvirtHypervisor::DefineDiskBacking(
    const std::string& uuid, const std::string& target,
    const std::vector<BackingFile>& chain,
    const std::optional<DiskErrorPolicy>& policy) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  if (virDomainIsPersistent(d.get()) == 0)
    return Status::Conflict("domain " + uuid + " is transient");
  char* raw = virDomainGetXMLDesc(
      d.get(), VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
  if (!raw) return LibvirtError("virDomainGetXMLDesc", d.get());
  std::string xml(raw);
  free(raw);
  STRATA_ASSIGN_OR_RETURN(std::string edited,
                          WithDiskBackingChain(xml, target, chain, policy));
  DomainHandle defined(virDomainDefineXML(turn.get(), edited.c_str()));
  if (!defined.get())
    return LibvirtError(
        "defining domain " + uuid + " with disk " + target + "'s backing chain",
        turn.get());
  return Status::OK();
}

Status LibvirtHypervisor::Pause(const std::string& uuid) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  if (virDomainSuspend(d.get()) != 0)
    return LibvirtError("pausing domain " + uuid, d.get());
  return Status::OK();
}

Status LibvirtHypervisor::Resume(const std::string& uuid) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  int state = 0, reason = 0;
  if (virDomainGetState(d.get(), &state, &reason, 0) != 0)
    return LibvirtError("state of domain " + uuid, d.get());
  if (state != VIR_DOMAIN_PAUSED) return Status::OK();
  if (virDomainResume(d.get()) != 0)
    return LibvirtError("resuming domain " + uuid, d.get());
  return Status::OK();
}

}  // namespace strata::hypervisor
