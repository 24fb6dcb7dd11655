// The request and response types every API handler sees.
//
// The cpprestsdk edge (server.cc) turns an http_request into an ApiRequest —
// parsed path, query, JSON body, request id, caller context, microversion —
// and an ApiResponse (or a Status, rendered as an OpenStack fault) back into
// a reply. Handlers never see cpprestsdk types or exceptions.
// Thread-safety: values, one per request.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/policy_rules.h"
#include "util/status.h"

namespace strata::api {

class Policy;

// A negotiated microversion, e.g. 3.40.
struct Microversion {
  int major = 3;
  int minor = 0;
  bool AtLeast(int mj, int mn) const {
    return major > mj || (major == mj && minor >= mn);
  }
  std::string ToString() const {
    return std::to_string(major) + "." + std::to_string(minor);
  }
};

// Who is calling (from the auth middleware).
// One endpoint of the token's service catalog (Keystone auth only).
struct CatalogEndpoint {
  std::string type, name, interface, region, url;
};

struct RequestContext {
  std::string user_id;
  std::string project_id;
  std::vector<std::string> roles;
  // The policy's context_is_admin, set by the server after authentication.
  bool is_admin = false;
  // The server's policy (policy.h); nullptr only before authentication.
  const Policy* policy = nullptr;
  // The token's service catalog, where Strata finds the services it calls
  // on the caller's behalf (Cinder), as Nova does. Empty under noauth.
  std::vector<CatalogEndpoint> catalog;
  bool HasRole(const std::string& r) const;
  // policy->Enforce(rule, *this, target): OK or PermissionDenied (403).
  [[nodiscard]] Status Enforce(const std::string& rule,
                               const PolicyTarget& target = {}) const;
};

struct ApiRequest {
  std::string method;  // GET, POST, …
  std::string path;    // decoded path, no query
  // The route pattern that matched ("/v3/volumes/{id}"), set by the
  // router: the metrics' route label. "" when none did.
  std::string route;
  std::vector<std::string> segments;           // path split on '/'
  std::map<std::string, std::string> query;    // last value wins
  std::map<std::string, std::string> headers;  // lower-case names
  std::string raw_body;
  nlohmann::json body;  // parsed JSON, null when there is no body
  std::string request_id;
  std::string base_url;  // scheme://host:port, for links
  RequestContext ctx;
  Microversion version;
  std::map<std::string, std::string> params;  // {name} path parameters

  std::string Header(const std::string& lower_name) const;
  std::optional<std::string> Query(const std::string& name) const;
};

struct ApiResponse {
  int status = 200;
  nlohmann::json body;  // null: empty body
  std::map<std::string, std::string> headers;
  // Set: the body is this text of `content_type` instead of `body`'s JSON
  // (/healthcheck's text and HTML, /metrics' exposition format).
  std::optional<std::string> text;
  std::string content_type;

  static ApiResponse Text(int status, std::string text,
                          std::string content_type) {
    ApiResponse r;
    r.status = status;
    r.text = std::move(text);
    r.content_type = std::move(content_type);
    return r;
  }

  static ApiResponse Json(int status, nlohmann::json body) {
    ApiResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static ApiResponse Empty(int status) {
    ApiResponse r;
    r.status = status;
    return r;
  }
};

using HandlerResult = Result<ApiResponse>;

}  // namespace strata::api
