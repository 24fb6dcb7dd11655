// Unit tests for db/catalog: the SQLite catalog of volumes, snapshots,
// uploads and tasks. Covers opening and migrating (user_version, WAL, refusal
// of a newer schema), CRUD and round trips of every record type, R2.4's
// IsUploaded, Cinder-style list paging (sort, marker, offset, filters,
// project isolation), read-modify-write and nested transactions, and
// concurrent ModifySnapshot calls losing no update.
//
// Each case works in its own mkdtemp directory, removed at the end.
#include "db/catalog.h"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "db/schema.h"
#include "temp_dir.h"
#include "util/fs.h"

using namespace strata;
using namespace strata::db;

using strata::testing::TempDir;

namespace {

// A fresh directory under /tmp, removed with everything in it on destruction.
// A catalog opened in its own temp dir. `tmp` is declared first so that it
// outlives the catalog (closed before the directory goes).
struct Fixture {
  TempDir tmp;
  std::string db_path = tmp.path + "/catalog.db";
  std::unique_ptr<Catalog> cat;

  Fixture() {
    auto c = Catalog::Open(db_path);
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    cat = std::move(*c);
  }
  // The snapshot `id`, which must be there.
  SnapshotRecord Snapshot(const std::string& id) {
    auto r = cat->GetSnapshot(id);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    return *r;
  }
};

// Runs `sql` on a separate raw connection and returns the first column of
// the first row as text ("" when no row).
std::string RawQuery(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE,
                          nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr)
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  CHECK((rc == SQLITE_ROW || rc == SQLITE_DONE));
  return out;
}

VolumeRecord MakeVolume(const std::string& id, const std::string& path,
                        const std::string& project = "p1") {
  VolumeRecord v;
  v.id = id;
  v.project_id = project;
  v.user_id = "u1";
  v.name = "vol-" + id;
  v.description = "a volume";
  v.status = "available";
  v.path = path;
  v.virtual_size = 64 << 20;
  v.created_at = 1000;
  v.updated_at = 1000;
  return v;
}

SnapshotRecord MakeSnapshot(const std::string& id, const std::string& volume_id,
                            int64_t created_at = 1000,
                            const std::string& project = "p1") {
  SnapshotRecord s;
  s.id = id;
  s.volume_id = volume_id;
  s.project_id = project;
  s.user_id = "u1";
  s.name = "snap-" + id;
  s.status = "available";
  s.virtual_size = 64 << 20;
  s.created_at = created_at;
  s.updated_at = created_at;
  return s;
}

std::vector<std::string> Ids(const std::vector<SnapshotRecord>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Opening and migrations.

TEST_CASE("Open creates the file at the latest schema version, in WAL mode") {
  Fixture f;
  CHECK(PathExists(f.db_path));
  CHECK(LatestSchemaVersion() >= 1);
  CHECK(f.cat->SchemaVersion() == LatestSchemaVersion());
  CHECK(RawQuery(f.db_path, "PRAGMA user_version") ==
        std::to_string(LatestSchemaVersion()));
  // WAL is persistent, so a second connection sees it too.
  CHECK(RawQuery(f.db_path, "PRAGMA journal_mode") == "wal");
}

TEST_CASE("reopening the catalog is idempotent and keeps the data") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  f.cat.reset();
  for (int i = 0; i < 2; ++i) {
    auto c = Catalog::Open(f.db_path);
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    CHECK((*c)->SchemaVersion() == LatestSchemaVersion());
    auto v = (*c)->GetVolume("v1");
    REQUIRE(v.ok());
    CHECK(v->path == "/d/vm1.qcow2");
  }
}

TEST_CASE("a catalog newer than the code is refused with NotSupported") {
  Fixture f;
  f.cat.reset();
  RawQuery(f.db_path, "PRAGMA user_version = " +
                          std::to_string(LatestSchemaVersion() + 1));
  REQUIRE(RawQuery(f.db_path, "PRAGMA user_version") ==
          std::to_string(LatestSchemaVersion() + 1));
  auto c = Catalog::Open(f.db_path);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::kNotSupported);
  CHECK(c.status().message().find("newer") != std::string::npos);
  // The refusal left the version alone.
  CHECK(RawQuery(f.db_path, "PRAGMA user_version") ==
        std::to_string(LatestSchemaVersion() + 1));
}

// ---------------------------------------------------------------------------
// Volumes.

TEST_CASE("volumes: insert, get, update, delete") {
  Fixture f;
  VolumeRecord v = MakeVolume("v1", "/d/vm1.qcow2");
  v.bootable = true;
  REQUIRE(f.cat->InsertVolume(v).ok());

  auto got = f.cat->GetVolume("v1");
  REQUIRE(got.ok());
  CHECK(got->id == "v1");
  CHECK(got->project_id == "p1");
  CHECK(got->user_id == "u1");
  CHECK(got->name == "vol-v1");
  CHECK(got->description == "a volume");
  CHECK(got->status == "available");
  CHECK(got->path == "/d/vm1.qcow2");
  CHECK(got->virtual_size == 64 << 20);
  CHECK(got->bootable);
  CHECK(got->created_at == 1000);
  CHECK(got->updated_at == 1000);

  got->name = "renamed";
  got->status = "in-use";
  got->virtual_size = 128 << 20;
  got->bootable = false;
  got->updated_at = 2000;
  REQUIRE(f.cat->UpdateVolume(*got).ok());
  auto again = f.cat->GetVolume("v1");
  REQUIRE(again.ok());
  CHECK(again->name == "renamed");
  CHECK(again->status == "in-use");
  CHECK(again->virtual_size == 128 << 20);
  CHECK_FALSE(again->bootable);
  CHECK(again->created_at == 1000);
  CHECK(again->updated_at == 2000);

  REQUIRE(f.cat->DeleteVolume("v1").ok());
  auto gone = f.cat->GetVolume("v1");
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.status().IsNotFound());
}

TEST_CASE("volumes: lookup by path, unique path and id") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  REQUIRE(f.cat->InsertVolume(MakeVolume("v2", "/d/vm2.qcow2")).ok());

  auto byp = f.cat->GetVolumeByPath("/d/vm2.qcow2");
  REQUIRE(byp.ok());
  CHECK(byp->id == "v2");
  auto none = f.cat->GetVolumeByPath("/d/vm3.qcow2");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().IsNotFound());

  // A second volume on the same path is a Conflict, and nothing is written.
  Status dup = f.cat->InsertVolume(MakeVolume("v3", "/d/vm1.qcow2"));
  CHECK(dup.code() == StatusCode::kConflict);
  CHECK(f.cat->GetVolume("v3").status().IsNotFound());
  // So is a second row with the same id.
  CHECK(f.cat->InsertVolume(MakeVolume("v1", "/d/other.qcow2")).code() ==
        StatusCode::kConflict);
  // Moving a volume onto another's path is refused as well.
  VolumeRecord moved = MakeVolume("v2", "/d/vm1.qcow2");
  CHECK(f.cat->UpdateVolume(moved).code() == StatusCode::kConflict);
  CHECK(f.cat->GetVolume("v2")->path == "/d/vm2.qcow2");
}

