// Unit tests for volume types and quotas (issue 18): the catalog's
// volume_types and quotas tables (migration 9's default type, name and id
// resolution, private types, renames carrying per-type quotas along,
// deletes refused for the default type and for a type in use, extra
// specs) and api/quotas.h's limits (built-in defaults, the "default"
// quota class, a project's own), usage counted from the catalog (GiB
// rounded up per volume and snapshot, hidden snapshots not counted, per
// type) and CheckQuota's refusals with Cinder's 413 messages.
//
// Each case works in its own mkdtemp directory, removed at the end.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "api/faults.h"
#include "api/quotas.h"
#include "db/catalog.h"
#include "temp_dir.h"

using namespace strata;
using namespace strata::db;
using strata::api::CheckQuota;
using strata::api::ProjectQuotaSet;
using strata::api::QuotaDelta;

namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

struct Fixture {
  strata::testing::TempDir tmp;
  std::unique_ptr<Catalog> cat;

  Fixture() {
    auto c = Catalog::Open(tmp.File("catalog.db"));
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    cat = std::move(*c);
  }

  // A volume of `bytes` in `project`, of `type` (unset: the default).
  void AddVolume(const std::string& id, int64_t bytes,
                 const std::string& project = "p1",
                 std::optional<std::string> type = std::nullopt) {
    VolumeRecord v;
    v.id = id;
    v.project_id = project;
    v.user_id = "u1";
    v.status = "available";
    v.path = tmp.File(id + ".qcow2");
    v.virtual_size = bytes;
    v.volume_type_id = std::move(type);
    v.created_at = v.updated_at = 1000;
    REQUIRE(cat->InsertVolume(v).ok());
  }
  void AddSnapshot(const std::string& id, const std::string& volume_id,
                   int64_t bytes, bool hidden = false,
                   const std::string& project = "p1") {
    SnapshotRecord s;
    s.id = id;
    s.volume_id = volume_id;
    s.project_id = project;
    s.user_id = "u1";
    s.status = "available";
    s.virtual_size = bytes;
    s.hidden = hidden;
    s.created_at = s.updated_at = 1000;
    REQUIRE(cat->InsertSnapshot(s).ok());
  }
  VolumeTypeRecord AddType(const std::string& id, const std::string& name,
                           bool is_public = true) {
    VolumeTypeRecord t;
    t.id = id;
    t.name = name;
    t.is_public = is_public;
    t.created_at = t.updated_at = 1000;
    REQUIRE(cat->InsertVolumeType(t).ok());
    return t;
  }
};

// The status CheckQuota returns, as the API shows it: HTTP code, message.
std::pair<int, std::string> Fault(const Status& s) {
  return {s.ok() ? 200 : api::HttpStatusFor(s), s.message()};
}

}  // namespace

// ---------------------------------------------------------------------------
// Volume types in the catalog.

TEST_CASE("migration 9 creates the default type __DEFAULT__") {
  Fixture f;
  auto types = f.cat->ListVolumeTypes(false);
  REQUIRE(types.ok());
  REQUIRE(types->size() == 1);
  CHECK((*types)[0].id == kDefaultVolumeTypeId);
  CHECK((*types)[0].name == "__DEFAULT__");
  CHECK((*types)[0].is_public);
  CHECK((*types)[0].description == "Default Volume Type");
  CHECK((*types)[0].created_at > 0);
}

TEST_CASE("ResolveVolumeType: unset → default; by id, then by name") {
  Fixture f;
  f.AddType("11111111-1111-4111-8111-111111111111", "gold");
  for (const auto& unset :
       {std::optional<std::string>(), std::optional<std::string>("")}) {
    auto t = f.cat->ResolveVolumeType(unset);
    REQUIRE(t.ok());
    CHECK(t->id == kDefaultVolumeTypeId);
  }
  auto by_id = f.cat->ResolveVolumeType("11111111-1111-4111-8111-111111111111");
  REQUIRE(by_id.ok());
  CHECK(by_id->name == "gold");
  auto by_name = f.cat->ResolveVolumeType("gold");
  REQUIRE(by_name.ok());
  CHECK(by_name->id == "11111111-1111-4111-8111-111111111111");
  auto unknown = f.cat->ResolveVolumeType("silver");
  CHECK(unknown.status().IsNotFound());
  CHECK(unknown.status().message() == "Volume type silver could not be found.");
  CHECK(f.cat->GetVolumeType("nope").status().message() ==
        "Volume type nope could not be found.");
}

