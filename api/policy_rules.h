// Policy rule expressions, the subset of oslo.policy's check language that
// OpenStack services' default policies use:
//
//   ""  or "@"                     always allowed
//   "!"                            never
//   role:NAME                      the caller has role NAME (case-blind)
//   rule:NAME                      another named rule
//   is_admin:True                  the caller is an admin (context_is_admin)
//   project_id:%(project_id)s      a credential equals a target attribute
//   user_id:%(user_id)s            (or a literal: project_id:abc)
//   A and B, A or B, not A, ( … )
//
// A rule is parsed once (ParsePolicyRule) into a tree and then evaluated
// against the caller's credentials and the target. Parsing refuses anything
// else with InvalidArgument naming the rule text, so a bad policy file stops
// stratad at start, never a request later.
// Thread-safety: a parsed rule is immutable; Evaluate is reentrant.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace strata::api {

// What a rule is checked against.
struct PolicyCredentials {
  std::string user_id, project_id;
  std::vector<std::string> roles;
  bool is_admin = false;
};
using PolicyTarget = std::map<std::string, std::string>;

class PolicyRule {
 public:
  // Looks a named rule up (rule:NAME); nullptr when there is none, which
  // makes that check false, as in oslo.policy.
  using Lookup = std::function<const PolicyRule*(const std::string& name)>;

  virtual ~PolicyRule() = default;
  virtual bool Evaluate(const PolicyCredentials& creds,
                        const PolicyTarget& target, const Lookup& lookup,
                        int depth) const = 0;
};

[[nodiscard]] Result<std::shared_ptr<const PolicyRule>> ParsePolicyRule(
    const std::string& text);

}  // namespace strata::api
