// Guest I/O through the chain a section's snapshots leave (issue 17): what
// the overlay layout costs a VM right after a snapshot, measured with
// qemu-img bench (O_DIRECT, queue depth 16, QEMU's own block layer, as a
// VM's virtio-blk uses it). Each run gets a fresh overlay in `layout` on the
// live disk (what a snapshot leaves the VM writing to), so every write is a
// first write, as a VM's are after a snapshot: 4 KiB random writes, then
// 4 KiB random reads through that top and the chain below; on another fresh
// overlay, 1 MiB sequential writes and reads. Each 4 KiB figure is the
// median of `reps` runs, each 1 MiB one of 3 x `reps` (they are short and
// spread more); the overlays are removed.
// Thread-safety: stateless; the disk must not be open elsewhere meanwhile.
#pragma once

#include <cstdint>
#include <string>

#include "engine/qemu_img.h"
#include "util/status.h"

namespace strata::bench {

struct GuestIo {
  double write4k_iops = 0, read4k_iops = 0;
  double write1m_mbs = 0, read1m_mbs = 0;
};

// The same runs on the same chain with the top in two layouts.
struct GuestIoPair {
  GuestIo layout;  // the section's overlay layout (medians)
  GuestIo anchor;  // qemu-img's default layout (64 KiB clusters; medians)
  // The median of each rep's ratio layout / anchor: the two runs of a rep
  // follow each other, so a drift of the machine between reps cancels.
  GuestIo ratio;
};

// `bytes`: what each 4 KiB run moves; the 1 MiB runs move eight times as
// much (at most half the disk): 64 MiB at 1.6 GB/s is a 40 ms run, and
// runs that short moved by ±15% here, in either layout alike. The reps
// of the two layouts alternate, so that both see the same chain and the
// same state of the machine; for a section in qemu's default layout the
// pair is a control of the measurement's own spread.
Result<GuestIoPair> MeasureGuestIo(const std::string& disk, uint64_t disk_bytes,
                                   const engine::OverlayLayout& layout,
                                   uint64_t bytes, int reps);

}  // namespace strata::bench
