// Qcow2 cluster mapping reader: where each guest cluster (and, with
// extended L2 entries, each subcluster) of one qcow2 image lies in its file,
// read from the image's L1 and L2 tables (QEMU's docs/interop/qcow2.txt,
// "Cluster mapping" and "Extended L2 Entries"). The image alone: what its
// backing file holds is not looked at.
//
// It is what the merge by extents (engine/layer_apply.h) needs, read
// directly: `qemu-img map` asks the file system about every range (a
// SEEK_DATA/SEEK_HOLE pair each), which took up to a second per map of a
// history whose clusters are partly holes.
//
// Only reading; nothing here writes an image. Tables are checked as they are
// read: an offset that is not cluster-aligned, a subcluster both allocated
// and zero, or allocated in a cluster with no offset is Corruption.
//
// Thread-safety: a reader is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qcow2/qcow2_header.h"
#include "util/status.h"

namespace strata::qcow2 {

// What one guest (sub)cluster reads as in the image alone.
enum class SubclusterState {
  kUnallocated,  // not in this image (its backing file's, or zeroes)
  kData,         // bytes in this image's file
  kZero,         // zeroes (a zero flag; its cluster may still be allocated)
  kCompressed,   // a compressed cluster's bytes
};

// A run of guest bytes in one state. For kData, `host` is where the run's
// first byte lies in the file, the rest following it, and `sole_owner` says
// that every cluster of it has refcount 1 (L2 bit 63, "COPIED"): a write in
// place changes this image and nothing else.
struct GuestRun {
  uint64_t guest = 0;
  uint64_t length = 0;
  SubclusterState state = SubclusterState::kUnallocated;
  uint64_t host = 0;
  bool sole_owner = false;
};

class ClusterMapReader {
 public:
  // `fd` is the image's file, open for reading and kept open by the caller;
  // `header` its parsed header (ReadQcow2Header); `path` names it in
  // messages. Reads the L1 table.
  static Result<ClusterMapReader> Open(int fd, const Qcow2Header& header,
                                       std::string path);

  // The runs of [guest, guest + length) in order, adjacent (sub)clusters
  // of one state (and, for data, contiguous in the file and of one owner)
  // joined into one run. The range is clipped to the virtual size.
  Result<std::vector<GuestRun>> Runs(uint64_t guest, uint64_t length);

  // Runs(0, virtual size) without the unallocated runs: what the image
  // itself holds. Skips the L2 tables the L1 table leaves out.
  Result<std::vector<GuestRun>> Held();

  uint64_t virtual_size() const { return h_.virtual_size; }

 private:
  ClusterMapReader(int fd, const Qcow2Header& h, std::string path)
      : fd_(fd), h_(h), path_(std::move(path)) {}
  // The L2 entry (and extended bitmap) of guest cluster `index`, through a
  // one-table cache.
  Status Entry(uint64_t index, uint64_t* entry, uint64_t* bitmap);
  // Appends the runs of the part [from, to) of guest cluster `index`.
  Status AppendCluster(uint64_t index, uint64_t from, uint64_t to,
                       std::vector<GuestRun>* runs);

  int fd_ = -1;
  Qcow2Header h_;
  std::string path_;
  std::vector<uint64_t> l1_;
  uint64_t entries_per_l2_ = 0;
  uint64_t cached_l1_index_ = ~uint64_t{0};
  std::vector<uint64_t> cached_l2_;  // one L2 table's words, host order
};

}  // namespace strata::qcow2
