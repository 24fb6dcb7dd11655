// The `strata` CLI's connection to Strata's REST API: a token (from
// Keystone for a password, or given), the volume API's root (the
// catalog's volumev3 endpoint, or --os-endpoint), and JSON calls relative
// to that root whose faults come back as Status values carrying the API's
// own message.
//
// Faults map to the CLI's exit codes (cli/exit_codes.h): 4xx other than
// 401 are the request's fault (InvalidArgument, NotFound, Conflict, …);
// 401, 5xx and a server that does not answer are Unauthenticated or
// Unavailable.
//
// Thread-safety: single-owner.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/cloud_config.h"
#include "util/status.h"

namespace strata::cli {

class ApiClient {
 public:
  // Authenticates (a Keystone password token, unless the config has a
  // token) and finds the API root.
  [[nodiscard]] static Result<ApiClient> Connect(const CloudConfig& config);

  // METHOD root+path with `body` (if any) and extra "Name: value"
  // headers; the answer's JSON (null for an empty body).
  [[nodiscard]] Result<nlohmann::json> Call(
      const std::string& method, const std::string& path,
      const std::optional<nlohmann::json>& body = std::nullopt,
      const std::vector<std::string>& headers = {});

  // The same against the compute API (Nova-shaped servers, /v2.1 beside
  // the volume API's /v3 on the same host and port).
  [[nodiscard]] Result<nlohmann::json> CallCompute(
      const std::string& method, const std::string& path,
      const std::optional<nlohmann::json>& body = std::nullopt,
      const std::vector<std::string>& headers = {});

  const std::string& root() const { return root_; }

 private:
  Result<nlohmann::json> CallUrl(const std::string& method,
                                 const std::string& url,
                                 const std::optional<nlohmann::json>& body,
                                 const std::vector<std::string>& headers);
  std::string token_, root_;
};

}  // namespace strata::cli
