// DiskModel: what the benchmark believes a disk holds, one pattern byte per
// 4 KiB block (the byte qemu-io last wrote there with `write -P`; 0 = never
// written, which reads back as zeros), plus the write plans that change it
// and the read-back checks that compare the real disk against it.
//
// Every snapshot's expected content is a copy of the model taken when the
// snapshot was cut, so after a revert the disk can be checked against it.
//
// Thread-safety: values; not shared between threads.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "util/status.h"

namespace strata::bench {

// One qemu-io `write -P pattern offset length` (or `read -P` when checking).
struct DiskWrite {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint8_t pattern = 0;
};

class DiskModel {
 public:
  static constexpr uint64_t kBlock = 4096;

  explicit DiskModel(uint64_t disk_bytes);

  // Records `writes` (each kBlock-aligned, inside the disk).
  void Apply(const std::vector<DiskWrite>& writes);
  // The region [offset, offset+length) as maximal runs of one pattern, each
  // a `read -P` check. REQUIRES: kBlock-aligned and inside the disk.
  std::vector<DiskWrite> Runs(uint64_t offset, uint64_t length) const;
  // True when any block of the region differs between the two models.
  bool Differs(const DiskModel& other, uint64_t offset, uint64_t length) const;
  // True when any block of the region was ever written.
  bool HasData(uint64_t offset, uint64_t length) const;
  uint64_t size() const { return blocks_.size() * kBlock; }

 private:
  std::vector<uint8_t> blocks_;  // pattern byte per kBlock block
};

// `count` writes of `size` bytes at distinct size-aligned offsets inside
// `disk_bytes`, in random order. InvalidArgument when they cannot fit or
// `size` is not a multiple of DiskModel::kBlock.
Result<std::vector<DiskWrite>> RandomWrites(uint64_t disk_bytes, uint64_t size,
                                            uint64_t count, uint8_t pattern,
                                            std::mt19937_64& rng);

// `count` writes of `size` bytes one after another from a random
// size-aligned offset, wrapping at the end of `disk_bytes` (a guest's
// sequential run). InvalidArgument as RandomWrites.
Result<std::vector<DiskWrite>> SequentialWrites(uint64_t disk_bytes,
                                                uint64_t size, uint64_t count,
                                                uint8_t pattern,
                                                std::mt19937_64& rng);

// Sequential writes of `chunk` bytes covering [0, data_bytes), patterns
// 1, 2, 3, … per chunk (wrapping below 0x40, which rounds use).
std::vector<DiskWrite> FillWrites(uint64_t data_bytes, uint64_t chunk);

// Read-back checks for `samples` regions of `region` bytes that `target`
// (the expected content) describes: about half where `before` differs from
// `target` (so a no-op would fail them), a quarter holding data, the rest
// anywhere on the disk.
std::vector<DiskWrite> SampleChecks(const DiskModel& before,
                                    const DiskModel& target, int samples,
                                    uint64_t region, std::mt19937_64& rng);

}  // namespace strata::bench
