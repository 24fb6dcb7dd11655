// Engine flow on a quiet disk with real qemu-img data (R2.1–R2.11): data
// written between snapshots reads back exactly after reverting to each of
// them, the chain stays short, a failed upload is repaired by the next
// snapshot (R2.6), deleted snapshots disappear from lists.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "db/catalog.h"
#include "engine/chain.h"
#include "engine/engine.h"
#include "engine_world.h"
#include "qcow2/cluster_map.h"
#include "qcow2/qcow2_header.h"
#include "storage-drivers/relay/aes_gcm_store.h"
#include "storage-drivers/relay/zstd_store.h"
#include "storage-drivers/store_registry.h"
#include "temp_dir.h"
#include "util/file_check.h"
#include "util/fs.h"
#include "util/open_beneath.h"
#include "util/sha256.h"
#include "util/subprocess.h"
#include "util/uuid.h"

using namespace strata;

using strata::testing::FailingStore;
using strata::testing::TempDir;

namespace {

// qemu-io writes `pattern` over [off, off+len).
// Pattern -1 writes zeroes as qcow2 zero clusters (`write -z`, what a
// guest's discard or write-zeroes leaves), which hold no data yet must hide
// what the layers below hold.
void Write(const std::string& disk, int pattern, const std::string& off,
           const std::string& len) {
  const std::string how =
      pattern < 0 ? "write -z " : "write -P " + std::to_string(pattern) + " ";
  auto r =
      RunProcess({"qemu-io", "-f", "qcow2", "-c", how + off + " " + len, disk});
  REQUIRE(r.ok());
  REQUIRE_MESSAGE(r->exit_code == 0, r->err);
}

// True when [off, off+len) of the disk reads back as `pattern`.
bool Reads(const std::string& disk, int pattern, const std::string& off,
           const std::string& len) {
  auto r = RunProcess(
      {"qemu-io", "-f", "qcow2", "-c",
       "read -P " + std::to_string(pattern) + " " + off + " " + len, disk});
  REQUIRE(r.ok());
  return r->exit_code == 0 &&
         r->out.find("Pattern verification failed") == std::string::npos &&
         r->err.find("Pattern verification failed") == std::string::npos;
}

// qemu-io runs `commands` in one process: each must succeed, and each
// `read -P` must find its pattern.
void RunIo(const std::string& disk, const std::vector<std::string>& commands) {
  std::vector<std::string> argv = {"qemu-io", "-f", "qcow2"};
  for (const auto& c : commands) argv.insert(argv.end(), {"-c", c});
  argv.push_back(disk);
  auto r = RunProcess(argv);
  REQUIRE(r.ok());
  REQUIRE_MESSAGE(r->exit_code == 0, r->err);
  const std::string all = r->out + r->err;
  CHECK_MESSAGE(all.find("Pattern verification failed") == std::string::npos,
                all.substr(0, 2000));
  CHECK_MESSAGE(all.find("failed") == std::string::npos, all.substr(0, 2000));
}

// Overwrites 8 bytes of a stored object at `offset` (bit rot in the store).
void Corrupt(const std::string& object, off_t offset) {
  int fd = open(object.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, "garbage!", 8, offset) == 8);
  close(fd);
}

// A region of a disk and the pattern it must read as (0: zeroes).
struct Region {
  int pattern;
  std::string off, len;
};

struct Fixture {
  TempDir tmp;  // declared first: removed last
  std::string dir = tmp.path;
  std::string disks = dir + "/disks";
  std::unique_ptr<db::Catalog> catalog;
  std::unique_ptr<store::Store> local;
  std::unique_ptr<FailingStore> store;
  std::unique_ptr<engine::Engine> engine;
  engine::OverlayLayout overlay;  // of the overlays the engine creates

  Fixture() {
    REQUIRE(MakeDirs(disks).ok());
    auto c = db::Catalog::Open(dir + "/catalog.db");
    REQUIRE(c.ok());
    catalog = std::move(*c);
    store::RegisterBuiltinStores();
    auto s = store::StoreRegistry::Global().Create("local:" + dir + "/store");
    REQUIRE(s.ok());
    local = std::move(*s);
    store = std::make_unique<FailingStore>(local.get());
    Start();
  }
  // direct: the engine talks to the local store itself, not through the
  // fault-injecting wrapper (which hides its local files).
  void Start(bool direct = false) {
    StartWith(direct ? local.get() : store.get());
  }
  void StartWith(store::Store* s) {
    engine.reset();
    engine::EngineOptions o;
    o.allowed_dirs = {*CanonicalPath(disks)};
    o.upload_attempts = 1;
    o.overlay = overlay;
    engine = std::make_unique<engine::Engine>(catalog.get(), s, o);
    REQUIRE(engine->Recover().ok());
  }
  // zstd over AES-256-GCM over the local store, with a new key file `name`.
  std::unique_ptr<store::Store> RelayStore(const std::string& name) {
    const std::string path = dir + "/" + name;
    std::string key(32, '\0');
    for (char& c : key) c = static_cast<char>(rand());
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, key.data(), key.size()) == 32);
    close(fd);
    auto k = store::LoadAesKey(path);
    REQUIRE_MESSAGE(k.ok(), k.status().ToString());
    // FailingStore with `fail` unset: a forwarder that does not own `local`.
    return store::MakeZstdStore(
        store::MakeAesGcmStore(std::make_unique<FailingStore>(local.get()), *k),
        3);
  }
  ~Fixture() { engine.reset(); }
  db::SnapshotRecord Snap(const std::string& vol) {
    engine::CreateSnapshotRequest req{"p1", "u1", vol, "s", "", {}};
    auto s = engine->CreateSnapshot(req);
    REQUIRE(s.ok());
    engine->WaitIdle();
    auto done = catalog->GetSnapshot(s->id);
    REQUIRE(done.ok());
    return *done;
  }
  // A new qcow2 disk `name`.qcow2 of `size`, adopted as a volume.
  std::pair<std::string, db::VolumeRecord> ManagedDisk(
      const std::string& name, const std::string& size) {
    std::string disk = disks + "/" + name + ".qcow2";
    REQUIRE(RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", disk, size})
                .ok());
    auto vol = engine->ManageVolume({"p1", "u1", name, "", disk, false, {}});
    REQUIRE(vol.ok());
    return {disk, *vol};
  }
  size_t ChainLength(const std::string& disk) {
    auto c = engine::ReadChain(disk, disk);
    REQUIRE(c.ok());
    return c->length();
  }
};

}  // namespace

