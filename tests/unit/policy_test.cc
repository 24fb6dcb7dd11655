// The API's policy (api/policy.h, issue 16 item 2): the rule language
// (oslo.policy's subset), Cinder's defaults for the admin-only calls, and an
// operator's policy file in JSON or YAML overriding them.
#include "api/policy.h"

#include <doctest/doctest.h>

#include <fstream>

#include "api/api_types.h"
#include "temp_dir.h"

using strata::api::ParsePolicyRule;
using strata::api::Policy;
using strata::api::PolicyCredentials;
using strata::api::PolicyTarget;
using strata::api::RequestContext;
namespace rules = strata::api::rules;

namespace {

bool Eval(const std::string& text, const PolicyCredentials& c,
          const PolicyTarget& t = {}) {
  auto r = ParsePolicyRule(text);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return (*r)->Evaluate(
      c, t, [](const std::string&) { return nullptr; }, 0);
}

RequestContext Caller(std::vector<std::string> roles, bool admin = false) {
  RequestContext c;
  c.user_id = "u1";
  c.project_id = "p1";
  c.roles = std::move(roles);
  c.is_admin = admin;
  return c;
}

}  // namespace

TEST_CASE("policy rules: checks, and/or/not, parentheses, targets") {
  PolicyCredentials member{"u1", "p1", {"member", "reader"}, false};
  CHECK(Eval("", member));
  CHECK(Eval("@", member));
  CHECK_FALSE(Eval("!", member));
  CHECK(Eval("role:member", member));
  CHECK(Eval("role:MEMBER", member));  // oslo.policy compares roles case-blind
  CHECK_FALSE(Eval("role:admin", member));
  CHECK(Eval("role:admin or role:reader", member));
  CHECK_FALSE(Eval("role:admin and role:reader", member));
  CHECK(Eval("not role:admin", member));
  CHECK(Eval("(role:admin or role:member) and not role:service", member));
  CHECK_FALSE(Eval("is_admin:True", member));
  CHECK(Eval("is_admin:False", member));
  CHECK(Eval("project_id:%(project_id)s", member, {{"project_id", "p1"}}));
  CHECK_FALSE(
      Eval("project_id:%(project_id)s", member, {{"project_id", "p2"}}));
  CHECK_FALSE(Eval("project_id:%(project_id)s", member));  // no such target
  CHECK(Eval("user_id:u1", member));
  for (const char* bad : {"role", "role:", "(role:a", "role:a or", "a and b",
                          "foo:bar", "role:a)", "or role:a"}) {
    CAPTURE(bad);
    auto r = ParsePolicyRule(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find(bad) != std::string::npos);
  }
}

TEST_CASE("policy defaults: Cinder's admin-only calls") {
  auto p = Policy::Defaults();
  RequestContext member = Caller({"member", "reader"});
  RequestContext reader = Caller({"reader"});
  RequestContext service = Caller({"service"});
  RequestContext admin = Caller({"admin", "member", "reader"}, true);
  CHECK(p->Allows(rules::kContextIsAdmin, admin));
  CHECK_FALSE(p->Allows(rules::kContextIsAdmin, member));
  CHECK(p->Allows(rules::kRead, reader));
  CHECK_FALSE(p->Allows(rules::kWrite, reader));
  CHECK(p->Allows(rules::kWrite, member));
  for (const char* admin_only :
       {rules::kVolumeManage, rules::kVolumeUnmanage, rules::kVolumeResetStatus,
        rules::kSnapshotResetStatus, rules::kSnapshotForceDelete,
        rules::kNbdExports}) {
    CAPTURE(admin_only);
    CHECK(p->Allows(admin_only, admin));
    CHECK_FALSE(p->Allows(admin_only, member));
    CHECK_FALSE(p->Allows(admin_only, service));
  }
  for (const char* admin_or_service :
       {rules::kAssistedCreate, rules::kAssistedDelete}) {
    CAPTURE(admin_or_service);
    CHECK(p->Allows(admin_or_service, admin));
    CHECK(p->Allows(admin_or_service, service));
    CHECK_FALSE(p->Allows(admin_or_service, member));
  }
  // Cinder's default: a project member may move a snapshot's status along
  // the few transitions os-update_snapshot_status allows.
  CHECK(p->Allows(rules::kSnapshotUpdateStatus, member));
  CHECK(p->Allows(rules::kSnapshotUpdateStatus, service));
  CHECK_FALSE(p->Allows(rules::kSnapshotUpdateStatus, Caller({"reader"})));
  auto denied = p->Enforce(rules::kVolumeManage, member);
  CHECK(denied.code() == strata::StatusCode::kPermissionDenied);
  CHECK(denied.message() ==
        "Policy doesn't allow volume_extension:volume_manage to be performed.");
  CHECK_FALSE(p->Allows("no:such:rule", admin));
}