TEST_CASE("volumes: unknown ids are NotFound") {
  Fixture f;
  auto g = f.cat->GetVolume("nope");
  REQUIRE_FALSE(g.ok());
  CHECK(g.status().IsNotFound());
  CHECK(f.cat->UpdateVolume(MakeVolume("nope", "/d/x.qcow2")).IsNotFound());
  CHECK(f.cat->ModifyVolume("nope", [](VolumeRecord&) { return Status::OK(); })
            .IsNotFound());
  // The update of an unknown id did not insert it.
  CHECK(f.cat->GetVolume("nope").status().IsNotFound());
  // Deleting an unknown volume is idempotent (no row, no error).
  CHECK(f.cat->DeleteVolume("nope").ok());
}

TEST_CASE("volumes: metadata round trip, unicode included") {
  Fixture f;
  VolumeRecord v = MakeVolume("v1", "/d/vm1.qcow2");
  v.metadata = {{"tier", "gold"},
                {"名前", "ディスク ✓"},
                {"emoji", "😀🚀"},
                {"quote\"key", "back\\slash\nnewline"},
                {"empty", ""}};
  REQUIRE(f.cat->InsertVolume(v).ok());
  auto got = f.cat->GetVolume("v1");
  REQUIRE(got.ok());
  CHECK(got->metadata == v.metadata);

  // An empty map round-trips as empty.
  VolumeRecord w = MakeVolume("v2", "/d/vm2.qcow2");
  REQUIRE(f.cat->InsertVolume(w).ok());
  CHECK(f.cat->GetVolume("v2")->metadata.empty());
  // Unicode in a path and a name too.
  VolumeRecord u = MakeVolume("v3", "/d/диск ü.qcow2");
  u.name = "日本語の名前";
  REQUIRE(f.cat->InsertVolume(u).ok());
  auto gu = f.cat->GetVolumeByPath("/d/диск ü.qcow2");
  REQUIRE(gu.ok());
  CHECK(gu->name == "日本語の名前");
}

TEST_CASE("volumes: optional fields stay null or round-trip when set") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  auto a = f.cat->GetVolume("v1");
  REQUIRE(a.ok());
  CHECK_FALSE(a->base_path.has_value());
  CHECK_FALSE(a->base_format.has_value());
  CHECK_FALSE(a->head_snapshot_id.has_value());

  a->base_path = "/glance/_base/abc";
  a->base_format = "raw";
  a->head_snapshot_id = "s1";
  REQUIRE(f.cat->UpdateVolume(*a).ok());
  auto b = f.cat->GetVolume("v1");
  REQUIRE(b.ok());
  CHECK(b->base_path == std::optional<std::string>("/glance/_base/abc"));
  CHECK(b->base_format == std::optional<std::string>("raw"));
  CHECK(b->head_snapshot_id == std::optional<std::string>("s1"));

  // An empty string is a value, not null.
  b->head_snapshot_id = "";
  REQUIRE(f.cat->UpdateVolume(*b).ok());
  auto c = f.cat->GetVolume("v1");
  REQUIRE(c.ok());
  REQUIRE(c->head_snapshot_id.has_value());
  CHECK(c->head_snapshot_id->empty());

  // And back to null.
  c->base_path.reset();
  c->base_format.reset();
  c->head_snapshot_id.reset();
  REQUIRE(f.cat->UpdateVolume(*c).ok());
  auto d = f.cat->GetVolume("v1");
  REQUIRE(d.ok());
  CHECK_FALSE(d->base_path.has_value());
  CHECK_FALSE(d->base_format.has_value());
  CHECK_FALSE(d->head_snapshot_id.has_value());
}

