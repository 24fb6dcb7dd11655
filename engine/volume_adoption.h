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

 private:
  LiveDisks* const live_;
  ChainMaintenance* const chain_;
  LayerTransfer* const transfer_;
};

}  // namespace strata::engine
