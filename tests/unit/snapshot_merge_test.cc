// Deleting a snapshot that one later snapshot builds on (issue 19, R1.9: a
// policy prunes its oldest points): the deleted layer is merged into the
// child's, stored under a new key, and the deleted one's object, row and
// the child's old object are gone, while every remaining snapshot reverts
// exactly (data, zero writes, and the base image under a Nova-style disk).
// A merge that cannot be stored leaves the snapshot hidden and everything
// revertible, as before.
#include <doctest/doctest.h>

#include <filesystem>

#include "db/catalog.h"
#include "engine/engine.h"
#include "engine_world.h"
#include "qcow2/qcow2_header.h"
#include "storage-drivers/store_registry.h"
#include "util/fs.h"
#include "util/subprocess.h"

using namespace strata;

namespace {

struct World : strata::testing::EngineWorld {
  void Io(const std::string& disk, const std::string& cmd) {
    auto r = RunProcess({"qemu-io", "-f", "qcow2", "-c", cmd, disk});
    REQUIRE(r.ok());
    REQUIRE_MESSAGE(r->exit_code == 0, r->err);
  }
  bool Reads(const std::string& disk, int pattern, const std::string& off,
             const std::string& len) {
    auto r = RunProcess(
        {"qemu-io", "-f", "qcow2", "-r", "-c",
         "read -P " + std::to_string(pattern) + " " + off + " " + len, disk});
    REQUIRE(r.ok());
    return r->exit_code == 0 &&
           r->out.find("verification failed") == std::string::npos &&
           r->err.find("verification failed") == std::string::npos;
  }
  std::string Snap(const std::string& vol, const std::string& name) {
    auto s = engine->CreateSnapshot({"p1", "u1", vol, name, "", {}});
    REQUIRE(s.ok());
    engine->WaitIdle();
    auto done = catalog->GetSnapshot(s->id);
    REQUIRE(done.ok());
    REQUIRE(done->status == "available");
    return s->id;
  }
  void Delete(const std::string& id) {
    Status s = engine->DeleteSnapshot(id, false);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    engine->WaitIdle();
  }
  void Revert(const std::string& vol, const std::string& snap) {
    REQUIRE(engine->RevertVolume(vol, snap).ok());
    engine->WaitIdle();
    auto v = catalog->GetVolume(vol);
    REQUIRE(v.ok());
    REQUIRE(v->head_snapshot_id == snap);
  }
  // Every object the store holds under volumes/.
  std::set<std::string> Keys() {
    auto l = local->List("volumes/", store::RequestOptions{});
    REQUIRE(l.ok());
    std::set<std::string> out;
    for (const auto& o : *l) out.insert(o.key);
    return out;
  }
};

}  // namespace

