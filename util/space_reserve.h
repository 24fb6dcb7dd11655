// Disk space held past a file's end for the writes it is about to get.
//
// A qcow2 overlay grows at its end: each cluster qemu allocates is new
// space in the file, and with subclusters (issue 17) a 4 KiB first write
// fills 4 KiB of a 64 KiB cluster and leaves the rest a hole. On ext4 each
// such write then pays for a block allocation of its own, and the guest's
// 4 KiB first writes ran at 0.82-0.95x qemu's default layout (measured,
// docs/engine.md). Blocks the file already holds past its end
// (fallocate(FALLOC_FL_KEEP_SIZE)) turn each of those allocations into the
// conversion of a reserved extent, as XFS's speculative preallocation does
// by itself: 1.01-1.17x. The reservation is not data: the file's size, its
// content and what SEEK_DATA reports are unchanged, and it is handed back
// (ftruncate to the same size frees the blocks past the end) once the file
// stops growing.
//
// Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace strata {

// Reserves `bytes` past the end of `fd` when the file system supports it and
// keeps at least four times `bytes` free besides; returns the bytes
// reserved (0: not supported, or too little free space: not an error, the
// reservation only saves time).
[[nodiscard]] Result<uint64_t> ReserveSpacePastEnd(int fd, uint64_t bytes);

// Frees whatever `fd` holds past its end (a no-op when it holds nothing).
[[nodiscard]] Status ReleaseSpacePastEnd(int fd);
// The same for the file at `path` (opened with OpenFileNoSymlinks).
[[nodiscard]] Status ReleaseSpacePastEnd(const std::string& path);

}  // namespace strata