TEST_CASE("policy defaults: volume types, quotas and services (issue 18)") {
  auto p = Policy::Defaults();
  RequestContext member = Caller({"member", "reader"});
  RequestContext reader = Caller({"reader"});
  RequestContext admin = Caller({"admin", "member", "reader"}, true);
  for (const char* admin_only :
       {rules::kTypeCreate, rules::kTypeUpdate, rules::kTypeDelete,
        rules::kExtraSpecsCreate, rules::kExtraSpecsUpdate,
        rules::kExtraSpecsDelete, rules::kExtraSpecsReadSensitive,
        rules::kTypeQosSpecsId, rules::kQuotaUpdate, rules::kQuotaDelete,
        rules::kQuotaClassGet, rules::kQuotaClassUpdate, rules::kServicesIndex,
        rules::kServicesUpdate, rules::kHosts, rules::kGetPools,
        rules::kCapabilities}) {
    CAPTURE(admin_only);
    CHECK(p->Allows(admin_only, admin));
    CHECK_FALSE(p->Allows(admin_only, member));
  }
  // A project reads its own quotas; another's only an admin.
  CHECK(p->Allows(rules::kQuotaShow, reader, {{"project_id", "p1"}}));
  CHECK_FALSE(p->Allows(rules::kQuotaShow, member, {{"project_id", "p2"}}));
  CHECK(p->Allows(rules::kQuotaShow, admin, {{"project_id", "p2"}}));
  CHECK(p->Allows(rules::kTypeAccess, member));
  CHECK_FALSE(p->Allows(rules::kTypeAccess, reader));
}

TEST_CASE(
    "policy file: JSON and YAML override the defaults; bad files refused") {
  strata::testing::TempDir dir;
  RequestContext member = Caller({"member", "reader"});
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path + "/" + name) << text;
    return dir.path + "/" + name;
  };
  auto json = Policy::Load(
      write("p.json", R"({"volume_extension:volume_manage": "role:member"})"));
  REQUIRE_MESSAGE(json.ok(), json.status().ToString());
  CHECK((*json)->Allows(rules::kVolumeManage, member));
  CHECK_FALSE((*json)->Allows(rules::kVolumeUnmanage, member));  // default

  auto yaml = Policy::Load(write("p.yaml",
                                 "# operator overrides\n"
                                 "---\n"
                                 "\"volume_extension:volume_unmanage\": "
                                 "\"rule:admin_api or role:member\"\n"
                                 "strata:nbd_exports: 'role:member'\n"));
  REQUIRE_MESSAGE(yaml.ok(), yaml.status().ToString());
  CHECK((*yaml)->Allows(rules::kVolumeUnmanage, member));
  CHECK((*yaml)->Allows(rules::kNbdExports, member));
  CHECK_FALSE((*yaml)->Allows(rules::kVolumeManage, member));

  CHECK_FALSE(Policy::Load(write("bad-rule.json",
                                 R"({"strata:read": "role:member or"})"))
                  .ok());
  CHECK_FALSE(
      Policy::Load(write("bad-type.json", R"({"strata:read": 1})")).ok());
  CHECK_FALSE(Policy::Load(write("bad.yaml", "just words\n")).ok());
  CHECK_FALSE(Policy::Load(dir.path + "/missing.yaml").ok());
}
