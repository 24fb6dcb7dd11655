// Applying a layer's writes to a history file by its extents (R2.8, issue
// 17): the merge's fast path, in place of `qemu-img commit`.
//
// qemu-img commit copies a layer one extent at a time, a read and a write
// through qemu's block layer for each, and a layer of 4 KiB random writes
// holds thousands of extents: 64 MiB of them took 2–3 s per commit here,
// and a merge runs two (docs/engine.md). Where every range the layer holds
// lies in clusters the target already allocates, committing changes none of
// the target's metadata, only the bytes of those clusters, at offsets that
// the images' L2 tables give (qcow2/cluster_map.h). ApplyLayerInto then
// copies the layer's bytes there itself (its zero writes and discards as
// zeroes), which takes a read and a write system call per extent.
//
// It does so only where that is exactly a commit: both images plain qcow2
// (no internal snapshots, whose clusters a write in place would change
// too; no persistent bitmaps, which would go stale; not dirty), the same
// virtual size, and every range the layer holds mapped to the target's
// file. Otherwise it writes nothing and answers NotSupported, and the
// caller commits with qemu-img. The layer is opened read-only: it is never
// changed, so it needs no backup (R2.9) as qemu-img commit's top does.
// Histories are kept preallocated (qemu_img.h, CopyPreallocated) so that the
// fast path is the usual one.
//
// Thread-safety: stateless; calls on different targets may run in parallel.
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace strata::engine {

struct ApplyStats {
  uint64_t extents = 0;  // ranges copied or zeroed
  uint64_t bytes = 0;
};

// Writes what `layer` holds into `target` as `qemu-img commit` of `layer`
// (whose backing is `target`) would, and, when `sync`, fdatasyncs `target`.
// NotSupported (nothing written) when the images are not as the file
// comment says.
[[nodiscard]] Status ApplyLayerInto(const std::string& layer,
                                    const std::string& target, bool sync,
                                    ApplyStats* stats);

}  // namespace strata::engine