TEST_CASE("volumes: list filters, sort and project isolation") {
  Fixture f;
  VolumeRecord a = MakeVolume("va", "/d/a.qcow2", "p1");
  a.name = "b-second";
  a.created_at = 10;
  a.bootable = true;
  VolumeRecord b = MakeVolume("vb", "/d/b.qcow2", "p1");
  b.name = "a-first";
  b.created_at = 20;
  VolumeRecord c = MakeVolume("vc", "/d/c.qcow2", "p2");
  c.created_at = 30;
  for (const auto& v : {a, b, c}) REQUIRE(f.cat->InsertVolume(v).ok());

  ListQuery q;
  q.project_id = "p1";
  auto r = f.cat->ListVolumes(q);
  REQUIRE(r.ok());
  REQUIRE(r->rows.size() == 2);
  CHECK(r->rows[0].id == "vb");  // created_at desc
  CHECK(r->rows[1].id == "va");
  CHECK(r->total == 2);

  q.sort = {{"name", true}};
  r = f.cat->ListVolumes(q);
  REQUIRE(r.ok());
  REQUIRE(r->rows.size() == 2);
  CHECK(r->rows[0].name == "a-first");

  q.sort.clear();
  q.filters = {{"bootable", "1"}};
  r = f.cat->ListVolumes(q);
  REQUIRE(r.ok());
  REQUIRE(r->rows.size() == 1);
  CHECK(r->rows[0].id == "va");

  ListQuery all;
  r = f.cat->ListVolumes(all);
  REQUIRE(r.ok());
  CHECK(r->total == 3);

  ListQuery bad;
  bad.filters = {{"path", "/d/a.qcow2"}};
  CHECK(f.cat->ListVolumes(bad).status().code() ==
        StatusCode::kInvalidArgument);
  ListQuery badsort;
  badsort.sort = {{"path", true}};
  CHECK(f.cat->ListVolumes(badsort).status().code() ==
        StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Snapshots.

TEST_CASE("snapshots: insert, get, update, covers round trip") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  SnapshotRecord s = MakeSnapshot("s1", "v1");
  s.description = "first";
  s.status = "creating";
  s.progress = 7;
  s.metadata = {{"k", "v"}, {"ключ", "значение"}};
  REQUIRE(f.cat->InsertSnapshot(s).ok());

  auto got = f.cat->GetSnapshot("s1");
  REQUIRE(got.ok());
  CHECK(got->volume_id == "v1");
  CHECK(got->project_id == "p1");
  CHECK(got->user_id == "u1");
  CHECK(got->name == "snap-s1");
  CHECK(got->description == "first");
  CHECK(got->status == "creating");
  CHECK(got->progress == 7);
  CHECK_FALSE(got->parent_id.has_value());
  CHECK_FALSE(got->layer_file.has_value());
  CHECK_FALSE(got->store_key.has_value());
  CHECK_FALSE(got->store_location.has_value());
  CHECK_FALSE(got->sha256.has_value());
  CHECK(got->covers.empty());
  CHECK_FALSE(got->hidden);
  CHECK(got->error.empty());
  CHECK(got->metadata == s.metadata);
  CHECK(got->created_at == 1000);

  got->status = "available";
  got->progress = 100;
  got->parent_id = "s0";
  got->layer_file = "/d/vm1.snap-s1.qcow2";
  got->store_key = "v1/s1";
  got->store_location = "local:/store";
  got->sha256 = std::string(64, 'a');
  got->layer_sha256 = std::string(64, 'f');
  got->layer_check = "xxh3-128/64MiB:" + std::string(32, 'c');
  got->layer_bytes = 12345;
  got->covers = {"f1", "f2", "f3"};
  got->hidden = true;
  got->error = "none really";
  got->updated_at = 5000;
  REQUIRE(f.cat->UpdateSnapshot(*got).ok());

  auto again = f.cat->GetSnapshot("s1");
  REQUIRE(again.ok());
  CHECK(again->status == "available");
  CHECK(again->progress == 100);
  CHECK(again->parent_id == std::optional<std::string>("s0"));
  CHECK(again->layer_file ==
        std::optional<std::string>("/d/vm1.snap-s1.qcow2"));
  CHECK(again->store_key == std::optional<std::string>("v1/s1"));
  CHECK(again->store_location == std::optional<std::string>("local:/store"));
  CHECK(again->sha256 == std::optional<std::string>(std::string(64, 'a')));
  CHECK(again->layer_sha256 ==
        std::optional<std::string>(std::string(64, 'f')));
  CHECK(again->layer_check ==
        std::optional<std::string>("xxh3-128/64MiB:" + std::string(32, 'c')));
  CHECK(again->layer_bytes == 12345);
  CHECK(again->covers == std::vector<std::string>{"f1", "f2", "f3"});
  CHECK(again->hidden);
  CHECK(again->error == "none really");
  CHECK(again->updated_at == 5000);

  // Unknown ids.
  CHECK(f.cat->GetSnapshot("nope").status().IsNotFound());
  CHECK(f.cat->UpdateSnapshot(MakeSnapshot("nope", "v1")).IsNotFound());
  // A duplicate id is a Conflict.
  CHECK(f.cat->InsertSnapshot(MakeSnapshot("s1", "v1")).code() ==
        StatusCode::kConflict);
  // foreign_keys=ON: a snapshot of an unknown volume is refused.
  CHECK(f.cat->InsertSnapshot(MakeSnapshot("s9", "no-such-volume")).code() ==
        StatusCode::kConflict);

  REQUIRE(f.cat->DeleteSnapshot("s1").ok());
  CHECK(f.cat->GetSnapshot("s1").status().IsNotFound());
}

TEST_CASE(
    "snapshots: hidden ones are not listed but SnapshotsOfVolume has "
    "them, oldest first") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  REQUIRE(f.cat->InsertVolume(MakeVolume("v2", "/d/vm2.qcow2")).ok());
  // Inserted out of chronological order on purpose.
  SnapshotRecord c = MakeSnapshot("sc", "v1", 300);
  SnapshotRecord a = MakeSnapshot("sa", "v1", 100);
  SnapshotRecord b = MakeSnapshot("sb", "v1", 200);
  b.hidden = true;
  SnapshotRecord other = MakeSnapshot("sx", "v2", 150);
  for (const auto& s : {c, a, b, other}) REQUIRE(f.cat->InsertSnapshot(s).ok());

  ListQuery q;
  auto list = f.cat->ListSnapshots(q);
  REQUIRE(list.ok());
  auto ids = Ids(list->rows);
  CHECK(std::find(ids.begin(), ids.end(), "sb") == ids.end());
  CHECK(ids.size() == 3);
  CHECK(list->total == 3);

  auto of = f.cat->SnapshotsOfVolume("v1");
  REQUIRE(of.ok());
  CHECK(Ids(*of) == std::vector<std::string>{"sa", "sb", "sc"});
  CHECK((*of)[1].hidden);
  // A hidden snapshot is still readable by id.
  CHECK(f.cat->GetSnapshot("sb").ok());
  // A volume without snapshots yields an empty list.
  auto none = f.cat->SnapshotsOfVolume("unknown");
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE(
    "snapshot verify state: set, read with the snapshot, listed, "
    "interrupted at start, gone with the snapshot") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  REQUIRE(f.cat->InsertSnapshot(MakeSnapshot("s1", "v1", 1)).ok());
  REQUIRE(f.cat->InsertSnapshot(MakeSnapshot("s2", "v1", 2)).ok());
  auto get = [&](const std::string& id) { return f.Snapshot(id); };
  CHECK(get("s1").verify_state.empty());  // never verified
  CHECK(get("s1").verified_at == 0);
  REQUIRE(f.cat->SetSnapshotVerify("s1", "verifying").ok());
  REQUIRE(f.cat->SetSnapshotVerify("s2", "failed", "digest mismatch").ok());
  CHECK(get("s1").verify_state == "verifying");
  CHECK(get("s1").verified_at > 0);
  CHECK(get("s2").verify_state == "failed");
  CHECK(get("s2").verify_error == "digest mismatch");
  // Lists read it too (the join must not make any column ambiguous).
  ListQuery q;
  q.filters["status"] = "available";
  auto listed = f.cat->ListSnapshots(q);
  REQUIRE_MESSAGE(listed.ok(), listed.status().ToString());
  REQUIRE(listed->rows.size() == 2);
  for (const auto& r : listed->rows)
    CHECK(r.verify_state == (r.id == "s1" ? "verifying" : "failed"));
  REQUIRE(f.cat->EndInterruptedVerifies().ok());
  CHECK(get("s1").verify_state == "interrupted");
  CHECK(get("s2").verify_state == "failed");  // an ended verify stays
  REQUIRE(f.cat->SetSnapshotVerify("s1", "ok").ok());
  CHECK(get("s1").verify_state == "ok");
  CHECK(get("s1").verify_error.empty());
  REQUIRE(f.cat->DeleteSnapshot("s2").ok());
  REQUIRE(f.cat->InsertSnapshot(MakeSnapshot("s2", "v1", 3)).ok());
  CHECK(get("s2").verify_state.empty());  // a new row with the same id
}

