// MeteredStore: a decorator that counts what crosses the store for
// /metrics (issue 20): bytes put and got (as the engine gives and takes
// them, before relay stages), each call's duration, and failed calls by
// operation and status code. It is outermost, and forwards CanLink and
// LocalFile: a layer a revert hard-links from the local store moves no
// bytes through the store.
// Thread-safety: as safe as the wrapped store.
#pragma once

#include <memory>

#include "storage-drivers/store.h"

namespace strata::store {

std::unique_ptr<Store> MakeMeteredStore(std::unique_ptr<Store> next);

}  // namespace strata::store
