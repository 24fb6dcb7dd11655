// The hypervisor as the engine sees it: the host's domains, their state,
// their disks with the backing chains the hypervisor believes in, and the
// live operations a snapshot needs. LibvirtHypervisor implements it over the
// libvirt C API; the engine never names libvirt.
//
// Thread-safety: implementations are safe to call from several threads.
#pragma once

#include <cstdint>
#include <optional>
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
  // A network disk's NBD unix socket (<source protocol='nbd'><host
  // transport='unix' socket=…>), e.g. one of Strata's own exports.
  std::string nbd_socket;
  std::string format;  // driver type: "qcow2", "raw", …
  // <driver error_policy=… rerror_policy=…>: what QEMU does when a write /
  // a read fails ("stop" pauses the VM; "" is QEMU's default).
  std::string error_policy, rerror_policy;
  // <serial>: Nova sets it to the Cinder volume id of an attached volume.
  std::string serial;
  // The backing files below `source`, as the hypervisor records them (top
  // first). May disagree with the files' headers; see the engine.
  std::vector<std::string> backing_chain;

  // Where the file `name` is in this disk's chain: 0 for the active image
  // (`source`), i for backing_chain[i - 1], -1 when it is not there. A
  // relative `name` is taken relative to the active image's directory (as
  // a qcow2 header's backing name is; Cinder names files so); names of one
  // file (links, "..") match.
  int ChainPosition(const std::string& name) const;
};

// One file of a disk's backing chain, as a domain's definition names it.
struct BackingFile {
  std::string path;
  std::string format;  // "qcow2" or "raw"
  // Set: the layer is read over NBD from this unix socket's export instead
  // of from `path` (a stored layer served while it downloads).
  std::string nbd_socket = "", nbd_export = "";
};

// A disk's error policies to set in its definition (DefineDiskBacking);
// "" removes the attribute (QEMU's default).
struct DiskErrorPolicy {
  std::string write, read;
};

// One address of a guest's network interface (R1.1's LAN address).
struct GuestAddress {
  std::string interface;  // the guest's name for it, e.g. "eth0"
  std::string mac;        // "52:54:00:…"
  std::string address;    // "10.0.2.15", "fe80::…"
  std::string type;       // "ipv4" or "ipv6"
  int prefix = 0;         // 24
};

// A running guest's identity on the network, as the guest agent (its own
// host name and interfaces) or libvirt (DHCP leases of its networks, the
// host's ARP table) reports it. Loopback addresses are left out.
struct GuestNetwork {
  std::string host_name;
  std::vector<GuestAddress> addresses;
  // Where each came from: "agent", "lease", "arp"; "" when nothing was
  // found (the domain is off, or has no agent and no libvirt network).
  std::string host_name_source, addresses_source;
};

struct DomainInfo {
  std::string uuid;
  std::string name;
  // <domain type=…>: "kvm", or "qemu" (TCG): R1.1's VM type.
  std::string virt_type;
  DomainState state = DomainState::kOther;
  // Paused by QEMU because a disk request failed under a "stop" error
  // policy (libvirt's VIR_DOMAIN_PAUSED_IOERROR); resuming retries it.
  bool paused_on_io_error = false;
  uint64_t memory_kib = 0;
  unsigned vcpus = 0;
  bool has_guest_agent = false;  // an org.qemu.guest_agent.0 channel
  // libvirt saw the guest open that channel (<target state='connected'>):
  // an agent runs in the guest and answers.
  bool guest_agent_connected = false;
  // Defined (survives a power-off), as Nova's domains are; a transient
  // domain ends when it stops.
  bool persistent = false;
  // Owner from Nova's <nova:instance><nova:owner> metadata; "" if absent.
  std::string project_id;
  std::string user_id;
  std::vector<DomainDisk> disks;

  // The first disk with device "disk" (the system disk), or nullptr.
  const DomainDisk* SystemDisk() const;
  // The disk with guest device name `target`, or nullptr.
  const DomainDisk* Disk(const std::string& target) const;
};

// How QEMU sends a memory snapshot's stream (R3.8).
struct MigrationTuning {
  int64_t downtime_limit_ms = 300;           // QEMU's default
  int64_t max_bandwidth = int64_t{1} << 30;  // bytes/s (QEMU: 128 MiB/s)
  // R3.8's bound for a guest that dirties memory faster than the stream
  // drains it: QEMU alone would iterate for ever. Once QEMU has synced its
  // dirty bitmap this many times (the first sync is the whole of RAM)
  // with the migration still iterating, Strata pauses the VM itself, QEMU
  // sends what is left, and the VM resumes.
  int64_t max_passes = 3;
};