TEST_CASE(
    "memory part (issue 21): set, stored, kept through a state change, "
    "gone with the snapshot") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  REQUIRE(f.cat->InsertSnapshot(MakeSnapshot("s1", "v1", 1)).ok());
  auto get = [&](const std::string& id) { return f.Snapshot(id); };
  // No memory part: nothing to record a stored copy of.
  CHECK(f.cat->SetSnapshotMemoryStored("s1", "k", "h", 1).code() ==
        StatusCode::kNotFound);
  CHECK(get("s1").memory_state.empty());
  REQUIRE(f.cat
              ->SetSnapshotMemory("s1", "complete", "dom", "/m/s1.region",
                                  R"({"pages":3})")
              .ok());
  CHECK(get("s1").memory_store_key.empty());
  REQUIRE(f.cat
              ->SetSnapshotMemoryStored("s1", "volumes/v1/s1.memory",
                                        std::string(64, 'a'), 12345)
              .ok());
  auto s = get("s1");
  CHECK(s.memory_state == "complete");
  CHECK(s.memory_store_key == "volumes/v1/s1.memory");
  CHECK(s.memory_store_sha256 == std::string(64, 'a'));
  CHECK(s.memory_store_bytes == 12345);
  // A later state (the region deleted) keeps where the store has it.
  REQUIRE(f.cat
              ->SetSnapshotMemory("s1", "deleted", "dom", "/m/s1.region",
                                  R"({"pages":3})")
              .ok());
  CHECK(get("s1").memory_state == "deleted");
  CHECK(get("s1").memory_store_key == "volumes/v1/s1.memory");
  CHECK(get("s1").memory_figures == R"({"pages":3})");
  REQUIRE(f.cat->DeleteSnapshot("s1").ok());
  REQUIRE(f.cat->InsertSnapshot(MakeSnapshot("s1", "v1", 2)).ok());
  CHECK(get("s1").memory_store_key.empty());
}

TEST_CASE("R2.4: IsUploaded only when both store_key and sha256 are set") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  SnapshotRecord none = MakeSnapshot("s-none", "v1", 1);
  SnapshotRecord key_only = MakeSnapshot("s-key", "v1", 2);
  key_only.store_key = "v1/s-key";
  SnapshotRecord sha_only = MakeSnapshot("s-sha", "v1", 3);
  sha_only.sha256 = std::string(64, 'b');
  SnapshotRecord both = MakeSnapshot("s-both", "v1", 4);
  both.store_key = "v1/s-both";
  both.sha256 = std::string(64, 'c');
  SnapshotRecord hidden = both;
  hidden.id = "s-hidden";
  hidden.created_at = 5;
  hidden.hidden = true;
  SnapshotRecord hidden_none = MakeSnapshot("s-hidden-none", "v1", 6);
  hidden_none.hidden = true;
  for (const auto& s : {none, key_only, sha_only, both, hidden, hidden_none})
    REQUIRE(f.cat->InsertSnapshot(s).ok());

  auto up = [&](const std::string& id) {
    auto r = f.cat->IsUploaded(id);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    return *r;
  };
  CHECK_FALSE(up("s-none"));
  CHECK_FALSE(up("s-key"));
  CHECK_FALSE(up("s-sha"));
  CHECK(up("s-both"));
  CHECK(up("s-hidden"));  // hidden: its layer is still stored
  CHECK_FALSE(up("s-hidden-none"));
  CHECK_FALSE(up("no-such-snapshot"));  // unknown ids are simply not uploaded

  // Setting the second field later flips it.
  REQUIRE(f.cat
              ->ModifySnapshot("s-key",
                               [](SnapshotRecord& s) {
                                 s.sha256 = std::string(64, 'd');
                                 return Status::OK();
                               })
              .ok());
  CHECK(up("s-key"));
}

TEST_CASE(
    "SetSnapshotStatus keeps the error when given \"\" and sets it "
    "otherwise") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  REQUIRE(f.cat->InsertSnapshot(MakeSnapshot("s1", "v1")).ok());

  REQUIRE(f.cat->SetSnapshotStatus("s1", "error", 0, "upload failed").ok());
  auto a = f.cat->GetSnapshot("s1");
  REQUIRE(a.ok());
  CHECK(a->status == "error");
  CHECK(a->progress == 0);
  CHECK(a->error == "upload failed");
  CHECK(a->updated_at > 1000);  // bumped to now

  REQUIRE(f.cat->SetSnapshotStatus("s1", "deleting", 42).ok());
  auto b = f.cat->GetSnapshot("s1");
  REQUIRE(b.ok());
  CHECK(b->status == "deleting");
  CHECK(b->progress == 42);
  CHECK(b->error == "upload failed");

  REQUIRE(
      f.cat->SetSnapshotStatus("s1", "error_deleting", 0, "store down").ok());
  auto c = f.cat->GetSnapshot("s1");
  REQUIRE(c.ok());
  CHECK(c->status == "error_deleting");
  CHECK(c->error == "store down");
  // Other fields are untouched.
  CHECK(c->name == "snap-s1");
  CHECK(c->created_at == 1000);
}

TEST_CASE("write methods on unknown ids") {
  // catalog.h: "Methods return NotFound for unknown ids". The Get*/Update*/
  // Modify* methods do; the methods below update or delete by id without
  // checking that a row changed.
  Fixture f;
  CHECK(f.cat->SetSnapshotStatus("nope", "error", 0, "x").IsNotFound());
  CHECK(f.cat->SetTaskStep("nope", "step", 1, "{}").IsNotFound());
  CHECK(f.cat->FinishTask("nope", "failed", "x").IsNotFound());
  // Whatever they return, they create nothing.
  CHECK(f.cat->GetSnapshot("nope").status().IsNotFound());
  CHECK(f.cat->GetTask("nope").status().IsNotFound());
}

// ---------------------------------------------------------------------------
// List paging.

