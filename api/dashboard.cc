// The dashboard (issue 20, item 1): its files under /dashboard/ (embedded
// at build time, api/dashboard_assets.h), and the two calls the page needs
// that the REST API has no place for:
//   GET  /dashboard/api/auth   → {"strategy": "noauth" | "keystone"}
//   POST /dashboard/api/login  {"username", "password", "project_name",
//        "domain_name"} → {"token", "expires_at", "project_id"}: a
//        project-scoped Keystone token for the page, as Horizon signs in
//        (the browser cannot call Keystone across origins itself)
// Everything else the page does is the documented REST API, with that
// token. These paths answer before authentication (the page must load to
// sign in); the page is served with a Content-Security-Policy that allows
// only its own origin.
#include "api/dashboard_assets.h"
#include "api/handlers.h"
#include "http/keystone_client.h"
#include "util/time_util.h"

namespace strata::api {
namespace {

std::string ContentType(const std::string& name) {
  auto ends = [&](const char* ext) {
    const std::string e = ext;
    return name.size() >= e.size() &&
           name.compare(name.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

HandlerResult Asset(const std::string& name) {
  const DashboardAsset* a = FindDashboardAsset(name);
  if (!a) return Status::NotFound("The resource could not be found.");
  ApiResponse r =
      ApiResponse::Text(200, std::string(a->data, a->size), ContentType(name));
  r.headers["Cache-Control"] = "no-cache";
  r.headers["Content-Security-Policy"] =
      "default-src 'self'; frame-ancestors 'none'";
  r.headers["X-Content-Type-Options"] = "nosniff";
  return r;
}

std::string Field(const nlohmann::json& body, const char* name) {
  if (!body.is_object() || !body.contains(name) || !body[name].is_string())
    return "";
  return body[name].get<std::string>();
}

}  // namespace

void AddDashboardRoutes(Router& r, DashboardOptions opts) {
  // "/dashboard" without its slash: the page's relative links need it.
  r.Add("GET", "/dashboard", [](ApiRequest& q) -> HandlerResult {
    if (!q.path.empty() && q.path.back() == '/') return Asset("index.html");
    ApiResponse moved = ApiResponse::Empty(301);
    moved.headers["Location"] = "/dashboard/";
    return moved;
  });
  r.Add("GET", "/dashboard/{file}",
        [](ApiRequest& q) { return Asset(q.params.at("file")); });
  r.Add("GET", "/dashboard/api/auth", [opts](ApiRequest&) -> HandlerResult {
    return ApiResponse::Json(200, {{"strategy", opts.auth_strategy}});
  });
  r.Add("POST", "/dashboard/api/login", [opts](ApiRequest& q) -> HandlerResult {
    if (opts.auth_strategy != "keystone")
      return Status::InvalidArgument(
          "This stratad does not use Keystone: the page acts as the "
          "project and user it is given.");
    http::KeystonePassword cred;
    cred.auth_url = opts.keystone_auth_url;
    cred.username = Field(q.body, "username");
    cred.password = Field(q.body, "password");
    cred.project_name = Field(q.body, "project_name");
    const std::string domain = Field(q.body, "domain_name");
    if (!domain.empty())
      cred.user_domain_name = cred.project_domain_name = domain;
    if (cred.username.empty() || cred.password.empty() ||
        cred.project_name.empty())
      return Status::InvalidArgument(
          "A user name, a password and a project are required.");
    auto token = http::IssuePasswordToken(
        cred, Deadline(std::chrono::seconds(30), std::chrono::seconds(10)));
    if (!token.ok()) {
      if (token.status().code() == StatusCode::kUnauthenticated)
        return Status::Unauthenticated(
            "The request you have made requires authentication: the "
            "user name, password or project is wrong.");
      return token.status();
    }
    const int64_t expires =
        std::chrono::duration_cast<std::chrono::microseconds>(
            token->expires_at.time_since_epoch())
            .count();
    return ApiResponse::Json(
        200,
        {{"token", token->id},
         {"expires_at", FormatIsoMicros(expires)},
         {"project_id", token->body.value("project", nlohmann::json::object())
                            .value("id", "")}});
  });
}

}  // namespace strata::api