TEST_CASE("snapshots, revert to each point, chain stays short (R2.3-R2.11)") {
  Fixture f;
  auto [disk, vol] = f.ManagedDisk("vm1", "64M");
  Write(disk, 0xa1, "0", "1M");

  auto s1 = f.Snap(vol.id);
  CHECK(s1.status == "available");
  CHECK(s1.layer_bytes > 1 << 20);
  CHECK_FALSE(s1.parent_id.has_value());
  Write(disk, 0xb2, "1M", "1M");
  auto s2 = f.Snap(vol.id);
  CHECK(s2.status == "available");
  CHECK(s2.parent_id == s1.id);
  // The second layer holds only the 1 MiB written since s1 (plus metadata).
  CHECK(s2.layer_bytes < (1 << 20) + (512 << 10));
  CHECK(f.ChainLength(disk) == 2);  // history ← disk
  Write(disk, 0xc3, "2M", "1M");

  REQUIRE(f.engine->RevertVolume(vol.id, s1.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0xa1, "0", "1M"));
  CHECK(Reads(disk, 0, "1M", "2M"));

  REQUIRE(f.engine->RevertVolume(vol.id, s2.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0xa1, "0", "1M"));
  CHECK(Reads(disk, 0xb2, "1M", "1M"));
  CHECK(Reads(disk, 0, "2M", "1M"));
  // Two layers: s1's as the root history, s2's as the history above it.
  CHECK(f.ChainLength(disk) == 3);

  // A snapshot after a revert to s2 builds on s2.
  Write(disk, 0xd4, "3M", "1M");
  auto s3 = f.Snap(vol.id);
  CHECK(s3.parent_id == s2.id);
  REQUIRE(f.engine->RevertVolume(vol.id, s3.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0xb2, "1M", "1M"));
  CHECK(Reads(disk, 0xd4, "3M", "1M"));
  CHECK(Reads(disk, 0, "2M", "1M"));
}

TEST_CASE("history merges rebuild their backup from the spare (R2.8-R2.9)") {
  Fixture f;
  auto [disk, vol] = f.ManagedDisk("vm1", "64M");
  // Round r writes pattern 0x10+r over [r MiB, r+2 MiB): each round
  // overwrites half of the previous one, so a history rebuilt from the
  // wrong spare or delta reads back wrong.
  auto files_named = [&](std::initializer_list<const char*> infixes) {
    int n = 0;
    for (auto& e : std::filesystem::directory_iterator(f.disks)) {
      std::string name = e.path().filename();
      for (const char* infix : infixes)
        if (name.find(infix) != std::string::npos) ++n;
    }
    return n;
  };
  auto spare_files = [&] {
    return files_named({".strata-spare-", ".strata-delta-"});
  };
  auto ready_files = [&] { return files_named({".strata-ready-"}); };
  auto history_of = [&] {
    auto chain = engine::ReadChain(disk, disk);
    REQUIRE(chain.ok());
    return chain->layers[1].path;
  };
  std::vector<db::SnapshotRecord> snaps;
  for (int r = 0; r < 6; ++r) {
    Write(disk, 0x10 + r, std::to_string(r) + "M", "2M");
    snaps.push_back(f.Snap(vol.id));
    CHECK(snaps.back().status == "available");
    CHECK(f.ChainLength(disk) == 2);
    for (int k = 0; k <= r; ++k) {
      const int len = k == r ? 2 : 1;  // later rounds overwrote the rest
      CHECK_MESSAGE(Reads(disk, 0x10 + k, std::to_string(k) + "M",
                          std::to_string(len) + "M"),
                    "round " << r << ", pattern of round " << k);
    }
    // From the second merge on, the next merge's backup waits, built ahead
    // by the reaper from the spare and the delta (spare_prebuild.cc).
    if (r >= 2) {
      CHECK(spare_files() == 0);
      CHECK(ready_files() == 1);
      CHECK(PathExists(engine::ReadyPath(disk, history_of())));
    }
  }
  // The disk has no backing file: its history was copied preallocated, so
  // every cluster of it is its own data and merges go by extents
  // (layer_apply.h).
  {
    auto chain = engine::ReadChain(disk, disk);
    REQUIRE(chain.ok());
    const std::string history = chain->layers[1].path;
    auto fd = OpenFileNoSymlinks(history, O_RDONLY);
    REQUIRE(fd.ok());
    auto h = qcow2::ReadQcow2Header(fd->get(), history);
    REQUIRE(h.ok());
    auto map = qcow2::ClusterMapReader::Open(fd->get(), *h, history);
    REQUIRE(map.ok());
    auto runs = map->Runs(0, h->virtual_size);
    REQUIRE(runs.ok());
    for (const auto& run : *runs) {
      CAPTURE(run.guest);
      CHECK(run.state == qcow2::SubclusterState::kData);
      CHECK(run.sole_owner);
    }
  }
  // A restart keeps it (it belongs to the chain's history) ...
  f.engine.reset();
  f.Start();
  CHECK(ready_files() == 1);
  Write(disk, 0x30, "20M", "1M");
  CHECK(f.Snap(vol.id).status == "available");
  CHECK(Reads(disk, 0x15, "5M", "2M"));
  CHECK(Reads(disk, 0x30, "20M", "1M"));
  CHECK(ready_files() == 1);
  // ... a prebuild cut short by a crash (its temporary, no spare, no ready
  // file) is garbage at the next start, and the merge after it copies the
  // history; the history it replaced is its spare, built ahead again ...
  const std::string building = engine::TempPath(disk, "building", "crashed");
  REQUIRE(RenameDurable(engine::ReadyPath(disk, history_of()), building).ok());
  f.engine.reset();
  f.Start();
  CHECK_FALSE(PathExists(building));
  CHECK(ready_files() == 0);
  Write(disk, 0x31, "21M", "1M");
  CHECK(f.Snap(vol.id).status == "available");
  CHECK(ready_files() == 1);
  CHECK(spare_files() == 0);
  Write(disk, 0x32, "22M", "1M");
  CHECK(f.Snap(vol.id).status == "available");
  CHECK(ready_files() == 1);
  CHECK(Reads(disk, 0x15, "5M", "2M"));
  for (int k = 0; k < 3; ++k)
    CHECK(Reads(disk, 0x30 + k, std::to_string(20 + k) + "M", "1M"));
  // ... and a revert makes a new history: the old spare is garbage.
  REQUIRE(f.engine->RevertVolume(vol.id, snaps[3].id).ok());
  f.engine->WaitIdle();
  CHECK(spare_files() == 0);
  for (int k = 0; k <= 3; ++k)
    CHECK(Reads(disk, 0x10 + k, std::to_string(k) + "M",
                std::to_string(k == 3 ? 2 : 1) + "M"));
  CHECK(Reads(disk, 0, "5M", "1M"));
  CHECK(Reads(disk, 0, "20M", "1M"));
  // Merges after the revert start over with a copy, then a spare again.
  for (int r = 0; r < 3; ++r) {
    Write(disk, 0x40 + r, std::to_string(30 + r) + "M", "1M");
    f.Snap(vol.id);
  }
  CHECK(spare_files() == 2);
  CHECK(Reads(disk, 0x13, "3M", "2M"));
  for (int r = 0; r < 3; ++r)
    CHECK(Reads(disk, 0x40 + r, std::to_string(30 + r) + "M", "1M"));
  // Unmanaging leaves the chain (the disk) and takes the spare away.
  db::ListQuery q;
  auto all = f.catalog->ListSnapshots(q);
  REQUIRE(all.ok());
  for (const auto& s : all->rows) {
    REQUIRE(f.engine->DeleteSnapshot(s.id, false).ok());
    f.engine->WaitIdle();  // one operation per volume at a time
  }
  REQUIRE(f.engine->UnmanageVolume(vol.id).ok());
  CHECK(spare_files() == 0);
  CHECK(Reads(disk, 0x13, "3M", "2M"));
  CHECK(Reads(disk, 0x42, "32M", "1M"));
}

