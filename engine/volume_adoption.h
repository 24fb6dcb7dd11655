// VolumeAdoption: which disks become volumes and stop being ones: Cinder's
// manage-existing (confined: confinement.h), a server's disks registered on
// first sight, NBD exports' attach state, unmanage.
// Thread-safety: any thread.
#pragma once

#include <string>

#include "engine/chain_maintenance.h"
#include "engine/engine_part.h"
#include "engine/layer_transfer.h"
#include "engine/live_disk.h"

namespace strata::engine {

class VolumeAdoption : public EnginePart {
 public:
  VolumeAdoption(EngineContext& ctx, LiveDisks* live, ChainMaintenance* chain,
                 LayerTransfer* transfer)
      : EnginePart(ctx), live_(live), chain_(chain), transfer_(transfer) {}

  // The Engine's methods of the same names (engine.h).
  Result<db::VolumeRecord> ManageVolume(const ManageRequest& req);
  Result<db::VolumeRecord> ServerDiskVolume(const hypervisor::DomainInfo& dom,
                                            const hypervisor::DomainDisk& disk,
                                            const std::string& default_project);
  void RegisterServerDisks(const std::string& default_project);
  Status SetExportAttached(const std::string& disk, bool attached);
  Status UnmanageVolume(const std::string& volume_id);
  // Cinder's snapshot unmanage: an available snapshot leaves every view
  // (hidden), its stored layer kept (unmanaged), until ManageSnapshot
  // brings it back or its volume is deleted.
  Status UnmanageSnapshot(const std::string& snapshot_id);
  // Cinder's manage-existing snapshot: the unmanaged snapshot
  // `snapshot_id` of `volume_id` is listed again, under its own id, with
  // the given name, description and metadata. InvalidArgument (Cinder's
  // invalid backend reference) for any other id.
  Result<db::SnapshotRecord> ManageSnapshot(const std::string& volume_id,
                                            const std::string& snapshot_id,
                                            const std::string& name,
                                            const std::string& description,
                                            const db::Metadata& metadata);

 private:
  LiveDisks* const live_;
  ChainMaintenance* const chain_;
  LayerTransfer* const transfer_;
};

}  // namespace strata::engine
