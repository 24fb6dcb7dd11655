// VolumeAdoption: manage-existing, a server's disks, NBD attach state,
// unmanage. See volume_adoption.h.
#include "engine/volume_adoption.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "engine/image_lock.h"
#include "engine/layer_names.h"
#include "engine/qemu_img.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::engine {

namespace {

// Refuses a disk that a running process (a VM) holds open for writing,
// known from QEMU's own image lock (image_lock.h), and one qemu-img cannot
// open.
Status CheckNotInUse(const Chain& chain) {
  const std::string& path = chain.top().path;
  STRATA_ASSIGN_OR_RETURN(bool written, QemuHoldsForWriting(path));
  if (written)
    return Status::Conflict(path +
                            " is in use by another process (a QEMU holds it "
                            "open for writing)");
  return CheckOpens(path, chain.top().format);
}

// True when the file's name is one Strata gives a layer or temporary of
// some disk (layer_names.h), whoever's disk that is.
bool HasStrataLayerName(const std::string& path) {
  const std::string name = BaseName(path);
  return name.find(".strata-") != std::string::npos ||
         name.find(".snap-") != std::string::npos ||
         name.find(".history-") != std::string::npos;
}

// A caller's source-name: by its name first (nothing on the host is looked
// at for a path outside the allowed directories, so a refusal says nothing
// of what exists there), then opened beneath its allowed directory with no
// symlink on the way, and a regular file.
Status CheckCallerDisk(const Confinement& c, const std::string& path) {
  STRATA_RETURN_IF_ERROR(c.CheckCallerPath(path));
  const std::string dir = c.WritableDirOf(path);
  STRATA_ASSIGN_OR_RETURN(
      UniqueFd fd, OpenBeneath(dir, path.substr(dir.size() + 1), O_RDONLY));
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return Status::FromErrno("stat " + path, errno);
  if (!S_ISREG(st.st_mode))
    return Status::InvalidArgument(path + " is not a regular file");
  return Status::OK();
}

}  // namespace

