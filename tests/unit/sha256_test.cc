// Digest (SHA-256, and the MD5 and SHA-512 Glance publishes) and Sha256File:
// known vectors, incremental updates, and a streamed file hash cross-checked
// against sha256sum(1).
#include "util/sha256.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace {

using strata::BackgroundDigest;
using strata::BackgroundSha256;
using strata::IsSha256Hex;
using strata::Sha256;
using strata::Sha256File;

std::string HashOf(const std::string& s) {
  Sha256 h;
  h.Update(s);
  return h.HexDigest();
}

// `sha256sum <path>`'s digest, or "" if the command failed.
std::string Sha256sum(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  char buf[65] = {0};
  size_t n = fread(buf, 1, 64, p);
  int rc = pclose(p);
  return (n == 64 && rc == 0) ? std::string(buf, 64) : "";
}

}  // namespace

TEST_CASE("sha256: known vectors") {
  CHECK(HashOf("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(HashOf("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(HashOf(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: pieces equal one update; HexDigest is stable") {
  std::string text = "The quick brown fox jumps over the lazy dog";
  Sha256 h;
  for (size_t i = 0; i < text.size(); i += 5)
    h.Update(text.data() + i, std::min<size_t>(5, text.size() - i));
  h.Update(nullptr, 0);
  std::string d = h.HexDigest();
  CHECK(d ==
        "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
  CHECK(h.HexDigest() == d);
  CHECK(strata::IsSha256Hex(d));
  CHECK_FALSE(strata::IsSha256Hex(d.substr(1)));
  CHECK_FALSE(strata::IsSha256Hex(std::string(64, 'g')));
}

TEST_CASE("sha256: Sha256File matches sha256sum") {
  char tmpl[] = "/tmp/strata-sha256-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/data.bin";
  std::mt19937_64 rng(42);
  std::string data(3 * (1 << 20) + 777, '\0');  // spans several 1 MiB reads
  for (char& c : data) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary).write(data.data(), data.size());

  auto got = Sha256File(path);
  REQUIRE(got.ok());
  std::string expected = Sha256sum(path);
  REQUIRE(expected.size() == 64);
  CHECK(*got == expected);
  CHECK(*got == HashOf(data));

  std::ofstream(dir + "/empty", std::ios::binary).flush();
  auto empty = Sha256File(dir + "/empty");
  REQUIRE(empty.ok());
  CHECK(*empty == HashOf(""));

  auto missing = Sha256File(dir + "/missing");
  CHECK(missing.status().code() == strata::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST_CASE("BackgroundSha256 gives Sha256's digest for any update pattern") {
  std::mt19937 rng(7);
  std::string data(5 * (1 << 20) + 777, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  Sha256 whole;
  whole.Update(data);
  const std::string want = whole.HexDigest();
  for (size_t step :
       {size_t{1} << 20, size_t{16384}, size_t{1000003}, data.size()}) {
    CAPTURE(step);
    strata::BackgroundSha256 bg;
    for (size_t off = 0; off < data.size(); off += step)
      bg.Update(data.data() + off, std::min(step, data.size() - off));
    CHECK(bg.HexDigest() == want);
    CHECK(bg.HexDigest() == want);  // again: the same
  }
  strata::BackgroundSha256 empty;
  CHECK(empty.HexDigest() == HashOf(""));
  {
    strata::BackgroundSha256 dropped;
    dropped.Update("abc", 3);
  }  // joins
}

TEST_CASE("Digest: MD5 and SHA-512, as Glance publishes them") {
  using strata::BackgroundDigest;
  using strata::Digest;
  using strata::DigestKind;
  Digest md5(DigestKind::kMd5), sha512(DigestKind::kSha512);
  md5.Update("abc");
  sha512.Update("abc");
  CHECK(md5.HexDigest() == "900150983cd24fb0d6963f7d28e17f72");  // RFC 1321
  CHECK(sha512.HexDigest() ==                                    // FIPS 180-2
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  // The background form over several batches equals the direct one.
  std::string data(3 * (1 << 20) + 7, 'q');
  BackgroundDigest bg(DigestKind::kMd5);
  Digest direct(DigestKind::kMd5);
  for (size_t i = 0; i < data.size(); i += 100000) {
    size_t n = std::min<size_t>(100000, data.size() - i);
    bg.Update(data.data() + i, n);
  }
  direct.Update(data);
  CHECK(bg.HexDigest() == direct.HexDigest());
}

// Issue 16, item 3: an exception on the digest's worker (injected: a test
// build) voids the digest instead of ending the process; the void digest is
// no SHA-256, so nothing can record or match it.
TEST_CASE("sha256: a failed background worker voids the digest") {
  const std::string data(3 << 20, 'x');  // three full batches: the worker runs
  setenv("STRATA_THROW_AT", "digest.worker", 1);
  BackgroundSha256 failed;
  failed.Update(data.data(), data.size());
  const std::string got = failed.HexDigest();
  unsetenv("STRATA_THROW_AT");
  CHECK(got == BackgroundDigest::kFailedDigest);
  CHECK_FALSE(IsSha256Hex(got));
  BackgroundSha256 fine;
  fine.Update(data.data(), data.size());
  CHECK(IsSha256Hex(fine.HexDigest()));
}
