// The swift store's authentication. See swift_auth.h.
#include "storage-drivers/swift/swift_auth.h"

#include "http/http_exchange.h"
#include "http/keystone_client.h"
#include "storage-drivers/http_driver_util.h"
#include "storage-drivers/swift/swift_util.h"

namespace strata::store {
namespace {

using Clock = std::chrono::system_clock;
const char kNoSecret[] = "swift store: nothing to authenticate with in";

}  // namespace

Result<SwiftAuth::Session> SwiftAuth::Get(const Deadline& deadline,
                                          bool renew) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!renew && !session_.token.empty() &&
        Clock::now() + std::chrono::seconds(30) < expires_)
      return session_;
  }
  Result<Session> s = cfg_.kind == SwiftAuthConfig::Kind::kTempauth
                          ? Tempauth(deadline)
                          : Keystone(deadline);
  if (!s.ok()) return s.status();
  if (s->storage_url.empty() || s->token.empty())
    return Status::IoError("swift authentication: no storage URL or token");
  while (!s->storage_url.empty() && s->storage_url.back() == '/')
    s->storage_url.pop_back();
  return s;
}

Result<SwiftAuth::Session> SwiftAuth::Tempauth(const Deadline& deadline) {
  STRATA_ASSIGN_OR_RETURN(std::string key,
                          ReadSecretLine(cfg_.secret_file, kNoSecret));
  http::HttpExchange x;
  x.headers = {"X-Auth-User: " + cfg_.user, "X-Auth-Key: " + key};
  STRATA_ASSIGN_OR_RETURN(
      long code, http::HttpPerform("GET", cfg_.auth_url, &x, deadline));
  const std::string ctx = "swift authentication (tempauth) as " + cfg_.user;
  if (code == 401 || code == 403)
    return Status::Unauthenticated(ctx + ": Swift refused the credentials");
  if (code != 200 && code != 204)
    return http::HttpError(code, ctx, x.small_body);
  Session s{http::ResponseHeader(x, "x-storage-url"),
            http::ResponseHeader(x, "x-auth-token")};
  // tempauth's tokens last a day by default (X-Auth-Token-Expires, in
  // seconds); a 401 renews one sooner.
  const long ttl = std::strtol(
      http::ResponseHeader(x, "x-auth-token-expires").c_str(), nullptr, 10);
  std::lock_guard<std::mutex> lock(mu_);
  session_ = s;
  expires_ = Clock::now() + std::chrono::seconds(ttl > 60 ? ttl : 3600);
  return s;
}

Result<SwiftAuth::Session> SwiftAuth::Keystone(const Deadline& deadline) {
  STRATA_ASSIGN_OR_RETURN(std::string secret,
                          ReadSecretLine(cfg_.secret_file, kNoSecret));
  Result<http::KeystoneToken> token =
      cfg_.kind == SwiftAuthConfig::Kind::kKeystonePassword
          ? http::IssuePasswordToken(
                {cfg_.auth_url, cfg_.user, secret, cfg_.project,
                 cfg_.user_domain, cfg_.project_domain},
                deadline)
          : http::ReadOwnToken(cfg_.auth_url, secret, deadline);
  if (!token.ok())
    return token.status().WithContext("swift store (Keystone at " +
                                      cfg_.auth_url + ")");
  auto url = http::CatalogEndpoint(*token, "object-store", cfg_.interface,
                                   cfg_.region);
  // No endpoint is the spec's (or the cloud's) mistake, not a missing key.
  if (!url.ok())
    return Status::IoError("swift store: " + url.status().message());
  Session s{*url, token->id};
  std::lock_guard<std::mutex> lock(mu_);
  session_ = s;
  expires_ = token->expires_at;
  return s;
}

}  // namespace strata::store