namespace {

// Seven visible p1 snapshots with distinct created_at and names, one hidden
// p1 snapshot, and two p2 snapshots.
//   i : id    created_at  name  status     volume  metadata
//   0 : s0    100         g     available  v1      tier=gold
//   1 : s1    200         c     error      v2
//   2 : s2    300         e     available  v1
//   3 : s3    400         a     error      v2      tier=gold
//   4 : s4    500         f     available  v1
//   5 : s5    600         b     error      v2
//   6 : s6    700         d     available  v1      tier=gold
struct PagingFixture : Fixture {
  PagingFixture() {
    REQUIRE(cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
    REQUIRE(cat->InsertVolume(MakeVolume("v2", "/d/vm2.qcow2")).ok());
    REQUIRE(cat->InsertVolume(MakeVolume("v3", "/d/vm3.qcow2", "p2")).ok());
    const char* names[] = {"g", "c", "e", "a", "f", "b", "d"};
    for (int i = 0; i < 7; ++i) {
      SnapshotRecord s = MakeSnapshot("s" + std::to_string(i),
                                      i % 2 == 0 ? "v1" : "v2", 100 * (i + 1));
      s.name = names[i];
      s.status = i % 2 == 0 ? "available" : "error";
      if (i % 3 == 0)
        s.metadata = {{"tier", "gold"}};
      else
        s.metadata = {{"tier", "silver"}};
      REQUIRE(cat->InsertSnapshot(s).ok());
    }
    SnapshotRecord h = MakeSnapshot("s-hidden", "v1", 350);
    h.name = "h";
    h.hidden = true;
    REQUIRE(cat->InsertSnapshot(h).ok());
    for (int i = 0; i < 2; ++i) {
      SnapshotRecord o =
          MakeSnapshot("o" + std::to_string(i), "v3", 150 + i, "p2");
      o.name = "a";  // same name as s3, other project
      o.metadata = {{"tier", "gold"}};
      REQUIRE(cat->InsertSnapshot(o).ok());
    }
  }
  ListResult<SnapshotRecord> List(const ListQuery& q) {
    auto r = cat->ListSnapshots(q);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    return std::move(*r);
  }
  static ListQuery P1() {
    ListQuery q;
    q.project_id = "p1";
    return q;
  }
};

const std::vector<std::string> kByCreatedDesc = {"s6", "s5", "s4", "s3",
                                                 "s2", "s1", "s0"};
const std::vector<std::string> kByNameAsc = {"s3", "s5", "s1", "s6",
                                             "s2", "s4", "s0"};

}  // namespace

TEST_CASE("list paging: default order is created_at desc; sort by name") {
  PagingFixture f;
  auto r = f.List(PagingFixture::P1());
  CHECK(Ids(r.rows) == kByCreatedDesc);
  CHECK(r.total == 7);
  CHECK_FALSE(r.more);

  ListQuery q = PagingFixture::P1();
  q.sort = {{"name", true}};
  CHECK(Ids(f.List(q).rows) == kByNameAsc);

  q.sort = {{"name", false}};
  auto desc = Ids(f.List(q).rows);
  std::vector<std::string> rev(kByNameAsc.rbegin(), kByNameAsc.rend());
  CHECK(desc == rev);

  q.sort = {{"created_at", true}};
  std::vector<std::string> asc(kByCreatedDesc.rbegin(), kByCreatedDesc.rend());
  CHECK(Ids(f.List(q).rows) == asc);

  // Two keys: status asc, then created_at desc within each status.
  q.sort = {{"status", true}, {"created_at", false}};
  CHECK(Ids(f.List(q).rows) ==
        std::vector<std::string>{"s6", "s4", "s2", "s0", "s5", "s3", "s1"});
}

TEST_CASE("list paging: limit + marker walk visits every row once") {
  PagingFixture f;
  for (bool by_name : {false, true}) {
    CAPTURE(by_name);
    ListQuery q = PagingFixture::P1();
    if (by_name) q.sort = {{"name", true}};
    q.limit = 3;
    std::vector<std::string> seen;
    std::vector<size_t> page_sizes;
    bool more = true;
    int pages = 0;
    while (more) {
      REQUIRE(++pages <= 10);
      auto r = f.List(q);
      CHECK(r.total == 7);
      page_sizes.push_back(r.rows.size());
      for (const auto& row : r.rows) seen.push_back(row.id);
      more = r.more;
      if (!r.rows.empty()) q.marker = r.rows.back().id;
    }
    CHECK(page_sizes == std::vector<size_t>{3, 3, 1});
    CHECK(seen == (by_name ? kByNameAsc : kByCreatedDesc));
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 7);
  }

  // A full page that ends exactly at the last row still links to the next
  // (Cinder's rule: the next page is empty), a short one does not.
  ListQuery q = PagingFixture::P1();
  q.limit = 7;
  auto r = f.List(q);
  CHECK(r.rows.size() == 7);
  CHECK(r.more);
  q.limit = 8;
  r = f.List(q);
  CHECK(r.rows.size() == 7);
  CHECK_FALSE(r.more);
  q.limit = 6;
  r = f.List(q);
  CHECK(r.rows.size() == 6);
  CHECK(r.more);
  // The marker of the last row yields an empty final page.
  q.limit = 3;
  q.marker = "s0";
  r = f.List(q);
  CHECK(r.rows.empty());
  CHECK_FALSE(r.more);
  CHECK(r.total == 7);
  // limit 0: nothing, but more.
  ListQuery z = PagingFixture::P1();
  z.limit = 0;
  r = f.List(z);
  CHECK(r.rows.empty());
  CHECK(r.more);
}

TEST_CASE("list paging: offset, and offset after a marker") {
  PagingFixture f;
  ListQuery q = PagingFixture::P1();
  q.offset = 2;
  q.limit = 2;
  auto r = f.List(q);
  CHECK(Ids(r.rows) == std::vector<std::string>{"s4", "s3"});
  CHECK(r.more);
  CHECK(r.total == 7);

  q.offset = 6;
  q.limit = -1;
  r = f.List(q);
  CHECK(Ids(r.rows) == std::vector<std::string>{"s0"});
  CHECK_FALSE(r.more);

  q.offset = 10;
  r = f.List(q);
  CHECK(r.rows.empty());
  CHECK_FALSE(r.more);
  CHECK(r.total == 7);

  // Marker s5 then skip one: s3, s2.
  q.marker = "s5";
  q.offset = 1;
  q.limit = 2;
  r = f.List(q);
  CHECK(Ids(r.rows) == std::vector<std::string>{"s3", "s2"});
  CHECK(r.more);
}

TEST_CASE(
    "list paging: an unknown marker is NotFound (Cinder's MarkerNotFound, "
    "404)") {
  PagingFixture f;
  ListQuery q = PagingFixture::P1();
  q.marker = "no-such-id";
  auto r = f.cat->ListSnapshots(q);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kNotFound);
  CHECK(r.status().message().find("no-such-id") != std::string::npos);
  // A hidden snapshot or another project's row is unknown as a marker too.
  q.marker = "s-hidden";
  CHECK(f.cat->ListSnapshots(q).status().code() == StatusCode::kNotFound);
  q.marker = "o0";
  CHECK(f.cat->ListSnapshots(q).status().code() == StatusCode::kNotFound);
}

