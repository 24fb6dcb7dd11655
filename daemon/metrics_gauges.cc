// stratad's scrape-time gauges. See metrics_gauges.h.
#include "daemon/metrics_gauges.h"

namespace strata::daemon {

std::vector<std::unique_ptr<metrics::ScopedGauge>> RegisterGauges(
    engine::Engine* engine, const std::vector<api::NbdExportInfo>& exports) {
  using metrics::Labels;
  using Series = std::vector<std::pair<Labels, double>>;
  std::vector<std::unique_ptr<metrics::ScopedGauge>> out;
  auto add = [&out](const char* name, const char* help,
                    metrics::GaugeReader read) {
    out.push_back(
        std::make_unique<metrics::ScopedGauge>(name, help, std::move(read)));
  };
  add("strata_task_queue_depth",
      "Jobs waiting for a worker, by pool (runner: snapshots, reverts, "
      "rollbacks; reaper: merges; remover: store deletes).",
      [engine] {
        Series s;
        for (const auto& l : engine->RunnerLoads())
          s.push_back({{{"pool", l.name}}, static_cast<double>(l.queued)});
        return s;
      });
  add("strata_task_workers_busy", "Jobs running now, by pool.", [engine] {
    Series s;
    for (const auto& l : engine->RunnerLoads())
      s.push_back({{{"pool", l.name}}, static_cast<double>(l.running)});
    return s;
  });
  add("strata_snapshots", "Snapshots in the catalog, by status.", [engine] {
    Series s;
    auto totals = engine->catalog()->SnapshotTotalsByStatus();
    if (totals.ok())
      for (const auto& [status, n] : totals->count_by_status)
        s.push_back({{{"status", status}}, static_cast<double>(n)});
    return s;
  });
  add("strata_stored_bytes",
      "Bytes the available snapshots' stored layers hold (R2.5: what was "
      "written, not the disks' size).",
      [engine] {
        auto totals = engine->catalog()->SnapshotTotalsByStatus();
        return Series{
            {{}, totals.ok() ? static_cast<double>(totals->stored_bytes) : 0}};
      });
  std::vector<std::pair<std::string, std::shared_ptr<cache::RedirectCache>>>
      caches;
  for (const auto& e : exports)
    if (e.cache) caches.emplace_back(e.name, e.cache);
  if (caches.empty()) return out;
  add("strata_cache_records",
      "Writes held in an NBD export's redirect cache, not yet written back "
      "(R0).",
      [caches] {
        Series s;
        for (const auto& [name, c] : caches)
          s.push_back({{{"export", name}},
                       static_cast<double>(c->GetStatus().records)});
        return s;
      });
  add("strata_cache_bytes", "Bytes of those writes.", [caches] {
    Series s;
    for (const auto& [name, c] : caches)
      s.push_back(
          {{{"export", name}}, static_cast<double>(c->GetStatus().bytes)});
    return s;
  });
  add("strata_cache_state",
      "1 for the state each export's redirect cache is in (bypass, "
      "redirect, draining, blocked).",
      [caches] {
        Series s;
        for (const auto& [name, c] : caches)
          s.push_back({{{"export", name},
                        {"state", cache::CacheStateName(c->GetStatus().state)}},
                       1});
        return s;
      });
  return out;
}

}  // namespace strata::daemon
