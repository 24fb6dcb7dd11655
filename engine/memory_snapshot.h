// A running domain's memory and device state taken into a fixed-size
// region (issue 21, R3.2, R3.5, R3.8): QEMU's migration stream goes into a
// socket pair (hypervisor StartMigrationToFd), a thread parses it as it arrives
// and writes each page to its slot (memsnap RegionWriter); when QEMU has
// sent the rest with the vCPUs stopped, the VM is resumed at once, and the
// region is finished (synced, marked complete) behind it.
//
// A guest that dirties memory faster than the stream drains it is paused
// by Strata after MigrationTuning::max_passes (R3.8), so the snapshot ends.
// The VM is never left paused by a failure here: whatever happens after
// QEMU began, the domain is resumed if it is paused.
// Thread-safety: reentrant; one call per domain at a time.
#pragma once

#include <functional>
#include <string>

#include "hypervisor/hypervisor.h"
#include "memsnap/region.h"
#include "storage-drivers/store.h"
#include "util/status.h"

namespace strata::engine {

struct MemorySnapshotResult {
  memsnap::StreamStats stream;
  memsnap::RegionLayout layout;
  hypervisor::MigrationProgress qemu;  // its last query-migrate
  // From the first poll that saw the migration completed (QEMU stopped the
  // vCPUs up to QEMU's downtime before) to Resume's return.
  double resume_ms = 0;
  // R3.8: whether Strata paused the VM itself after
  // MigrationTuning::max_passes (the guest out-dirtied the stream), and
  // the RAM QEMU still had to send then.
  bool forced_pause = false;
  int64_t remaining_at_pause = 0;
  // How long the vCPUs stood still, as far as Strata can tell: from its
  // pause, or QEMU's downtime plus the time to resume.
  double vm_paused_ms = 0;
  double at_pause_ms = 0;  // the at_pause hook's share of it
  double total_ms = 0;
};

// `region_fd`: the region (a file or a block device); `fresh`: it reads as
// zeros. The region keeps libvirt's save header for the domain's XML now,
// so that it restores through virsh restore on its own.
// `at_pause`, when given, runs once QEMU has sent the last of the memory,
// with the vCPUs still stopped: what it does (a disk's cut-over) belongs to
// the same instant as the memory. The VM resumes after it, whatever it
// returns; its failure fails the snapshot.
[[nodiscard]] Result<MemorySnapshotResult> TakeMemorySnapshot(
    hypervisor::Hypervisor* hv, const std::string& domain_uuid, int region_fd,
    const std::string& region_name, bool fresh,
    const hypervisor::MigrationTuning& tuning,
    const std::function<Status()>& at_pause = nullptr);

// Starts the domain a region holds again, where it was (R3.9): the
// region's libvirt header and the stream rebuilt from its slots (each page
// once) are spliced into a FIFO in `fifo_dir` as libvirt's restore reads
// it (memsnap/restore_splice.h), so no file of the stream's size is
// written. Corruption, before the hypervisor is asked, when the region is
// not complete or fails its checks. The domain's disks must already hold the same instant.
[[nodiscard]] Status RestoreMemorySnapshot(hypervisor::Hypervisor* hv,
                                           const std::string& region,
                                           const std::string& fifo_dir);

// OK when `region` is a complete region whose checks hold; else why not.
Status CheckMemoryRegion(const std::string& region);

// Makes `region` again from the copy of a snapshot's memory a store keeps
// (its restore image under `key`, memsnap/restore_image.h): downloaded to
// "<scratch>.image" and verified against `sha256`, then read by the parser
// that reads a running QEMU's stream into a new region "<scratch>.part"
// renamed onto the region file, or straight into the region device (whose
// superblock says "writing" until it is complete). Whatever an earlier
// fetch left goes first, and whatever this one left on failure goes too.
[[nodiscard]] Status FetchMemoryRegion(store::Store& store,
                                       const std::string& key,
                                       const std::string& sha256,
                                       const std::string& region,
                                       const std::string& scratch);
// The scratch name of a fetch of snapshot `snap_id`'s memory: in the
// memory directory, on the region file's file system.
std::string FetchScratch(const std::string& memory_dir,
                         const std::string& snap_id);
// Removes what a fetch left ("<scratch>.image…", "<scratch>.part").
void RemoveMemoryLeftovers(const std::string& scratch);

}  // namespace strata::engine
