// GET /metrics: every metric of util/metrics.h in Prometheus' text
// exposition format (0.0.4), for a Prometheus server's scrape. Like
// /healthcheck it answers before authentication (a scraper holds no
// Keystone token); it names no project's resources, only counts, routes
// and pools. docs/operations.md lists the metrics.
#include "api/handlers.h"
#include "util/metrics.h"

namespace strata::api {

void AddMetricsRoute(Router& r) {
  metrics::Describe("strata_api_requests_total", metrics::Type::kCounter,
                    "API requests answered, by method, route pattern and "
                    "HTTP status.");
  metrics::Describe("strata_api_request_duration_seconds",
                    metrics::Type::kHistogram,
                    "From a request's arrival to its answer, by method and "
                    "route pattern.");
  r.Add("GET", "/metrics", [](ApiRequest&) -> HandlerResult {
    return ApiResponse::Text(200, metrics::Exposition(),
                             "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace strata::api
