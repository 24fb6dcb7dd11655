// Qcow2 cluster mapping reader. See cluster_map.h; the bit layouts are
// those of QEMU's docs/interop/qcow2.txt.
#include "qcow2/cluster_map.h"

#include <endian.h>

#include <algorithm>

#include "util/fs.h"

namespace strata::qcow2 {
namespace {

// L1 and standard L2 entries: bits 9-55 hold the offset.
constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ULL;
constexpr uint64_t kCopiedBit = 1ULL << 63;
constexpr uint64_t kCompressedBit = 1ULL << 62;
constexpr uint64_t kZeroFlag = 1ULL << 0;  // standard L2 entries, v3
// QEMU's limit on an L1 table (QCOW_MAX_L1_SIZE).
constexpr uint64_t kMaxL1Bytes = 32 << 20;

// The `bytes` at `offset` of the file as big-endian 64-bit words;
// Corruption when they pass the file's end (a table QEMU would not read).
Result<std::vector<uint64_t>> ReadTable(int fd, uint64_t offset, size_t bytes,
                                        const std::string& path,
                                        const char* what) {
  std::vector<char> raw(bytes);
  bool short_read = false;
  STRATA_RETURN_IF_ERROR(
      PreadAll(fd, raw.data(), raw.size(), offset, path, &short_read));
  if (short_read)
    return Status::Corruption(path + ": " + what + " passes the file's end");
  std::vector<uint64_t> words(bytes / 8);
  for (size_t i = 0; i < words.size(); ++i) {
    uint64_t w;
    std::copy_n(raw.data() + i * 8, 8, reinterpret_cast<char*>(&w));
    words[i] = be64toh(w);
  }
  return words;
}

}  // namespace

Result<ClusterMapReader> ClusterMapReader::Open(int fd,
                                                const Qcow2Header& header,
                                                std::string path) {
  ClusterMapReader r(fd, header, std::move(path));
  const uint64_t entry_bytes = header.extended_l2 ? 16 : 8;
  r.entries_per_l2_ = header.cluster_size / entry_bytes;
  const uint64_t l1_bytes = uint64_t{header.l1_size} * 8;
  if (l1_bytes > kMaxL1Bytes)
    return Status::Corruption(r.path_ + ": L1 table of " +
                              std::to_string(header.l1_size) + " entries");
  STRATA_ASSIGN_OR_RETURN(r.l1_, ReadTable(fd, header.l1_table_offset, l1_bytes,
                                           r.path_, "the L1 table"));
  return r;
}

Status ClusterMapReader::Entry(uint64_t index, uint64_t* entry,
                               uint64_t* bitmap) {
  *entry = *bitmap = 0;
  const uint64_t l1_index = index / entries_per_l2_;
  if (l1_index >= l1_.size()) return Status::OK();
  const uint64_t table = l1_[l1_index] & kOffsetMask;
  if (table == 0) return Status::OK();
  if (cached_l1_index_ != l1_index) {
    if (table % h_.cluster_size != 0)
      return Status::Corruption(path_ + ": L2 table offset " +
                                std::to_string(table) + " is not aligned");
    STRATA_ASSIGN_OR_RETURN(cached_l2_, ReadTable(fd_, table, h_.cluster_size,
                                                  path_, "an L2 table"));
    cached_l1_index_ = l1_index;
  }
  const uint64_t at = index % entries_per_l2_;
  if (h_.extended_l2) {
    *entry = cached_l2_[at * 2];
    *bitmap = cached_l2_[at * 2 + 1];
  } else {
    *entry = cached_l2_[at];
  }
  return Status::OK();
}

Status ClusterMapReader::AppendCluster(uint64_t index, uint64_t from,
                                       uint64_t to,
                                       std::vector<GuestRun>* runs) {
  uint64_t entry, bitmap;
  STRATA_RETURN_IF_ERROR(Entry(index, &entry, &bitmap));
  const uint64_t cs = h_.cluster_size;
  const uint64_t sub = h_.extended_l2 ? cs / 32 : cs;
  const bool compressed = entry & kCompressedBit;
  const uint64_t host = compressed ? 0 : entry & kOffsetMask;
  if (!compressed && host % cs != 0)
    return Status::Corruption(path_ + ": cluster offset " +
                              std::to_string(host) + " is not aligned");
  const uint64_t base = index * cs;
  for (uint64_t at = from; at < to;) {
    const uint64_t i = (at - base) / sub;
    const uint64_t end = std::min(to, base + (i + 1) * sub);
    SubclusterState state;
    if (compressed) {
      state = SubclusterState::kCompressed;
    } else if (h_.extended_l2) {
      const bool alloc = (bitmap >> i) & 1, zero = (bitmap >> (32 + i)) & 1;
      if (alloc && zero)
        return Status::Corruption(path_ + ": a subcluster of guest cluster " +
                                  std::to_string(index) +
                                  " is both allocated and zero");
      if (alloc && host == 0)
        return Status::Corruption(path_ + ": guest cluster " +
                                  std::to_string(index) +
                                  " has allocated subclusters and no offset");
      state = zero    ? SubclusterState::kZero
              : alloc ? SubclusterState::kData
                      : SubclusterState::kUnallocated;
    } else {
      state = (entry & kZeroFlag) ? SubclusterState::kZero
              : host != 0         ? SubclusterState::kData
                                  : SubclusterState::kUnallocated;
    }
    GuestRun run;
    run.guest = at;
    run.length = end - at;
    run.state = state;
    if (state == SubclusterState::kData) {
      run.host = host + (at - base);
      run.sole_owner = entry & kCopiedBit;
    }
    GuestRun* last = runs->empty() ? nullptr : &runs->back();
    if (last && last->state == state && last->guest + last->length == at &&
        (state != SubclusterState::kData ||
         (last->host + last->length == run.host &&
          last->sole_owner == run.sole_owner))) {
      last->length += run.length;
    } else {
      runs->push_back(run);
    }
    at = end;
  }
  return Status::OK();
}

Result<std::vector<GuestRun>> ClusterMapReader::Runs(uint64_t guest,
                                                     uint64_t length) {
  std::vector<GuestRun> runs;
  const uint64_t end = std::min(h_.virtual_size, guest + length);
  const uint64_t cs = h_.cluster_size;
  for (uint64_t at = guest; at < end;) {
    const uint64_t index = at / cs;
    const uint64_t stop = std::min(end, (index + 1) * cs);
    STRATA_RETURN_IF_ERROR(AppendCluster(index, at, stop, &runs));
    at = stop;
  }
  return runs;
}

Result<std::vector<GuestRun>> ClusterMapReader::Held() {
  std::vector<GuestRun> runs;
  const uint64_t cs = h_.cluster_size;
  const uint64_t clusters = (h_.virtual_size + cs - 1) / cs;
  for (uint64_t t = 0; t < l1_.size(); ++t) {
    if ((l1_[t] & kOffsetMask) == 0) continue;
    const uint64_t first = t * entries_per_l2_;
    const uint64_t last = std::min(clusters, first + entries_per_l2_);
    for (uint64_t c = first; c < last; ++c) {
      const uint64_t stop = std::min(h_.virtual_size, (c + 1) * cs);
      STRATA_RETURN_IF_ERROR(AppendCluster(c, c * cs, stop, &runs));
    }
  }
  std::erase_if(runs, [](const GuestRun& r) {
    return r.state == SubclusterState::kUnallocated;
  });
  return runs;
}

}  // namespace strata::qcow2
