// CopyFileSparse (the R2.9 backup copies, written back chunk by chunk) and
// RemoveBigFileGently (and MergeExtentsToZeros, its merge of a step's many
// extents): content byte for byte, holes kept, sizes that are not a multiple
// of the block size or of the copy's chunk.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include "temp_dir.h"
#include "util/fs.h"

using strata::testing::TempDir;

namespace {

using strata::CopyFileSparse;
using strata::MergeExtentsToZeros;
using strata::RemoveBigFileGently;

// Writes `len` pseudo-random bytes at `off`.
void WriteAt(const std::string& path, off_t off, size_t len, unsigned seed) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  std::mt19937 rng(seed);
  std::string data(len, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  REQUIRE(pwrite(fd, data.data(), len, off) == static_cast<ssize_t>(len));
  close(fd);
}

std::string ReadAll(const std::string& path) {
  std::string out;
  int fd = open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  close(fd);
  return out;
}

// 4 KiB of data every 64 KiB over `len` bytes, holes between: the file a
// layer of scattered small writes leaves.
void WriteScattered(const std::string& path, off_t len, unsigned seed) {
  for (off_t off = 0; off < len; off += 64 << 10)
    WriteAt(path, off, 4096, seed + static_cast<unsigned>(off >> 16));
}

off_t AllocatedBytes(const std::string& path) {
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_blocks * 512;
}

void CheckCopy(const char* parent) {
  TempDir dir("strata-fscopy", parent);
  const std::string src = dir.path + "/src", dst = dir.path + "/dst";
  // Data, a 64 MiB hole, data crossing several 1 MiB chunks, and an odd
  // tail (the size is not a multiple of 4096).
  WriteAt(src, 0, 3 * 4096 + 100, 1);
  WriteAt(src, (64 << 20) + 8192, (3 << 20) + 12345, 2);
  WriteAt(dst, 0, 10, 3);  // an existing destination is replaced
  REQUIRE(CopyFileSparse(src, dst).ok());
  struct stat a, b;
  REQUIRE(stat(src.c_str(), &a) == 0);
  REQUIRE(stat(dst.c_str(), &b) == 0);
  CHECK(b.st_size == a.st_size);
  CHECK(ReadAll(dst) == ReadAll(src));
  // The hole stayed a hole: far less than the 70 MiB size is allocated.
  CHECK(AllocatedBytes(dst) < (8 << 20));
  // No temp file is left next to it.
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path)) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 2);
}

}  // namespace

TEST_CASE("CopyFileSparse: same bytes, holes kept, odd sizes") {
  CheckCopy("/var/tmp");
}

TEST_CASE("CopyFileSparse: an empty file and a missing one") {
  TempDir dir("strata-fscopy", "/var/tmp");
  const std::string src = dir.path + "/empty", dst = dir.path + "/copy";
  close(open(src.c_str(), O_WRONLY | O_CREAT, 0644));
  REQUIRE(CopyFileSparse(src, dst).ok());
  CHECK(ReadAll(dst).empty());
  CHECK_FALSE(CopyFileSparse(dir.path + "/missing", dst).ok());
}

TEST_CASE("RemoveBigFileGently removes large, small and missing files") {
  TempDir dir("strata-fscopy", "/var/tmp");
  const std::string big = dir.path + "/big", small = dir.path + "/small";
  WriteAt(big, 0, 20 << 20, 4);
  WriteAt(small, 0, 100, 5);
  CHECK(RemoveBigFileGently(big).ok());
  CHECK(RemoveBigFileGently(small).ok());
  CHECK(RemoveBigFileGently(dir.path + "/missing").ok());
  CHECK(access(big.c_str(), F_OK) != 0);
  CHECK(access(small.c_str(), F_OK) != 0);
}

TEST_CASE("RemoveBigFileGently removes a file of many small extents") {
  TempDir dir("strata-fscopy", "/var/tmp");
  const std::string f = dir.path + "/scattered";
  WriteScattered(f, (20 << 20) + 12345, 3);
  CHECK(RemoveBigFileGently(f).ok());
  CHECK(access(f.c_str(), F_OK) != 0);
}

TEST_CASE("RemoveBigFileGently leaves a second name's data whole") {
  TempDir dir("strata-fscopy", "/var/tmp");
  const std::string a = dir.path + "/a", b = dir.path + "/b";
  const std::string c = dir.path + "/c", d = dir.path + "/d";
  WriteAt(a, 0, 20 << 20, 6);
  WriteScattered(c, 20 << 20, 7);  // what the merge of extents would zero
  REQUIRE(link(a.c_str(), b.c_str()) == 0);
  REQUIRE(link(c.c_str(), d.c_str()) == 0);
  const std::string before = ReadAll(b), scattered = ReadAll(d);
  CHECK(RemoveBigFileGently(a).ok());
  CHECK(RemoveBigFileGently(c).ok());
  CHECK(ReadAll(b) == before);  // not truncated through the other name
  CHECK(ReadAll(d) == scattered);
}

// /var/tmp is ext4 on this project's machines (docs/engine.md), which has
// FALLOC_FL_ZERO_RANGE: a file system without it fails this test rather
// than passing it unchecked.
TEST_CASE("MergeExtentsToZeros makes a file of many extents zeros") {
  TempDir dir("strata-fscopy", "/var/tmp");
  const std::string f = dir.path + "/scattered";
  const off_t len = (8 << 20) + 4096;
  WriteScattered(f, len, 11);  // 129 extents
  const std::string before = ReadAll(f);
  int fd = open(f.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  CHECK(MergeExtentsToZeros(fd));
  // No data left (unwritten extents read as holes), the size unchanged...
  CHECK(lseek(fd, 0, SEEK_DATA) == -1);
  close(fd);
  // ...and it reads as zeros.
  const std::string after = ReadAll(f);
  CHECK(after.size() == before.size());
  CHECK(after.find_first_not_of('\0') == std::string::npos);
}

TEST_CASE("MergeExtentsToZeros leaves a file of few extents as it is") {
  TempDir dir("strata-fscopy", "/var/tmp");
  const std::string dense = dir.path + "/dense", two = dir.path + "/two";
  WriteAt(dense, 0, 8 << 20, 13);
  WriteAt(two, 1 << 20, 4096, 14);  // two data extents among holes
  WriteAt(two, 9 << 20, 4096, 15);
  for (const std::string& f : {dense, two}) {
    CAPTURE(f);
    const std::string before = ReadAll(f);
    int fd = open(f.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    CHECK_FALSE(MergeExtentsToZeros(fd));
    close(fd);
    CHECK(ReadAll(f) == before);
  }
}
