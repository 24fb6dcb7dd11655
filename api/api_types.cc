// Small accessors of the API types. See api_types.h.
#include "api/api_types.h"

#include <algorithm>

#include "api/policy.h"

namespace strata::api {

bool RequestContext::HasRole(const std::string& r) const {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

Status RequestContext::Enforce(const std::string& rule,
                               const PolicyTarget& target) const {
  if (!policy)
    return Status::PermissionDenied("Policy doesn't allow " + rule +
                                    " to be performed.");
  return policy->Enforce(rule, *this, target);
}

std::string ApiRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::optional<std::string> ApiRequest::Query(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

}  // namespace strata::api
