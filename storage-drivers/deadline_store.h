// DeadlineStore: a decorator that bounds every call to the store it wraps
// (issue 16, item 4), after RocksDB's per-request IOOptions. Transfers (Put,
// Get) get a stall timeout: no byte moved for that long fails them as
// Unavailable (retryable), however large the object; metadata calls (Stat,
// Delete, List) get a deadline. A caller's own non-zero values win. The
// engine then fails the task as retryable and frees the volume's lease, and
// the API goes on answering.
//
// It is the outermost decorator and forwards LocalFile: it needs to see no
// transfer, so a local store's layers can still be hard-linked.
// Thread-safety: as safe as the wrapped store.
#pragma once

#include <chrono>
#include <memory>

#include "storage-drivers/store.h"

namespace strata::store {

struct StoreLimits {
  std::chrono::seconds stall_timeout{30};
  std::chrono::milliseconds metadata_timeout{60000};
};

std::unique_ptr<Store> MakeDeadlineStore(std::unique_ptr<Store> next,
                                         StoreLimits limits);

}  // namespace strata::store
