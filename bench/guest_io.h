// Guest I/O through the chain a section's snapshots leave (issue 17): what
// the overlay layout costs a VM, measured with qemu-img bench (O_DIRECT,
// queue depth 16, QEMU's own block layer, as a VM's virtio-blk uses it) on
// the live disk: 4 KiB random first writes into the fresh top, 4 KiB random
// reads through the top and the history, 1 MiB sequential writes and reads.
// Each figure is the median of `reps` runs.
// Thread-safety: stateless; the disk must not be open elsewhere meanwhile.
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace strata::bench {

struct GuestIo {
  double write4k_iops = 0, read4k_iops = 0;
  double write1m_mbs = 0, read1m_mbs = 0;
};

// Writes change the disk: run it when nothing checks its data any more.
// `bytes`: what each run moves (4 KiB runs and 1 MiB runs alike).
Result<GuestIo> MeasureGuestIo(const std::string& disk, uint64_t disk_bytes,
                               uint64_t bytes, int reps);

}  // namespace strata::bench