TEST_CASE("list paging: filters by status, volume_id and name") {
  PagingFixture f;
  ListQuery q = PagingFixture::P1();
  q.filters = {{"status", "error"}};
  auto r = f.List(q);
  CHECK(Ids(r.rows) == std::vector<std::string>{"s5", "s3", "s1"});
  CHECK(r.total == 3);

  q.filters = {{"volume_id", "v1"}};
  r = f.List(q);
  CHECK(Ids(r.rows) == std::vector<std::string>{"s6", "s4", "s2", "s0"});

  q.filters = {{"name", "a"}};
  r = f.List(q);
  CHECK(Ids(r.rows) == std::vector<std::string>{"s3"});  // not p2's o0, o1

  q.filters = {{"status", "available"}, {"volume_id", "v2"}};
  r = f.List(q);
  CHECK(r.rows.empty());
  CHECK(r.total == 0);

  // Filtered and paged: total counts the filtered rows before paging.
  q.filters = {{"volume_id", "v1"}};
  q.limit = 1;
  r = f.List(q);
  CHECK(Ids(r.rows) == std::vector<std::string>{"s6"});
  CHECK(r.total == 4);
  CHECK(r.more);

  // A filter value that looks like SQL is just a value.
  q.filters = {{"name", "a' OR '1'='1"}};
  q.limit = -1;
  r = f.List(q);
  CHECK(r.rows.empty());
}

TEST_CASE("list paging: metadata filter") {
  PagingFixture f;
  ListQuery q = PagingFixture::P1();
  q.metadata = {{"tier", "gold"}};
  auto r = f.List(q);
  CHECK(Ids(r.rows) == std::vector<std::string>{"s6", "s3", "s0"});
  CHECK(r.total == 3);

  q.limit = 2;
  r = f.List(q);
  CHECK(Ids(r.rows) == std::vector<std::string>{"s6", "s3"});
  CHECK(r.total == 3);
  CHECK(r.more);
  q.marker = "s3";
  r = f.List(q);
  CHECK(Ids(r.rows) == std::vector<std::string>{"s0"});
  CHECK_FALSE(r.more);

  // All pairs must match.
  ListQuery both = PagingFixture::P1();
  both.metadata = {{"tier", "gold"}, {"other", "x"}};
  CHECK(f.List(both).rows.empty());
  ListQuery absent = PagingFixture::P1();
  absent.metadata = {{"nokey", ""}};
  CHECK(f.List(absent).rows.empty());
}

TEST_CASE("list paging: invalid filter or sort key is InvalidArgument") {
  PagingFixture f;
  ListQuery q = PagingFixture::P1();
  q.filters = {{"layer_file", "x"}};
  auto r = f.cat->ListSnapshots(q);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("layer_file") != std::string::npos);

  ListQuery s = PagingFixture::P1();
  s.sort = {{"bogus", true}};
  r = f.cat->ListSnapshots(s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("bogus") != std::string::npos);

  // SQL in a sort key is refused, not spliced.
  s.sort = {{"name; DROP TABLE snapshots", true}};
  CHECK(f.cat->ListSnapshots(s).status().code() ==
        StatusCode::kInvalidArgument);
  // A valid key after an invalid one does not rescue it.
  s.sort = {{"name", true}, {"hidden", true}};
  CHECK(f.cat->ListSnapshots(s).status().code() ==
        StatusCode::kInvalidArgument);
  // The table is still there.
  CHECK(f.List(PagingFixture::P1()).total == 7);
}

TEST_CASE("list paging: project isolation") {
  PagingFixture f;
  ListQuery p2;
  p2.project_id = "p2";
  auto r = f.List(p2);
  CHECK(Ids(r.rows) == std::vector<std::string>{"o1", "o0"});
  CHECK(r.total == 2);

  ListQuery all;  // empty project: every project (admin all_tenants)
  r = f.List(all);
  CHECK(r.total == 9);
  CHECK(r.rows.size() == 9);

  // A project_id filter cannot widen a project-scoped query.
  ListQuery sneaky = PagingFixture::P1();
  sneaky.filters = {{"project_id", "p2"}};
  r = f.List(sneaky);
  CHECK(r.rows.empty());
  CHECK(r.total == 0);
  // For an admin it narrows.
  ListQuery admin;
  admin.filters = {{"project_id", "p2"}};
  CHECK(f.List(admin).total == 2);

  // Same name in both projects: each sees only its own.
  ListQuery named = PagingFixture::P1();
  named.filters = {{"name", "a"}};
  CHECK(Ids(f.List(named).rows) == std::vector<std::string>{"s3"});
  named.project_id = "p2";
  CHECK(f.List(named).total == 2);
  named.project_id = "p3";
  CHECK(f.List(named).total == 0);
}

// ---------------------------------------------------------------------------
// Read-modify-write and transactions.

TEST_CASE("ModifySnapshot / ModifyVolume apply the edit and bump updated_at") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  REQUIRE(f.cat->InsertSnapshot(MakeSnapshot("s1", "v1")).ok());

  REQUIRE(f.cat
              ->ModifySnapshot("s1",
                               [](SnapshotRecord& s) {
                                 s.name = "renamed";
                                 s.metadata["k"] = "v";
                                 return Status::OK();
                               })
              .ok());
  auto s = f.cat->GetSnapshot("s1");
  REQUIRE(s.ok());
  CHECK(s->name == "renamed");
  CHECK(s->metadata == Metadata{{"k", "v"}});
  CHECK(s->updated_at > 1000);
  CHECK(s->created_at == 1000);

  REQUIRE(f.cat
              ->ModifyVolume("v1",
                             [](VolumeRecord& v) {
                               v.head_snapshot_id = "s1";
                               v.status = "in-use";
                               return Status::OK();
                             })
              .ok());
  auto v = f.cat->GetVolume("v1");
  REQUIRE(v.ok());
  CHECK(v->head_snapshot_id == std::optional<std::string>("s1"));
  CHECK(v->status == "in-use");
  CHECK(v->updated_at > 1000);
  CHECK(v->created_at == 1000);

  CHECK(
      f.cat
          ->ModifySnapshot("nope", [](SnapshotRecord&) { return Status::OK(); })
          .IsNotFound());
}

