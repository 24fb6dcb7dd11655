// Tests for engine/layer_apply (issue 17, R2.8): a layer applied to a
// preallocated history by its extents reads exactly as `qemu-img commit` of
// it would leave the history, for layers of random writes of many sizes,
// zero writes and discards, in each overlay layout; where the target has no
// cluster of its own under the layer (holes, internal snapshots) nothing is
// written (the merge then commits with qemu-img: engine_flow_test).
#include "engine/layer_apply.h"

#include <doctest/doctest.h>
#include <fcntl.h>

#include <random>
#include <string>
#include <vector>

#include "engine/qemu_img.h"
#include "qcow2/cluster_map.h"
#include "qcow2/qcow2_header.h"
#include "temp_dir.h"
#include "util/fs.h"
#include "util/open_beneath.h"
#include "util/subprocess.h"

namespace strata::engine {
namespace {

using testing::TempDir;

constexpr uint64_t kSize = 16 << 20;

void QemuIo(const std::string& image, const std::vector<std::string>& cmds) {
  std::vector<std::string> argv = {"qemu-io", "-f", "qcow2"};
  for (const auto& c : cmds) argv.insert(argv.end(), {"-c", c});
  argv.push_back(image);
  auto r = RunChecked(argv);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  REQUIRE(r->out.find("failed") == std::string::npos);
}

// Whether two images read the same (their chains included).
bool SameContent(const std::string& a, const std::string& b) {
  auto r = RunProcess(
      {"qemu-img", "compare", "-q", "-f", "qcow2", "-F", "qcow2", a, b});
  return r.ok() && r->exit_code == 0;
}

std::string FileBytes(const std::string& path) {
  auto s = ReadSmallFile(path, 64 << 20);
  REQUIRE(s.ok());
  return *s;
}

// A history: the first half of the disk written, the rest never.
std::string MakeHistory(const TempDir& dir, const std::string& name) {
  const std::string path = dir.path + "/" + name;
  REQUIRE(CreateOverlay(path, "", "", kSize, OverlayLayout()).ok());
  QemuIo(path, {"write -P 17 0 8M"});
  return path;
}

// `ops` random writes (512 B to 1 MiB, 512-aligned), zero writes and
// discards over the whole disk.
std::vector<std::string> RandomOps(std::mt19937_64& rng, int ops) {
  const uint64_t sizes[] = {512, 2048, 4096, 8192, 16384, 65536, 1 << 20};
  std::vector<std::string> cmds;
  for (int i = 0; i < ops; ++i) {
    const uint64_t len = sizes[rng() % std::size(sizes)];
    const uint64_t off = (rng() % ((kSize - len) / 512)) * 512;
    const std::string where = std::to_string(off) + " " + std::to_string(len);
    switch (rng() % 6) {
      case 0:
        cmds.push_back("write -z " + where);
        break;
      case 1:
        cmds.push_back("discard " + where);
        break;
      default:
        cmds.push_back("write -P " + std::to_string(1 + rng() % 250) + " " +
                       where);
    }
  }
  return cmds;
}

// A layer on `backing` in `layout` holding `cmds`.
std::string MakeLayer(const TempDir& dir, const std::string& name,
                      const std::string& backing, const OverlayLayout& layout,
                      const std::vector<std::string>& cmds) {
  const std::string path = dir.path + "/" + name;
  REQUIRE(CreateOverlay(path, backing, "qcow2", kSize, layout).ok());
  QemuIo(path, cmds);
  return path;
}

// The reference: a copy of `target` with a copy of `layer` committed into
// it by qemu-img.
std::string Committed(const TempDir& dir, const std::string& layer,
                      const std::string& target) {
  const std::string ref = dir.path + "/ref.qcow2";
  const std::string top = dir.path + "/ref-layer.qcow2";
  REQUIRE(CopyFileSparse(target, ref).ok());
  REQUIRE(CopyFileSparse(layer, top).ok());
  REQUIRE(SetBackingUnsafe(top, ref, "qcow2").ok());
  REQUIRE(CommitInto({top, ref}).ok());
  return ref;
}

TEST_CASE("a layer applied by its extents reads as qemu-img commit leaves it") {
  const OverlayLayout layouts[] = {{0, false}, {0, true}, {4096, false}};
  for (const OverlayLayout& layout : layouts) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      CAPTURE(layout.cluster_size);
      CAPTURE(layout.subclusters);
      CAPTURE(seed);
      TempDir dir;
      const std::string history = MakeHistory(dir, "history.qcow2");
      const std::string target = dir.path + "/target.qcow2";
      REQUIRE(CopyPreallocated(history, target, 65536).ok());
      REQUIRE(SameContent(history, target));
      std::mt19937_64 rng(seed);
      const std::string layer =
          MakeLayer(dir, "layer.qcow2", target, layout, RandomOps(rng, 80));
      const std::string ref = Committed(dir, layer, target);
      REQUIRE_FALSE(SameContent(ref, target));  // the layer changes it

      ApplyStats stats;
      Status s = ApplyLayerInto(layer, target, /*sync=*/true, &stats);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      CHECK(stats.extents > 0);
      CHECK(SameContent(target, ref));
      CHECK(CheckImage(target).ok());
    }
  }
}

