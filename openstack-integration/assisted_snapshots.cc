// os-assisted-volume-snapshots on this host. See assisted_snapshots.h.
#include "openstack-integration/assisted_snapshots.h"

#include "qcow2/qcow2_header.h"
#include "util/fs.h"
#include "util/log.h"

namespace strata::openstack {

AssistedSnapshots::AssistedSnapshots(hypervisor::Hypervisor* hv)
    : hv_(hv), runner_(2) {}

AssistedSnapshots::~AssistedSnapshots() { runner_.Stop(); }

Result<AssistedSnapshots::Attached> AssistedSnapshots::FindAttached(
    const std::string& volume_id) {
  const Status none = Status::InvalidArgument(
      "No volume Block Device Mapping with id " + volume_id + ".");
  if (!hv_) return none;
  STRATA_ASSIGN_OR_RETURN(auto doms, hv_->ListDomains());
  for (const auto& d : doms)
    for (const auto& disk : d.disks) {
      if (disk.serial != volume_id || disk.device != "disk") continue;
      if (disk.source.empty() || disk.format != "qcow2")
        return Status::InvalidArgument("Volume " + volume_id + " of instance " +
                                       d.uuid +
                                       " is not a qcow2 file: only qcow2 "
                                       "volumes take assisted snapshots.");
      if (d.state != hypervisor::DomainState::kRunning &&
          d.state != hypervisor::DomainState::kPaused)
        return Status::InvalidArgument(
            "Instance " + d.uuid + " in power state " +
            hypervisor::NovaStatus(d.state) +
            ": assisted volume snapshots need it running.");
      return Attached{d, disk};
    }
  return none;
}

Result<std::shared_ptr<VolumeLease>> AssistedSnapshots::Lease(
    const std::string& volume_id) {
  auto lease = locks_.TryAcquire(volume_id, "an assisted snapshot");
  // Nova answers an instance busy with a task 400 here, not 409.
  if (!lease.ok())
    return Status::InvalidArgument("Volume " + volume_id +
                                   " is busy: " + lease.status().message());
  return lease;
}

void AssistedSnapshots::Launch(std::shared_ptr<VolumeLease> lease,
                               const std::string& snapshot_id,
                               CinderEndpoint cinder,
                               std::function<Status()> op, std::string what,
                               std::string ok_status,
                               std::string error_status) {
  runner_.Submit([lease = std::move(lease), snapshot_id,
                  cinder = std::move(cinder), op = std::move(op),
                  what = std::move(what), ok_status = std::move(ok_status),
                  error_status = std::move(error_status)]() mutable {
    Status s = op();
    lease.reset();
    if (s.ok())
      LogInfo("assisted snapshot " + snapshot_id + ": " + what + " done");
    else
      LogError("assisted snapshot " + snapshot_id + ": " + what + ": " +
               s.ToString());
    Status told = UpdateSnapshotStatus(
        cinder, snapshot_id, s.ok() ? ok_status : error_status, "90%");
    if (!told.ok())
      LogError("cannot report snapshot " + snapshot_id +
               " to Cinder: " + told.ToString());
  });
}

Status AssistedSnapshots::StartCreate(const AssistedCreate& req,
                                      CinderEndpoint cinder) {
  STRATA_ASSIGN_OR_RETURN(Attached at, FindAttached(req.volume_id));
  const hypervisor::DomainDisk& disk = at.disk;
  // new_file: a file Cinder made next to the active image, on top of it.
  if (req.new_file.find('/') != std::string::npos || req.new_file == "." ||
      req.new_file == "..")
    return Status::InvalidArgument("new_file " + req.new_file +
                                   " must be a file name, not a path.");
  const std::string new_path = JoinPath(DirName(disk.source), req.new_file);
  if (disk.ChainPosition(new_path) >= 0)
    return Status::InvalidArgument("new_file " + req.new_file +
                                   " is already in the volume's chain.");
  auto header = qcow2::ReadQcow2Header(new_path);
  if (!header.ok())
    return Status::InvalidArgument("new_file " + req.new_file + ": " +
                                   header.status().message());
  // new_file lies beside the active image, so its relative backing name
  // resolves as ChainPosition resolves names: against that directory.
  if (disk.ChainPosition(header->backing_file) != 0)
    return Status::InvalidArgument(
        "new_file " + req.new_file + " must have the volume's active image " +
        BaseName(disk.source) + " as its backing file (it has '" +
        header->backing_file + "').");
  STRATA_ASSIGN_OR_RETURN(auto lease, Lease(req.volume_id));
  const bool quiesce = at.domain.has_guest_agent;
  Launch(
      lease, req.snapshot_id, cinder,
      [this, at, new_path, quiesce] {
        return hv_->SwitchToOverlay(at.domain.uuid, at.disk.target, new_path,
                                    quiesce);
      },
      "snapshot of volume " + req.volume_id + " of " + at.domain.name +
          " onto " + req.new_file,
      "creating", "error");
  return Status::OK();
}

Status AssistedSnapshots::StartDelete(const AssistedDelete& req,
                                      CinderEndpoint cinder) {
  STRATA_ASSIGN_OR_RETURN(Attached at, FindAttached(req.volume_id));
  const hypervisor::DomainDisk& disk = at.disk;
  const std::string merge = req.file_to_merge.value_or("");
  if (!req.merge_target_file) {
    // Pull into the active image: what is above `merge` (all, if none).
    if (!merge.empty() && disk.ChainPosition(merge) < 1)
      return Status::InvalidArgument("file_to_merge " + merge +
                                     " is not a backing file of volume " +
                                     req.volume_id + ".");
  } else {
    if (merge.empty())
      return Status::InvalidArgument(
          "file_to_merge is required with merge_target_file.");
    const int top = disk.ChainPosition(merge);
    if (top < 1)
      return Status::InvalidArgument("file_to_merge " + merge +
                                     " is not a backing file of volume " +
                                     req.volume_id + ".");
    if (disk.ChainPosition(*req.merge_target_file) <= top)
      return Status::InvalidArgument("merge_target_file " +
                                     *req.merge_target_file +
                                     " is not a backing file below " + merge +
                                     " of volume " + req.volume_id + ".");
  }
  STRATA_ASSIGN_OR_RETURN(auto lease, Lease(req.volume_id));
  const std::optional<std::string> target = req.merge_target_file;
  Launch(
      lease, req.snapshot_id, cinder,
      [this, at, merge, target] {
        return target ? hv_->BlockCommit(at.domain.uuid, at.disk.target, merge,
                                         *target)
                      : hv_->BlockPull(at.domain.uuid, at.disk.target, merge);
      },
      std::string(target ? "commit of " + merge + " into " + *target
                         : "pull into the active image" +
                               (merge.empty() ? "" : " above " + merge)) +
          " (volume " + req.volume_id + " of " + at.domain.name + ")",
      "deleting", "error_deleting");
  return Status::OK();
}

}  // namespace strata::openstack
