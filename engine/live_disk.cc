// Disks of running domains (R2.2, R2.3, R2.8 live).
//
// Cut-over (PrepareLiveSwitch, SwitchLive, then LivePivotBack; the
// snapshot task runs them through CutTop and StoreLayer). Renaming the top
// under a running qemu and then switching it to a new overlay at the old path
// LOSES WRITES: during the switch qemu reopens the old top read-only by its
// path, which then names the new overlay (found with the test guest: the
// records in flight at the switch vanished). So the old path must keep naming
// the old top until qemu has switched:
//   1. link(disk, snap-<S>): the top gets its snapshot name as a 2nd name;
//   2. libvirt external disk-only snapshot onto a temporary overlay whose
//      backing file is snap-<S> (qemu reopens the old top by `disk`: still
//      the right file);
//   3. a new empty overlay on snap-<S> is renamed over the disk's path (the
//      old top is now only snap-<S>);
//   4. a shallow block copy with pivot moves the temporary overlay's writes
//      (the few since step 2) into it: the VM is back on the disk's path.
// Repoint (RepointLiveTop), for a history merge or to resync libvirt's view
// (libvirt does not re-read headers after a snapshot): by the same rule,
// first a shallow copy + pivot onto a temporary overlay on the new backing
// file, then a fresh overlay takes the disk's path and a second pivot moves
// the VM onto it. Each copy moves only the top's own few writes, and after
// a pivot libvirt reads the chain from the files, so its view matches them.
#include "engine/live_disk.h"

#include "engine/chain.h"
#include "engine/layer_names.h"
#include "engine/qemu_img.h"
#include "qcow2/qcow2_header.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/uuid.h"