TEST_CASE("the layer's own reading: subclusters, zero flags, holes") {
  TempDir dir;
  const std::string history = MakeHistory(dir, "history.qcow2");
  const std::string layer = MakeLayer(
      dir, "layer.qcow2", history, {0, true},
      {"write -P 5 4096 2048", "write -z 1M 64k", "write -P 6 2M 8k"});
  auto fd = OpenFileNoSymlinks(layer, O_RDONLY);
  REQUIRE(fd.ok());
  auto h = qcow2::ReadQcow2Header(fd->get(), layer);
  REQUIRE(h.ok());
  auto reader = qcow2::ClusterMapReader::Open(fd->get(), *h, layer);
  REQUIRE(reader.ok());
  auto held = reader->Held();
  REQUIRE(held.ok());
  REQUIRE(held->size() == 3);
  using qcow2::SubclusterState;
  CHECK((*held)[0].guest == 4096);
  CHECK((*held)[0].length == 2048);
  CHECK((*held)[0].state == SubclusterState::kData);
  CHECK((*held)[0].sole_owner);
  CHECK((*held)[1].guest == (1 << 20));
  CHECK((*held)[1].length == 65536);
  CHECK((*held)[1].state == SubclusterState::kZero);
  CHECK((*held)[2].guest == (2 << 20));
  CHECK((*held)[2].length == 8192);
  CHECK((*held)[2].state == SubclusterState::kData);
  // The data lies where the reader says: 2 KiB of 5s at its host offset.
  std::string bytes(2048, '\0');
  REQUIRE(
      PreadAll(fd->get(), bytes.data(), bytes.size(), (*held)[0].host, layer)
          .ok());
  CHECK(bytes == std::string(2048, '\5'));
}

TEST_CASE(
    "a target without clusters of its own under the layer is left "
    "untouched") {
  TempDir dir;
  std::mt19937_64 rng(7);
  const auto cmds = RandomOps(rng, 40);

  SUBCASE("holes: the history itself, not preallocated") {
    const std::string target = MakeHistory(dir, "target.qcow2");
    const std::string layer =
        MakeLayer(dir, "layer.qcow2", target, {0, true}, cmds);
    const std::string before = FileBytes(target);
    Status s = ApplyLayerInto(layer, target, /*sync=*/true, nullptr);
    CHECK(s.code() == StatusCode::kNotSupported);
    CHECK(FileBytes(target) == before);  // nothing written
  }
  SUBCASE("an internal snapshot shares the target's clusters") {
    const std::string history = MakeHistory(dir, "history.qcow2");
    const std::string target = dir.path + "/target.qcow2";
    REQUIRE(CopyPreallocated(history, target, 65536).ok());
    REQUIRE(RunChecked({"qemu-img", "snapshot", "-c", "s1", target}).ok());
    const std::string layer =
        MakeLayer(dir, "layer.qcow2", target, {0, true}, cmds);
    const std::string before = FileBytes(target);
    Status s = ApplyLayerInto(layer, target, /*sync=*/true, nullptr);
    CHECK(s.code() == StatusCode::kNotSupported);
    CHECK(FileBytes(target) == before);
    // The snapshot still reads as the history did.
    const std::string snap = dir.path + "/s1.qcow2";
    REQUIRE(RunChecked({"qemu-img", "convert", "-O", "qcow2", "-l",
                        "snapshot.name=s1", target, snap})
                .ok());
    CHECK(SameContent(snap, history));
  }
}

}  // namespace
}  // namespace strata::engine
