// A server's snapshot with its memory (issue 21, R3): the running VM's
// memory and device state go into a region (engine/memory_snapshot.h; a
// file in the memory directory or a raw device, engine/memory_regions.h), and
// the disk's top is cut while QEMU holds the vCPUs stopped at the end of
// it, so that the disk snapshot and the memory are one instant. The disk's
// part is then stored as any snapshot's (StoreLayer); the region stays
// until the snapshot is deleted.
//
// Journal: step create.memory names the domain before the region is
// claimed and QEMU starts. Recovery (recover.cc) cancels QEMU's migration,
// resumes the domain if it is paused, marks the memory part in error and
// gives the region back; the snapshot then ends as any create cut short before
// its upload.
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/memory_regions.h"
#include "engine/memory_snapshot.h"
#include "engine/snapshot_create.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"

namespace strata::engine {

Result<LiveDisk> SnapshotCreator::MemorySnapshottable(
    const db::VolumeRecord& vol) {
  if (opts_.memory_dir.empty() || !hv_)
    return Status::NotSupported(
        "This stratad takes no memory snapshots (no libvirt, or no memory "
        "directory).");
  if (Held(vol))
    return Status::Conflict(
        "Cannot take the memory of the server of volume " + vol.id +
        ": its disk is served through Strata's NBD export.");
  // Every device taken: refused now, not only once the task claims one.
  if (!opts_.memory_devices.empty())
    STRATA_RETURN_IF_ERROR(
        FreeMemoryDevice(catalog_, opts_.memory_devices).status());
  STRATA_ASSIGN_OR_RETURN(std::optional<LiveDisk> live, live_->LiveDiskOf(vol));
  if (!live)
    return Status::Conflict("Cannot take the memory of the server of volume " +
                            vol.id + ": it is not running.");
  return *live;
}

Status SnapshotCreator::RunCreateWithMemory(Journal& j,
                                            const db::VolumeRecord& vol,
                                            db::SnapshotRecord snap) {
  STRATA_ASSIGN_OR_RETURN(LiveDisk live, MemorySnapshottable(vol));
  // Journalled first: a region claimed (recorded "writing" in the catalog)
  // is then always given back by recovery.
  j.state()["memory_domain"] = live.domain_uuid;
  STRATA_RETURN_IF_ERROR(j.Step("create.memory", 1));
  STRATA_ASSIGN_OR_RETURN(
      const std::string region,
      ClaimMemoryRegion(catalog_, opts_.memory_dir, opts_.memory_devices,
                        snap.id, live.domain_uuid));
  bool fresh = true;
  auto opened = OpenRegionForTake(region, &fresh);
  if (!opened.ok()) {
    LogIfError(
        catalog_->SetSnapshotMemory(snap.id, "error", live.domain_uuid, region,
                                    "{}", opened.status().message()),
        "recording the memory part of snapshot " + snap.id);
    return opened.status();
  }
  UniqueFd fd = std::move(*opened);
  hypervisor::MigrationTuning tuning;
  tuning.downtime_limit_ms = opts_.memory_downtime_ms;
  tuning.max_passes = opts_.memory_max_passes;
  std::optional<Cut> cut;
  auto taken = TakeMemorySnapshot(
      hv_, live.domain_uuid, fd.get(), region, fresh, tuning, [&]() -> Status {
        // The vCPUs stand still: no guest agent can freeze
        // anything now, and a guest frozen here would be
        // restored frozen.
        auto c = CutTop(j, vol, snap.id, /*quiesce=*/false);
        if (!c.ok()) return c.status();
        cut = std::move(*c);
        return Status::OK();
      });
  fd.reset();
  if (!taken.ok()) {
    const Status failed = taken.status().WithContext("the server's memory");
    LogIfError(catalog_->SetSnapshotMemory(snap.id, "error", live.domain_uuid,
                                           region, "{}", failed.message()),
               "recording the memory part of snapshot " + snap.id);
    LogIfError(ReleaseMemoryRegion(region), "giving back region " + region);
    // A cut made: the VM goes back onto its disk's path, and the layer
    // stays in the chain as a failed snapshot's (R2.6).
    if (cut && cut->live)
      LogIfError(live_->LivePivotBack(j, vol, *cut->live, cut->layer, cut->size,
                                      cut->live_cut),
                 "moving the VM back onto " + vol.path);
    return failed;
  }
  if (fresh) STRATA_RETURN_IF_ERROR(FsyncDir(opts_.memory_dir));
  const MemorySnapshotResult& r = *taken;
  const nlohmann::json figures = {
      {"region_bytes", r.layout.bytes}, {"slots", r.layout.pages},
      {"pages", r.stream.pages},        {"zero_pages", r.stream.zero_pages},
      {"stream_bytes", r.stream.bytes}, {"passes", r.qemu.dirty_syncs},
      {"forced_pause", r.forced_pause}, {"vm_paused_ms", r.vm_paused_ms},
      {"cut_ms", r.at_pause_ms},        {"total_ms", r.total_ms}};
  STRATA_RETURN_IF_ERROR(catalog_->SetSnapshotMemory(
      snap.id, "complete", live.domain_uuid, region, figures.dump()));
  LogInfo("snapshot " + snap.id + ": the memory of domain " + live.domain_uuid +
          " is in " + region + " (" + figures.dump() + ")");
  if (!cut) return Status::Internal("the disk was not cut with the memory");
  return StoreLayer(j, vol, std::move(snap), *cut);
}

}  // namespace strata::engine