Result<db::VolumeRecord> VolumeAdoption::ManageVolume(
    const ManageRequest& req) {
  auto fail = [](const Status& s) {
    return Status::InvalidArgument("Manage existing volume failed: " +
                                   s.message());
  };
  if (req.source_path.empty() || req.source_path[0] != '/')
    return fail(
        Status::InvalidArgument("source-name must be an absolute path"));
  if (!req.trusted_path) {
    if (Status s = CheckCallerDisk(confinement_, req.source_path); !s.ok())
      return fail(s);
  }
  auto canon = CanonicalPath(req.source_path);
  if (!canon.ok()) return fail(canon.status());
  struct stat st;
  if (stat(canon->c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return Status::InvalidArgument("Manage existing volume failed: " + *canon +
                                   " is not a regular file");
  if (ParseLayerName(*canon, *canon).kind != LayerKind::kForeign ||
      HasStrataLayerName(*canon))
    return Status::InvalidArgument("Manage existing volume failed: " + *canon +
                                   " is one of Strata's own layer files");
  if (catalog_->GetVolumeByPath(*canon).ok())
    return Status::Conflict("Manage existing volume failed: " + *canon +
                            " is already managed");
  auto chain = ReadChain(*canon, *canon, confinement_);
  if (!chain.ok()) return fail(chain.status());
  // No file of another volume below this one: its snapshots rename and
  // merge those files, and this disk would read another tenant's data.
  for (size_t i = 1; i < chain->length(); ++i) {
    if (catalog_->GetVolumeByPath(chain->layers[i].path).ok() ||
        HasStrataLayerName(chain->layers[i].path))
      return fail(Status::InvalidArgument(
          "a backing file is another volume's disk or one of its layers"));
  }
  STRATA_ASSIGN_OR_RETURN(auto user, live_->DomainUsing(*canon));
  if (!user) STRATA_RETURN_IF_ERROR(CheckNotInUse(*chain));

  db::VolumeRecord v;
  v.id = NewUuid();
  v.project_id = req.project_id;
  v.user_id = req.user_id;
  v.name = req.name;
  v.description = req.description;
  v.status = "available";
  v.path = *canon;
  if (chain->length() > 1) {
    const ChainLayer& base = chain->layers[1];
    STRATA_ASSIGN_OR_RETURN(v.base_path, CanonicalPath(base.path));
    v.base_format = base.format;
  }
  v.virtual_size = static_cast<int64_t>(chain->top().header.virtual_size);
  v.bootable = req.bootable;
  v.metadata = req.metadata;
  v.created_at = v.updated_at = NowMicros();
  if (user) {
    v.domain_uuid = user->first.uuid;
    v.disk_target = user->second;
    if (user->first.state != hypervisor::DomainState::kShutoff)
      v.status = "in-use";
  }
  STRATA_RETURN_IF_ERROR(catalog_->InsertVolume(v));
  LogInfo("managed volume " + v.id + " at " + v.path);
  return v;
}

Result<db::VolumeRecord> VolumeAdoption::ServerDiskVolume(
    const hypervisor::DomainInfo& dom, const hypervisor::DomainDisk& disk,
    const std::string& default_project) {
  if (!disk.serial.empty())
    return Status::Conflict(
        "Disk " + disk.target + " of server " + dom.uuid + " is volume " +
        disk.serial +
        " of Cinder, which keeps its snapshots (through "
        "os-assisted-volume-snapshots); Strata does not manage it.");
  if (disk.source.empty() && !disk.nbd_socket.empty()) {
    // Served by one of Strata's own NBD exports: its volume was adopted
    // when the export started.
    auto dir = CanonicalPath(DirName(disk.nbd_socket));
    std::optional<std::string> served;
    if (dir.ok() && holder_)
      served = holder_->DiskServedOn(JoinPath(*dir, BaseName(disk.nbd_socket)));
    if (!served)
      return Status::Conflict("Disk " + disk.target + " of server " + dom.uuid +
                              " is the NBD socket " + disk.nbd_socket +
                              ", which is not one of Strata's qcow2 exports.");
    return catalog_->GetVolumeByPath(*served);
  }
  auto canon = CanonicalPath(disk.source);
  if (!canon.ok()) return canon.status();
  auto existing = catalog_->GetVolumeByPath(*canon);
  if (existing.ok()) return existing;
  // The VM runs on one of Strata's temporary overlays for a moment (a
  // cut-over or a repoint of its managed disk, which holds the volume's
  // lease): the disk is that volume's, whose operations answer 409 until
  // the task is done.
  for (const std::string& d : DisksOfTemp(*canon)) {
    auto vol = catalog_->GetVolumeByPath(d);
    if (vol.ok() && IsTempOf(vol->path, *canon)) return vol;
  }
  ManageRequest req;
  req.project_id = dom.project_id.empty() ? default_project : dom.project_id;
  req.user_id = dom.user_id.empty() ? "nova" : dom.user_id;
  req.name = dom.name + "-" + disk.target;
  req.description = "disk " + disk.target + " of server " + dom.uuid;
  req.source_path = *canon;
  req.bootable = true;
  req.trusted_path = true;
  return ManageVolume(req);
}

Status VolumeAdoption::SetExportAttached(const std::string& disk,
                                         bool attached) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog_->GetVolumeByPath(disk));
  if (vol.domain_uuid) return Status::OK();
  const std::string from = attached ? "available" : "in-use";
  // Checked here so that a call that changes nothing writes nothing (a
  // write moves updated_at), and again in the update against a racing one.
  if (vol.status != from) return Status::OK();
  return catalog_->ModifyVolume(vol.id, [&](db::VolumeRecord& v) {
    if (v.status == from && !v.domain_uuid)
      v.status = attached ? "in-use" : "available";
    return Status::OK();
  });
}

