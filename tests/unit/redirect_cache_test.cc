// The redirect cache (R0, issue 6) on real files: the record log's format
// (append, scan, torn tails, the drained mark, format, another disk's log),
// CRC-32C against its published check value, and the cache over a raw file
// (nbd::FileBackend) checked against a plain in-memory model of the disk:
// random writes, zeroes and trims before, during and after a redirect, reads
// of the newest data while redirected, the backing file untouched until the
// drain and equal to the model after it, and replay after a simulated crash
// (a cache dropped with records in its log, opened again). With a write
// history: R0.3's sizing from its forecast, every write noted, and R0.11's
// deferral of the final stretch (more batches with writes flowing before
// the block, the number bounded, the drain finishing).
#include "cache/redirect_cache.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "cache/record_log.h"
#include "memory_history_sink.h"
#include "nbd/file_backend.h"
#include "temp_dir.h"
#include "util/crc32c.h"
#include "util/fs.h"

using namespace strata;
using namespace strata::cache;

using strata::testing::TempDir;

namespace {

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
  CHECK((*c)->GetStatus().state == CacheState::kBypass);

  REQUIRE((*c)->StartRedirect(5, 1 << 20).ok());
  CHECK((*c)->StartRedirect(5, 1 << 20).code() == StatusCode::kConflict);
  const std::string before = ReadFile(raw);
  for (int i = 0; i < 300; ++i) RandomOp(rng, **c, model);
  CHECK(ReadFile(raw) == before);  // next is quiet while redirected
  CheckReads(rng, **c, model, 200);
  CacheStatus st = (*c)->GetStatus();
  CHECK(st.state == CacheState::kRedirect);
  CHECK(st.records == 300);
  CHECK(st.capacity_bytes >= (64u << 20));