TEST_CASE("an edit returning an error leaves the row unchanged") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  REQUIRE(f.cat->InsertSnapshot(MakeSnapshot("s1", "v1")).ok());

  Status s = f.cat->ModifySnapshot("s1", [](SnapshotRecord& r) {
    r.name = "changed";
    r.progress = 99;
    return Status::Conflict("snapshot is busy");
  });
  CHECK(s.code() == StatusCode::kConflict);
  CHECK(s.message() == "snapshot is busy");
  auto got = f.cat->GetSnapshot("s1");
  REQUIRE(got.ok());
  CHECK(got->name == "snap-s1");
  CHECK(got->progress == 0);
  CHECK(got->updated_at == 1000);

  Status v = f.cat->ModifyVolume("v1", [](VolumeRecord& r) {
    r.name = "changed";
    return Status::InvalidArgument("no");
  });
  CHECK(v.code() == StatusCode::kInvalidArgument);
  auto vol = f.cat->GetVolume("v1");
  REQUIRE(vol.ok());
  CHECK(vol->name == "vol-v1");
  CHECK(vol->updated_at == 1000);

  // A failing write inside the edit (another volume's path) rolls back too.
  REQUIRE(f.cat->InsertVolume(MakeVolume("v2", "/d/vm2.qcow2")).ok());
  Status w = f.cat->ModifyVolume("v1", [&](VolumeRecord& r) {
    r.name = "changed";
    r.path = "/d/vm2.qcow2";
    return Status::OK();
  });
  CHECK(w.code() == StatusCode::kConflict);
  CHECK(f.cat->GetVolume("v1")->name == "vol-v1");
  // The catalog is usable afterwards (no transaction left open).
  CHECK(f.cat
            ->ModifyVolume("v1",
                           [](VolumeRecord& r) {
                             r.name = "ok";
                             return Status::OK();
                           })
            .ok());
  CHECK(f.cat->GetVolume("v1")->name == "ok");
}

TEST_CASE("nested Transaction: an inner failure rolls back the outer writes") {
  Fixture f;
  Status s = f.cat->Transaction([&]() -> Status {
    STRATA_RETURN_IF_ERROR(
        f.cat->InsertVolume(MakeVolume("outer", "/d/outer.qcow2")));
    return f.cat->Transaction([&]() -> Status {
      STRATA_RETURN_IF_ERROR(
          f.cat->InsertVolume(MakeVolume("inner", "/d/inner.qcow2")));
      return Status::Internal("inner failed");
    });
  });
  CHECK(s.code() == StatusCode::kInternal);
  CHECK(f.cat->GetVolume("outer").status().IsNotFound());
  CHECK(f.cat->GetVolume("inner").status().IsNotFound());

  // A failing statement inside the inner transaction does the same.
  s = f.cat->Transaction([&]() -> Status {
    STRATA_RETURN_IF_ERROR(
        f.cat->InsertVolume(MakeVolume("outer", "/d/outer.qcow2")));
    return f.cat->Transaction([&]() -> Status {
      // Same path as "outer": a constraint violation.
      return f.cat->InsertVolume(MakeVolume("inner", "/d/outer.qcow2"));
    });
  });
  CHECK(s.code() == StatusCode::kConflict);
  CHECK(f.cat->GetVolume("outer").status().IsNotFound());

  // Both succeed: both rows are committed together.
  s = f.cat->Transaction([&]() -> Status {
    STRATA_RETURN_IF_ERROR(
        f.cat->InsertVolume(MakeVolume("outer", "/d/outer.qcow2")));
    return f.cat->Transaction([&]() -> Status {
      return f.cat->InsertVolume(MakeVolume("inner", "/d/inner.qcow2"));
    });
  });
  REQUIRE(s.ok());
  CHECK(f.cat->GetVolume("outer").ok());
  CHECK(f.cat->GetVolume("inner").ok());

  // Committed means durable: a fresh connection sees both.
  f.cat.reset();
  CHECK(RawQuery(f.db_path, "SELECT count(*) FROM volumes") == "2");
}

TEST_CASE("a Transaction body that throws leaves the catalog usable") {
  // Latent: nothing in Strata throws inside a transaction body today, but a
  // std::bad_alloc or a nlohmann::json exception would.
  Fixture f;
  bool threw = false;
  try {
    (void)f.cat->Transaction([&]() -> Status {  // it throws: no result
      STRATA_RETURN_IF_ERROR(
          f.cat->InsertVolume(MakeVolume("lost", "/d/lost.qcow2")));
      throw std::runtime_error("boom");
    });
  } catch (const std::runtime_error&) {
    threw = true;
  }
  CHECK(threw);
  REQUIRE(f.cat
              ->Transaction([&]() -> Status {
                return f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2"));
              })
              .ok());
  CHECK(RawQuery(f.db_path, "SELECT count(*) FROM volumes WHERE id='v1'") ==
        "1");
  CHECK(RawQuery(f.db_path, "SELECT count(*) FROM volumes WHERE id='lost'") ==
        "0");
}

TEST_CASE("concurrent ModifySnapshot loses no update") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  REQUIRE(f.cat->InsertSnapshot(MakeSnapshot("s1", "v1")).ok());
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Status s = f.cat->ModifySnapshot("s1", [](SnapshotRecord& r) {
          ++r.progress;
          return Status::OK();
        });
        if (!s.ok()) ++failures[t];
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK(failures[t] == 0);
  auto s = f.cat->GetSnapshot("s1");
  REQUIRE(s.ok());
  CHECK(s->progress == kThreads * kEach);
}

// ---------------------------------------------------------------------------
// Uploads and tasks.

