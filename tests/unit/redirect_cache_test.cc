// The redirect cache (R0, issue 6) on real files: the record log's format
// (append, scan, torn tails, the drained mark, format, another disk's log),
// CRC-32C against its published check value, and the cache over a raw file
// (nbd::FileBackend) checked against a plain in-memory model of the disk:
// random writes, zeroes and trims before, during and after a redirect, reads
// of the newest data while redirected, the backing file untouched until the
// drain and equal to the model after it, and replay after a simulated crash
// (a cache dropped with records in its log, opened again).
#include "cache/redirect_cache.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "cache/record_log.h"
#include "nbd/file_backend.h"
#include "util/crc32c.h"
#include "util/fs.h"

using namespace strata;
using namespace strata::cache;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/strata-rcache.XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    path = t;
  }
  ~TempDir() { RemoveTree(path); }
};

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

constexpr uint64_t kDisk = 4 << 20;

std::shared_ptr<nbd::BlockBackend> RawDisk(const std::string& path) {
  {
    std::ofstream f(path, std::ios::binary);
    f << std::string(kDisk, '\0');
  }
  auto b = nbd::FileBackend::Open(path);
  REQUIRE(b.ok());
  return std::shared_ptr<nbd::BlockBackend>(std::move(*b));
}

// Applies one random write/zero/trim to the cache and to the model.
void RandomOp(std::mt19937& rng, RedirectCache& c, std::string& model) {
  const uint32_t len = 1 + rng() % 70000;
  const uint64_t off = rng() % (kDisk - len);
  switch (rng() % 6) {
    case 0: {
      REQUIRE(c.Zero(len, off, true, false).ok());
      std::memset(model.data() + off, 0, len);
      return;
    }
    case 1: {
      // A trim reads as zeroes on the raw file this test uses (punched
      // hole), so the model zeroes it too.
      REQUIRE(c.Trim(len, off, false).ok());
      std::memset(model.data() + off, 0, len);
      return;
    }
    default: {
      std::string data(len, '\0');
      for (auto& ch : data) ch = static_cast<char>(rng());
      REQUIRE(c.Pwrite(data.data(), len, off, rng() % 8 == 0).ok());
      std::memcpy(model.data() + off, data.data(), len);
    }
  }
}

void CheckReads(std::mt19937& rng, RedirectCache& c, const std::string& model,
                int n) {
  for (int i = 0; i < n; ++i) {
    const uint32_t len = 1 + rng() % 200000;
    const uint64_t off = rng() % (kDisk - len);
    std::string got(len, '\0');
    REQUIRE(c.Pread(got.data(), len, off).ok());
    REQUIRE_MESSAGE(got == model.substr(off, len),
                    "read at " << off << " of " << len << " differs");
  }
}

}  // namespace

TEST_CASE("crc32c: the published check value, both implementations agree") {
  CHECK(Crc32c("123456789", 9) == 0xE3069283u);
  CHECK(Crc32cPortable("123456789", 9) == 0xE3069283u);
  CHECK(Crc32c("56789", 5, Crc32c("1234", 4)) == 0xE3069283u);
  CHECK(Crc32c("", 0) == 0);
  std::mt19937 rng(1);
  std::string data(100003, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  for (size_t n : {0, 1, 7, 8, 9, 63, 4096, 100003})
    CHECK(Crc32c(data.data(), n, 17) == Crc32cPortable(data.data(), n, 17));
}

TEST_CASE("record log: append, scan, drained mark, torn tail, format") {
  TempDir d;
  const std::string path = d.path + "/c.log";
  {
    auto log = RecordLog::Open(path, kDisk);
    REQUIRE(log.ok());
    std::string a(5000, 'a'), b(100, 'b');
    REQUIRE((*log)->Append(RecordKind::kWrite, 0, a.data(), 5000, 11).ok());
    REQUIRE((*log)->Append(RecordKind::kZero, 8192, nullptr, 4096, 12).ok());
    auto r3 = (*log)->Append(RecordKind::kWrite, 100, b.data(), 100, 13);
    REQUIRE(r3.ok());
    CHECK(r3->seq == 3);
    std::string back(100, '\0');
    REQUIRE((*log)->ReadData(*r3, 0, back.data(), 100).ok());
    CHECK(back == b);
    REQUIRE((*log)->MarkDrained(1).ok());
    REQUIRE((*log)->Sync().ok());
  }
  {
    auto log = RecordLog::Open(path, kDisk);
    REQUIRE(log.ok());
    auto recs = (*log)->Scan();
    REQUIRE(recs.ok());
    REQUIRE(recs->size() == 2);  // record 1 is drained
    CHECK((*recs)[0].seq == 2);
    CHECK((*recs)[0].kind == RecordKind::kZero);
    CHECK((*recs)[0].offset == 8192);
    CHECK((*recs)[1].seq == 3);
    CHECK((*recs)[1].received_us == 13);
  }
  // A torn last record (cut inside its data) is dropped and cut off; the
  // next append follows the last good one.
  const uint64_t full = FileSize(path).value();
  REQUIRE(truncate(path.c_str(), static_cast<off_t>(full - 30)) == 0);
  {
    auto log = RecordLog::Open(path, kDisk);
    REQUIRE(log.ok());
    auto recs = (*log)->Scan();
    REQUIRE(recs.ok());
    REQUIRE(recs->size() == 1);
    CHECK((*recs)[0].seq == 2);
    auto r = (*log)->Append(RecordKind::kTrim, 0, nullptr, 512, 14);
    REQUIRE(r.ok());
    // The torn record's number is not reused (the header remembered it).
    CHECK(r->seq == 4);
  }
  // A flipped data byte fails the record's checksum (R0.6).
  {
    std::string bytes = ReadFile(path);
    auto log = RecordLog::Open(path, kDisk);
    REQUIRE(log.ok());
    REQUIRE((*log)->Scan().ok());
    std::string c(64, 'c');
    auto r = (*log)->Append(RecordKind::kWrite, 0, c.data(), 64, 15);
    REQUIRE(r.ok());
    REQUIRE((*log)->Sync().ok());
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(r->data_pos + 10));
    f.put('X');
  }
  {
    auto log = RecordLog::Open(path, kDisk);
    REQUIRE(log.ok());
    auto recs = (*log)->Scan();
    REQUIRE(recs.ok());
    REQUIRE(recs->size() == 2);  // 2 and 4; the corrupt 5 is cut off
    CHECK((*recs)[1].seq == 4);
    REQUIRE((*log)->Format().ok());
    CHECK((*log)->record_bytes() == 0);
    CHECK((*log)->drained_seq() == 4);
  }
  {
    auto log = RecordLog::Open(path, kDisk);
    REQUIRE(log.ok());
    auto recs = (*log)->Scan();
    REQUIRE(recs.ok());
    CHECK(recs->empty());
    auto r = (*log)->Append(RecordKind::kTrim, 0, nullptr, 512, 16);
    REQUIRE(r.ok());
    CHECK(r->seq == 5);  // numbers go on after a format
  }
  // Another disk's log is refused; a file that is no log is corrupt.
  CHECK(RecordLog::Open(path, kDisk * 2).status().code() ==
        StatusCode::kInvalidArgument);
  std::ofstream(d.path + "/junk") << std::string(9000, 'j');
  CHECK(RecordLog::Open(d.path + "/junk", kDisk).status().code() ==
        StatusCode::kCorruption);
}

