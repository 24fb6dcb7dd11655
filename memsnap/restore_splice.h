// A memory snapshot's restore image written into a pipe that QEMU reads
// (issue 21, R3.9), its pages spliced from the region instead of copied.
//
// Through write(2) each page is copied three times before QEMU reads it:
// out of the region's page cache, into the stream's buffer, into the pipe.
// Here the record headers are built in memory and the pages stay in the
// region's page cache: vmsplice(2) puts references to both into the pipe,
// and QEMU's read is the only copy, as when it reads a save file. The
// writer so stays ahead of QEMU, whose non-blocking reads of an empty pipe
// each cost it a turn of its main loop.
//
// Thread-safety: a call owns its pipe; the region must not be written
// while QEMU may still read the pipe.
#pragma once

#include "memsnap/region.h"
#include "util/status.h"

namespace strata::memsnap {

// The whole restore image (libvirt's save header first) into the pipe
// `pipe_fd` (blocking). The headers' memory is unmapped when this returns,
// not reused: the pipe's references keep what QEMU has yet to read.
[[nodiscard]] Status SpliceRestoreImage(const RegionReader& region,
                                        int pipe_fd);

}  // namespace strata::memsnap
