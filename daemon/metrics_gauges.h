// The gauges stratad's /metrics reads when scraped (util/metrics.h): the
// engine's worker queues, the catalog's snapshots and stored bytes, and
// each NBD export's redirect cache. Owned by stratad's main; they go
// before what they read.
#pragma once

#include <memory>
#include <vector>

#include "api/handlers.h"
#include "engine/engine.h"
#include "util/metrics.h"

namespace strata::daemon {

std::vector<std::unique_ptr<metrics::ScopedGauge>> RegisterGauges(
    engine::Engine* engine, const std::vector<api::NbdExportInfo>& exports);

}  // namespace strata::daemon