TEST_CASE("a private type resolves only when private types are asked for") {
  Fixture f;
  f.AddType("22222222-2222-4222-8222-222222222222", "hidden", false);
  CHECK(f.cat->ResolveVolumeType("hidden", true).ok());
  CHECK(f.cat->ResolveVolumeType("hidden", false).status().IsNotFound());
  auto listed = f.cat->ListVolumeTypes(false);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 1);
  listed = f.cat->ListVolumeTypes(true);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 2);
}

TEST_CASE("a type name is unique, also through a rename") {
  Fixture f;
  f.AddType("33333333-3333-4333-8333-333333333333", "gold");
  VolumeTypeRecord dup;
  dup.id = "44444444-4444-4444-8444-444444444444";
  dup.name = "gold";
  Status s = f.cat->InsertVolumeType(dup);
  CHECK(s.code() == StatusCode::kAlreadyExists);
  CHECK(s.message() == "Volume Type gold already exists.");
  s = f.cat->ModifyVolumeType(kDefaultVolumeTypeId, [](VolumeTypeRecord& t) {
    t.name = "gold";
    return Status::OK();
  });
  CHECK(s.code() == StatusCode::kAlreadyExists);
}

TEST_CASE("a rename carries the type's quotas along (Cinder)") {
  Fixture f;
  f.AddType("55555555-5555-4555-8555-555555555555", "gold");
  REQUIRE(f.cat->SetProjectQuotas("p1", {{"volumes_gold", 3}}).ok());
  REQUIRE(f.cat->SetQuotaClass("default", {{"gigabytes_gold", 30}}).ok());
  REQUIRE(f.cat
              ->ModifyVolumeType("55555555-5555-4555-8555-555555555555",
                                 [](VolumeTypeRecord& t) {
                                   t.name = "platinum";
                                   t.description = "shiny";
                                   return Status::OK();
                                 })
              .ok());
  auto t = f.cat->GetVolumeType("55555555-5555-4555-8555-555555555555");
  REQUIRE(t.ok());
  CHECK(t->name == "platinum");
  CHECK(t->description == "shiny");
  auto q = f.cat->ProjectQuotas("p1");
  REQUIRE(q.ok());
  CHECK(q->count("volumes_platinum") == 1);
  CHECK(q->count("volumes_gold") == 0);
  auto c = f.cat->QuotaClass("default");
  REQUIRE(c.ok());
  CHECK(c->at("gigabytes_platinum") == 30);
}

TEST_CASE("the default type and a type in use cannot be deleted") {
  Fixture f;
  Status s = f.cat->DeleteVolumeType(kDefaultVolumeTypeId);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message() == std::string("The volume type ") + kDefaultVolumeTypeId +
                           " is a default volume type and cannot be deleted.");
  f.AddType("66666666-6666-4666-8666-666666666666", "gold");
  f.AddVolume("v1", kGiB, "p1", "66666666-6666-4666-8666-666666666666");
  s = f.cat->DeleteVolumeType("66666666-6666-4666-8666-666666666666");
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message() == "Target volume type is still in use.");
  CHECK(f.cat->DeleteVolumeType("77777777-7777-4777-8777-777777777777")
            .IsNotFound());
  // Unused: gone, with its specs and its per-type quotas.
  f.AddType("88888888-8888-4888-8888-888888888888", "silver");
  REQUIRE(f.cat
              ->SetVolumeTypeExtraSpecs("88888888-8888-4888-8888-888888888888",
                                        {{"k", "v"}})
              .ok());
  REQUIRE(f.cat->SetProjectQuotas("p1", {{"snapshots_silver", 1}}).ok());
  REQUIRE(f.cat->DeleteVolumeType("88888888-8888-4888-8888-888888888888").ok());
  CHECK(f.cat->GetVolumeType("88888888-8888-4888-8888-888888888888")
            .status()
            .IsNotFound());
  CHECK(f.cat->ProjectQuotas("p1")->count("snapshots_silver") == 0);
}