TEST_CASE("revert to a one-layer snapshot links the local store's file") {
  Fixture f;
  f.Start(/*direct=*/true);
  auto [disk, vol] = f.ManagedDisk("vm4", "32M");
  Write(disk, 0x51, "0", "2M");
  auto s1 = f.Snap(vol.id);
  REQUIRE(s1.status == "available");
  const std::string object = f.dir + "/store/" + *s1.store_key;
  auto stored_sha = Sha256File(object);
  REQUIRE(stored_sha.ok());
  Write(disk, 0x52, "1M", "2M");
  f.Snap(vol.id);

  REQUIRE(f.engine->RevertVolume(vol.id, s1.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0x51, "0", "2M"));
  CHECK(Reads(disk, 0, "2M", "1M"));
  auto chain = engine::ReadChain(disk, disk);
  REQUIRE(chain.ok());
  REQUIRE(chain->length() == 2);
  struct stat a, b;
  REQUIRE(stat(chain->layers[1].path.c_str(), &a) == 0);
  REQUIRE(stat(object.c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);  // the history is the stored file, linked

  // Merges on top of that history never write into it: the object keeps
  // its bytes through snapshots, merges and a spare's rotation.
  for (int r = 0; r < 3; ++r) {
    Write(disk, 0x60 + r, std::to_string(4 + r) + "M", "1M");
    CHECK(f.Snap(vol.id).status == "available");
  }
  auto sha_after = Sha256File(object);
  REQUIRE(sha_after.ok());
  CHECK(*sha_after == *stored_sha);
  CHECK(Reads(disk, 0x51, "0", "2M"));
  CHECK(Reads(disk, 0x62, "6M", "1M"));

  // A corrupted object: the revert is refused and the disk left as it was.
  Corrupt(object, 1 << 20);
  REQUIRE(f.engine->RevertVolume(vol.id, s1.id).ok());
  f.engine->WaitIdle();
  auto task_vol = f.catalog->GetVolume(vol.id);
  REQUIRE(task_vol.ok());
  CHECK(task_vol->status == "available");
  CHECK(Reads(disk, 0x62, "6M", "1M"));  // still the state before the revert
}

TEST_CASE("a linked layer is checked by its fast check, or by SHA-256") {
  Fixture f;
  f.Start(/*direct=*/true);
  auto [disk, vol] = f.ManagedDisk("vm8", "32M");
  Write(disk, 0x41, "0", "2M");
  auto s1 = f.Snap(vol.id);
  REQUIRE(s1.status == "available");
  Write(disk, 0x42, "1M", "2M");
  REQUIRE(f.Snap(vol.id).status == "available");
  const std::string object = f.dir + "/store/" + *s1.store_key;
  // Recorded at upload, of the bytes the store holds.
  auto check = FileCheck(object, 1);
  REQUIRE(check.ok());
  CHECK(s1.layer_check == std::optional<std::string>(*check));

  auto revert_changes_disk = [&] {
    Write(disk, 0x43, "0", "1M");  // what a revert to s1 must undo
    // s1 is not the latest (that revert checks no layer: it has none).
    REQUIRE(f.Snap(vol.id).status == "available");
    REQUIRE(f.engine->RevertVolume(vol.id, s1.id).ok());
    f.engine->WaitIdle();
    return Reads(disk, 0x41, "0", "1M");
  };
  // A snapshot stored before migration 6, without a check: SHA-256.
  auto forget_check = [&] {
    REQUIRE(f.catalog
                ->ModifySnapshot(s1.id,
                                 [](db::SnapshotRecord& r) {
                                   r.layer_check.reset();
                                   return Status::OK();
                                 })
                .ok());
  };
  CHECK(revert_changes_disk());
  forget_check();
  CHECK(revert_changes_disk());

  // The object rots: refused with either check, the disk left as it was.
  Corrupt(object, 1 << 20);
  CHECK_FALSE(revert_changes_disk());
  CHECK(Reads(disk, 0x43, "0", "1M"));
  REQUIRE(f.catalog
              ->ModifySnapshot(s1.id,
                               [&](db::SnapshotRecord& r) {
                                 r.layer_check = *check;
                                 return Status::OK();
                               })
              .ok());
  CHECK_FALSE(revert_changes_disk());
  CHECK(Reads(disk, 0x43, "0", "1M"));
  auto after = f.catalog->GetVolume(vol.id);
  REQUIRE(after.ok());
  CHECK(after->status == "available");
}

TEST_CASE("revert to a layered snapshot links its root layer (R2.11)") {
  Fixture f;
  f.Start(/*direct=*/true);
  auto [disk, vol] = f.ManagedDisk("vm7", "32M");
  Write(disk, 0x71, "0", "4M");
  auto s1 = f.Snap(vol.id);
  Write(disk, 0x72, "1M", "1M");
  auto s2 = f.Snap(vol.id);
  Write(disk, 0x73, "2M", "1M");
  Write(disk, -1, "3M", "512K");  // zero clusters over the root's data
  auto s3 = f.Snap(vol.id);
  REQUIRE(s3.status == "available");
  Write(disk, 0x74, "0", "4M");  // overwritten by the revert
  // s3 is not the latest snapshot (that revert needs no layers: below).
  REQUIRE(f.Snap(vol.id).status == "available");
  Write(disk, 0x75, "1M", "1M");

  // Every stored object keeps its bytes: the upper layers are linked too,
  // and read through explicit backing options, never written.
  std::vector<std::pair<std::string, std::string>> objects;
  for (const auto& s : {s1, s2, s3}) {
    auto sha = Sha256File(f.dir + "/store/" + *s.store_key);
    REQUIRE(sha.ok());
    objects.emplace_back(f.dir + "/store/" + *s.store_key, *sha);
  }
  const std::string object = objects[0].first;
  const std::string stored_sha = objects[0].second;
  REQUIRE(f.engine->RevertVolume(vol.id, s3.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0x71, "0", "1M"));
  CHECK(Reads(disk, 0x72, "1M", "1M"));
  CHECK(Reads(disk, 0x73, "2M", "1M"));
  CHECK(Reads(disk, 0, "3M", "512K"));
  CHECK(Reads(disk, 0x71, "3584K", "512K"));
  CHECK(Reads(disk, 0, "4M", "1M"));
  for (const auto& [path, sha] : objects) {
    auto now = Sha256File(path);
    CHECK((now.ok() && *now == sha));
  }
  // disk ← history of s3 (s2 + s3 merged) ← root history (s1, linked).
  auto chain = engine::ReadChain(disk, disk);
  REQUIRE(chain.ok());
  REQUIRE(chain->length() == 3);
  CHECK(chain->layers[1].name.kind == engine::LayerKind::kHistory);
  CHECK(chain->layers[1].name.snapshot_id == s3.id);
  CHECK(chain->layers[2].name.snapshot_id == s1.id);
  struct stat a, b;
  REQUIRE(stat(chain->layers[2].path.c_str(), &a) == 0);
  REQUIRE(stat(object.c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);

  // Snapshots on it build on s3, merge into the upper history only, and the
  // chain stays three files; the stored root object keeps its bytes.
  for (int r = 0; r < 3; ++r) {
    Write(disk, 0x80 + r, std::to_string(5 + r) + "M", "1M");
    auto s = f.Snap(vol.id);
    CHECK(s.status == "available");
    if (r == 0) CHECK(s.parent_id == s3.id);
    CHECK(f.ChainLength(disk) == 3);
  }
  auto sha_after = Sha256File(object);
  REQUIRE(sha_after.ok());
  CHECK(*sha_after == stored_sha);
  CHECK(Reads(disk, 0x72, "1M", "1M"));
  CHECK(Reads(disk, 0x82, "7M", "1M"));

  // A corrupted upper layer: refused before the disk changes, nothing left.
  Corrupt(f.dir + "/store/" + *s2.store_key, 4096);
  REQUIRE(f.engine->RevertVolume(vol.id, s2.id).ok());
  f.engine->WaitIdle();
  auto after = f.catalog->GetVolume(vol.id);
  REQUIRE(after.ok());
  CHECK(after->status == "available");
  CHECK(Reads(disk, 0x82, "7M", "1M"));
  CHECK(f.ChainLength(disk) == 3);

  // Back to one layer: a single linked history again.
  REQUIRE(f.engine->RevertVolume(vol.id, s1.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0x71, "0", "4M"));
  CHECK(f.ChainLength(disk) == 2);
}

TEST_CASE("revert to two layers uses both as stored, or merges") {
  Fixture f;
  f.Start(/*direct=*/true);
  auto [disk, vol] = f.ManagedDisk("vm10", "32M");
  Write(disk, 0xa1, "0", "4M");
  auto s1 = f.Snap(vol.id);
  Write(disk, 0xa2, "1M", "1M");
  Write(disk, -1, "3M", "512K");  // zero clusters over the root's data
  auto s2 = f.Snap(vol.id);
  REQUIRE(s2.status == "available");
  const std::string root_object = f.dir + "/store/" + *s1.store_key;
  const std::string upper_object = f.dir + "/store/" + *s2.store_key;
  auto upper_header = qcow2::ReadQcow2Header(upper_object);
  REQUIRE(upper_header.ok());
  // s2 was taken on s1's history, merged away since.
  const std::string taken_on = upper_header->backing_file;
  CHECK(engine::ParseLayerName(disk, taken_on).snapshot_id == s1.id);
  CHECK_FALSE(PathExists(taken_on));
  auto inode = [](const std::string& p) {
    struct stat st;
    REQUIRE(stat(p.c_str(), &st) == 0);
    return st.st_ino;
  };
  auto reads_s2 = [&, disk = disk] {
    return Reads(disk, 0xa1, "0", "1M") && Reads(disk, 0xa2, "1M", "1M") &&
           Reads(disk, 0xa1, "2M", "1M") && Reads(disk, 0, "3M", "512K") &&
           Reads(disk, 0xa1, "3584K", "512K");
  };

  // A file already has that name: the root gets a new one and the upper
  // layer is merged into a new history (the other shapes' path).
  for (bool name_taken : {true, false}) {
    CAPTURE(name_taken);
    Write(disk, 0xa3, "0", "4M");
    REQUIRE(f.Snap(vol.id).status == "available");  // s2 is not the latest
    if (name_taken)
      REQUIRE(RunChecked(
                  {"qemu-img", "create", "-q", "-f", "qcow2", taken_on, "32M"})
                  .ok());
    const auto taken_inode = name_taken ? inode(taken_on) : 0;
    REQUIRE(f.engine->RevertVolume(vol.id, s2.id).ok());
    f.engine->WaitIdle();
    CHECK(reads_s2());
    auto chain = engine::ReadChain(disk, disk);
    REQUIRE(chain.ok());
    REQUIRE(chain->length() == 3);
    CHECK(chain->layers[1].name.snapshot_id == s2.id);
    CHECK(inode(chain->layers[2].path) == inode(root_object));
    if (name_taken) {
      CHECK(chain->layers[2].path != taken_on);
      CHECK(inode(chain->layers[1].path) != inode(upper_object));
      CHECK((!PathExists(taken_on) || inode(taken_on) == taken_inode));
      REQUIRE(RemoveFile(taken_on).ok());
    } else {
      // disk ← s2's object, linked, its header as stored ← s1's object,
      // linked under the name that header gives.
      CHECK(chain->layers[2].path == taken_on);
      CHECK(inode(chain->layers[1].path) == inode(upper_object));
    }
    auto rows = f.catalog->UnsettledHistories();
    REQUIRE(rows.ok());
    CHECK(rows->empty());
  }
  // Snapshots go on from there without writing into either object.
  auto upper_sha = Sha256File(upper_object);
  REQUIRE(upper_sha.ok());
  CHECK(*upper_sha == *s2.sha256);
  for (int r = 0; r < 2; ++r) {
    Write(disk, 0xb0 + r, std::to_string(5 + r) + "M", "1M");
    auto s = f.Snap(vol.id);
    CHECK(s.status == "available");
    if (r == 0) CHECK(s.parent_id == s2.id);
    CHECK(f.ChainLength(disk) == 3);
  }
  CHECK(reads_s2());
  CHECK(Reads(disk, 0xb1, "6M", "1M"));
  upper_sha = Sha256File(upper_object);
  REQUIRE(upper_sha.ok());
  CHECK(*upper_sha == *s2.sha256);
  auto root_sha = Sha256File(root_object);
  REQUIRE(root_sha.ok());
  CHECK(*root_sha == *s1.sha256);
}

TEST_CASE("a revert's merged history is settled, or rebuilt after a crash") {
  Fixture f;
  f.Start(/*direct=*/true);
  auto [disk, vol] = f.ManagedDisk("vm9", "32M");
  Write(disk, 0x91, "0", "4M");
  auto s1 = f.Snap(vol.id);
  Write(disk, 0x92, "1M", "1M");
  auto s2 = f.Snap(vol.id);
  Write(disk, 0x93, "2M", "1M");
  auto s3 = f.Snap(vol.id);
  REQUIRE(f.Snap(vol.id).status == "available");  // s3 is not the latest
  REQUIRE(f.engine->RevertVolume(vol.id, s3.id).ok());
  f.engine->WaitIdle();
  // disk ← history (s2 + s3 merged, not written back by the revert) ←
  // root; the reaper wrote it back after and dropped its row.
  auto chain = engine::ReadChain(disk, disk);
  REQUIRE(chain.ok());
  REQUIRE(chain->length() == 3);
  const std::string history = chain->layers[1].path;
  auto rows = f.catalog->UnsettledHistories();
  REQUIRE(rows.ok());
  CHECK(rows->empty());
  Write(disk, 0x94, "3M", "1M");  // the guest's writes after the revert
  auto reads_right = [&, disk = disk] {
    return Reads(disk, 0x91, "0", "1M") && Reads(disk, 0x92, "1M", "1M") &&
           Reads(disk, 0x93, "2M", "1M") && Reads(disk, 0x94, "3M", "1M");
  };
  REQUIRE(reads_right());
  auto inode = [&] {
    struct stat st;
    REQUIRE(stat(history.c_str(), &st) == 0);
    return st.st_ino;
  };
  // A host crash loses what was not written back: here all but the header
  // cluster, so the history's tables read as empty and the root shows
  // through (fault injection: a power cut cannot be made here).
  auto lose_content = [&] {
    std::string zeros(1 << 20, '\0');
    int fd = open(history.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0);
    for (off_t off = 64 << 10; off < st.st_size; off += 1 << 20)
      REQUIRE(pwrite(fd, zeros.data(), zeros.size(), off) ==
              static_cast<ssize_t>(zeros.size()));
    close(fd);
  };
  auto good_check = FileCheck(history, 1);
  REQUIRE(good_check.ok());

  struct Case {
    const char* what;
    bool with_check, lost, rebuilt;
  };
  for (const Case& c :
       {Case{"check matches: only written back", true, false, false},
        Case{"no check yet: rebuilt", false, false, true},
        Case{"content lost: rebuilt", true, true, true},
        Case{"lost, no check: rebuilt", false, true, true}}) {
    CAPTURE(c.what);
    db::UnsettledHistoryRecord u;
    u.path = history;
    u.volume_id = vol.id;
    u.layers = {s2.id, s3.id};
    if (c.with_check) u.file_check = *good_check;
    REQUIRE(f.catalog->AddUnsettledHistory(u).ok());
    if (c.lost) {
      lose_content();
      CHECK_FALSE(Reads(disk, 0x92, "1M", "1M"));
    }
    const auto before = inode();
    f.StartWith(f.local.get());  // a new engine: Recover()
    CHECK((inode() != before) == c.rebuilt);
    CHECK(reads_right());
    rows = f.catalog->UnsettledHistories();
    REQUIRE(rows.ok());
    CHECK(rows->empty());
  }

  // A chain that cannot be read yet (here: the disk's path empty, as a
  // create's crash leaves it until its recovery): the row waits.
  db::UnsettledHistoryRecord waiting{
      history, vol.id, {s2.id, s3.id}, *good_check, 0};
  REQUIRE(f.catalog->AddUnsettledHistory(waiting).ok());
  REQUIRE(rename(disk.c_str(), (disk + ".away").c_str()) == 0);
  f.StartWith(f.local.get());
  rows = f.catalog->UnsettledHistories();
  REQUIRE(rows.ok());
  CHECK(rows->size() == 1);
  CHECK(PathExists(history));
  REQUIRE(rename((disk + ".away").c_str(), disk.c_str()) == 0);
  f.StartWith(f.local.get());
  rows = f.catalog->UnsettledHistories();
  REQUIRE(rows.ok());
  CHECK(rows->empty());
  CHECK(reads_right());

  // A row whose history left the chain (a snapshot merged it since): dropped.
  db::UnsettledHistoryRecord gone{disk + ".gone", vol.id, {s2.id}, {}, 0};
  REQUIRE(f.catalog->AddUnsettledHistory(gone).ok());
  // One that cannot be rebuilt (its layers are not stored) after a loss: the
  // volume goes to error, kept for an operator, and the row stays.
  db::UnsettledHistoryRecord orphan{
      history, vol.id, {"no-such-snapshot"}, *good_check, 0};
  REQUIRE(f.catalog->AddUnsettledHistory(orphan).ok());
  lose_content();
  f.StartWith(f.local.get());
  rows = f.catalog->UnsettledHistories();
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK(rows->front().path == history);
  auto v = f.catalog->GetVolume(vol.id);
  REQUIRE(v.ok());
  CHECK(v->status == "error");
}

TEST_CASE("revert to the latest snapshot is a new overlay on its history") {
  Fixture f;
  f.Start(/*direct=*/true);
  auto [disk, vol] = f.ManagedDisk("vm5", "32M");
  Write(disk, 0x31, "0", "4M");
  f.Snap(vol.id);
  Write(disk, 0x32, "1M", "1M");
  auto s2 = f.Snap(vol.id);
  REQUIRE(s2.status == "available");
  auto before = engine::ReadChain(disk, disk);
  REQUIRE(before.ok());
  REQUIRE(before->length() == 2);
  REQUIRE(before->layers[1].name.snapshot_id == s2.id);
  const std::string history = before->layers[1].path;
  struct stat h0;
  REQUIRE(stat(history.c_str(), &h0) == 0);
  Write(disk, 0x33, "0", "3M");  // after the latest snapshot: dropped

  REQUIRE(f.engine->RevertVolume(vol.id, s2.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0x31, "0", "1M"));
  CHECK(Reads(disk, 0x32, "1M", "1M"));
  CHECK(Reads(disk, 0x31, "2M", "2M"));
  // The same history file, untouched; only the top is new.
  auto after = engine::ReadChain(disk, disk);
  REQUIRE(after.ok());
  REQUIRE(after->length() == 2);
  CHECK(after->layers[1].path == history);
  struct stat h1;
  REQUIRE(stat(history.c_str(), &h1) == 0);
  CHECK(h1.st_ino == h0.st_ino);
  CHECK(h1.st_mtime == h0.st_mtime);
  auto v = f.catalog->GetVolume(vol.id);
  REQUIRE(v.ok());
  CHECK(v->status == "available");
  CHECK(v->head_snapshot_id == s2.id);

  // Snapshots go on from there as usual.
  Write(disk, 0x34, "5M", "1M");
  auto s3 = f.Snap(vol.id);
  CHECK(s3.status == "available");
  CHECK(s3.parent_id == s2.id);
  CHECK(Reads(disk, 0x34, "5M", "1M"));
  CHECK(Reads(disk, 0x32, "1M", "1M"));
}

TEST_CASE("revert on a foreign base merges every layer into one history") {
  Fixture f;
  f.Start(/*direct=*/true);
  // A volume adopted with a base image nobody else manages (a raw file, as
  // Nova's image cache keeps them): the layers all sit above it.
  const std::string base = f.disks + "/base.raw";
  REQUIRE(
      RunChecked({"qemu-img", "create", "-q", "-f", "raw", base, "16M"}).ok());
  REQUIRE(RunChecked({"qemu-io", "-f", "raw", "-c", "write -P 0x91 0 8M", base})
              .ok());
  const std::string disk = f.disks + "/vm9.qcow2";
  REQUIRE(RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
                      "-b", base, disk})
              .ok());
  auto vol = f.engine->ManageVolume({"p1", "u1", "vm9", "", disk, false, {}});
  REQUIRE_MESSAGE(vol.ok(), vol.status().ToString());
  Write(disk, 0x92, "1M", "1M");
  auto s1 = f.Snap(vol->id);
  Write(disk, 0x93, "2M", "1M");
  Write(disk, -1, "3M", "1M");  // zero clusters over the base's data
  auto s2 = f.Snap(vol->id);
  Write(disk, 0x94, "4M", "1M");
  auto s3 = f.Snap(vol->id);
  REQUIRE(s3.status == "available");
  Write(disk, 0x95, "0", "6M");

  // Each revert, then what each region must read as.
  const std::vector<std::pair<std::string, std::vector<Region>>> reverts = {
      {s2.id,
       {{0x91, "0", "1M"},
        {0x92, "1M", "1M"},
        {0x93, "2M", "1M"},
        {0, "3M", "1M"},
        {0x91, "4M", "4M"}}},
      {s3.id, {{0x93, "2M", "1M"}, {0, "3M", "1M"}, {0x94, "4M", "1M"}}},
  };
  for (const auto& [to, regions] : reverts) {
    REQUIRE(f.engine->RevertVolume(vol->id, to).ok());
    f.engine->WaitIdle();
    for (const Region& r : regions) CHECK(Reads(disk, r.pattern, r.off, r.len));
    // disk ← history (all layers merged) ← the base, untouched.
    auto chain = engine::ReadChain(disk, disk);
    REQUIRE(chain.ok());
    REQUIRE(chain->length() == 3);
    CHECK(chain->layers[1].name.snapshot_id == to);
    CHECK(chain->layers[2].path == base);
  }
}

