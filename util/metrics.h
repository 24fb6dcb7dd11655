// Process-wide metrics in Prometheus' text exposition format (format
// 0.0.4), for stratad's /metrics (issue 20): counters, histograms, and
// gauges read at scrape time from whoever owns the number (a queue's depth,
// a cache's records). Each layer records its own events here (util is the
// bottom layer, so any layer may); only the API layer reads them out.
//
// Names and labels follow Prometheus' conventions: `strata_` prefix, base
// units (seconds, bytes), `_total` for counters. A metric is described once
// (Describe, at start-up or lazily by its first use) and its series are
// keyed by label values.
//
// Thread-safety: every function may be called from any thread. Recording
// takes one mutex for a map update: fine at API-request and task rates, not
// for a per-block I/O path.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace strata::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge, kHistogram };

// Gives the metric its TYPE and HELP lines. Recording into an undescribed
// metric describes it with an empty help.
void Describe(const std::string& name, Type type, const std::string& help);

// Adds `v` (≥ 0) to a counter's series.
void Add(const std::string& name, const Labels& labels, double v = 1);

// Records one observation (in seconds, or the metric's unit) in a
// histogram's series; buckets are fixed per process (kBuckets).
void Observe(const std::string& name, const Labels& labels, double v);
inline constexpr double kBuckets[] = {0.005, 0.025, 0.1, 0.5, 1,   2.5,
                                      5,     10,    30,  60,  300, 1800};

// A gauge read when scraped: `read` returns its series. It replaces an
// earlier reader of the same name, and stays until its ScopedGauge goes
// (declare it after what `read` reads, so it goes first).
using GaugeReader = std::function<std::vector<std::pair<Labels, double>>()>;
class ScopedGauge {
 public:
  ScopedGauge(std::string name, const std::string& help, GaugeReader read);
  ~ScopedGauge();
  ScopedGauge(const ScopedGauge&) = delete;
  ScopedGauge& operator=(const ScopedGauge&) = delete;

 private:
  std::string name_;
  uint64_t token_;
};

// Every metric in the text format, sorted by name and labels.
std::string Exposition();

// One counter series' value (0 when absent): for tests.
double CounterValue(const std::string& name, const Labels& labels);

}  // namespace strata::metrics
