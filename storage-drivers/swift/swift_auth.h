// SwiftAuth: how the swift store gets its storage URL (the account it
// writes to) and the token it sends there, three ways:
//  - tempauth, a Swift without Keystone: GET AUTH_URL (…/auth/v1.0) with
//    X-Auth-User and X-Auth-Key answers both;
//  - Keystone with a user's password (the service's credentials): a token
//    scoped to the project, and the catalog's object-store endpoint;
//  - Keystone with a token read from a file (a per-project token that
//    something else keeps fresh): its catalog's object-store endpoint.
// Secrets are read from their files at each authentication, never kept in
// the spec. A session is reused until Swift refuses it (401) or, for
// Keystone, until 30 s before its token expires.
//
// Thread-safety: safe from several threads; the session is shared under a
// mutex.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "util/deadline.h"
#include "util/status.h"

namespace strata::store {

struct SwiftAuthConfig {
  enum class Kind { kTempauth, kKeystonePassword, kKeystoneToken };
  Kind kind = Kind::kTempauth;
  std::string auth_url;
  std::string user;         // tempauth "account:user", or Keystone's user
  std::string secret_file;  // key_file, password_file or token_file
  std::string project, user_domain = "Default", project_domain = "Default";
  std::string region, interface = "public";  // the catalog endpoint's
};

class SwiftAuth {
 public:
  struct Session {
    std::string storage_url, token;
  };
  explicit SwiftAuth(SwiftAuthConfig c) : cfg_(std::move(c)) {}
  // The cached session, or a new one when there is none, it is near its
  // expiry, or `renew` (Swift refused it).
  [[nodiscard]] Result<Session> Get(const Deadline& deadline, bool renew);
  const SwiftAuthConfig& config() const { return cfg_; }

 private:
  Result<Session> Tempauth(const Deadline& deadline);
  Result<Session> Keystone(const Deadline& deadline);

  const SwiftAuthConfig cfg_;
  std::mutex mu_;
  Session session_;                                  // GUARDED_BY(mu_)
  std::chrono::system_clock::time_point expires_{};  // GUARDED_BY(mu_)
};

}  // namespace strata::store