TEST_CASE("a failed upload is carried by the next snapshot (R2.4, R2.6)") {
  Fixture f;
  auto [disk, vol] = f.ManagedDisk("vm2", "32M");
  Write(disk, 0x11, "0", "512K");
  auto s1 = f.Snap(vol.id);
  REQUIRE(s1.status == "available");

  Write(disk, 0x22, "1M", "512K");
  f.store->fail = true;
  auto s2 = f.Snap(vol.id);
  CHECK(s2.status == "error");
  CHECK(s2.error.find("injected") != std::string::npos);
  CHECK(f.ChainLength(disk) == 3);  // history ← snap-s2 ← disk
  f.store->fail = false;

  Write(disk, 0x33, "2M", "512K");
  auto s3 = f.Snap(vol.id);
  CHECK(s3.status == "available");
  CHECK(s3.parent_id == s1.id);
  REQUIRE(s3.covers.size() == 1);
  CHECK(s3.covers[0] == s2.id);
  CHECK(f.ChainLength(disk) == 2);

  REQUIRE(f.engine->RevertVolume(vol.id, s1.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0, "1M", "512K"));
  REQUIRE(f.engine->RevertVolume(vol.id, s3.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0x11, "0", "512K"));
  CHECK(Reads(disk, 0x22, "1M", "512K"));
  CHECK(Reads(disk, 0x33, "2M", "512K"));
}

