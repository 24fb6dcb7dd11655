// PeerClient: one compute host's stratad as a group snapshot's coordinator
// calls it over REST (issue 22, R4.3–R4.4): whether a server runs there,
// the phases of its part of the cut (api/group_cuts.cc), and the status of
// its row of the group snapshot. Every host is called this way, the
// coordinator's own included, so each host's part runs as one code path.
// Errors: a connection failure or 5xx is Unavailable; a 4xx is returned
// with the host's fault message (409 Conflict, 404 NotFound, else
// InvalidArgument).
// Thread-safety: const methods from any thread (each call its own
// exchange).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/status.h"

namespace strata::coordinator {

class PeerClient {
 public:
  // `url`: the host's API root, e.g. http://10.0.0.2:8786; `token` is sent
  // as X-Auth-Token (the caller's own, as Nova calls Cinder).
  PeerClient(std::string url, std::string token);

  const std::string& url() const { return url_; }
  // True when GET /v2.1/servers/{uuid} finds it there.
  Result<bool> HasServer(const std::string& uuid) const;
  // POST /v3/os-strata-group-cuts {"group_cut": body}: the host's report
  // once its writers are held.
  Result<nlohmann::json> Hold(const nlohmann::json& body) const;
  // POST …/{id}/action {action: {}}: "cut", "release" or "abort".
  Result<nlohmann::json> Act(const std::string& id,
                             const std::string& action) const;
  // Where the host's member snapshots of group snapshot `id` stand
  // (GET …/os-strata-group-cuts/{id}: "creating", "available", "error").
  Result<std::string> MembersStatus(const std::string& id) const;
  // DELETE /v3/group_snapshots/{id} of the host's part only
  // (X-Strata-Group-Part: `instance`): true once gone or never there,
  // false when the host is the coordinator itself (its part is not
  // deleted this way).
  Result<bool> DeletePart(const std::string& id,
                          const std::string& instance) const;

 private:
  // The answer's code and JSON body (null when not JSON).
  Result<std::pair<long, nlohmann::json>> Call(
      const std::string& method, const std::string& path,
      const nlohmann::json* body, std::chrono::milliseconds timeout,
      const std::vector<std::string>& extra_headers = {}) const;
  Status Fault(long code, const std::string& what,
               const nlohmann::json& body) const;

  std::string url_, token_;
};

}  // namespace strata::coordinator
