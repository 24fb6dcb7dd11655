// KeystoneClient: what Strata asks Keystone (identity v3) for itself — a
// project-scoped token for a user's password, the facts of a token it was
// handed (its expiry, its catalog), and an endpoint from a catalog. Used by
// the API's Keystone authenticator (the service's own token) and by the
// swift store (the object-store endpoint and the token it sends to Swift).
//
// Errors: Keystone not answering, or answering 5xx, is Unavailable
// (retryable); refused credentials or an invalid token are Unauthenticated;
// an answer that is not Keystone's shape is IoError.
//
// Thread-safety: pure functions over their arguments; each call uses its own
// HTTP handle.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "util/deadline.h"
#include "util/status.h"

namespace strata::http {

struct KeystonePassword {
  std::string auth_url;  // http://host:5000/v3 ("/v3" added when missing)
  std::string username, password, project_name;
  std::string user_domain_name = "Default", project_domain_name = "Default";
};

struct KeystoneToken {
  std::string id;  // what goes in X-Auth-Token
  std::chrono::system_clock::time_point expires_at;
  nlohmann::json body;  // the answer's "token" object (catalog, project, …)
};

// "2026-11-22T09:00:00.000000Z" → a time point; nullopt if unparsable.
std::optional<std::chrono::system_clock::time_point> ParseKeystoneTime(
    const std::string& s);

// "http://host:5000", ".../v3/" → "http://host:5000/v3".
std::string KeystoneV3Url(std::string auth_url);

// POST /v3/auth/tokens with the password, scoped to the project.
[[nodiscard]] Result<KeystoneToken> IssuePasswordToken(
    const KeystonePassword& cred, const Deadline& deadline);

// GET /v3/auth/tokens about `token`, asked with `token` itself (a token may
// read its own facts): its expiry and catalog.
[[nodiscard]] Result<KeystoneToken> ReadOwnToken(const std::string& auth_url,
                                                 const std::string& token,
                                                 const Deadline& deadline);

// The URL of the catalog's endpoint of service `type` ("object-store") and
// `interface` ("public", "internal", "admin"), in `region` when not empty.
// NotFound (naming what the catalog has) when there is none.
[[nodiscard]] Result<std::string> CatalogEndpoint(const KeystoneToken& token,
                                                  const std::string& type,
                                                  const std::string& interface,
                                                  const std::string& region);

}  // namespace strata::http
