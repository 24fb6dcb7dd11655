// Reporting to Cinder. See cinder_snapshot_status.h.
#include "openstack-integration/cinder_snapshot_status.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "http/http_exchange.h"
#include "util/log.h"

namespace strata::openstack {

std::string ExpandEndpointTemplate(const std::string& tmpl,
                                   const std::string& project_id) {
  std::string out = tmpl;
  for (const std::string key : {"%(project_id)s", "%(tenant)s"})
    for (size_t at = out.find(key); at != std::string::npos;
         at = out.find(key, at + project_id.size()))
      out.replace(at, key.size(), project_id);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

Status UpdateSnapshotStatus(const CinderEndpoint& cinder,
                            const std::string& snapshot_id,
                            const std::string& status,
                            const std::string& progress) {
  const std::string url = cinder.url + "/snapshots/" + snapshot_id + "/action";
  const std::string body =
      nlohmann::json{{"os-update_snapshot_status",
                      {{"status", status}, {"progress", progress}}}}
          .dump();
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(attempt));
    http::HttpExchange x;
    x.headers = {"Content-Type: application/json", "Accept: application/json"};
    if (!cinder.token.empty())
      x.headers.push_back("X-Auth-Token: " + cinder.token);
    if (!cinder.request_id.empty())
      x.headers.push_back("X-OpenStack-Request-ID: " + cinder.request_id);
    x.body = &body;
    const Deadline deadline(std::chrono::seconds(30), std::chrono::seconds(0));
    auto code = http::HttpPerform("POST", url, &x, deadline);
    if (code.ok() && *code == 202) {
      LogInfo("told Cinder: snapshot " + snapshot_id + " " + status + " " +
              progress);
      return Status::OK();
    }
    last = code.ok() ? http::HttpError(*code,
                                       "Cinder's os-update_snapshot_status "
                                       "of snapshot " +
                                           snapshot_id,
                                       x.small_body)
                     : code.status();
    if (!last.retryable()) break;
  }
  return last;
}

}  // namespace strata::openstack