TEST_CASE("an overlay's reserved space goes back when it becomes a layer") {
  // Issue 17: the overlays the engine creates hold space past their end for
  // the guest's first writes (util/space_reserve.h), a layer does not.
  Fixture f;
  f.overlay = {0, /*subclusters=*/true, /*reserve_bytes=*/16 << 20};
  f.Start();
  auto [disk, vol] = f.ManagedDisk("vm4", "32M");
  Write(disk, 0x11, "0", "512K");
  const auto s1 = f.Snap(vol.id);
  REQUIRE(s1.status == "available");
  auto past_end = [](const std::string& path) -> int64_t {
    auto used = AllocatedBytes(path);
    auto size = FileSize(path);
    REQUIRE(used.ok());
    REQUIRE(size.ok());
    return static_cast<int64_t>(*used) - static_cast<int64_t>(*size);
  };
  // The live top the snapshot left was created by the engine: reserved.
  CHECK(past_end(disk) >= (16 << 20));

  // A layer that stays in the chain (its upload failed) is back to its data.
  RunIo(disk, {"write -P 0x22 1M 4k", "write -P 0x22 2M 4k"});
  f.store->fail = true;
  const auto s2 = f.Snap(vol.id);
  f.store->fail = false;
  CHECK(s2.status == "error");
  const std::string layer = engine::SnapshotLayerPath(disk, s2.id);
  REQUIRE(PathExists(layer));
  // Holes inside, nothing past the end (ext4 counts its extent-tree
  // blocks in st_blocks: a few KiB beyond the data).
  CHECK(past_end(layer) < (256 << 10));
  CHECK(past_end(disk) >= (16 << 20));  // the new top has its own
  CHECK(Reads(disk, 0x22, "1M", "4K"));
  CHECK(Reads(disk, 0x11, "0", "512K"));
  CHECK(RunChecked({"qemu-img", "check", "-q", layer}).ok());
}