namespace strata::engine {

Result<std::optional<LiveDisk>> LiveDisks::LiveDiskOf(
    const db::VolumeRecord& vol) {
  // A held chain reaches its VM through Strata's NBD export: libvirt's disk
  // is the socket, not these files.
  if (!hv_ || !vol.domain_uuid || !vol.disk_target || Held(vol))
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
LiveDisks::DomainUsing(const std::string& path) {
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

Result<std::string> LiveDisks::PrepareLiveSwitch(Journal& j,
                                                 const db::VolumeRecord& vol,
                                                 const std::string& layer,
                                                 uint64_t virtual_size) {
  const std::string& disk = vol.path;
  const std::string tag = NewUuid().substr(0, 8);
  const std::string cut = TempPath(disk, "cut", tag);
  j.state()["cut"] = cut;
  STRATA_RETURN_IF_ERROR(j.Step("create.link_top", 2));
  STRATA_RETURN_IF_ERROR(LinkNoSymlinks(disk, layer));
  Status s = FsyncDir(DirName(disk));
  if (s.ok())
    s = CreateOverlay(cut, layer, "qcow2", virtual_size, opts_.overlay);
  if (s.ok()) s = j.Step("create.switch_vm", 4);
  if (!s.ok()) {
    UndoLiveSwitch(layer, cut);
    return s.WithContext("cut-over of the running VM");
  }
  return cut;
}

Status LiveDisks::SwitchLive(const LiveDisk& live, const std::string& cut) {
  Status s = hv_->SwitchToOverlay(live.domain_uuid, live.target, cut,
                                  live.has_guest_agent);
  if (!s.ok()) return s.WithContext("cut-over of the running VM");
  // From here the VM writes to `cut`; the old top is quiet, named twice.
  LogInfo("cut-over: VM " + live.domain_uuid + " writes to a new overlay");
  return Status::OK();
}

void LiveDisks::UndoLiveSwitch(const std::string& layer,
                               const std::string& cut) {
  // `cut` may not exist (its creation failed); `layer` is a second name of
  // the top, which keeps its own.
  if (PathExists(cut))
    LogIfError(RemoveFileNoSymlinks(cut),
               "cleanup (garbage collection retries)");
  LogIfError(RemoveFileNoSymlinks(layer),
             "cleanup (garbage collection retries)");
}

Status LiveDisks::LivePivotBack(Journal& j, const db::VolumeRecord& vol,
                                const LiveDisk& live, const std::string& layer,
                                uint64_t virtual_size, const std::string& cut) {
  const std::string& disk = vol.path;
  STRATA_RETURN_IF_ERROR(j.Step("create.install_overlay", 6));
  STRATA_RETURN_IF_ERROR(PivotOntoDisk(&j, "create.pivot_back", vol, live,
                                       layer, virtual_size, cut));
  LogInfo("cut-over: VM " + live.domain_uuid + " back on " + disk);
  return Status::OK();
}

Status LiveDisks::PivotOntoDisk(Journal* j, const char* step,
                                const db::VolumeRecord& vol,
                                const LiveDisk& live,
                                const std::string& backing,
                                uint64_t virtual_size,
                                const std::string& from) {
  const std::string& disk = vol.path;
  const std::string fresh = TempPath(disk, "overlay", NewUuid().substr(0, 8));
  STRATA_RETURN_IF_ERROR(
      CreateOverlay(fresh, backing, "qcow2", virtual_size, opts_.overlay));
  STRATA_RETURN_IF_ERROR(RenameDurableNoSymlinks(fresh, disk));
  if (j && step) STRATA_RETURN_IF_ERROR(j->Step(step, 8));
  Status s = hv_->CopyTopAndPivot(live.domain_uuid, live.target, disk);
  if (!s.ok())
    return s.WithContext("moving the VM back onto " + disk + " (it runs on " +
                         from + ")");
  return RemoveFileNoSymlinks(from);
}

Status LiveDisks::RepointLiveTop(Journal* j, const db::VolumeRecord& vol,
                                 const LiveDisk& live,
                                 const std::string& backing) {
  const std::string& disk = vol.path;
  const std::string tag = NewUuid().substr(0, 8);
  const std::string away = TempPath(disk, "repoint", tag);
  STRATA_ASSIGN_OR_RETURN(qcow2::Qcow2Header top, qcow2::ReadQcow2Header(disk));
  if (j) {
    j->state()["repoint_away"] = away;
    j->state()["repoint_backing"] = backing;
    STRATA_RETURN_IF_ERROR(j->Step("repoint.away", 100));
  }
  // 1. Pivot onto a temporary overlay on `backing`; the disk's path keeps
  //    naming the old top while qemu still holds it.
  Status s =
      CreateOverlay(away, backing, "qcow2", top.virtual_size, opts_.overlay);
  if (s.ok()) s = hv_->CopyTopAndPivot(live.domain_uuid, live.target, away);
  if (!s.ok()) {
    LogIfError(RemoveFileNoSymlinks(away),
               "cleanup (garbage collection retries)");
    return s.WithContext("repointing " + disk + " onto " + backing);
  }
  // 2. A fresh overlay takes the path (the old top is no longer in use) and
  //    the VM pivots back onto it.
  if (j) STRATA_RETURN_IF_ERROR(j->Step("repoint.back", 100));
  return PivotOntoDisk(nullptr, nullptr, vol, live, backing, top.virtual_size,
                       away);
}

Status LiveDisks::ReconcileLiveDisk(const db::VolumeRecord& vol) {
  STRATA_ASSIGN_OR_RETURN(auto live, LiveDiskOf(vol));
  if (!live) return Status::OK();
  STRATA_RETURN_IF_ERROR(hv_->AbortBlockJob(live->domain_uuid, live->target));
  STRATA_ASSIGN_OR_RETURN(hypervisor::DomainInfo dom,
                          hv_->GetDomain(live->domain_uuid));
  std::string source;
  for (const auto& d : dom.disks)
    if (d.target == live->target) source = d.source;
  auto canon = CanonicalPath(source);
  if (source.empty() || (canon.ok() && *canon == vol.path)) return Status::OK();
  if (!IsTempOf(vol.path, source))
    return Status::Conflict("the VM's disk " + live->target + " runs on " +
                            source + ", not on " + vol.path);
  // The VM was left on a temporary overlay (cut-over or repoint interrupted).
  STRATA_ASSIGN_OR_RETURN(qcow2::Qcow2Header h, qcow2::ReadQcow2Header(source));
  std::string backing = h.backing_file;
  if (!backing.empty() && backing[0] != '/')
    backing = JoinPath(DirName(source), backing);
  LogWarning("recovery: the VM runs on " + source + "; moving it back onto " +
             vol.path);
  return PivotOntoDisk(nullptr, nullptr, vol, *live, backing, h.virtual_size,
                       source);
}

Status LiveDisks::SyncHypervisorView(Journal* j, const db::VolumeRecord& vol) {
  STRATA_ASSIGN_OR_RETURN(auto live, LiveDiskOf(vol));
  if (!live) return Status::OK();
  STRATA_ASSIGN_OR_RETURN(Chain chain,
                          ReadChain(vol.path, vol.path, confinement_));
  STRATA_ASSIGN_OR_RETURN(hypervisor::DomainInfo dom,
                          hv_->GetDomain(live->domain_uuid));
  const hypervisor::DomainDisk* disk = nullptr;
  for (const auto& d : dom.disks)
    if (d.target == live->target) disk = &d;
  if (!disk) return Status::NotFound("domain has no disk " + live->target);
  auto canonical = [](const std::string& p) {
    auto c = CanonicalPath(p);
    return c.ok() ? *c : p;
  };
  std::vector<std::string> view, truth;
  for (const auto& p : disk->backing_chain) view.push_back(canonical(p));
  for (size_t i = 1; i < chain.length(); ++i)
    truth.push_back(canonical(chain.layers[i].path));
  if (view == truth || chain.length() < 2) return Status::OK();
  LogInfo("libvirt's chain of " + vol.path +
          " differs from the files; "
          "repointing onto " +
          chain.layers[1].path);
  return RepointLiveTop(j, vol, *live, chain.layers[1].path);
}

}  // namespace strata::engine
