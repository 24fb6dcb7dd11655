// The catalog as a WriteHistorySink: an NBD export's write history
// (R0.11) in the write_history table (docs/catalog-schema.md), so it
// survives restarts.
//
// Thread-safety: as the catalog's (any thread).
#pragma once

#include <memory>

#include "cache/write_history_sink.h"
#include "db/catalog.h"

namespace strata::cache {

// `catalog` must outlive the sink and every WriteHistory using it.
std::shared_ptr<WriteHistorySink> MakeCatalogHistorySink(db::Catalog* catalog);

}  // namespace strata::cache
