// The API's named policy rules and their loading. See policy.h.
#include "api/policy.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "api/api_types.h"

namespace strata::api {
namespace {

// Cinder's and Nova's defaults for what Strata serves. Keystone makes admin
// imply member and member imply reader; noauth callers carry the roles they
// name (X-Roles, member by default; the user "admin" is an admin).
const std::pair<const char*, const char*> kDefaultPolicyRules[] = {
    {rules::kContextIsAdmin, "role:admin"},
    {"admin_api", "is_admin:True"},
    // Any request to the API: reading needs a role of the project, anything
    // else member (Cinder's "xena" personas).
    {rules::kRead, "role:reader or role:member or rule:admin_api"},
    {rules::kWrite, "role:member or rule:admin_api"},
    // Cinder: manage-existing and unmanage are admin-only, as are the admin
    // actions on volumes and snapshots.
    {rules::kVolumeManage, "rule:admin_api"},
    {rules::kVolumeUnmanage, "rule:admin_api"},
    {rules::kSnapshotManage, "rule:admin_api"},
    {rules::kSnapshotUnmanage, "rule:admin_api"},
    {rules::kVolumeResetStatus, "rule:admin_api"},
    {rules::kVolumeForceDelete, "rule:admin_api"},
    {rules::kSnapshotResetStatus, "rule:admin_api"},
    {rules::kSnapshotForceDelete, "rule:admin_api"},
    // Cinder: QoS specs are admins' to manage and to read.
    {rules::kQosCreate, "rule:admin_api"},
    {rules::kQosGet, "rule:admin_api"},
    {rules::kQosGetAll, "rule:admin_api"},
    {rules::kQosUpdate, "rule:admin_api"},
    {rules::kQosDelete, "rule:admin_api"},
    // Cinder: encryption types are admins' to read and manage.
    {rules::kEncryptionManage, "rule:admin_api"},
    // Cinder: the admin actions on backups, their export and import, and
    // the view's os-backup-project-attr:project_id are admin-only.
    {rules::kBackupResetStatus, "rule:admin_api"},
    {rules::kBackupForceDelete, "rule:admin_api"},
    {rules::kBackupExport, "rule:admin_api"},
    {rules::kBackupAttributes, "rule:admin_api"},
    // Cinder's default: a project member (and the service's call-back from
    // Nova); the transitions it may make are Cinder's few (snapshots.cc).
    {rules::kSnapshotUpdateStatus,
     "role:member or rule:admin_api or role:service"},
    // Nova: admin; Cinder's service user calls it with the service role.
    {rules::kAssistedCreate, "rule:admin_api or role:service"},
    {rules::kAssistedDelete, "rule:admin_api or role:service"},
    {rules::kNbdExports, "rule:admin_api"},
    // Cinder: managing volume types and their extra specs is admin-only,
    // as is reading specs other than the user-visible ones; a member sees
    // a type's is_public. Anyone reads types.
    {rules::kTypeCreate, "rule:admin_api"},
    {rules::kTypeUpdate, "rule:admin_api"},
    {rules::kTypeDelete, "rule:admin_api"},
    {rules::kExtraSpecsCreate, "rule:admin_api"},
    {rules::kExtraSpecsUpdate, "rule:admin_api"},
    {rules::kExtraSpecsDelete, "rule:admin_api"},
    {rules::kExtraSpecsReadSensitive, "rule:admin_api"},
    {rules::kTypeQosSpecsId, "rule:admin_api"},
    {rules::kTypeAccess, "role:member or rule:admin_api"},
    // Cinder: a project reads its own quotas; only admins read another's
    // or change any, and the quota classes, services, hosts and pools are
    // admin-only.
    {rules::kQuotaShow, "rule:admin_api or project_id:%(project_id)s"},
    {rules::kQuotaUpdate, "rule:admin_api"},
    {rules::kQuotaDelete, "rule:admin_api"},
    {rules::kQuotaClassGet, "rule:admin_api"},
    {rules::kQuotaClassUpdate, "rule:admin_api"},
    {rules::kServicesIndex, "rule:admin_api"},
    {rules::kServicesUpdate, "rule:admin_api"},
    {rules::kHosts, "rule:admin_api"},
    {rules::kGetPools, "rule:admin_api"},
    {rules::kCapabilities, "rule:admin_api"},
    // Cinder: group types, their specs and the status resets of groups
    // and group snapshots are admin-only.
    {rules::kGroupTypesManage, "rule:admin_api"},
    {rules::kGroupTypesSpecs, "rule:admin_api"},
    {rules::kGroupResetStatus, "rule:admin_api"},
    {rules::kGroupSnapshotResetStatus, "rule:admin_api"},
    {rules::kGroupCut, "rule:admin_api or role:service"},
};

// A YAML file of oslo.policy's shape: `"name": "rule"` a line, comments
// and blank lines. Returns the pairs, or why a line is not of that shape.
Result<std::map<std::string, std::string>> ParseYamlRules(
    const std::string& text, const std::string& file) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto unquote = [](std::string s) -> std::optional<std::string> {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
      s.pop_back();
    if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'')) {
      if (s.back() != s.front()) return std::nullopt;
      return s.substr(1, s.size() - 2);
    }
    return s;
  };
  while (std::getline(in, line)) {
    ++n;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    if (line.compare(first, 3, "---") == 0) continue;
    // The key's colon: after a quoted key's closing quote, else the first
    // ": " (rule names themselves hold colons).
    size_t colon;
    if (line[first] == '"' || line[first] == '\'') {
      size_t close = line.find(line[first], first + 1);
      colon = close == std::string::npos ? close : line.find(':', close);
    } else {
      colon = line.find(": ", first);
      if (colon == std::string::npos && line.back() == ':')
        colon = line.size() - 1;
    }
    auto key = colon == std::string::npos ? std::nullopt
                                          : unquote(line.substr(0, colon));
    auto value = colon == std::string::npos ? std::nullopt
                                            : unquote(line.substr(colon + 1));
    if (!key || !value || key->empty())
      return Status::InvalidArgument("policy file " + file + " line " +
                                     std::to_string(n) +
                                     ": not a \"name\": \"rule\" mapping");
    out[*key] = *value;
  }
  return out;
}