TEST_CASE("uploads: BeginUpload, FinishUpload, UploadsOfSnapshot") {
  Fixture f;
  REQUIRE(f.cat->InsertVolume(MakeVolume("v1", "/d/vm1.qcow2")).ok());
  REQUIRE(f.cat->InsertSnapshot(MakeSnapshot("s1", "v1")).ok());

  UploadRecord u;
  u.snapshot_id = "s1";
  u.store = "local";
  u.store_key = "v1/s1";
  u.started_at = 111;
  auto id1 = f.cat->BeginUpload(u);
  REQUIRE(id1.ok());
  CHECK(*id1 > 0);
  u.started_at = 222;
  auto id2 = f.cat->BeginUpload(u);
  REQUIRE(id2.ok());
  CHECK(*id2 > *id1);
  UploadRecord other = u;
  other.snapshot_id = "s2";
  REQUIRE(f.cat->BeginUpload(other).ok());

  auto running = f.cat->UploadsOfSnapshot("s1");
  REQUIRE(running.ok());
  REQUIRE(running->size() == 2);
  CHECK((*running)[0].id == *id1);
  CHECK((*running)[0].status == "running");
  CHECK((*running)[0].store == "local");
  CHECK((*running)[0].store_key == "v1/s1");
  CHECK((*running)[0].started_at == 111);
  CHECK((*running)[0].finished_at == 0);
  CHECK((*running)[0].bytes == 0);

  REQUIRE(f.cat->FinishUpload(*id1, "failed", 10, "", "connection reset").ok());
  REQUIRE(
      f.cat->FinishUpload(*id2, "done", 4096, std::string(64, 'e'), "").ok());
  auto done = f.cat->UploadsOfSnapshot("s1");
  REQUIRE(done.ok());
  REQUIRE(done->size() == 2);
  CHECK((*done)[0].status == "failed");
  CHECK((*done)[0].bytes == 10);
  CHECK((*done)[0].error == "connection reset");
  CHECK((*done)[0].finished_at > 0);
  CHECK((*done)[1].id == *id2);
  CHECK((*done)[1].status == "done");
  CHECK((*done)[1].bytes == 4096);
  CHECK((*done)[1].sha256 == std::string(64, 'e'));
  CHECK((*done)[1].error.empty());
  CHECK((*done)[1].started_at == 222);
  CHECK((*done)[1].finished_at >= (*done)[1].started_at);

  auto s2 = f.cat->UploadsOfSnapshot("s2");
  REQUIRE(s2.ok());
  CHECK(s2->size() == 1);
  auto none = f.cat->UploadsOfSnapshot("nope");
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("tasks: insert, step, finish, unfinished, not found") {
  Fixture f;
  TaskRecord a;
  a.id = "t1";
  a.kind = "snapshot_create";
  a.volume_id = "v1";
  a.snapshot_id = "s1";
  a.status = "running";
  a.step = "create.prepare_overlay";
  a.state = R"({"overlay":"/d/.vm1.strata-overlay-x.qcow2"})";
  a.created_at = 10;
  a.updated_at = 10;
  REQUIRE(f.cat->InsertTask(a).ok());
  TaskRecord b = a;
  b.id = "t2";
  b.kind = "revert";
  b.snapshot_id.reset();
  b.created_at = 20;
  b.updated_at = 20;
  REQUIRE(f.cat->InsertTask(b).ok());
  TaskRecord c = a;
  c.id = "t3";
  c.kind = "snapshot_delete";
  c.created_at = 5;
  REQUIRE(f.cat->InsertTask(c).ok());
  CHECK(f.cat->InsertTask(a).code() == StatusCode::kConflict);

  auto got = f.cat->GetTask("t1");
  REQUIRE(got.ok());
  CHECK(got->kind == "snapshot_create");
  CHECK(got->volume_id == "v1");
  CHECK(got->snapshot_id == std::optional<std::string>("s1"));
  CHECK(got->status == "running");
  CHECK(got->step == "create.prepare_overlay");
  CHECK(got->progress == 0);
  CHECK(got->state == a.state);
  CHECK(got->error.empty());
  CHECK(got->created_at == 10);
  auto gb = f.cat->GetTask("t2");
  REQUIRE(gb.ok());
  CHECK_FALSE(gb->snapshot_id.has_value());

  REQUIRE(f.cat->SetTaskStep("t1", "create.rename_top", 20, R"({"k":1})").ok());
  got = f.cat->GetTask("t1");
  REQUIRE(got.ok());
  CHECK(got->step == "create.rename_top");
  CHECK(got->progress == 20);
  CHECK(got->state == R"({"k":1})");
  CHECK(got->updated_at > 10);
  CHECK(got->status == "running");

  auto unfinished = f.cat->UnfinishedTasks();
  REQUIRE(unfinished.ok());
  std::vector<std::string> ids;
  for (const auto& t : *unfinished) ids.push_back(t.id);
  CHECK(ids == std::vector<std::string>{"t3", "t1", "t2"});  // by created_at

  REQUIRE(f.cat->FinishTask("t1", "succeeded", "").ok());
  REQUIRE(f.cat->FinishTask("t2", "failed", "qemu-img commit failed").ok());
  got = f.cat->GetTask("t1");
  REQUIRE(got.ok());
  CHECK(got->status == "succeeded");
  CHECK(got->progress == 100);
  CHECK(got->error.empty());
  gb = f.cat->GetTask("t2");
  REQUIRE(gb.ok());
  CHECK(gb->status == "failed");
  CHECK(gb->progress == 0);  // a failure keeps the progress it reached
  CHECK(gb->error == "qemu-img commit failed");

  unfinished = f.cat->UnfinishedTasks();
  REQUIRE(unfinished.ok());
  REQUIRE(unfinished->size() == 1);
  CHECK((*unfinished)[0].id == "t3");

  auto missing = f.cat->GetTask("nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().IsNotFound());
}

TEST_CASE("pending deletes: queued once, oldest first, removed when done") {
  Fixture f;
  REQUIRE(f.cat->AddPendingDelete("volumes/a/1.qcow2", "down").ok());
  REQUIRE(f.cat->AddPendingDelete("volumes/a/2.qcow2", "down").ok());
  REQUIRE(f.cat->AddPendingDelete("volumes/a/1.qcow2", "still down").ok());
  auto keys = f.cat->PendingDeletes();
  REQUIRE(keys.ok());
  CHECK(*keys ==
        std::vector<std::string>{"volumes/a/1.qcow2", "volumes/a/2.qcow2"});
  REQUIRE(f.cat->RemovePendingDelete("volumes/a/1.qcow2").ok());
  REQUIRE(f.cat->RemovePendingDelete("never/queued").ok());
  keys = f.cat->PendingDeletes();
  REQUIRE(keys.ok());
  CHECK(*keys == std::vector<std::string>{"volumes/a/2.qcow2"});
}

TEST_CASE("write history (R0.11): sums per slot, per export and slot length") {
  Fixture f;
  REQUIRE(f.cat->AddWriteHistory("vm1", 900, {{0, 1, 40, 4000}, {3, 2, 0, 0}})
              .ok());
  REQUIRE(f.cat->AddWriteHistory("vm1", 900, {{0, 1, 20, 100}}).ok());
  REQUIRE(f.cat->AddWriteHistory("vm2", 900, {{0, 1, 7, 7}}).ok());
  REQUIRE(f.cat->AddWriteHistory("vm1", 3600, {{0, 1, 9, 9}}).ok());
  auto rows = f.cat->WriteHistoryOf("vm1", 900);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);  // by slot
  CHECK((*rows)[0].slot == 0);
  CHECK((*rows)[0].periods == 2);
  CHECK((*rows)[0].writes == 60);
  CHECK((*rows)[0].bytes == 4100);
  CHECK((*rows)[1].slot == 3);
  CHECK((*rows)[1].periods == 2);
  CHECK((*rows)[1].writes == 0);
  CHECK(f.cat->WriteHistoryOf("vm2", 900)->at(0).writes == 7);
  CHECK(f.cat->WriteHistoryOf("vm1", 3600)->at(0).writes == 9);
  CHECK(f.cat->WriteHistoryOf("vm3", 900)->empty());
  // One bad row: nothing of the call is added (one transaction).
  CHECK(f.cat->AddWriteHistory("vm1", 900, {{5, 1, 1, 1}, {6, -1, 0, 0}})
            .code() == StatusCode::kInvalidArgument);
  CHECK(f.cat->WriteHistoryOf("vm1", 900)->size() == 2);
  CHECK(RawQuery(f.db_path, "SELECT count(*) FROM write_history") == "4");
}
