// CatalogRebuilder: a catalog lost with its host, rebuilt from what the
// store keeps with each layer (issue 23; R1.4). Stores that keep a Put's
// labels (swift) give back, for every stored layer, its volume, snapshot,
// parent, project, names, sizes, creation time and the disk's path
// (snapshot_create.cc sets them); this part turns them into volume and
// snapshot rows:
//  - each stored layer with a SHA-256 becomes an available snapshot
//    (store_key, location, digest, size, parent, covers) unless the
//    catalog has it already;
//  - a volume the catalog lacks is added at its recorded disk path. If the
//    disk is there, its chain says the rest, as for a managed disk: the
//    newest stored snapshot in the chain is its head, the first file that
//    is not Strata's its base, and a domain using it makes it in-use. If
//    the disk is gone, the volume is in error (its snapshots can still
//    make new volumes).
// A snapshot's memory (issue 21), stored beside its layer with the
// server's id, comes back with it: restorable, from this host's region if
// the memory directory still holds it, else from the store's copy. What
// the take measured (passes, pause) is not kept, and a region that was a
// raw device comes back as a file.
// What the store does not keep is not rebuilt: user metadata and
// descriptions, backups, groups, and which stored layers users had deleted
// while descendants still needed them (they come back as snapshots); the
// layer's own digest under relay stages (the stored bytes' SHA-256 is still
// checked on every download, and AES-GCM authenticates each block).
//
// Thread-safety: run alone, before requests are served (stratad
// --rebuild-catalog).
#pragma once

#include <string>

#include "engine/engine_part.h"
#include "engine/live_disk.h"

namespace strata::engine {

struct RebuildReport {
  int volumes_added = 0, snapshots_added = 0;
  int snapshots_known = 0;  // in the catalog already
  int skipped = 0;          // stored objects that are not complete layers
  int memory_added = 0;     // added snapshots that got their memory back
};

class CatalogRebuilder : public EnginePart {
 public:
  CatalogRebuilder(EngineContext& ctx, LiveDisks* live)
      : EnginePart(ctx), live_(live) {}
  [[nodiscard]] Result<RebuildReport> Rebuild();

 private:
  // A volume row for `volume_id` from its layers' labels and, when the
  // disk is there, its chain.
  Result<db::VolumeRecord> VolumeFrom(
      const std::string& volume_id,
      const std::vector<store::ObjectInfo>& layers);
  // Records the stored memory `o` as snapshot `snapshot_id`'s: complete,
  // the server's, its region this host's file for the snapshot (kept if
  // the memory directory still holds it whole, else made again from the
  // store's copy by the first restore).
  Status AddMemory(const std::string& snapshot_id, const store::ObjectInfo& o);
  LiveDisks* const live_;
};

}  // namespace strata::engine
