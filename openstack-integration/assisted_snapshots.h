// Nova's half of os-assisted-volume-snapshots, for Cinder's remotefs-style
// qcow2 drivers (NFS and friends): Cinder owns the volume's files and its
// snapshot bookkeeping; the hypervisor only switches the running VM onto a
// new qcow2 file (create) or merges two adjacent files of its chain while it
// runs (delete), and then tells Cinder how it went.
//
// The volume is found as Nova's libvirt driver finds it: the disk of a
// domain on this host whose <serial> is the Cinder volume id. Strata does
// not register such disks as volumes of its own (engine.h): their chain is
// Cinder's.
//
// Create: `new_file` (a file name in the directory of the disk's active
// image, made by Cinder with that image as its backing file) becomes the
// active image: a disk-only external snapshot reusing the file, no libvirt
// metadata, quiesced through the guest agent when possible (retried
// without). Then Cinder hears "creating" 90%, or "error".
// Delete: merge_target_file null → block pull into the active image above
// file_to_merge (or of everything, when that is null too); else block commit
// of file_to_merge into merge_target_file, relative backing names kept.
// Then Cinder hears "deleting" 90%, or "error_deleting".
//
// Requests are checked before they are accepted (bad input is a 400, as
// Nova's API answers), then run off the request thread, one at a time per
// volume. Not journalled: after a crash Cinder's driver times out waiting
// for the report, as it does when nova-compute dies.
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "hypervisor/hypervisor.h"
#include "openstack-integration/cinder_snapshot_status.h"
#include "util/task_runner.h"
#include "util/volume_locks.h"

namespace strata::openstack {

struct AssistedCreate {
  std::string volume_id, snapshot_id, new_file;
};

struct AssistedDelete {
  std::string volume_id, snapshot_id;
  std::optional<std::string> file_to_merge, merge_target_file;
};

class AssistedSnapshots {
 public:
  explicit AssistedSnapshots(hypervisor::Hypervisor* hv);
  ~AssistedSnapshots();  // waits for running operations

  // Checks and starts a create; returns once it is queued. InvalidArgument
  // for anything Nova's API answers 400 to (no running domain has the
  // volume, a bad new_file, an operation already running on the volume).
  Status StartCreate(const AssistedCreate& req, CinderEndpoint cinder);
  Status StartDelete(const AssistedDelete& req, CinderEndpoint cinder);
  // Runs `op` on a worker under `lease`, then (lease released, so Cinder's
  // next call is not refused) reports `ok_status` or `error_status` for the
  // snapshot, progress "90%" either way, as Nova does.
  void Launch(std::shared_ptr<VolumeLease> lease,
              const std::string& snapshot_id, CinderEndpoint cinder,
              std::function<Status()> op, std::string what,
              std::string ok_status, std::string error_status);
  // Blocks until no operation is queued or running.
  void WaitIdle() { runner_.WaitIdle(); }

 private:
  // The running domain with the volume, and its disk.
  struct Attached {
    hypervisor::DomainInfo domain;
    hypervisor::DomainDisk disk;
  };
  Result<Attached> FindAttached(const std::string& volume_id);
  // The volume's lease, or InvalidArgument when an operation holds it.
  Result<std::shared_ptr<VolumeLease>> Lease(const std::string& volume_id);

  hypervisor::Hypervisor* hv_;
  VolumeLocks locks_;
  TaskRunner runner_;
};

}  // namespace strata::openstack
