// Tests for engine/qemu_img (issue 16): a run's bound (item 4), and that
// qemu-img works on the files Strata opened, never on names it resolves
// itself (item 1): a path through a symlink is refused before qemu-img
// runs, a commit follows the chain Strata gives and not the layers' own
// backing names, and messages name files, not descriptors.
#include "engine/qemu_img.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "qcow2/qcow2_header.h"
#include "temp_dir.h"
#include "util/fs.h"
#include "util/open_beneath.h"
#include "util/space_reserve.h"
#include "util/subprocess.h"

namespace strata::engine {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::TempDir;

TEST_CASE("qemu-img runs are bounded by a floor plus their data") {
  CHECK(QemuImgTimeout(0) == minutes(2));
  CHECK(QemuImgTimeout(4ull << 30) == minutes(2) + seconds(1024));
  CHECK(QemuImgTimeout(100ull << 30) > std::chrono::hours(7));
  CHECK(QemuImgTimeout(1 << 20) < minutes(3));
}

// Whether `len` bytes at `offset`, read through `image`'s own chain, are
// all `pattern`.
bool ReadsAs(const std::string& image, int pattern, const std::string& offset,
             const std::string& len) {
  auto r = RunProcess(
      {"qemu-io", "-f", "qcow2", "-c",
       "read -P " + std::to_string(pattern) + " " + offset + " " + len, image});
  return r.ok() && r->exit_code == 0 &&
         r->out.find("Pattern verification failed") == std::string::npos &&
         r->out.find("read ") != std::string::npos;
}

bool Holds(const std::string& image, int pattern, const std::string& offset) {
  return ReadsAs(image, pattern, offset, "64k");
}

void Write(const std::string& image, int pattern, const std::string& offset) {
  REQUIRE(
      RunChecked({"qemu-io", "-f", "qcow2", "-c",
                  "write -P " + std::to_string(pattern) + " " + offset + " 64k",
                  image})
          .ok());
}

std::string BackingOf(const std::string& path) {
  auto h = qcow2::ReadQcow2Header(path);
  REQUIRE(h.ok());
  return h->backing_file;
}

TEST_CASE("qemu-img is handed the files: a symlinked directory is refused") {
  TempDir t;
  const std::string real = t.path + "/real", evil = t.path + "/evil";
  REQUIRE(MakeDirs(real).ok());
  REQUIRE(MakeDirs(evil).ok());
  REQUIRE(CreateOverlay(evil + "/victim.qcow2", "", "", 1 << 20, {}).ok());
  const std::string victim_backing = BackingOf(evil + "/victim.qcow2");
  const std::string dir = t.path + "/disks";  // a name swapped for a symlink
  REQUIRE(symlink(evil.c_str(), dir.c_str()) == 0);

  Status c = CreateOverlay(dir + "/new.qcow2", "", "", 1 << 20, {});
  CHECK(c.code() == StatusCode::kInvalidArgument);
  CHECK_FALSE(PathExists(evil + "/new.qcow2"));
  Status r =
      SetBackingUnsafe(dir + "/victim.qcow2", real + "/x.qcow2", "qcow2");
  CHECK(r.code() == StatusCode::kInvalidArgument);
  CHECK(BackingOf(evil + "/victim.qcow2") == victim_backing);
  CHECK(CheckImage(dir + "/victim.qcow2").code() ==
        StatusCode::kInvalidArgument);
  CHECK(CheckOpens(dir + "/victim.qcow2", "qcow2").code() ==
        StatusCode::kInvalidArgument);
  REQUIRE(CreateOverlay(real + "/top.qcow2", "", "", 1 << 20, {}).ok());
  CHECK(CommitInto({real + "/top.qcow2", dir + "/victim.qcow2"}).code() ==
        StatusCode::kInvalidArgument);
  // The same calls through the real directory work.
  CHECK(CheckImage(evil + "/victim.qcow2").ok());
  CHECK(CheckOpens(evil + "/victim.qcow2", "qcow2").ok());
}

TEST_CASE("a commit follows the chain it is given, not the headers' names") {
  TempDir t;
  const std::string base = t.path + "/base.qcow2", mid = t.path + "/mid.qcow2",
                    top = t.path + "/top.qcow2",
                    decoy = t.path + "/decoy.qcow2";
  REQUIRE(CreateOverlay(base, "", "", 4 << 20, {}).ok());
  REQUIRE(CreateOverlay(decoy, "", "", 4 << 20, {}).ok());
  REQUIRE(CreateOverlay(mid, base, "qcow2", 4 << 20, {}).ok());
  REQUIRE(CreateOverlay(top, mid, "qcow2", 4 << 20, {}).ok());
  Write(base, 1, "0");
  Write(mid, 2, "64k");
  Write(top, 3, "128k");
  // Both upper layers now name the decoy: qemu-img following the headers
  // would not find `base` below `top` at all.
  REQUIRE(SetBackingUnsafe(mid, decoy, "qcow2").ok());
  REQUIRE(SetBackingUnsafe(top, decoy, "qcow2").ok());

  REQUIRE(CommitInto({top, mid, base}).ok());
  CHECK(Holds(base, 1, "0"));
  CHECK(Holds(base, 2, "64k"));
  CHECK(Holds(base, 3, "128k"));
  CHECK(Holds(decoy, 0, "64k"));  // the decoy is untouched
  CHECK(Holds(decoy, 0, "128k"));
  CHECK(BackingOf(top) == decoy);  // the top is left as it was
}

TEST_CASE("a failed run names the files, not the descriptors it was given") {
  TempDir t;
  const std::string junk = t.path + "/junk.qcow2";
  {
    auto fd = OpenFileNoSymlinks(junk, O_RDWR | O_CREAT);
    REQUIRE(fd.ok());
    REQUIRE(write(fd->get(), "not an image at all", 19) == 19);
  }
  Status s = CheckOpens(junk, "qcow2");
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find(junk) != std::string::npos);
  CHECK(s.message().find("/proc/self/fd") == std::string::npos);
  // A failed overlay creation leaves no file behind.
  const std::string bad = t.path + "/bad.qcow2";
  CHECK_FALSE(CreateOverlay(bad, "", "", 1 << 20, {3, false}).ok());
  CHECK_FALSE(PathExists(bad));
}