TEST_CASE("volumes without a type count as the default type's") {
  Fixture f;
  f.AddVolume("v1", kGiB);
  f.AddVolume("v2", kGiB, "p2", std::string(kDefaultVolumeTypeId));
  f.AddType("99999999-9999-4999-8999-999999999999", "gold");
  f.AddVolume("v3", kGiB, "p1", "99999999-9999-4999-8999-999999999999");
  CHECK(*f.cat->CountVolumesOfType(kDefaultVolumeTypeId) == 2);
  CHECK(*f.cat->CountVolumesOfType("99999999-9999-4999-8999-999999999999") ==
        1);
}

TEST_CASE("extra specs: merged on set, deleted one by one") {
  Fixture f;
  const std::string id = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
  f.AddType(id, "gold");
  REQUIRE(f.cat->SetVolumeTypeExtraSpecs(id, {{"a", "1"}, {"b", "2"}}).ok());
  REQUIRE(f.cat->SetVolumeTypeExtraSpecs(id, {{"b", "3"}, {"c", "4"}}).ok());
  auto t = f.cat->GetVolumeType(id);
  REQUIRE(t.ok());
  CHECK(t->extra_specs == Metadata{{"a", "1"}, {"b", "3"}, {"c", "4"}});
  REQUIRE(f.cat->DeleteVolumeTypeExtraSpec(id, "a").ok());
  Status s = f.cat->DeleteVolumeTypeExtraSpec(id, "a");
  CHECK(s.IsNotFound());
  CHECK(s.message() == "Volume Type " + id + " has no extra specs with key a.");
  CHECK(f.cat->SetVolumeTypeExtraSpecs("nope", {{"x", "y"}}).IsNotFound());
  CHECK(f.cat->GetVolumeType(id)->extra_specs.size() == 2);
}

// ---------------------------------------------------------------------------
// Limits and usage (api/quotas.h).

TEST_CASE("limits: Cinder's defaults, the default class, the project's own") {
  Fixture f;
  auto q = ProjectQuotaSet(f.cat.get(), "p1", false);
  REQUIRE(q.ok());
  CHECK((*q)["volumes"].limit == 10);
  CHECK((*q)["snapshots"].limit == 10);
  CHECK((*q)["gigabytes"].limit == 1000);
  CHECK((*q)["backups"].limit == 10);
  CHECK((*q)["backup_gigabytes"].limit == 1000);
  CHECK((*q)["per_volume_gigabytes"].limit == -1);
  CHECK((*q)["groups"].limit == 10);
  CHECK((*q)["volumes___DEFAULT__"].limit == -1);
  CHECK((*q)["snapshots___DEFAULT__"].limit == -1);
  CHECK((*q)["gigabytes___DEFAULT__"].limit == -1);
  CHECK(q->size() == 10);

  REQUIRE(f.cat->SetQuotaClass("default", {{"volumes", 20}}).ok());
  REQUIRE(f.cat->SetProjectQuotas("p1", {{"volumes", 5}, {"groups", -1}}).ok());
  q = ProjectQuotaSet(f.cat.get(), "p1", false);
  CHECK((*q)["volumes"].limit == 5);
  CHECK((*q)["groups"].limit == -1);
  q = ProjectQuotaSet(f.cat.get(), "p2", false);
  CHECK((*q)["volumes"].limit == 20);
  REQUIRE(f.cat->DeleteProjectQuotas("p1").ok());
  q = ProjectQuotaSet(f.cat.get(), "p1", false);
  CHECK((*q)["volumes"].limit == 20);
}