TEST_CASE("a server on a temporary overlay of its disk is that disk's volume") {
  // Mid cut-over or repoint the VM runs on one of Strata's temporaries
  // (".vm5.strata-repoint-…"): a Nova action then names the managed
  // volume (whose lease answers 409), never "one of Strata's own files".
  Fixture f;
  auto [disk, vol] = f.ManagedDisk("vm5", "16M");
  const std::string temp = engine::TempPath(disk, "repoint", "e919a5f2");
  REQUIRE(RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", "-b", disk,
                      "-F", "qcow2", temp})
              .ok());
  hypervisor::DomainInfo dom;
  dom.uuid = "f90fd518-e0d0-4a12-aad2-8e66489f5487";
  dom.name = "d";
  hypervisor::DomainDisk d;
  d.target = "vda";
  d.source = temp;
  auto got = f.engine->ServerDiskVolume(dom, d, "p1");
  REQUIRE_MESSAGE(got.ok(), got.status().ToString());
  CHECK(got->id == vol.id);
}

TEST_CASE("deleting snapshots keeps what others build on, merged (R1.9)") {
  Fixture f;
  auto [disk, vol] = f.ManagedDisk("vm3", "16M");
  Write(disk, 0x41, "0", "256K");
  auto s1 = f.Snap(vol.id);
  Write(disk, 0x42, "256K", "256K");
  auto s2 = f.Snap(vol.id);

  // s2's layer builds on s1's: s1's is merged into it (snapshot_merge.cc),
  // and s1 is gone everywhere.
  REQUIRE(f.engine->DeleteSnapshot(s1.id, false).ok());
  f.engine->WaitIdle();
  CHECK(f.catalog->GetSnapshot(s1.id).status().IsNotFound());
  auto s2_now = f.catalog->GetSnapshot(s2.id);
  REQUIRE(s2_now.ok());
  CHECK_FALSE(s2_now->parent_id.has_value());
  CHECK(*s2_now->store_key == engine::LayerKey(vol.id, s2.id, 1));
  db::ListQuery q;
  auto list = f.catalog->ListSnapshots(q);
  REQUIRE(list.ok());
  CHECK(list->rows.size() == 1);

  // Reverting to s2 reads s1's writes from s2's merged layer.
  REQUIRE(f.engine->RevertVolume(vol.id, s2.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0x41, "0", "256K"));
  CHECK(Reads(disk, 0x42, "256K", "256K"));

  // Deleting s2 (the head: the live chain builds on it) hides it.
  REQUIRE(f.engine->DeleteSnapshot(s2.id, false).ok());
  f.engine->WaitIdle();
  CHECK(f.catalog->GetSnapshot(s2.id)->hidden);
  // A new snapshot moves the head; s2 stays while s3 builds on it.
  auto s3 = f.Snap(vol.id);
  CHECK(s3.parent_id == s2.id);
  CHECK(f.catalog->GetSnapshot(s2.id).ok());
}

