// Who is calling, and what they may do. The Authenticator interface turns
// request headers into a RequestContext. Keystone (`[auth] strategy =
// keystone`) validates X-Auth-Token against Keystone v3 (see
// auth_keystone.cc). NoAuth (the embedded default, like Cinder's noauth) takes
// "X-Auth-Token: user:project" (or "user", project = user) with roles from
// X-Roles (default member; the user "admin" or role admin is an admin).
// Without a token (or keystoneauth's "notused") the caller is "admin" in the
// URL's project, or in `default_project` (empty: 401). noauth is for the
// embedded default only: it trusts whatever the caller says.
// Thread-safety: Authenticate may be called from any thread.
#pragma once

#include <memory>

#include "api/api_types.h"

namespace strata::api {

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // kUnauthenticated (401) for missing or bad credentials.
  virtual Result<RequestContext> Authenticate(const ApiRequest& req) = 0;
  // The WWW-Authenticate header of a 401, "" for none: where a client gets
  // a token (keystonemiddleware sends `Keystone uri="…"`).
  virtual std::string Challenge() const { return ""; }
};

std::unique_ptr<Authenticator> MakeNoAuth(const std::string& default_project);

// The service user Strata validates tokens with, as keystonemiddleware's
// [keystone_authtoken] names it.
struct KeystoneAuthOptions {
  std::string auth_url;  // http://host:5000/v3 ("/v3" added when missing)
  std::string username, password, project_name;
  std::string user_domain_name = "Default", project_domain_name = "Default";
  int token_cache_seconds = 300;  // a revoked token is refused after this
  int timeout_seconds = 10;       // per request to Keystone
};
std::unique_ptr<Authenticator> MakeKeystoneAuth(KeystoneAuthOptions o);

}  // namespace strata::api
