// RateLimitedStore: a decorator that caps the bandwidth of uploads and
// downloads through the store it wraps ([store] max_bytes_per_second), so
// snapshot traffic does not starve the host's network or the store itself.
// Stat, Delete and List pass straight through.
//
// Thread-safety: as safe as the wrapped store; each transfer is paced on its
// own (the cap is per transfer, not shared between concurrent ones).
#pragma once

#include <cstdint>
#include <memory>

#include "storage-drivers/store.h"

namespace strata::store {

// Wraps `next`; bytes_per_second 0 returns `next` unchanged.
std::unique_ptr<Store> MakeRateLimitedStore(std::unique_ptr<Store> next,
                                            uint64_t bytes_per_second);

}  // namespace strata::store
