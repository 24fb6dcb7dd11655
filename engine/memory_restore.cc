// A server restored from a snapshot with memory (issue 21, R3.9): its disk
// reverted to the snapshot (RunRevert, as a rebuild does), then the domain
// started again from the memory taken at the disk's cut instant
// (RestoreMemorySnapshot), so it carries on where it was, its processes
// running, its disk at the same instant.
//
// Journal "memory_restore": memory_restore.fetch (only when the region is
// gone or damaged here: it comes again from the store's copy, before
// anything changes), memory_restore.power_off, the revert's own steps,
// memory_restore.resume. Recovery removes what a fetch left and settles
// the revert as a rebuild's (recover.cc); the domain is left off then, and
// the restore can be asked again.

#include "engine/memory_snapshot.h"
#include "engine/revert.h"
#include "util/log.h"

namespace strata::engine {

Status Reverter::RestoreServerMemory(const std::string& domain_uuid,
                                     const std::string& volume_id,
                                     const std::string& snapshot_id) {
  if (!hv_) return Status::NotSupported("no hypervisor: nothing to restore");
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord snap,
                          catalog_->GetSnapshot(snapshot_id));
  STRATA_RETURN_IF_ERROR(CheckRevertable(vol, snap));
  if (snap.memory_state != "complete")
    return Status::Conflict(
        "Snapshot " + snap.id + " holds no memory of a server" +
        (snap.memory_state.empty()
             ? ""
             : " (its memory is " + snap.memory_state + ")") +
        ".");
  if (snap.memory_domain != domain_uuid)
    return Status::Conflict("Snapshot " + snap.id + " holds the memory of " +
                            "server " + snap.memory_domain + ", not of " +
                            domain_uuid + ".");
  const std::string region = snap.memory_region;
  // The region must read back whole before the disk is touched, or come
  // from the store's copy first.
  const Status checked = CheckMemoryRegion(region);
  const bool fetch = !checked.ok();
  if (fetch && snap.memory_store_key.empty())
    return Status::Conflict("The memory of snapshot " + snap.id +
                            " cannot be restored: " + checked.message());
  STRATA_ASSIGN_OR_RETURN(auto lease,
                          locks_.TryAcquire(vol.id, "a memory restore"));
  STRATA_ASSIGN_OR_RETURN(
      Journal j, Journal::Begin(catalog_, "memory_restore", vol.id, snap.id));
  j.state()["domain"] = domain_uuid;
  j.state()["region"] = region;
  const std::string fifo_dir = opts_.memory_dir;
  return LaunchRevertTask(
      lease, j, vol, snap,
      [this, vol, snap, domain_uuid, region, fifo_dir, fetch](Journal& j) {
        if (fetch) {
          STRATA_RETURN_IF_ERROR(j.Step("memory_restore.fetch", 1));
          STRATA_RETURN_IF_ERROR(FetchMemoryRegion(
              *store_, snap.memory_store_key, snap.memory_store_sha256, region,
              FetchScratch(fifo_dir, snap.id)));
        }
        STRATA_RETURN_IF_ERROR(j.Step("memory_restore.power_off", 2));
        STRATA_RETURN_IF_ERROR(hv_->PowerOff(domain_uuid));
        STRATA_RETURN_IF_ERROR(RunRevert(j, vol, snap));
        STRATA_RETURN_IF_ERROR(j.Step("memory_restore.resume", 90));
        STRATA_RETURN_IF_ERROR(RestoreMemorySnapshot(hv_, region, fifo_dir)
                                   .WithContext("the server's memory"));
        LogInfo("server " + domain_uuid + " restored with its memory from " +
                "snapshot " + snap.id);
        return Status::OK();
      },
      "memory restore of server " + domain_uuid);
}

}  // namespace strata::engine
