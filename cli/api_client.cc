// Authenticated JSON calls to Strata. See api_client.h.
#include "cli/api_client.h"

#include "http/http_exchange.h"
#include "http/keystone_client.h"

namespace strata::cli {
namespace {

constexpr std::chrono::seconds kTimeout{120};

// The message of an OpenStack fault body ({"itemNotFound": {"message":
// …}}), else the body's start.
std::string FaultMessage(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object())
    for (auto& [k, v] : j.items())
      if (v.is_object() && v.contains("message") && v["message"].is_string())
        return v["message"].get<std::string>();
  return body.substr(0, 300);
}

Status FaultStatus(long code, const std::string& message) {
  const std::string m = "HTTP " + std::to_string(code) + ": " + message;
  switch (code) {
    case 400:
    case 413:
    case 415:
      return Status::InvalidArgument(m);
    case 401:
      return Status::Unauthenticated(m);
    case 403:
      return Status::PermissionDenied(m);
    case 404:
      return Status::NotFound(m);
    case 409:
      return Status::Conflict(m);
    default:
      return code >= 500 ? Status::Unavailable(m) : Status::InvalidArgument(m);
  }
}

}  // namespace

Result<ApiClient> ApiClient::Connect(const CloudConfig& c) {
  ApiClient client;
  client.token_ = c.token;
  client.root_ = c.endpoint;
  if (!c.auth_url.empty() && (client.token_.empty() || client.root_.empty())) {
    http::KeystoneToken token;
    const Deadline deadline(kTimeout, std::chrono::seconds(30));
    if (client.token_.empty()) {
      if (c.username.empty() || c.password.empty() || c.project_name.empty())
        return Status::InvalidArgument(
            "authenticating needs a username, a password and a project name "
            "(--os-username, --os-password, --os-project-name, or OS_* "
            "variables, or a clouds.yaml entry)");
      STRATA_ASSIGN_OR_RETURN(
          token, http::IssuePasswordToken(
                     {c.auth_url, c.username, c.password, c.project_name,
                      c.user_domain_name, c.project_domain_name},
                     deadline));
      client.token_ = token.id;
    } else {
      STRATA_ASSIGN_OR_RETURN(
          token, http::ReadOwnToken(c.auth_url, client.token_, deadline));
    }
    if (client.root_.empty()) {
      STRATA_ASSIGN_OR_RETURN(
          client.root_,
          http::CatalogEndpoint(token, "volumev3", c.interface, c.region_name));
    }
  }
  if (client.root_.empty())
    return Status::InvalidArgument(
        "no Strata endpoint: give --os-auth-url (Keystone, whose catalog "
        "names Strata as volumev3) or --os-endpoint "
        "(http://HOST:8786/v3)");
  if (client.token_.empty())
    return Status::InvalidArgument(
        "no credentials: give --os-token, or a Keystone user "
        "(--os-auth-url, --os-username, --os-password, --os-project-name)");
  while (!client.root_.empty() && client.root_.back() == '/')
    client.root_.pop_back();
  return client;
}

Result<nlohmann::json> ApiClient::Call(
    const std::string& method, const std::string& path,
    const std::optional<nlohmann::json>& body,
    const std::vector<std::string>& headers) {
  return CallUrl(method, root_ + path, body, headers);
}

Result<nlohmann::json> ApiClient::CallCompute(
    const std::string& method, const std::string& path,
    const std::optional<nlohmann::json>& body,
    const std::vector<std::string>& headers) {
  // The volume root is …/v3 or …/v3/<project>: the compute root is its
  // origin's /v2.1.
  const size_t v3 = root_.rfind("/v3");
  if (v3 == std::string::npos)
    return Status::InvalidArgument("the endpoint " + root_ +
                                   " has no /v3 to find /v2.1 beside");
  return CallUrl(method, root_.substr(0, v3) + "/v2.1" + path, body, headers);
}

Result<nlohmann::json> ApiClient::CallUrl(
    const std::string& method, const std::string& url,
    const std::optional<nlohmann::json>& body,
    const std::vector<std::string>& headers) {
  http::HttpExchange x;
  x.headers = headers;
  x.headers.push_back("X-Auth-Token: " + token_);
  x.headers.push_back("Accept: application/json");
  std::string text;
  if (body) {
    text = body->dump();
    x.body = &text;
    x.headers.push_back("Content-Type: application/json");
  }
  const Deadline deadline(kTimeout, std::chrono::seconds(60));
  STRATA_ASSIGN_OR_RETURN(long code,
                          http::HttpPerform(method, url, &x, deadline));
  if (code >= 400) return FaultStatus(code, FaultMessage(x.small_body));
  if (x.small_body.empty()) return nlohmann::json(nullptr);
  auto j = nlohmann::json::parse(x.small_body, nullptr, false);
  if (j.is_discarded())
    return Status::IoError("the answer to " + method + " " + url +
                           " is not JSON: " + x.small_body.substr(0, 200));
  return j;
}

}  // namespace strata::cli