  // Small batches, and a low threshold: the drain takes writes for a
  // while, then blocks for the rest.
  REQUIRE((*c)->StartDrain().ok());
  for (int i = 0; i < 100; ++i) RandomOp(rng, **c, model);
  REQUIRE((*c)->WaitDrained().ok());
  st = (*c)->GetStatus();
  CHECK(st.state == CacheState::kBypass);
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
    CHECK((*c)->GetStatus().state == CacheState::kBypass);
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

namespace {

using strata::cache::testing::ManualClock;
using strata::cache::testing::MemoryHistorySink;

// A history for export "vm" whose slot 0 averages `writes` writes and
// `bytes` bytes a period, read at the start of slot 0 (the clock stays
// there: nothing the test does closes a period).
std::shared_ptr<WriteHistory> HistoryOfSlot0(uint64_t writes, uint64_t bytes,
                                             const ManualClock& clock) {
  auto sink = std::make_shared<MemoryHistorySink>();
  sink->Put("vm", 900, 0, {2, 2 * writes, 2 * bytes});
  WriteHistory::Options o;
  o.slot_seconds = 900;
  o.now_micros = clock.Fn();
  o.persist_in_background = false;
  auto h = WriteHistory::Open("vm", sink, o);
  REQUIRE(h.ok());
  return std::move(*h);
}

struct DrainOutcome {
  CacheStatus status;
  bool disk_matches = false;
};

// 200 writes of 4 KiB redirected, then drained in batches of 4 records
// with a threshold (fewer than 1000 records) that asks for the block after
// the first batch already; no writes arrive during the drain, so the
// batches are the same every run.
DrainOutcome DrainWith(std::shared_ptr<WriteHistory> history,
                       uint64_t defer_above) {
  TempDir d;
  const std::string raw = d.path + "/disk.raw";
  auto next = RawDisk(raw);
  DrainPolicy p;
  p.batch_bytes = 4 * 4096;
  p.block_below_records = 1000;
  p.defer_above_forecast_writes = defer_above;
  p.forecast_window_seconds = 60;
  p.max_forecast_deferrals = 5;
  auto c = RedirectCache::Open(next, d.path + "/disk.cache", p, history);
  REQUIRE(c.ok());
  std::string model(kDisk, '\0');
  REQUIRE((*c)->StartRedirect(1, 1 << 20).ok());
  std::mt19937 rng(99);
  for (int i = 0; i < 200; ++i) {
    std::string data(4096, '\0');
    for (auto& ch : data) ch = static_cast<char>(rng());
    const uint64_t off = (rng() % (kDisk / 4096)) * 4096;
    REQUIRE((*c)->Pwrite(data.data(), 4096, off, false).ok());
    std::memcpy(model.data() + off, data.data(), 4096);
  }
  REQUIRE((*c)->StartDrain().ok());
  REQUIRE((*c)->WaitDrained().ok());
  DrainOutcome out;
  out.status = (*c)->GetStatus();
  out.disk_matches = ReadFile(raw) == model;
  return out;
}

}  // namespace

TEST_CASE(
    "redirect cache: a busy forecast puts the block off for a bounded number "
    "of batches (R0.11)") {
  ManualClock clock;
  // Without a history the thresholds alone decide: blocked after batch 1.
  DrainOutcome plain = DrainWith(nullptr, 100);
  CHECK(plain.status.state == CacheState::kBypass);
  CHECK(plain.status.written_back == 200);
  CHECK(plain.status.written_back_at_block == 4);
  CHECK(plain.status.deferrals == 0);
  CHECK(plain.disk_matches);

  // R0.11: slot 0 averages 9000 writes a 900 s period → 600 forecast for
  // the next 60 s, over the preset 100: another batch, five times (the
  // cap), then the block. The drain still ends with every record back.
  DrainOutcome busy = DrainWith(HistoryOfSlot0(9000, 0, clock), 100);
  CHECK(busy.status.state == CacheState::kBypass);
  CHECK(busy.status.error.empty());
  CHECK(busy.status.written_back == 200);
  CHECK(busy.status.deferrals == 5);
  CHECK(busy.status.forecast_writes == doctest::Approx(600));
  CHECK(busy.status.written_back_at_block == 4 * (1 + 5));
  CHECK(busy.status.written_back_at_block > plain.status.written_back_at_block);
  CHECK(busy.disk_matches);

  // A forecast under the preset count changes nothing; nor does a preset
  // of 0 (off), however busy the forecast.
  DrainOutcome quiet = DrainWith(HistoryOfSlot0(9000, 0, clock), 1000);
  CHECK(quiet.status.deferrals == 0);
  CHECK(quiet.status.forecast_writes == doctest::Approx(600));
  CHECK(quiet.status.written_back_at_block == 4);
  DrainOutcome off = DrainWith(HistoryOfSlot0(9000, 0, clock), 0);
  CHECK(off.status.deferrals == 0);
  CHECK(off.status.written_back_at_block == 4);
  CHECK(off.disk_matches);
}

TEST_CASE(
    "redirect cache: without a rate, R0.3 sizes the cache from the forecast; "
    "every write is noted") {
  TempDir d;
  auto next = RawDisk(d.path + "/disk.raw");
  ManualClock clock;
  // 90 MiB a 900 s period → 45 MiB in the next 450 s → room for twice that.
  auto history = HistoryOfSlot0(10, 90ull << 20, clock);
  auto c = RedirectCache::Open(next, d.path + "/disk.cache", {}, history);
  REQUIRE(c.ok());
  std::string block(4096, 'x');
  // Noted in bypass too: writes, zeroes and trims, payload bytes only.
  REQUIRE((*c)->Pwrite(block.data(), 4096, 0, false).ok());
  REQUIRE((*c)->Zero(8192, 4096, false, false).ok());
  REQUIRE((*c)->StartRedirect(450, 0).ok());
  CacheStatus st = (*c)->GetStatus();
  CHECK(st.expected_from_forecast);
  CHECK(st.expected_write_bytes == doctest::Approx(45.0 * (1 << 20)));
  CHECK(st.capacity_bytes == (90ull << 20));
  REQUIRE((*c)->Pwrite(block.data(), 4096, 0, false).ok());
  REQUIRE((*c)->Trim(4096, 0, false).ok());
  REQUIRE((*c)->StartDrain().ok());
  REQUIRE((*c)->WaitDrained().ok());
  // The four writes close into slot 0 once the clock leaves it.
  clock.SetSeconds(900);
  const WriteSlotTotals t = history->SlotTotals(0);
  CHECK(t.periods == 3);
  CHECK(t.writes == 2 * 10 + 4);
  CHECK(t.bytes == 2 * (90ull << 20) + 2 * 4096);

  // A caller's rate wins over the forecast (R0.3 as before).
  REQUIRE((*c)->StartRedirect(10, 1 << 20).ok());
  st = (*c)->GetStatus();
  CHECK_FALSE(st.expected_from_forecast);
  CHECK(st.expected_write_bytes == doctest::Approx(10.0 * (1 << 20)));
  CHECK(st.capacity_bytes == (64ull << 20));  // the floor
  REQUIRE((*c)->StartDrain().ok());
  REQUIRE((*c)->WaitDrained().ok());
}

namespace {

// Faults the real file cannot produce on demand: a FileBackend whose Flush
// fails, and may first run `during_flush` (a VM write arriving while
// StartRedirect flushes `next`), or whose writes are slow (a disk slower
// than the VM's writes).
class FaultyBackend : public nbd::BlockBackend {
 public:
  explicit FaultyBackend(std::shared_ptr<nbd::BlockBackend> file)
      : file_(std::move(file)) {}
  bool fail_flush = false;
  std::function<void()> during_flush;
  std::chrono::microseconds write_delay{0};

