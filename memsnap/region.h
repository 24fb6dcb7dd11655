// The fixed-size memory snapshot region (issue 21, R3.1–R3.4, R3.6, R3.7):
// one slot per guest page, so its size is fixed by the VM's RAM layout and
// never by its dirty rate. Layout (docs/memory-snapshot.md, "The region"):
//
//   superblock (4 KiB)   magic, state (writing / complete), sizes, where
//                        each part lies, SHA-256 of the table, of the
//                        metadata and of the superblock itself
//   block table          per RAM block, in the RAM setup's order: id,
//                        length, first slot (R3.6)
//   metadata area        libvirt's save header and domain XML, QEMU's
//                        start (header + configuration), the device state
//                        (R3.4); its size is a fixed bound
//   slots                one per page of each block, in block order
//                        (R3.3, R3.6): the 4096-byte pages first, then
//                        their le64 address words (page offset | flags),
//                        so that every page is aligned to the file
//                        system's blocks and a page written costs one
//                        block, not two halves
//
// Size = 4096 + table + metadata bound + Σ blocks / 4096 × 4104, known as
// soon as the RAM setup arrives, whatever comes after it. A page sent
// again overwrites its slot. On a fresh file (all holes) a zero page is
// left a hole, so it takes no space; on a reused region (a raw device or
// an older snapshot) its address word is written as a zero page. The
// superblock says "writing" from before the first slot is written until
// everything is synced, so a region cut short never reads as complete.
//
// Thread-safety: a writer or reader is single-owner.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "memsnap/migration_stream.h"
#include "util/byte_stream.h"
#include "util/fs.h"
#include "util/status.h"

namespace strata::memsnap {

inline constexpr uint64_t kSlotBytes = kPageSize + 8;
// A slot's address word: the page's offset in its block | flags (QEMU's
// values): kSlotPage, or kSlotZero with the fill byte at kSlotFillShift.
// 0: never written (a zero page of a fresh region).
inline constexpr uint64_t kSlotZero = 0x02, kSlotPage = 0x08;
inline constexpr int kSlotFillShift = 4;
inline constexpr uint64_t kSuperblockBytes = 4096;
inline constexpr uint64_t kTableEntryBytes = 288;
// The metadata area's default bound: libvirt's header and XML (libvirt pads
// them to ~64 KiB), QEMU's start section (< 4 KiB) and the device state
// (~160 KiB on the test guest; more with more devices).
inline constexpr uint64_t kDefaultMetadataBound = 16 << 20;

// Where a region's parts lie, from the RAM blocks and the metadata bound.
struct RegionLayout {
  uint64_t table_offset = kSuperblockBytes;
  uint64_t metadata_offset = 0;
  uint64_t metadata_bound = 0;
  uint64_t slots_offset = 0;
  uint64_t pages = 0;
  uint64_t bytes = 0;                // the whole region
  std::vector<uint64_t> first_slot;  // per block
  // Where slot `i`'s page and address word lie.
  uint64_t PageAt(uint64_t i) const { return slots_offset + i * kPageSize; }
  uint64_t WordAt(uint64_t i) const {
    return slots_offset + pages * kPageSize + i * 8;
  }
};
RegionLayout LayoutOf(const std::vector<RamBlock>& blocks,
                      uint64_t metadata_bound);

// Writes a snapshot into a region as the stream arrives: a StreamVisitor.
// `fd` is the region (a file or a block device) of at least the layout's
// size (a file is extended to it); `fresh`: the region reads as zeros (a
// new file), so zero pages need no write.
class RegionWriter : public StreamVisitor {
 public:
  RegionWriter(int fd, std::string what, bool fresh,
               uint64_t metadata_bound = kDefaultMetadataBound,
               std::string libvirt_header = "")
      : fd_(fd),
        what_(std::move(what)),
        fresh_(fresh),
        metadata_bound_(metadata_bound),
        libvirt_(std::move(libvirt_header)) {}

  Status OnPrologue(std::string_view bytes,
                    const std::string& machine) override;
  Status OnRamSetup(const RamSection& ram) override;
  Status OnZeroPage(size_t block, uint64_t offset, uint8_t fill) override;
  Status OnPage(size_t block, uint64_t offset, const char* data) override;
  Status OnRamEnd() override { return Status::OK(); }
  Status OnDeviceState(std::string_view bytes) override;
  // After the stream's end: the metadata, checksums, then "complete",
  // each synced.
  Status Finish();

  const RegionLayout& layout() const { return layout_; }

 private:
  // Pages bound for consecutive slots are written together, up to this.
  static constexpr uint64_t kRunBytes = 1 << 20;
  // Written bytes after which the disk is started on them.
  static constexpr uint64_t kWritebackBytes = 16 << 20;
  Status FlushRun();
  Status WriteWords();

  int fd_;
  std::string what_;
  bool fresh_;
  uint64_t metadata_bound_;
  std::string libvirt_, prologue_, devices_;
  RamSection ram_;
  RegionLayout layout_;
  // Each slot's address word, kept here until Finish (0: not sent in this
  // snapshot): a region cut short is not restorable anyway.
  std::vector<uint64_t> words_;
  std::string run_;  // pages for slots run_slot_, run_slot_ + 1, …
  uint64_t run_slot_ = 0;
  uint64_t unflushed_ = 0;  // bytes written since the last writeback start
};

// A complete region's contents, checked.
class RegionReader {
 public:
  // Corruption unless the region is complete and its checksums hold.
  static Result<RegionReader> Open(int fd, std::string what);
  const RamSection& ram() const { return ram_; }
  const std::string& libvirt_header() const { return libvirt_; }
  const RegionLayout& layout() const { return layout_; }
  const std::string& prologue() const { return prologue_; }
  const std::string& device_state() const { return devices_; }
  const std::string& what() const { return what_; }
  // The region, open as long as the reader's opener keeps it.
  int fd() const { return fd_; }
  // Every slot's address word, in slot order.
  Result<std::vector<uint64_t>> ReadWords() const;
  // The pages of slots [first, first + n) into `into` (n × kPageSize).
  Status ReadPages(uint64_t first, uint64_t n, char* into) const;

 private:
  int fd_ = -1;
  std::string what_;
  std::string libvirt_, prologue_, devices_;
  RamSection ram_;
  RegionLayout layout_;
};

}  // namespace strata::memsnap