void VolumeAdoption::RegisterServerDisks(const std::string& default_project) {
  if (!hv_) return;
  auto doms = hv_->ListDomains();
  if (!doms.ok()) return;
  for (const auto& d : *doms)
    for (const auto& disk : d.disks) {
      if (disk.device != "disk" || disk.format != "qcow2" ||
          disk.source.empty() || !disk.serial.empty())
        continue;
      auto canon = CanonicalPath(disk.source);
      // A domain's temporary overlay (mid-operation) is not a disk of its own.
      if (!canon.ok() || IsStrataTemp(*canon)) continue;
      if (catalog_->GetVolumeByPath(*canon).ok()) continue;
      auto v = ServerDiskVolume(d, disk, default_project);
      if (!v.ok())
        LogWarning("cannot register disk " + disk.target + " of " + d.name +
                   ": " + v.status().ToString());
    }
}

Status VolumeAdoption::UnmanageVolume(const std::string& volume_id) {
  STRATA_ASSIGN_OR_RETURN(auto lease, locks_.TryAcquire(volume_id, "unmanage"));
  // As Cinder: a volume a server or an NBD client uses stays managed (its
  // snapshots, redirect cache and export depend on the record).
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  if (vol.status != "available" && vol.status != "error")
    return Status::Conflict(
        "Invalid volume: Volume status must be available "
        "or error to unmanage, but current status is: " +
        vol.status + ".");
  STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfVolume(volume_id));
  for (const auto& s : snaps)
    if (!s.hidden || s.pinned)
      return Status::Conflict("Volume " + volume_id + " still has " +
                              (s.pinned ? "backups" : "snapshots") +
                              "; delete them first.");
  // Layers kept only for this volume's chain are no longer needed.
  STRATA_RETURN_IF_ERROR(transfer_->DeleteSnapshotsOf(volume_id));
  STRATA_RETURN_IF_ERROR(catalog_->DeleteVolume(volume_id));
  // The chain stays (it is the disk); the history's spare is ours alone.
  chain_->DropSpares(vol.path);
  return Status::OK();
}

Status VolumeAdoption::UnmanageSnapshot(const std::string& snapshot_id) {
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s,
                          catalog_->GetSnapshot(snapshot_id));
  if (s.hidden)
    return Status::NotFound("Snapshot " + snapshot_id + " could not be found.");
  // Its stored layer is what stays: a snapshot without one (creating, in
  // error) has nothing to keep.
  if (s.status != "available")
    return Status::InvalidArgument(
        "Invalid snapshot: Snapshot status must be available to unmanage, "
        "but it is " +
        s.status + ".");
  STRATA_ASSIGN_OR_RETURN(
      auto lease, locks_.TryAcquire(s.volume_id, "a snapshot unmanage"));
  return catalog_->ModifySnapshot(snapshot_id, [](db::SnapshotRecord& r) {
    r.hidden = true;
    r.unmanaged = true;
    return Status::OK();
  });
}

Result<db::SnapshotRecord> VolumeAdoption::ManageSnapshot(
    const std::string& volume_id, const std::string& snapshot_id,
    const std::string& name, const std::string& description,
    const db::Metadata& metadata) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  if (vol.status == "deleted")
    return Status::NotFound("Volume " + volume_id + " could not be found.");
  STRATA_ASSIGN_OR_RETURN(auto lease,
                          locks_.TryAcquire(vol.id, "a snapshot manage"));
  auto s = catalog_->GetSnapshot(snapshot_id);
  if (!s.ok() || s->volume_id != vol.id || !s->unmanaged)
    return Status::InvalidArgument(
        "Manage existing snapshot failed due to invalid backend reference: "
        "no unmanaged snapshot " +
        snapshot_id + " of volume " + vol.id + ".");
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifySnapshot(snapshot_id, [&](db::SnapshotRecord& r) {
        r.hidden = false;
        r.unmanaged = false;
        r.name = name;
        r.description = description;
        r.metadata = metadata;
        return Status::OK();
      }));
  return catalog_->GetSnapshot(snapshot_id);
}

}  // namespace strata::engine
