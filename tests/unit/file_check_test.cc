// FileCheck and FileCheckHasher, the chunked XXH3-128 check of local layers:
// cross-checked against xxhsum(1) (Debian's xxhash, the reference tool),
// the streamed and the threaded forms agree, and a changed byte or length
// changes the value.
#include "util/file_check.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/temp_dir.h"

namespace {

using strata::FileCheck;
using strata::FileCheckHasher;
using strata::kFileCheckChunkBytes;

// The first word `cmd` prints, or "" if it failed.
std::string FirstWord(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  char buf[256] = {0};
  size_t n = fread(buf, 1, sizeof buf - 1, p);
  int rc = pclose(p);
  std::string out(buf, n);
  out = out.substr(0, out.find_first_of(" \n"));
  return rc == 0 ? out : "";
}

// Hex digits to bytes.
std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  REQUIRE(f.good());
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t b = 0; b < 8 && i + b < n; ++b)
      s[i + b] = static_cast<char>(v >> (8 * b));
  }
  return s;
}

// The check computed the documented way with xxhsum: XXH3-128 of each
// 64 MiB chunk, then of those digests (canonical bytes) and the length as 8
// little-endian bytes.
std::string ReferenceCheck(const strata::testing::TempDir& dir,
                           const std::string& data) {
  std::string folded;
  for (size_t off = 0; off < data.size(); off += kFileCheckChunkBytes) {
    const std::string chunk = dir.File("chunk");
    WriteFile(chunk, data.substr(off, kFileCheckChunkBytes));
    const std::string hex = FirstWord("xxhsum -H2 '" + chunk + "'");
    REQUIRE(hex.size() == 32);
    folded += Unhex(hex);
  }
  const uint64_t len = data.size();
  for (int i = 0; i < 8; ++i)
    folded.push_back(static_cast<char>(len >> (8 * i)));
  WriteFile(dir.File("folded"), folded);
  const std::string hex = FirstWord("xxhsum -H2 '" + dir.File("folded") + "'");
  REQUIRE(hex.size() == 32);
  return "xxh3-128/64MiB:" + hex;
}

}  // namespace

TEST_CASE(
    "file check: equals xxhsum's chunk digests folded, threaded or streamed") {
  strata::testing::TempDir dir("strata-file-check", "/var/tmp");
  // Two whole chunks and a partial one, so the fold has three digests.
  const std::string data =
      RandomBytes(2 * kFileCheckChunkBytes + 3 * 1000 * 1000 + 7, 11);
  const std::string path = dir.File("layer");
  WriteFile(path, data);
  const std::string want = ReferenceCheck(dir, data);

  auto one = FileCheck(path, 1);
  REQUIRE(one.ok());
  CHECK(*one == want);
  auto three = FileCheck(path, 3);
  REQUIRE(three.ok());
  CHECK(*three == want);
  CHECK(strata::IsFileCheck(want));

  FileCheckHasher h;  // pieces that straddle the chunk boundaries
  for (size_t off = 0; off < data.size(); off += 999983)
    h.Update(data.data() + off, std::min<size_t>(999983, data.size() - off));
  CHECK(h.Finish() == want);
}

TEST_CASE("file check: a changed byte or a shorter file changes it") {
  strata::testing::TempDir dir("strata-file-check", "/var/tmp");
  std::string data = RandomBytes(kFileCheckChunkBytes + 4096, 12);
  const std::string path = dir.File("layer");
  WriteFile(path, data);
  auto good = FileCheck(path, 2);
  REQUIRE(good.ok());
  data[kFileCheckChunkBytes + 100] ^= 1;
  WriteFile(path, data);
  auto flipped = FileCheck(path, 2);
  REQUIRE(flipped.ok());
  CHECK(*flipped != *good);
  // Exactly one chunk: the length is part of the value even when the last
  // chunk's bytes are all that go.
  data.resize(kFileCheckChunkBytes);
  WriteFile(path, data);
  auto shorter = FileCheck(path, 2);
  REQUIRE(shorter.ok());
  CHECK(*shorter == ReferenceCheck(dir, data));
  CHECK(*shorter != *good);
}

TEST_CASE("file check: an empty file, a missing file, malformed values") {
  strata::testing::TempDir dir("strata-file-check");
  WriteFile(dir.File("empty"), "");
  auto empty = FileCheck(dir.File("empty"), 2);
  REQUIRE(empty.ok());
  CHECK(*empty == ReferenceCheck(dir, ""));
  FileCheckHasher h;
  CHECK(h.Finish() == *empty);
  CHECK(FileCheck(dir.File("absent"), 2).status().code() ==
        strata::StatusCode::kNotFound);
  CHECK_FALSE(strata::IsFileCheck(""));
  CHECK_FALSE(strata::IsFileCheck("xxh3-128/64MiB:00"));
  CHECK_FALSE(strata::IsFileCheck(std::string(64, 'a')));
  CHECK_FALSE(
      strata::IsFileCheck("xxh3-128/64MiB:" + std::string(31, 'a') + "g"));
}