TEST_CASE(
    "redirect cache: reads see the newest data, the disk only after the "
    "drain") {
  TempDir d;
  const std::string raw = d.path + "/disk.raw";
  auto next = RawDisk(raw);
  auto c = RedirectCache::Open(next, d.path + "/disk.cache");
  REQUIRE(c.ok());
  std::mt19937 rng(20261122);
  std::string model(kDisk, '\0');
  for (int i = 0; i < 50; ++i) RandomOp(rng, **c, model);  // bypass
  CHECK(ReadFile(raw) == model);
  CHECK((*c)->GetStatus().state == "bypass");

  REQUIRE((*c)->StartRedirect(5, 1 << 20).ok());
  CHECK((*c)->StartRedirect(5, 1 << 20).code() == StatusCode::kConflict);
  const std::string before = ReadFile(raw);
  for (int i = 0; i < 300; ++i) RandomOp(rng, **c, model);
  CHECK(ReadFile(raw) == before);  // next is quiet while redirected
  CheckReads(rng, **c, model, 200);
  CacheStatus st = (*c)->GetStatus();
  CHECK(st.state == "redirect");
  CHECK(st.records == 300);
  CHECK(st.capacity_bytes >= (64u << 20));

  // Small batches, and a low threshold: the drain takes writes for a
  // while, then blocks for the rest.
  REQUIRE((*c)->StartDrain().ok());
  for (int i = 0; i < 100; ++i) RandomOp(rng, **c, model);
  REQUIRE((*c)->WaitDrained().ok());
  st = (*c)->GetStatus();
  CHECK(st.state == "bypass");
  CHECK(st.records == 0);
  CHECK(st.written_back >= 300);
  CHECK(ReadFile(raw) == model);
  CheckReads(rng, **c, model, 50);
  for (int i = 0; i < 20; ++i) RandomOp(rng, **c, model);  // bypass again
  CHECK(ReadFile(raw) == model);
  CHECK((*c)->StartDrain().code() == StatusCode::kConflict);
}

TEST_CASE("redirect cache: a crash with records in the log replays them once") {
  TempDir d;
  const std::string raw = d.path + "/disk.raw";
  const std::string log = d.path + "/disk.cache";
  auto next = RawDisk(raw);
  std::mt19937 rng(7);
  std::string model(kDisk, '\0');
  {
    auto c = RedirectCache::Open(next, log);
    REQUIRE(c.ok());
    REQUIRE((*c)->StartRedirect(1, 1 << 20).ok());
    for (int i = 0; i < 200; ++i) RandomOp(rng, **c, model);
    // Dropped here without a drain: what kill -9 leaves.
  }
  CHECK(ReadFile(raw) != model);
  {
    auto c = RedirectCache::Open(next, log);
    REQUIRE(c.ok());
    CHECK((*c)->GetStatus().replayed_at_open == 200);
    CHECK((*c)->GetStatus().state == "bypass");
  }
  CHECK(ReadFile(raw) == model);
  // Opened again: nothing left to replay (formatted), nothing applied twice.
  {
    std::string marker(4096, 'M');
    REQUIRE(next->Pwrite(marker.data(), 4096, 0, true).ok());
    auto c = RedirectCache::Open(next, log);
    REQUIRE(c.ok());
    CHECK((*c)->GetStatus().replayed_at_open == 0);
    std::string head(4096, '\0');
    REQUIRE(next->Pread(head.data(), 4096, 0).ok());
    CHECK(head == marker);
  }
}
