// A memory snapshot's restore image (issue 21, R3.9): libvirt's save
// header kept with the snapshot, then QEMU's stream rebuilt from the
// region, each page once, in slot order. It is what `virsh restore` reads
// (from a file, or a FIFO Strata writes as libvirt reads it), and the form
// a store keeps of the snapshot's memory: only the slots that hold pages
// are in it (a zero page is a 9-byte record, or none: ZeroedAtLoad), so
// the stored copy is no bigger than the data, and a region is rebuilt
// from it (ImportRestoreImage) with the parser that reads a running QEMU's
// stream.
//
// Thread-safety: single-owner.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "memsnap/migration_stream.h"
#include "memsnap/region.h"
#include "util/byte_stream.h"
#include "util/fs.h"
#include "util/status.h"

namespace strata::memsnap {

// Whether QEMU holds `block` zeroed until a stream fills it, so that the
// image leaves out its pages of zeros: the guest's main RAM ("pc.ram"),
// which a QEMU started to receive a stream allocates zeroed (anonymous
// memory, memfd, a new hugetlbfs file) and writes nothing into first (its
// ROM loads are skipped for an incoming migration). Each such ZERO record
// costs QEMU a fault on a page it then only reads (`buffer_is_zero`): a
// 512 MiB guest has ~56 000 of them. Every other block's zero pages are
// sent: ROMs, ACPI tables and option ROMs are filled when QEMU makes them.
bool ZeroedAtLoad(const RamBlock& block);

// The image, pulled in pieces of about 1 MiB.
class RestoreImageSource : public ByteSource {
 public:
  // Over the region at `path` (a file or a block device), which it keeps
  // open: Corruption unless the region is complete and its checksums hold;
  // InvalidArgument, with `libvirt_header`, when it kept no libvirt header.
  static Result<std::unique_ptr<RestoreImageSource>> Open(
      const std::string& path, bool libvirt_header = true);
  // Over a reader the caller keeps open while this lives.
  static Result<std::unique_ptr<RestoreImageSource>> Over(
      const RegionReader& region, bool libvirt_header = true);

  // The image's exact length, known before its first byte.
  uint64_t size() const { return size_; }
  // The next piece, valid until the next call; empty at the end.
  Result<std::string_view> Next();
  Result<size_t> Read(char* buf, size_t n) override;

  // Where a page goes that NextByReference leaves in the region: before
  // byte `at` of the piece's other bytes, the page of slot `slot`.
  struct PageRef {
    size_t at;
    uint64_t slot;
  };
  // The next piece with its pages left in the region (both empty at the
  // end): `bytes` is the piece but for its pages, `pages` says where they
  // go. A source is read either this way or with Next/Read, not both.
  Status NextByReference(std::string* bytes, std::vector<PageRef>* pages);

 private:
  explicit RestoreImageSource(const RegionReader& region) : region_(&region) {}
  // Writes records until the writer holds a piece, or the stream's end.
  Status Fill();

  UniqueFd fd_;                          // Open's region, or none
  std::unique_ptr<RegionReader> owned_;  // Open's reader, or none
  const RegionReader* region_;
  std::vector<uint64_t> words_;
  uint64_t size_ = 0;
  MigrationStreamWriter writer_;
  bool header_pending_ = false;  // the libvirt header is Next's first piece
  std::string piece_;            // the piece Next returned
  std::string_view read_piece_;  // Read's piece, and how far it got in it
  size_t read_at_ = 0;
  size_t block_ = 0;
  uint64_t offset_ = 0;  // in block_
  std::string pages_;    // read ahead: slots pages_from_, …
  uint64_t pages_from_ = 0;
  bool ended_ = false;
  // NextByReference's pages, in the piece being filled.
  std::vector<PageRef> refs_;
  bool by_reference_ = false;
};

// The whole image into `out` (a FIFO libvirt reads, a file).
Status WriteRestoreImage(const RegionReader& region, ByteSink& out,
                         bool libvirt_header = true);

// Reads a restore image (`in` from its start) into the region `fd` (as
// RegionWriter: `fresh` when it reads as zeros) and completes it. Refuses
// what the stream parser refuses, before a page of it is written.
Result<StreamStats> ImportRestoreImage(ByteSource& in, int fd,
                                       const std::string& what, bool fresh);

}  // namespace strata::memsnap
