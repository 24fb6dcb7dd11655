// Where the memory taken with a server's snapshot goes (issue 21, R3.7):
// a region file per snapshot in the memory directory
// ("<snapshot id>.region"), or, when the operator lists raw block devices
// (`[memory] devices`: LUNs, partitions), a device of that pool that no
// snapshot's memory holds. A device has no file system: what is on it is
// said by the region's own superblock (memsnap/region.h), so a device
// given back has its superblock overwritten and never reads as a snapshot
// again, and a snapshot cut short on it never reads as complete.
//
// Thread-safety: Claim is serialised process-wide, so two snapshots never
// get the same device.
#pragma once

#include <string>
#include <vector>

#include "db/catalog.h"
#include "util/fs.h"
#include "util/status.h"

namespace strata::engine {

// The file of snapshot `snap_id`'s region in the memory directory `dir`.
std::string MemoryRegionFile(const std::string& dir,
                             const std::string& snap_id);

// True when `path` is a block device.
bool IsBlockDevice(const std::string& path);

// The first of `devices` that no snapshot's memory holds; Conflict when
// every one does.
Result<std::string> FreeMemoryDevice(db::Catalog* catalog,
                                     const std::vector<std::string>& devices);

// Picks the region of snapshot `snap_id`'s memory and records it in the
// catalog as "writing" for `domain`: a free device of `devices` (in their
// order), or, with none listed, the file in `dir`. Conflict when every
// device holds a snapshot's memory.
Result<std::string> ClaimMemoryRegion(db::Catalog* catalog,
                                      const std::string& dir,
                                      const std::vector<std::string>& devices,
                                      const std::string& snap_id,
                                      const std::string& domain);

// Opens a claimed region to take a snapshot into: a file created empty
// (`*fresh`: it reads as zeros), a device as it is (not fresh).
Result<UniqueFd> OpenRegionForTake(const std::string& region, bool* fresh);

// Gives a region back: a file is removed, a device's superblock zeroed and
// synced. OK when a file is already gone.
Status ReleaseMemoryRegion(const std::string& region);

}  // namespace strata::engine