TEST_CASE("deleting the oldest points merges them into the next (R1.9)") {
  World w;
  // A Nova-style disk: a qcow2 on a base image full of 0x5a.
  const std::string base = w.disks + "/base.raw";
  REQUIRE(
      RunChecked({"qemu-img", "create", "-q", "-f", "raw", base, "16M"}).ok());
  REQUIRE(
      RunChecked({"qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 16M", base})
          .ok());
  const std::string disk = w.disks + "/vm.qcow2";
  REQUIRE(RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", "-b", base,
                      "-F", "raw", disk})
              .ok());
  auto vol = w.engine->ManageVolume({"p1", "u1", "vm", "", disk, false, {}});
  REQUIRE_MESSAGE(vol.ok(), vol.status().ToString());
  const std::string v = vol->id;

  w.Io(disk, "write -P 1 0 1M");
  const std::string s1 = w.Snap(v, "s1");
  w.Io(disk, "write -P 2 1M 1M");
  w.Io(disk, "write -z 0 64k");  // zeroes part of s1's data
  const std::string s2 = w.Snap(v, "s2");
  w.Io(disk, "write -P 3 2M 1M");
  const std::string s3 = w.Snap(v, "s3");
  w.Io(disk, "write -P 4 3M 1M");
  const std::string s4 = w.Snap(v, "s4");  // the head

  w.Delete(s1);
  CHECK(w.catalog->GetSnapshot(s1).status().IsNotFound());
  auto r2 = w.catalog->GetSnapshot(s2);
  REQUIRE(r2.ok());
  CHECK_FALSE(r2->parent_id.has_value());
  CHECK(*r2->store_key == engine::LayerKey(v, s2, 1));
  w.Delete(s2);  // now the root: merged into s3 in turn
  auto r3 = w.catalog->GetSnapshot(s3);
  REQUIRE(r3.ok());
  CHECK_FALSE(r3->parent_id.has_value());
  CHECK(*r3->store_key == engine::LayerKey(v, s3, 1));
  CHECK(w.Keys() == std::set<std::string>{engine::LayerKey(v, s3, 1),
                                          engine::LayerKey(v, s4)});
  // The merged layer names what s1's named below it (the base image), as a
  // revert that uses a root layer through its own header needs.
  auto file = w.local->LocalFile(engine::LayerKey(v, s3, 1));
  REQUIRE(file.ok());
  auto header = qcow2::ReadQcow2Header(*file);
  REQUIRE(header.ok());
  CHECK(header->backing_file == base);
  // Its labels say what it now is, as a catalog rebuild reads them.
  const auto& labels = w.store->labels[engine::LayerKey(v, s3, 1)];
  CHECK(labels.at("snapshot_id") == s3);
  CHECK(labels.at("volume_name") == "vm");
  CHECK(labels.count("parent_id") == 0);
  auto pending = w.catalog->PendingDeletes();
  REQUIRE(pending.ok());
  CHECK(pending->empty());

  // s3 holds s1's, s2's and its own writes; the base shows through the rest.
  w.Revert(v, s3);
  CHECK(w.Reads(disk, 0, "0", "64k"));
  CHECK(w.Reads(disk, 1, "64k", "960k"));
  CHECK(w.Reads(disk, 2, "1M", "1M"));
  CHECK(w.Reads(disk, 3, "2M", "1M"));
  CHECK(w.Reads(disk, 0x5a, "3M", "13M"));
  w.Revert(v, s4);
  CHECK(w.Reads(disk, 4, "3M", "1M"));
  CHECK(w.Reads(disk, 2, "1M", "1M"));
  CHECK(w.Reads(disk, 0x5a, "4M", "12M"));
}

TEST_CASE(
    "a merge the store refuses leaves the snapshot hidden, all "
    "revertible") {
  World w;
  const std::string disk = w.disks + "/vm.qcow2";
  REQUIRE(RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"})
              .ok());
  auto vol = w.engine->ManageVolume({"p1", "u1", "vm", "", disk, false, {}});
  REQUIRE(vol.ok());
  const std::string v = vol->id;
  w.Io(disk, "write -P 1 0 1M");
  const std::string s1 = w.Snap(v, "s1");
  w.Io(disk, "write -P 2 1M 1M");
  const std::string s2 = w.Snap(v, "s2");
  w.Io(disk, "write -P 3 2M 1M");
  w.Snap(v, "s3");

  w.store->fail = true;
  w.Delete(s1);
  w.store->fail = false;
  auto r1 = w.catalog->GetSnapshot(s1);
  REQUIRE(r1.ok());
  CHECK(r1->hidden);
  auto r2 = w.catalog->GetSnapshot(s2);
  REQUIRE(r2.ok());
  CHECK(r2->parent_id == s1);
  CHECK(*r2->store_key == engine::LayerKey(v, s2));
  CHECK(w.Keys().count(engine::LayerKey(v, s1)) == 1);
  w.Revert(v, s2);
  CHECK(w.Reads(disk, 1, "0", "1M"));
  CHECK(w.Reads(disk, 2, "1M", "1M"));
  CHECK(w.Reads(disk, 0, "2M", "14M"));
}