  std::string Describe() const override { return "failing-flush"; }
  uint64_t Size() const override { return file_->Size(); }
  bool CanWrite() const override { return true; }
  bool CanFlush() const override { return true; }
  bool CanFua() const override { return true; }
  bool CanTrim() const override { return file_->CanTrim(); }
  bool CanZero() const override { return file_->CanZero(); }
  bool CanMultiConn() const override { return false; }
  Status Pread(void* b, uint32_t n, uint64_t o) override {
    return file_->Pread(b, n, o);
  }
  Status Pwrite(const void* b, uint32_t n, uint64_t o, bool fua) override {
    std::this_thread::sleep_for(write_delay);
    return file_->Pwrite(b, n, o, fua);
  }
  Status Flush() override {
    if (during_flush) std::exchange(during_flush, nullptr)();
    if (fail_flush) return Status::IoError("injected flush failure");
    return file_->Flush();
  }
  Status Trim(uint32_t n, uint64_t o, bool fua) override {
    return file_->Trim(n, o, fua);
  }
  Status Zero(uint32_t n, uint64_t o, bool t, bool fua) override {
    return file_->Zero(n, o, t, fua);
  }

 private:
  std::shared_ptr<nbd::BlockBackend> file_;
};

}  // namespace

TEST_CASE(
    "redirect cache: a failed flush at the start of a redirect (R0.3) goes "
    "back to bypass only when no write reached the log") {
  TempDir dir;
  const std::string raw = JoinPath(dir.path, "disk.raw");
  auto next = std::make_shared<FaultyBackend>(RawDisk(raw));
  auto opened = RedirectCache::Open(next, JoinPath(dir.path, "c.log"));
  REQUIRE(opened.ok());
  RedirectCache& c = **opened;
  const std::string a(8192, 'a'), b(8192, 'b');

  // No write in between: the failure leaves the cache as it was.
  next->fail_flush = true;
  Status s = c.StartRedirect(1, 0);
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("injected") != std::string::npos);
  CHECK(c.GetStatus().state == CacheState::kBypass);
  REQUIRE(c.Pwrite(a.data(), a.size(), 0, false).ok());
  CHECK(ReadFile(raw).substr(0, a.size()) == a);  // straight to the disk

