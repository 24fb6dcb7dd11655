// Disks of running domains (R2.2, R2.3, R2.8 live).
//
// The cut-over of a running VM (snapshot_create.cc) is the libvirt
// external disk-only snapshot reusing the new overlay. Afterwards libvirt
// still names the old path as the backing store (it does not re-read the
// overlay's header), and a history merge must change the backing file of
// the very file the VM writes to. Both are done the same way here: the top
// is renamed aside (qemu keeps its open file), a new overlay on the wanted
// backing file takes the disk's path, and a shallow block copy with pivot
// moves the top's own writes (only those since the last cut-over) into it.
// libvirt then reads the chain from the new overlay's header, so its view
// matches the files, and the VM's disk path never changes.
#include "engine/engine.h"
#include "engine/qemu_img.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/uuid.h"

namespace strata::engine {

Result<std::optional<LiveDisk>> Engine::LiveDiskOf(
    const db::VolumeRecord& vol) {
  if (!hv_ || !vol.domain_uuid || !vol.disk_target)
    return std::optional<LiveDisk>();
  auto dom = hv_->GetDomain(*vol.domain_uuid);
  if (!dom.ok()) {
    if (dom.status().IsNotFound()) return std::optional<LiveDisk>();
    return dom.status();  // cannot tell whether it runs: do not guess
  }
  if (dom->state == hypervisor::DomainState::kShutoff)
    return std::optional<LiveDisk>();
  return std::optional<LiveDisk>(
      LiveDisk{dom->uuid, *vol.disk_target, dom->has_guest_agent});
}

Result<std::optional<std::pair<hypervisor::DomainInfo, std::string>>>
Engine::DomainUsing(const std::string& path) {
  using Found = std::optional<std::pair<hypervisor::DomainInfo, std::string>>;
  if (!hv_) return Found();
  auto listed = hv_->ListDomains();
  if (!listed.ok()) {
    // libvirt unreachable: the image lock check still refuses a disk that a
    // running VM holds; a shut-off domain's disk is adopted unbound.
    LogWarning("cannot list domains: " + listed.status().ToString());
    return Found();
  }
  auto& doms = *listed;
  for (auto& d : doms)
    for (const auto& disk : d.disks) {
      if (disk.source.empty()) continue;
      auto canon = CanonicalPath(disk.source);
      if (canon.ok() && *canon == path) return Found({d, disk.target});
    }
  return Found();
}

Status Engine::RepointLiveTop(Journal* j, const db::VolumeRecord& vol,
                              const LiveDisk& live,
                              const std::string& backing) {
  const std::string& disk = vol.path;
  const std::string tag = NewUuid().substr(0, 8);
  const std::string old_top = TempPath(disk, "oldtop", tag);
  const std::string new_top = TempPath(disk, "newtop", tag);
  STRATA_ASSIGN_OR_RETURN(Qcow2Header top, ReadQcow2Header(disk));
  if (j) {
    j->state()["old_top"] = old_top;
    j->state()["repoint_backing"] = backing;
    STRATA_RETURN_IF_ERROR(j->Step("repoint.prepare", 100));
  }
  STRATA_RETURN_IF_ERROR(CreateOverlay(
      new_top, backing, "qcow2", top.virtual_size, opts_.overlay_cluster_size));
  if (j) STRATA_RETURN_IF_ERROR(j->Step("repoint.rename_top", 100));
  Status s = RenameDurable(disk, old_top);  // qemu keeps writing the inode
  if (!s.ok()) {
    RemoveFile(new_top);
    return s;
  }
  s = RenameDurable(new_top, disk);
  if (s.ok()) {
    if (j) s = j->Step("repoint.copy", 100);
    if (s.ok()) s = hv_->CopyTopAndPivot(live.domain_uuid, live.target, disk);
  }
  if (!s.ok()) {
    // The domain is still on the old top: give it its name back.
    RenameDurable(old_top, disk);
    RemoveFile(new_top);
    return s.WithContext("repointing " + disk + " onto " + backing);
  }
  if (j) STRATA_RETURN_IF_ERROR(j->Step("repoint.cleanup", 100));
  return RemoveFile(old_top);
}

Status Engine::SyncHypervisorView(Journal* j, const db::VolumeRecord& vol) {
  STRATA_ASSIGN_OR_RETURN(auto live, LiveDiskOf(vol));
  if (!live) return Status::OK();
  STRATA_ASSIGN_OR_RETURN(Chain chain, ReadChain(vol.path, vol.path));
  STRATA_ASSIGN_OR_RETURN(hypervisor::DomainInfo dom,
                          hv_->GetDomain(live->domain_uuid));
  const hypervisor::DomainDisk* disk = nullptr;
  for (const auto& d : dom.disks)
    if (d.target == live->target) disk = &d;
  if (!disk) return Status::NotFound("domain has no disk " + live->target);
  std::vector<std::string> files;
  for (size_t i = 1; i < chain.length(); ++i)
    files.push_back(chain.layers[i].path);
  std::vector<std::string> view;
  for (const auto& p : disk->backing_chain) {
    auto c = CanonicalPath(p);
    view.push_back(c.ok() ? *c : p);
  }
  std::vector<std::string> truth;
  for (const auto& p : files) {
    auto c = CanonicalPath(p);
    truth.push_back(c.ok() ? *c : p);
  }
  if (view == truth || chain.length() < 2) return Status::OK();
  LogInfo("libvirt's chain of " + vol.path +
          " differs from the files; "
          "repointing onto " +
          chain.layers[1].path);
  return RepointLiveTop(j, vol, *live, chain.layers[1].path);
}

}  // namespace strata::engine
