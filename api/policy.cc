// The role policy every auth strategy shares (Authorize). See auth.h.
#include "api/auth.h"

namespace strata::api {

Status Authorize(const RequestContext& ctx, const std::string& method,
                 const std::string& path) {
  if (ctx.is_admin || ctx.HasRole("member")) return Status::OK();
  const bool reads = method == "GET" || method == "HEAD";
  if (reads && ctx.HasRole("reader")) return Status::OK();
  std::string roles;
  for (const auto& r : ctx.roles) roles += (roles.empty() ? "" : ",") + r;
  return Status::PermissionDenied(
      "Policy doesn't allow " + method + " " + path +
      " to be performed (roles: " + (roles.empty() ? "none" : roles) + ").");
}

}  // namespace strata::api