TEST_CASE("relay stages: the layer's own SHA-256 is kept and checked (R1.3)") {
  Fixture f;
  auto relay = f.RelayStore("key-a");
  f.StartWith(relay.get());
  auto [disk, vol] = f.ManagedDisk("vm6", "64M");
  Write(disk, 0xa1, "0", "4M");
  auto s1 = f.Snap(vol.id);
  REQUIRE(s1.status == "available");
  REQUIRE(s1.layer_sha256.has_value());
  // The store holds compressed, encrypted bytes: their digest is not the
  // layer's, and they are smaller (4 MiB of one byte value compress).
  CHECK(*s1.layer_sha256 != *s1.sha256);
  CHECK(s1.layer_bytes < (1 << 20));
  // Never linked (the stages must undo it): no fast check is taken.
  CHECK_FALSE(s1.layer_check.has_value());
  std::string magic(8, '\0');
  std::ifstream(f.dir + "/store/" + *s1.store_key).read(magic.data(), 8);
  CHECK(magic == "STRATAGC");
  Write(disk, 0xb2, "4M", "1M");
  auto s2 = f.Snap(vol.id);
  REQUIRE(s2.status == "available");
  Write(disk, 0xc3, "0", "1M");

  // Reverts download, decrypt and decompress, then check the layer's own
  // digest before the disk changes.
  REQUIRE(f.engine->RevertVolume(vol.id, s1.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0xa1, "0", "4M"));
  CHECK(Reads(disk, 0, "4M", "1M"));
  REQUIRE(f.engine->RevertVolume(vol.id, s2.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0xa1, "0", "4M"));
  CHECK(Reads(disk, 0xb2, "4M", "1M"));
  Write(disk, 0xd4, "8M", "1M");

  // A catalog digest that the decoded layer does not match (a fault the
  // stages themselves cannot produce: they authenticate what they decode)
  // stops the revert; the disk keeps its state.
  auto tampered = f.catalog->GetSnapshot(s1.id);
  REQUIRE(tampered.ok());
  const std::string good = *tampered->layer_sha256;
  tampered->layer_sha256 = std::string(64, '0');
  REQUIRE(f.catalog->UpdateSnapshot(*tampered).ok());
  REQUIRE(f.engine->RevertVolume(vol.id, s1.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0xd4, "8M", "1M"));
  CHECK(Reads(disk, 0xb2, "4M", "1M"));
  tampered->layer_sha256 = good;
  REQUIRE(f.catalog->UpdateSnapshot(*tampered).ok());

  // The same objects read with another key: refused, disk untouched.
  auto wrong = f.RelayStore("key-b");
  f.StartWith(wrong.get());
  REQUIRE(f.engine->RevertVolume(vol.id, s1.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0xd4, "8M", "1M"));
  CHECK(Reads(disk, 0xb2, "4M", "1M"));
  auto after = f.catalog->GetVolume(vol.id);
  REQUIRE(after.ok());
  CHECK(after->status == "available");

  // With the right key again, the revert goes through.
  f.StartWith(relay.get());
  REQUIRE(f.engine->RevertVolume(vol.id, s1.id).ok());
  f.engine->WaitIdle();
  CHECK(Reads(disk, 0xa1, "0", "4M"));
  CHECK(Reads(disk, 0, "8M", "1M"));
}

