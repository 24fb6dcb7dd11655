// ZstdStore: the compression stage of relay processing (R1.3). A decorator
// over any Store: Put streams the object through zstd on its way to the next
// store, Get decompresses on the way back. Memory stays bounded (one
// compression context and a 1 MiB buffer per transfer), whatever the size.
//
// What the next store holds is a standard zstd frame with zstd's content
// checksum, so `zstd -d` reads it. ObjectInfo (size, sha256) describes those
// stored bytes: the engine records them, checks the store's copy against
// them after an upload (R2.5), and Get verifies them before any decompressed
// byte counts; a truncated or damaged frame is Corruption.
//
// Thread-safety: as safe as the wrapped store; transfers are independent.
#pragma once

#include <memory>

#include "storage-drivers/store.h"

namespace strata::store {

// Wraps `next`; `level` is zstd's (1..19; 3 is zstd's default).
std::unique_ptr<Store> MakeZstdStore(std::unique_ptr<Store> next, int level);

}  // namespace strata::store
