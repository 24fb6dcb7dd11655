// DiskModel and the benchmark's write plans. See disk_model.h.
#include "bench/disk_model.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <string>

namespace strata::bench {
namespace {

// Moves `count` randomly chosen elements of `v` to its front (partial
// Fisher–Yates), so the choice depends only on the generator's state.
template <class T>
void ChooseFront(std::vector<T>& v, size_t count, std::mt19937_64& rng) {
  count = std::min(count, v.size());
  for (size_t i = 0; i < count; ++i) {
    std::uniform_int_distribution<size_t> pick(i, v.size() - 1);
    std::swap(v[i], v[pick(rng)]);
  }
}

// Adds up to `want` regions from `pool` (random order) to `chosen`.
void TakeRegions(std::vector<uint64_t> pool, size_t want, std::mt19937_64& rng,
                 std::set<uint64_t>& chosen) {
  ChooseFront(pool, pool.size(), rng);
  for (uint64_t r : pool) {
    if (want == 0) break;
    if (chosen.insert(r).second) --want;
  }
}

}  // namespace

DiskModel::DiskModel(uint64_t disk_bytes) : blocks_(disk_bytes / kBlock, 0) {}

void DiskModel::Apply(const std::vector<DiskWrite>& writes) {
  for (const DiskWrite& w : writes) {
    size_t first = std::min<size_t>(w.offset / kBlock, blocks_.size());
    size_t end =
        std::min<size_t>((w.offset + w.length) / kBlock, blocks_.size());
    std::fill(blocks_.begin() + first, blocks_.begin() + end, w.pattern);
  }
}

std::vector<DiskWrite> DiskModel::Runs(uint64_t offset, uint64_t length) const {
  std::vector<DiskWrite> runs;
  size_t end = std::min<size_t>((offset + length) / kBlock, blocks_.size());
  for (size_t b = offset / kBlock; b < end; ++b) {
    if (!runs.empty() && runs.back().pattern == blocks_[b]) {
      runs.back().length += kBlock;
    } else {
      runs.push_back({b * kBlock, kBlock, blocks_[b]});
    }
  }
  return runs;
}

bool DiskModel::Differs(const DiskModel& other, uint64_t offset,
                        uint64_t length) const {
  size_t first = offset / kBlock;
  size_t end = std::min<size_t>((offset + length) / kBlock, blocks_.size());
  if (end > other.blocks_.size() || first >= end) return false;
  return !std::equal(blocks_.begin() + first, blocks_.begin() + end,
                     other.blocks_.begin() + first);
}

bool DiskModel::HasData(uint64_t offset, uint64_t length) const {
  size_t first = offset / kBlock;
  size_t end = std::min<size_t>((offset + length) / kBlock, blocks_.size());
  if (first >= end) return false;
  return std::any_of(blocks_.begin() + first, blocks_.begin() + end,
                     [](uint8_t p) { return p != 0; });
}

namespace {

// The size-aligned slots of the disk for `count` distinct writes of `size`.
Result<uint64_t> WriteSlots(uint64_t disk_bytes, uint64_t size,
                            uint64_t count) {
  if (size == 0 || size % DiskModel::kBlock != 0)
    return Status::InvalidArgument("write size " + std::to_string(size) +
                                   " is not a multiple of 4 KiB");
  const uint64_t slots = disk_bytes / size;
  if (count > slots)
    return Status::InvalidArgument(
        std::to_string(count) + " distinct writes of " + std::to_string(size) +
        " bytes do not fit in " + std::to_string(disk_bytes) + " bytes");
  return slots;
}

}  // namespace

Result<std::vector<DiskWrite>> RandomWrites(uint64_t disk_bytes, uint64_t size,
                                            uint64_t count, uint8_t pattern,
                                            std::mt19937_64& rng) {
  STRATA_ASSIGN_OR_RETURN(const uint64_t slots,
                          WriteSlots(disk_bytes, size, count));
  std::vector<uint64_t> slot(slots);
  std::iota(slot.begin(), slot.end(), uint64_t{0});
  ChooseFront(slot, count, rng);
  std::vector<DiskWrite> writes;
  writes.reserve(count);
  for (uint64_t i = 0; i < count; ++i)
    writes.push_back({slot[i] * size, size, pattern});
  return writes;
}

Result<std::vector<DiskWrite>> SequentialWrites(uint64_t disk_bytes,
                                                uint64_t size, uint64_t count,
                                                uint8_t pattern,
                                                std::mt19937_64& rng) {
  STRATA_ASSIGN_OR_RETURN(const uint64_t slots,
                          WriteSlots(disk_bytes, size, count));
  const uint64_t first =
      std::uniform_int_distribution<uint64_t>(0, slots - 1)(rng);
  std::vector<DiskWrite> writes;
  writes.reserve(count);
  for (uint64_t i = 0; i < count; ++i)
    writes.push_back({(first + i) % slots * size, size, pattern});
  return writes;
}

std::vector<DiskWrite> FillWrites(uint64_t data_bytes, uint64_t chunk) {
  std::vector<DiskWrite> writes;
  for (uint64_t off = 0, i = 0; off < data_bytes; off += chunk, ++i) {
    uint8_t pattern = static_cast<uint8_t>(1 + i % 0x3f);
    writes.push_back({off, std::min(chunk, data_bytes - off), pattern});
  }
  return writes;
}

std::vector<DiskWrite> SampleChecks(const DiskModel& before,
                                    const DiskModel& target, int samples,
                                    uint64_t region, std::mt19937_64& rng) {
  const uint64_t regions = target.size() / region;
  std::vector<uint64_t> changed, data, all;
  for (uint64_t r = 0; r < regions; ++r) {
    if (target.Differs(before, r * region, region)) changed.push_back(r);
    if (target.HasData(r * region, region)) data.push_back(r);
    all.push_back(r);
  }
  const size_t n = static_cast<size_t>(std::max(samples, 0));
  std::set<uint64_t> chosen;
  TakeRegions(std::move(changed), n / 2, rng, chosen);
  TakeRegions(std::move(data), n * 3 / 4 - chosen.size(), rng, chosen);
  TakeRegions(std::move(all), n - chosen.size(), rng, chosen);
  std::vector<DiskWrite> checks;
  for (uint64_t r : chosen) {
    std::vector<DiskWrite> runs = target.Runs(r * region, region);
    checks.insert(checks.end(), runs.begin(), runs.end());
  }
  return checks;
}

}  // namespace strata::bench