TEST_CASE("an NBD export's clients make its volume in-use until a restart") {
  Fixture f;
  auto [disk, vol] = f.ManagedDisk("vm8", "8M");
  auto status = [&] {
    auto v = f.catalog->GetVolume(vol.id);
    REQUIRE(v.ok());
    return v->status;
  };
  auto set_status = [&](const std::string& to) {
    REQUIRE(f.catalog
                ->ModifyVolume(vol.id,
                               [&](db::VolumeRecord& v) {
                                 v.status = to;
                                 return Status::OK();
                               })
                .ok());
  };
  REQUIRE(status() == "available");
  REQUIRE(f.engine->SetExportAttached(vol.path, true).ok());
  CHECK(status() == "in-use");
  REQUIRE(f.engine->SetExportAttached(vol.path, true).ok());  // a 2nd client
  CHECK(status() == "in-use");
  // A volume in use is not unmanaged (as Cinder refuses it).
  CHECK(f.engine->UnmanageVolume(vol.id).code() == StatusCode::kConflict);
  CHECK(status() == "in-use");
  REQUIRE(f.engine->SetExportAttached(vol.path, false).ok());
  CHECK(status() == "available");
  // Another status is not the export's to change.
  set_status("maintenance");
  REQUIRE(f.engine->SetExportAttached(vol.path, true).ok());
  CHECK(status() == "maintenance");
  set_status("available");
  // A stop with a client connected leaves "in-use"; no client is there
  // after a restart, before the exports start.
  REQUIRE(f.engine->SetExportAttached(vol.path, true).ok());
  f.Start();
  CHECK(status() == "available");
  CHECK(f.engine->SetExportAttached("/no/such/disk.qcow2", true).IsNotFound());
  REQUIRE(f.engine->UnmanageVolume(vol.id).ok());
  CHECK(f.catalog->GetVolume(vol.id).status().IsNotFound());
}

// Issue 17: overlays with qcow2 subclusters keep a small write's cluster
// rest a hole, and such a layer is stored as its data extents
// (engine/layer_form.h): stored ≈ written for 4, 8 and 16 KiB writes, and
// every point, made of mixed-size writes, zero writes and discards, reverts
// exactly, from the local store (sparse layers downloaded, dense ones
// linked) and through relay stages.
TEST_CASE("subcluster layers are as small as the writes and revert exactly") {
  for (const bool relay : {false, true}) {
    CAPTURE(relay);
    Fixture f;
    f.overlay = {0, /*subclusters=*/true};
    std::unique_ptr<store::Store> stages;
    if (relay) {
      stages = f.RelayStore("key");
      f.StartWith(stages.get());
    } else {
      f.Start(/*direct=*/true);
    }
    auto [disk, vol] = f.ManagedDisk("vm1", "64M");
    Write(disk, 0x11, "0", "48M");
    const auto s1 = f.Snap(vol.id);
    REQUIRE(s1.status == "available");

    // Round 2: 4 MiB of small writes, each in a 64 KiB cluster of its own.
    std::vector<std::string> io;
    std::vector<std::string> check2;
    auto small = [&](int pattern, uint64_t first, uint64_t size, int n) {
      for (int i = 0; i < n; ++i) {
        const std::string at = std::to_string(first + i * (64 << 10));
        const std::string len = std::to_string(size);
        io.push_back("write -P " + std::to_string(pattern) + " " + at + " " +
                     len);
        check2.push_back("read -P " + std::to_string(pattern) + " " + at + " " +
                         len);
      }
    };
    small(0x22, 4 << 10, 4 << 10, 512);                  // 4 KiB in [0, 32M)
    small(0x33, (32 << 20) + (16 << 10), 8 << 10, 128);  // 8 KiB in [32M, 40M)
    small(0x44, (40 << 20) + (32 << 10), 16 << 10, 64);  // 16 KiB in [40M, 44M)
    RunIo(disk, io);
    const auto s2 = f.Snap(vol.id);
    REQUIRE(s2.status == "available");
    const uint64_t written2 = 4 << 20;
    MESSAGE("4-16 KiB writes: stored ", s2.layer_bytes, " for ", written2);
    // The data, and qcow2's metadata (header, L1, refcounts, L2 tables).
    CHECK(static_cast<uint64_t>(s2.layer_bytes) <= written2 + (768 << 10));

    // Round 3: large writes, zero writes over small ones, a discard.
    RunIo(disk, {"write -P 0x55 48M 4M", "write -P 0x66 56M 1M",
                 "write -z 4k 4k", "write -z 68k 4k", "discard 128k 64k"});
    const auto s3 = f.Snap(vol.id);
    REQUIRE(s3.status == "available");
    CHECK(static_cast<uint64_t>(s3.layer_bytes) <= (5 << 20) + (768 << 10));

    const std::vector<std::string> at1 = {"read -P 0x11 0 48M",
                                          "read -P 0 48M 16M"};
    std::vector<std::string> at2 = check2;
    at2.insert(at2.end(), {"read -P 0x11 0 4k", "read -P 0x11 8k 56k",
                           "read -P 0 48M 16M"});
    const std::vector<std::string> at3 = {
        "read -P 0 4k 4k",        "read -P 0 68k 4k",  "read -P 0 128k 64k",
        "read -P 0x22 196k 4k",   "read -P 0x11 0 4k", "read -P 0x55 48M 4M",
        "read -P 0x66 56M 1M",    "read -P 0 52M 4M",  "read -P 0 57M 7M",
        "read -P 0x44 41056k 16k"};
    for (const auto& [snap, reads] :
         std::vector<std::pair<db::SnapshotRecord, std::vector<std::string>>>{
             {s1, at1}, {s3, at3}, {s2, at2}, {s3, at3}}) {
      CAPTURE(snap.id);
      Write(disk, 0x77, "0", "64M");  // whatever the VM did since
      REQUIRE(f.engine->RevertVolume(vol.id, snap.id).ok());
      f.engine->WaitIdle();
      RunIo(disk, reads);  // a pattern mismatch fails qemu-io's read
      auto v = f.catalog->GetVolume(vol.id);
      REQUIRE(v.ok());
      CHECK(v->status == "available");
    }
  }
}