// Bytes of `path` in data extents (SEEK_DATA/SEEK_HOLE).
uint64_t DataBytes(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(fd.valid());
  auto extents = DataExtents(
      fd.get(), static_cast<uint64_t>(lseek(fd.get(), 0, SEEK_END)));
  REQUIRE(extents.ok());
  uint64_t data = 0;
  for (const Extent& e : *extents) data += e.length;
  return data;
}

TEST_CASE("overlays with subclusters hold only what was written (issue 17)") {
  TempDir t;
  const std::string base = t.path + "/base.qcow2";
  REQUIRE(CreateOverlay(base, "", "", 8 << 20, {}).ok());
  REQUIRE(RunChecked({"qemu-io", "-f", "qcow2", "-c", "write -P 7 0 8M", base})
              .ok());
  std::map<std::string, uint64_t> data;
  for (const bool sub : {false, true}) {
    const std::string top = t.path + (sub ? "/sub.qcow2" : "/plain.qcow2");
    REQUIRE(CreateOverlay(top, base, "qcow2", 8 << 20, {0, sub}).ok());
    auto h = qcow2::ReadQcow2Header(top);
    REQUIRE(h.ok());
    CHECK(h->extended_l2 == sub);
    // 16 writes of 4 KiB, each into a cluster of its own.
    std::vector<std::string> argv = {"qemu-io", "-f", "qcow2"};
    for (int i = 0; i < 16; ++i)
      argv.insert(argv.end(),
                  {"-c", "write -P 9 " + std::to_string(i * 256 * 1024 + 8192) +
                             " 4k"});
    argv.push_back(top);
    REQUIRE(RunChecked(argv).ok());
    data[top] = DataBytes(top);
  }
  // Without subclusters each write copies its whole 64 KiB cluster from the
  // base; with them, the rest of the cluster stays a hole.
  const uint64_t plain = data[t.path + "/plain.qcow2"];
  const uint64_t sub = data[t.path + "/sub.qcow2"];
  MESSAGE("data extents: plain ", plain, ", subclusters ", sub);
  CHECK(plain >= 16 * (64 << 10));
  CHECK(sub + 16 * (48 << 10) <= plain);
  // …and reads through the chain: the write, the base around it.
  const std::string top = t.path + "/sub.qcow2";
  CHECK(ReadsAs(top, 9, "8k", "4k"));
  CHECK(ReadsAs(top, 7, "0", "8k"));
  CHECK(ReadsAs(top, 7, "12k", "52k"));
  CHECK_FALSE(ReadsAs(top, 7, "8k", "4k"));  // the check can fail
}

TEST_CASE("an overlay's reservation is past its end and handed back") {
  // Issue 17: reserved blocks (util/space_reserve.h) change neither the
  // file's size nor its content, are capped at the disk's size, and go back
  // on ReleaseSpacePastEnd.
  TempDir t;
  const std::string plain = t.path + "/plain.qcow2";
  const std::string held = t.path + "/held.qcow2";
  const std::string small = t.path + "/small.qcow2";
  REQUIRE(CreateOverlay(plain, "", "", 64 << 20, {0, true}).ok());
  REQUIRE(CreateOverlay(held, "", "", 64 << 20, {0, true, 8 << 20}).ok());
  REQUIRE(CreateOverlay(small, "", "", 1 << 20, {0, true, 8 << 20}).ok());
  CHECK(*FileSize(held) == *FileSize(plain));
  CHECK(*AllocatedBytes(held) >= *AllocatedBytes(plain) + (8 << 20));
  CHECK(*AllocatedBytes(small) < *FileSize(small) + (2 << 20));  // capped
  REQUIRE(RunChecked({"qemu-io", "-f", "qcow2", "-c", "write -P 5 64k 4k", "-c",
                      "write -P 6 8M 4k", held})
              .ok());
  CHECK(RunChecked({"qemu-img", "check", "-q", held}).ok());
  const uint64_t size = *FileSize(held);
  REQUIRE(ReleaseSpacePastEnd(held).ok());
  CHECK(*FileSize(held) == size);
  // (ext4 counts its extent-tree blocks in st_blocks: a few KiB more.)
  CHECK(*AllocatedBytes(held) < size + (256 << 10));
  CHECK(ReadsAs(held, 5, "64k", "4k"));
  CHECK(ReadsAs(held, 6, "8M", "4k"));
  CHECK(RunChecked({"qemu-img", "check", "-q", held}).ok());
}

TEST_CASE("a FIFO in a layer's place is refused without blocking") {
  TempDir t;
  const std::string fifo = t.path + "/layer.qcow2";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(OpenFileNoSymlinks(fifo, O_RDONLY).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(CheckImage(fifo).code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace strata::engine
