// The metrics registry's text exposition (util/metrics.h): counters by
// label set, cumulative histogram buckets with +Inf, _sum and _count,
// escaped label values, and gauges read at scrape time that go with their
// ScopedGauge (a later one of the same name is kept). That Prometheus'
// own parser accepts stratad's /metrics is
// tests/integration/test-healthcheck-metrics.sh.
#include "util/metrics.h"

#include <doctest/doctest.h>

#include <memory>

using namespace strata;

namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos ||
         text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST_CASE("counters add per label set, with escaped values") {
  metrics::Describe("test_requests_total", metrics::Type::kCounter,
                    "Requests.");
  metrics::Add("test_requests_total", {{"code", "200"}, {"route", "/a"}});
  metrics::Add("test_requests_total", {{"code", "200"}, {"route", "/a"}}, 2);
  metrics::Add("test_requests_total",
               {{"code", "404"}, {"route", "q\"x\\y\nz"}});
  const std::string text = metrics::Exposition();
  CHECK(Has(text, "# HELP test_requests_total Requests."));
  CHECK(Has(text, "# TYPE test_requests_total counter"));
  CHECK(Has(text, "test_requests_total{code=\"200\",route=\"/a\"} 3"));
  CHECK(Has(text,
            "test_requests_total{code=\"404\",route=\"q\\\"x\\\\y\\nz\"} 1"));
  CHECK(metrics::CounterValue("test_requests_total",
                              {{"code", "200"}, {"route", "/a"}}) == 3);
  CHECK(metrics::CounterValue("test_requests_total", {{"code", "500"}}) == 0);
}

TEST_CASE("histograms are cumulative, with +Inf, sum and count") {
  metrics::Observe("test_seconds", {{"op", "put"}}, 0.004);
  metrics::Observe("test_seconds", {{"op", "put"}}, 0.3);
  metrics::Observe("test_seconds", {{"op", "put"}}, 4000);
  const std::string text = metrics::Exposition();
  CHECK(Has(text, "# TYPE test_seconds histogram"));
  CHECK(Has(text, "test_seconds_bucket{op=\"put\",le=\"0.005\"} 1"));
  CHECK(Has(text, "test_seconds_bucket{op=\"put\",le=\"0.1\"} 1"));
  CHECK(Has(text, "test_seconds_bucket{op=\"put\",le=\"0.5\"} 2"));
  CHECK(Has(text, "test_seconds_bucket{op=\"put\",le=\"1800\"} 2"));
  CHECK(Has(text, "test_seconds_bucket{op=\"put\",le=\"+Inf\"} 3"));
  CHECK(Has(text, "test_seconds_sum{op=\"put\"} 4000.304"));
  CHECK(Has(text, "test_seconds_count{op=\"put\"} 3"));
}

TEST_CASE("a gauge is read at each scrape and goes with its owner") {
  double value = 1;
  {
    metrics::ScopedGauge g("test_depth", "Depth.", [&value] {
      return std::vector<std::pair<metrics::Labels, double>>{
          {{{"pool", "runner"}}, value}};
    });
    CHECK(Has(metrics::Exposition(), "test_depth{pool=\"runner\"} 1"));
    value = 7;
    CHECK(Has(metrics::Exposition(), "test_depth{pool=\"runner\"} 7"));
    // A second owner of the name replaces the first, and outlives it.
    auto second =
        std::make_unique<metrics::ScopedGauge>("test_depth", "Depth.", [] {
          return std::vector<std::pair<metrics::Labels, double>>{{{}, 42}};
        });
    {
      metrics::ScopedGauge third("test_other", "Other.", [] {
        return std::vector<std::pair<metrics::Labels, double>>{{{}, 5}};
      });
    }
    CHECK(Has(metrics::Exposition(), "test_depth 42"));
    CHECK(metrics::Exposition().find("test_other") == std::string::npos);
    second.reset();
    CHECK(metrics::Exposition().find("test_depth") == std::string::npos);
  }
  CHECK(metrics::Exposition().find("test_depth") == std::string::npos);
}