TEST_CASE("usage: volumes and visible snapshots, GiB rounded up, per type") {
  Fixture f;
  f.AddType("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "gold");
  f.AddVolume("v1", 64 << 20);  // 1 GiB, rounded up
  f.AddVolume("v2", 3 * kGiB, "p1", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb");
  f.AddVolume("v3", 5 * kGiB, "p2");
  f.AddSnapshot("s1", "v1", 64 << 20);
  f.AddSnapshot("s2", "v2", 3 * kGiB);
  f.AddSnapshot("s3", "v2", 3 * kGiB, /*hidden=*/true);
  auto q = ProjectQuotaSet(f.cat.get(), "p1", true);
  REQUIRE(q.ok());
  CHECK((*q)["volumes"].in_use == 2);
  CHECK((*q)["snapshots"].in_use == 2);
  CHECK((*q)["gigabytes"].in_use == 1 + 3 + 1 + 3);
  CHECK((*q)["volumes___DEFAULT__"].in_use == 1);
  CHECK((*q)["gigabytes___DEFAULT__"].in_use == 2);
  CHECK((*q)["volumes_gold"].in_use == 1);
  CHECK((*q)["snapshots_gold"].in_use == 1);
  CHECK((*q)["gigabytes_gold"].in_use == 6);
  CHECK((*q)["backups"].in_use == 0);
  q = ProjectQuotaSet(f.cat.get(), "p2", true);
  CHECK((*q)["volumes"].in_use == 1);
  CHECK((*q)["gigabytes"].in_use == 5);
}

TEST_CASE("CheckQuota refuses with Cinder's 413 messages") {
  Fixture f;
  f.AddVolume("v1", 2 * kGiB);
  f.AddSnapshot("s1", "v1", 2 * kGiB);
  QuotaDelta snap;
  snap.snapshots = 1;
  snap.gigabytes = 2;
  CHECK(CheckQuota(f.cat.get(), "p1", snap).ok());

  SUBCASE("snapshots") {
    REQUIRE(f.cat->SetProjectQuotas("p1", {{"snapshots", 1}}).ok());
    CHECK(Fault(CheckQuota(f.cat.get(), "p1", snap)) ==
          std::pair<int, std::string>(
              413,
              "SnapshotLimitExceeded: Maximum number of snapshots allowed "
              "(1) exceeded"));
  }
  SUBCASE("gigabytes: volumes and snapshots both count") {
    REQUIRE(f.cat->SetProjectQuotas("p1", {{"gigabytes", 5}}).ok());
    CHECK(Fault(CheckQuota(f.cat.get(), "p1", snap)) ==
          std::pair<int, std::string>(
              413,
              "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot "
              "exceeds allowed gigabytes quota. Requested 2G, quota is 5G and "
              "4G has been consumed."));
    REQUIRE(f.cat->SetProjectQuotas("p1", {{"gigabytes", 6}}).ok());
    CHECK(CheckQuota(f.cat.get(), "p1", snap).ok());
  }
  SUBCASE("volumes, and the per-volume limit first") {
    QuotaDelta vol;
    vol.volumes = 1;
    vol.gigabytes = 4;
    vol.volume_size = 4;
    REQUIRE(f.cat->SetProjectQuotas("p1", {{"volumes", 1}}).ok());
    CHECK(Fault(CheckQuota(f.cat.get(), "p1", vol)) ==
          std::pair<int, std::string>(
              413,
              "VolumeLimitExceeded: Maximum number of volumes allowed (1) "
              "exceeded for quota 'volumes'."));
    REQUIRE(f.cat->SetProjectQuotas("p1", {{"per_volume_gigabytes", 3}}).ok());
    CHECK(Fault(CheckQuota(f.cat.get(), "p1", vol)) ==
          std::pair<int, std::string>(
              413,
              "VolumeSizeExceedsLimit: Requested volume size 4G is larger "
              "than maximum allowed limit 3G."));
  }
  SUBCASE("per type") {
    REQUIRE(f.cat->SetProjectQuotas("p1", {{"volumes___DEFAULT__", 1}}).ok());
    QuotaDelta vol;
    vol.volumes = 1;
    vol.gigabytes = 1;
    CHECK(Fault(CheckQuota(f.cat.get(), "p1", vol)) ==
          std::pair<int, std::string>(
              413,
              "VolumeLimitExceeded: Maximum number of volumes allowed (1) "
              "exceeded for quota 'volumes___DEFAULT__'."));
    // Another type's volumes are not the default type's.
    f.AddType("cccccccc-cccc-4ccc-8ccc-cccccccccccc", "gold");
    vol.volume_type_id = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";
    CHECK(CheckQuota(f.cat.get(), "p1", vol).ok());
    REQUIRE(f.cat->SetProjectQuotas("p1", {{"gigabytes_gold", 0}}).ok());
    CHECK(CheckQuota(f.cat.get(), "p1", vol).message() ==
          "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot "
          "exceeds allowed gigabytes_gold quota. Requested 1G, quota is 0G "
          "and 0G has been consumed.");
  }
  SUBCASE("-1 is unlimited; other projects' use does not count") {
    REQUIRE(f.cat->SetProjectQuotas("p1", {{"snapshots", -1}}).ok());
    CHECK(CheckQuota(f.cat.get(), "p1", snap).ok());
    REQUIRE(f.cat->SetProjectQuotas("p2", {{"snapshots", 1}}).ok());
    CHECK(CheckQuota(f.cat.get(), "p2", snap).ok());
  }
}
