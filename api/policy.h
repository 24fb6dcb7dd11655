// The API's policy: every "may this caller do that" decision Strata makes,
// as named rules after Cinder's and Nova's defaults, in one place.
//
// Rules are oslo.policy expressions (policy_rules.h). The defaults are below
// (kDefaultPolicyRules in policy.cc; docs/api.md lists them); an operator
// overrides any of them with a policy file (`[api] policy_file`), in the
// forms oslo.policy reads: a JSON object, or YAML with one `"name": "rule"`
// mapping a line. A file that does not parse, or whose rules do not, stops
// stratad at start.
//
// Enforce answers PermissionDenied (403) with Cinder's message, "Policy
// doesn't allow NAME to be performed.". Which resources a caller *sees* (its
// own project's; all for an admin) is the handlers' part, by
// RequestContext::is_admin, which is the rule context_is_admin.
// Thread-safety: immutable after Load; Enforce is reentrant.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "api/policy_rules.h"

namespace strata::api {

struct RequestContext;

// The rule names handlers enforce.
namespace rules {
inline constexpr char kContextIsAdmin[] = "context_is_admin";
inline constexpr char kRead[] = "strata:read";
inline constexpr char kWrite[] = "strata:write";
inline constexpr char kVolumeManage[] = "volume_extension:volume_manage";
inline constexpr char kVolumeUnmanage[] = "volume_extension:volume_unmanage";
inline constexpr char kVolumeResetStatus[] =
    "volume_extension:volume_admin_actions:reset_status";
inline constexpr char kVolumeForceDelete[] =
    "volume_extension:volume_admin_actions:force_delete";
inline constexpr char kSnapshotResetStatus[] =
    "volume_extension:snapshot_admin_actions:reset_status";
inline constexpr char kSnapshotForceDelete[] =
    "volume_extension:snapshot_admin_actions:force_delete";
inline constexpr char kSnapshotManage[] = "snapshot_extension:snapshot_manage";
inline constexpr char kSnapshotUnmanage[] =
    "snapshot_extension:snapshot_unmanage";
inline constexpr char kSnapshotUpdateStatus[] =
    "snapshot_extension:snapshot_actions:update_snapshot_status";
inline constexpr char kAssistedCreate[] =
    "os_compute_api:os-assisted-volume-snapshots:create";
inline constexpr char kAssistedDelete[] =
    "os_compute_api:os-assisted-volume-snapshots:delete";
inline constexpr char kNbdExports[] = "strata:nbd_exports";
// Volume types, quotas, services (issue 18): Cinder's rule names.
inline constexpr char kTypeCreate[] = "volume_extension:type_create";
inline constexpr char kTypeUpdate[] = "volume_extension:type_update";
inline constexpr char kTypeDelete[] = "volume_extension:type_delete";
inline constexpr char kExtraSpecsCreate[] =
    "volume_extension:types_extra_specs:create";
inline constexpr char kExtraSpecsUpdate[] =
    "volume_extension:types_extra_specs:update";
inline constexpr char kExtraSpecsDelete[] =
    "volume_extension:types_extra_specs:delete";
// Extra specs other than the user-visible ones (multiattach, …).
inline constexpr char kExtraSpecsReadSensitive[] =
    "volume_extension:types_extra_specs:read_sensitive";
inline constexpr char kTypeQosSpecsId[] =
    "volume_extension:access_types_qos_specs_id";
// Whether a type's view carries "os-volume-type-access:is_public".
inline constexpr char kTypeAccess[] = "volume_extension:volume_type_access";
inline constexpr char kQuotaShow[] = "volume_extension:quotas:show";
inline constexpr char kQuotaUpdate[] = "volume_extension:quotas:update";
inline constexpr char kQuotaDelete[] = "volume_extension:quotas:delete";
inline constexpr char kQuotaClassGet[] = "volume_extension:quota_classes:get";
inline constexpr char kQuotaClassUpdate[] =
    "volume_extension:quota_classes:update";
inline constexpr char kServicesIndex[] = "volume_extension:services:index";
inline constexpr char kServicesUpdate[] = "volume_extension:services:update";
inline constexpr char kHosts[] = "volume_extension:hosts";
// QoS specs (issue 18): Cinder's rule names.
inline constexpr char kQosCreate[] = "volume_extension:qos_specs_manage:create";
inline constexpr char kQosGet[] = "volume_extension:qos_specs_manage:get";
inline constexpr char kQosGetAll[] =
    "volume_extension:qos_specs_manage:get_all";
inline constexpr char kQosUpdate[] = "volume_extension:qos_specs_manage:update";
inline constexpr char kQosDelete[] = "volume_extension:qos_specs_manage:delete";
inline constexpr char kEncryptionManage[] =
    "volume_extension:volume_type_encryption";
// Backups (issue 18): Cinder's rule names.
inline constexpr char kBackupResetStatus[] =
    "volume_extension:backup_admin_actions:reset_status";
inline constexpr char kBackupForceDelete[] =
    "volume_extension:backup_admin_actions:force_delete";
inline constexpr char kBackupExport[] = "backup:export-import";
inline constexpr char kBackupAttributes[] = "backup:backup_project_attribute";
inline constexpr char kGetPools[] =
    "scheduler_extension:scheduler_stats:get_pools";
inline constexpr char kCapabilities[] = "volume_extension:capabilities";
// Generic volume groups (issue 18): Cinder's rule names.
inline constexpr char kGroupTypesManage[] = "group:group_types_manage";
inline constexpr char kGroupTypesSpecs[] = "group:group_types_specs";
inline constexpr char kGroupResetStatus[] = "group:reset_status";
inline constexpr char kGroupSnapshotResetStatus[] =
    "group:reset_group_snapshot_status";
// A group cut's hold, cut and release on this host, driven by the
// coordinating stratad (issue 22): admins and services.
inline constexpr char kGroupCut[] = "strata:group_cut";
}  // namespace rules

class Policy {
 public:
  // The defaults, overridden by `policy_file` when it is not empty.
  [[nodiscard]] static Result<std::shared_ptr<const Policy>> Load(
      const std::string& policy_file);
  // The defaults alone.
  static std::shared_ptr<const Policy> Defaults();

  // OK, or PermissionDenied naming `rule`. An unknown rule name is denied.
  [[nodiscard]] Status Enforce(const std::string& rule,
                               const RequestContext& ctx,
                               const PolicyTarget& target = {}) const;
  bool Allows(const std::string& rule, const RequestContext& ctx,
              const PolicyTarget& target = {}) const;

  // Every rule's text (defaults and overrides), for docs and tests.
  const std::map<std::string, std::string>& texts() const { return texts_; }

 private:
  Status Set(const std::string& name, const std::string& text);

  std::map<std::string, std::string> texts_;
  std::map<std::string, std::shared_ptr<const PolicyRule>> parsed_;
};

}  // namespace strata::api
