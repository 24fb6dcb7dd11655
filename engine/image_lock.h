// Whether a QEMU process holds an image open for writing, read from QEMU's
// own image locks instead of from a tool's error text. QEMU (file-posix,
// locking=auto) takes an open file description (OFD) shared lock on byte
// 100 + bit for each permission it holds; BLK_PERM_WRITE is bit 1, so a
// writer (a running VM, qemu-nbd, qemu-storage-daemon) holds byte 101. See
// QEMU's block/file-posix.c (raw_apply_lock_bytes).
// Thread-safety: stateless.
#pragma once

#include <string>

#include "util/status.h"

namespace strata::engine {

// True when some process holds QEMU's write-permission lock on `path`.
// IoError when the file cannot be opened or the lock not queried.
[[nodiscard]] Result<bool> QemuHoldsForWriting(const std::string& path);

}  // namespace strata::engine