  // A write lands in the log while the flush runs: it must not be dropped
  // by a silent return to bypass — the cache stays redirecting, the disk
  // does not have it yet, reads see it, and a drain writes it back.
  next->during_flush = [&] {
    REQUIRE(c.Pwrite(b.data(), b.size(), 65536, false).ok());
  };
  s = c.StartRedirect(1, 0);
  CHECK_FALSE(s.ok());
  CacheStatus st = c.GetStatus();
  CHECK(st.state == CacheState::kRedirect);
  CHECK(st.records == 1);
  CHECK(ReadFile(raw).substr(65536, b.size()) == std::string(b.size(), '\0'));
  std::string got(b.size(), '\0');
  REQUIRE(c.Pread(got.data(), got.size(), 65536).ok());
  CHECK(got == b);
  next->fail_flush = false;
  REQUIRE(c.StartDrain().ok());
  REQUIRE(c.WaitDrained().ok());
  CHECK(c.GetStatus().state == CacheState::kBypass);
  CHECK(ReadFile(raw).substr(65536, b.size()) == b);
}

namespace {

// A VM that writes a 64 KiB block every millisecond (≤ 64 MB/s, twice what
// the slowed disk takes), to the cache and to `model`, until told to stop.
struct Writer {
  RedirectCache& cache;
  std::string& model;
  std::atomic<bool> stop{false};
  std::thread thread;
  Writer(RedirectCache& c, std::string& m) : cache(c), model(m) {
    thread = std::thread([this] {
      std::mt19937 rng(7);
      std::string data(65536, '\0');
      while (!stop) {
        const uint64_t off = (rng() % (kDisk / 65536)) * 65536;
        std::memset(data.data(), static_cast<int>(rng()), data.size());
        REQUIRE(cache.Pwrite(data.data(), data.size(), off, false).ok());
        std::memcpy(model.data() + off, data.data(), data.size());
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  ~Writer() { Stop(); }
};

}  // namespace

TEST_CASE(
    "redirect cache: a VM that outwrites the write-back is throttled so the "
    "drain ends (R0.9), and without the throttle it does not shrink") {
  for (const double ratio : {0.0, 0.5}) {
    CAPTURE(ratio);
    TempDir dir;
    const std::string raw = JoinPath(dir.path, "disk.raw");
    auto next = std::make_shared<FaultyBackend>(RawDisk(raw));
    next->write_delay = std::chrono::microseconds(2000);  // ~32 MB/s
    DrainPolicy policy;
    policy.batch_bytes = 1 << 20;
    policy.block_below_bytes = 256 << 10;
    policy.block_below_seconds = 0;
    policy.throttle_ratio = ratio;
    auto opened =
        RedirectCache::Open(next, JoinPath(dir.path, "c.log"), policy);
    REQUIRE(opened.ok());
    RedirectCache& c = **opened;
    std::string model(kDisk, '\0');
    REQUIRE(c.StartRedirect(1, 0).ok());
    Writer w(c, model);
    while (c.GetStatus().bytes < (4u << 20))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(c.StartDrain().ok());
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    if (ratio == 0) {
      // Two seconds of drain: the cache is no smaller (the writer is far
      // faster than the slowed disk), and no throttle was applied.
      const uint64_t at_start = c.GetStatus().bytes;
      std::this_thread::sleep_for(std::chrono::seconds(2));
      const CacheStatus st = c.GetStatus();
      CHECK(st.state == CacheState::kDraining);
      CHECK(st.bytes >= at_start);
      CHECK(st.throttle_bytes_per_s == 0);
      w.Stop();  // the VM goes quiet: now the drain ends
    } else {
      double throttle = 0;
      while (c.GetStatus().state != CacheState::kBypass &&
             std::chrono::steady_clock::now() < deadline) {
        throttle = std::max(throttle, c.GetStatus().throttle_bytes_per_s);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      // Ended with the writer still writing: it was held, not stopped.
      CHECK(c.GetStatus().state == CacheState::kBypass);
      CHECK(throttle > 0);
      CHECK(throttle < 64e6);  // a fraction of the ~32 MB/s write-back
      w.Stop();
    }
    while (c.GetStatus().state != CacheState::kBypass &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(c.GetStatus().state == CacheState::kBypass);
    REQUIRE(c.GetStatus().error.empty());
    REQUIRE(c.Flush().ok());
    CHECK(ReadFile(raw) == model);
  }
}