PolicyCredentials CredentialsOf(const RequestContext& ctx) {
  return {ctx.user_id, ctx.project_id, ctx.roles, ctx.is_admin};
}

}  // namespace

Status Policy::Set(const std::string& name, const std::string& text) {
  STRATA_ASSIGN_OR_RETURN(auto rule, ParsePolicyRule(text));
  texts_[name] = text;
  parsed_[name] = std::move(rule);
  return Status::OK();
}

std::shared_ptr<const Policy> Policy::Defaults() {
  auto p = std::make_shared<Policy>();
  for (const auto& [name, text] : kDefaultPolicyRules) {
    Status s = p->Set(name, text);
    // The defaults are constants of this file, parsed by the unit test.
    if (!s.ok()) std::abort();
  }
  return p;
}

Result<std::shared_ptr<const Policy>> Policy::Load(
    const std::string& policy_file) {
  auto p = std::make_shared<Policy>(*Defaults());
  if (policy_file.empty()) return std::shared_ptr<const Policy>(p);
  std::ifstream in(policy_file);
  if (!in)
    return Status::InvalidArgument("policy file " + policy_file +
                                   " cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  std::map<std::string, std::string> overrides;
  auto json = nlohmann::json::parse(buf.str(), nullptr, false);
  if (!json.is_discarded()) {
    if (!json.is_object())
      return Status::InvalidArgument("policy file " + policy_file +
                                     " is JSON but not an object");
    for (const auto& [k, v] : json.items()) {
      if (!v.is_string())
        return Status::InvalidArgument("policy file " + policy_file +
                                       ": the rule of " + k +
                                       " is not a string");
      overrides[k] = v.get<std::string>();
    }
  } else {
    STRATA_ASSIGN_OR_RETURN(overrides, ParseYamlRules(buf.str(), policy_file));
  }
  for (const auto& [name, text] : overrides) {
    Status s = p->Set(name, text);
    if (!s.ok()) return s.WithContext("policy file " + policy_file);
  }
  return std::shared_ptr<const Policy>(p);
}

bool Policy::Allows(const std::string& rule, const RequestContext& ctx,
                    const PolicyTarget& target) const {
  auto it = parsed_.find(rule);
  if (it == parsed_.end()) return false;
  const PolicyRule::Lookup lookup = [this](const std::string& name) {
    auto r = parsed_.find(name);
    return r == parsed_.end() ? nullptr : r->second.get();
  };
  return it->second->Evaluate(CredentialsOf(ctx), target, lookup, 0);
}

Status Policy::Enforce(const std::string& rule, const RequestContext& ctx,
                       const PolicyTarget& target) const {
  if (Allows(rule, ctx, target)) return Status::OK();
  return Status::PermissionDenied("Policy doesn't allow " + rule +
                                  " to be performed.");
}

}  // namespace strata::api