// QEMU's query-migrate, the parts a memory snapshot reports.
struct MigrationProgress {
  std::string status;  // setup, active, device, completed, failed, …
  std::string error;   // why it failed
  int64_t transferred = 0, remaining = 0, total = 0;  // RAM bytes
  int64_t dirty_syncs = 0;  // iterations over the dirty bitmap
  int64_t downtime_ms = 0;  // QEMU's own figure, once completed
  int64_t total_time_ms = 0;
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
  // Pulls the data of the backing files above `base` into the running
  // domain's top of disk `target` (virDomainBlockRebase), and waits for the
  // job to end. `base` names a file of the chain (as its overlay's header
  // does, or by path); the top then keeps its backing name relative. Empty
  // `base`: everything is pulled and the top stands alone. Checked against
  // the chain libvirt reports afterwards.
  virtual Status BlockPull(const std::string& uuid, const std::string& target,
                           const std::string& base) = 0;
  // Commits `top`, a backing file of the running domain's disk `target`
  // (not its active top), into `base`, a file further down, keeping the
  // backing names relative (virDomainBlockCommit), and waits for the job to
  // end; the files between drop out of the chain. Checked afterwards.
  virtual Status BlockCommit(const std::string& uuid, const std::string& target,
                             const std::string& top,
                             const std::string& base) = 0;
  // Powers the domain off at once (virDomainDestroy), as Nova's rebuild
  // does before it replaces the disk; OK when it is not running.
  virtual Status PowerOff(const std::string& uuid) = 0;
  // Starts the defined domain (virDomainCreate); OK when it already runs.
  virtual Status PowerOn(const std::string& uuid) = 0;
  // Gives disk `target` of the persistent domain an explicit backing chain
  // in its definition (top first; WithDiskBackingChain), so that its next
  // start opens these files below the disk's image whatever the image's
  // header names; an empty `chain` goes back to the headers. The running
  // domain, if any, is not changed. With `policy`, the disk's error
  // policies are set to it as well.
  virtual Status DefineDiskBacking(
      const std::string& uuid, const std::string& target,
      const std::vector<BackingFile>& chain,
      const std::optional<DiskErrorPolicy>& policy = std::nullopt) = 0;
  // Pauses the running domain's vCPUs (virDomainSuspend): QEMU drains the
  // guest's in-flight disk I/O before it returns, so nothing it wrote is
  // still on the way. A group snapshot's hold (engine/group_cut.cc).
  virtual Status Pause(const std::string& uuid) = 0;
  // Resumes a paused domain (virDomainResume); OK when it runs.
  virtual Status Resume(const std::string& uuid) = 0;
  // The running domain's host name and addresses: the guest agent's when
  // it is connected, else libvirt's DHCP leases, else (addresses) the
  // host's ARP table. A source that fails or knows nothing is skipped; a
  // domain that is off has none (OK, empty).
  virtual Result<GuestNetwork> GetGuestNetwork(const std::string& uuid) = 0;

  // Issue 21's memory snapshots: the running domain's memory and device
  // state sent as QEMU's migration stream to `fd` (a pipe's write end),
  // the VM running meanwhile; the calls go through QMP (libvirt_memory.cc
  // says why). Returns once QEMU has taken `fd` and started; the caller
  // may close its copy then. QEMU iterates until what is left fits the
  // downtime limit at the bandwidth, then stops the vCPUs and sends the
  // rest (R3.8); they stay paused until Resume.
  virtual Status StartMigrationToFd(const std::string& uuid, int fd,
                                    const MigrationTuning& tuning) {
    (void)uuid, (void)fd, (void)tuning;
    return Status::NotSupported("memory snapshots need libvirt's QEMU driver");
  }
  // The domain's XML as libvirt puts it in a save image (secure and
  // migratable), for a memory snapshot's restore.
  virtual Result<std::string> GetSaveXml(const std::string& uuid) {
    (void)uuid;
    return Status::NotSupported("memory snapshots need libvirt's QEMU driver");
  }
  // QEMU's query-migrate of that migration.
  virtual Result<MigrationProgress> QueryMigration(const std::string& uuid) {
    (void)uuid;
    return Status::NotSupported("memory snapshots need libvirt's QEMU driver");
  }
  // Starts a domain from a save image at `path` (virDomainRestore: a file,
  // or a FIFO being written) and leaves it running; the image's XML names
  // the domain (a defined one is replaced by it). Returns once it runs.
  virtual Status RestoreFromImage(const std::string& path) {
    (void)path;
    return Status::NotSupported("memory snapshots need libvirt's QEMU driver");
  }
  // QEMU's run state (QMP query-status: "running", "paused",
  // "finish-migrate", "postmigrate", …). After query-migrate says
  // "completed", QEMU is still in "finish-migrate" until its migration
  // thread has wound up, and refuses `cont` meanwhile.
  virtual Result<std::string> QueryRunState(const std::string& uuid) {
    (void)uuid;
    return Status::NotSupported("memory snapshots need libvirt's QEMU driver");
  }
  // Stops that migration (QMP migrate_cancel): QEMU closes its end of the
  // descriptor and the VM goes on as it was. OK when none runs.
  virtual Status CancelMigration(const std::string& uuid) {
    (void)uuid;
    return Status::NotSupported("memory snapshots need libvirt's QEMU driver");
  }
};

}  // namespace strata::hypervisor
