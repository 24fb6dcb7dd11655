// Who is calling. The Authenticator interface turns request headers into a
// RequestContext; NoAuth (the embedded default, like Cinder's noauth) takes
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
};

std::unique_ptr<Authenticator> MakeNoAuth(const std::string& default_project);

}  // namespace strata::api
