// Strata's own requests to Keystone. See keystone_client.h.
#include "http/keystone_client.h"

#include <time.h>

#include "http/http_exchange.h"
#include "http/json_field.h"

namespace strata::http {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

// The token of a 200/201 answer to /auth/tokens: X-Subject-Token and the
// body's "token".
Result<KeystoneToken> TokenOf(const HttpExchange& x, const std::string& ctx) {
  const std::string id = ResponseHeader(x, "x-subject-token");
  json answer = json::parse(x.small_body, nullptr, false);
  if (id.empty() || !answer.is_object() || !answer.contains("token") ||
      !answer["token"].is_object())
    return Status::IoError(ctx + ": Keystone's answer has no token");
  KeystoneToken t{id, {}, answer["token"]};
  t.expires_at = ParseKeystoneTime(JsonString(t.body, "expires_at"))
                     .value_or(Clock::now() + std::chrono::minutes(5));
  return t;
}

Status KeystoneError(long code, const std::string& ctx,
                     const std::string& body) {
  if (code == 401 || code == 404)
    return Status::Unauthenticated(ctx + ": Keystone refused it (HTTP " +
                                   std::to_string(code) + ")");
  if (code >= 500 || code == 0)
    return HttpError(code, ctx, body);  // Unavailable, retryable
  return Status::IoError(ctx + ": Keystone answered HTTP " +
                         std::to_string(code));
}

}  // namespace

std::optional<Clock::time_point> ParseKeystoneTime(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return Clock::from_time_t(timegm(&tm));
}

std::string KeystoneV3Url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() < 3 || url.compare(url.size() - 3, 3, "/v3") != 0)
    url += "/v3";
  return url;
}

Result<KeystoneToken> IssuePasswordToken(const KeystonePassword& cred,
                                         const Deadline& deadline) {
  json body = {{"auth",
                {{"identity",
                  {{"methods", {"password"}},
                   {"password",
                    {{"user",
                      {{"name", cred.username},
                       {"domain", {{"name", cred.user_domain_name}}},
                       {"password", cred.password}}}}}}},
                 {"scope",
                  {{"project",
                    {{"name", cred.project_name},
                     {"domain", {{"name", cred.project_domain_name}}}}}}}}}};
  const std::string text = body.dump();
  const std::string ctx = "Keystone authentication of user '" + cred.username +
                          "' on project '" + cred.project_name + "'";
  HttpExchange x;
  x.headers = {"Content-Type: application/json"};
  x.body = &text;
  STRATA_ASSIGN_OR_RETURN(
      long code,
      HttpPerform("POST", KeystoneV3Url(cred.auth_url) + "/auth/tokens", &x,
                  deadline));
  if (code != 201) return KeystoneError(code, ctx, x.small_body);
  return TokenOf(x, ctx);
}

Result<KeystoneToken> ReadOwnToken(const std::string& auth_url,
                                   const std::string& token,
                                   const Deadline& deadline) {
  HttpExchange x;
  x.headers = {"X-Auth-Token: " + token, "X-Subject-Token: " + token};
  STRATA_ASSIGN_OR_RETURN(
      long code, HttpPerform("GET", KeystoneV3Url(auth_url) + "/auth/tokens",
                             &x, deadline));
  const std::string ctx = "Keystone validation of the token given";
  if (code != 200) return KeystoneError(code, ctx, x.small_body);
  return TokenOf(x, ctx);
}

Result<std::string> CatalogEndpoint(const KeystoneToken& token,
                                    const std::string& type,
                                    const std::string& interface,
                                    const std::string& region) {
  std::string seen;
  const json* catalog =
      token.body.contains("catalog") ? &token.body["catalog"] : nullptr;
  if (catalog && catalog->is_array())
    for (const json& svc : *catalog) {
      if (!svc.is_object() || !svc.contains("endpoints") ||
          !svc["endpoints"].is_array())
        continue;
      for (const json& ep : svc["endpoints"]) {
        if (!ep.is_object()) continue;
        const std::string ep_region = JsonString(ep, "region_id").empty()
                                          ? JsonString(ep, "region")
                                          : JsonString(ep, "region_id");
        if (JsonString(svc, "type") == type &&
            JsonString(ep, "interface") == interface &&
            (region.empty() || ep_region == region))
          return JsonString(ep, "url");
        seen += (seen.empty() ? "" : ", ") + JsonString(svc, "type") + "/" +
                JsonString(ep, "interface") + "@" + ep_region;
      }
    }
  return Status::NotFound("Keystone's catalog has no " + type + " endpoint (" +
                          interface + (region.empty() ? "" : ", " + region) +
                          "); it has: " + (seen.empty() ? "nothing" : seen));
}

}  // namespace strata::http
