// QEMU 7.2's migration stream, read and written (issue 21, R3.2/R3.5): the
// wire format a running QEMU sends to a migration target, which Strata
// reads to keep one slot per guest page, and writes again, each page once,
// for a QEMU that restores it.
//
// The format (migration/savevm.c and ram.c of QEMU 7.2; docs in
// docs/memory-snapshot.md):
//   "QEVM" be32 3; the configuration section (0x07: the machine type and
//   its subsections); sections, each a type byte:
//     START 0x01 / FULL 0x04: be32 id, u8 len + idstr, be32 instance,
//       be32 version, content;  PART 0x02 / END 0x03: be32 id, content;
//     each followed by its footer 0x7e be32 id.
//   "ram" (version 4) is the only iterable section here. Its START lists
//   the RAM blocks: be64 (total | MEM_SIZE), then per block u8 len, idstr,
//   be64 used_length; then EOS. Its PART and END sections carry page
//   records: be64 (offset | flags), the block's u8 len + idstr unless
//   CONTINUE, then ZERO + a fill byte or PAGE + 4096 bytes; EOS ends them.
//   After RAM's END come the devices' FULL sections, EOF (0x00) and QEMU's
//   JSON description: kept as an opaque tail, byte for byte (their
//   lengths are only known to each device's own loader).
// Anything else (XBZRLE or compressed pages, RDMA hooks, other iterable
// sections such as block or dirty-bitmap migration, postcopy commands, a
// capability that changes the block list's layout) is refused with an
// error naming it, before the visitor sees a page of it.
//
// Thread-safety: a parser or writer is single-owner.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/byte_stream.h"
#include "util/status.h"

namespace strata::memsnap {

inline constexpr uint64_t kPageSize = 4096;

// A RAM block as QEMU's RAM setup lists it: its id ("pc.ram",
// "/rom@etc/acpi/tables", …) and the bytes it migrates.
struct RamBlock {
  std::string id;
  uint64_t length = 0;
};

// What the RAM section header said (restored exactly).
struct RamSection {
  uint32_t section_id = 0;
  uint32_t instance_id = 0;
  uint32_t version = 0;
  std::vector<RamBlock> blocks;
};

// Called in stream order.
class StreamVisitor {
 public:
  virtual ~StreamVisitor() = default;
  // The header and configuration section, byte for byte, and the machine
  // type it names.
  virtual Status OnPrologue(std::string_view bytes,
                            const std::string& machine) = 0;
  // The RAM block list, before any page.
  virtual Status OnRamSetup(const RamSection& ram) = 0;
  // A page of block `block` (an index into the list) at `offset` (a
  // multiple of kPageSize below the block's length): all bytes `fill`
  // (ZERO), or its kPageSize bytes at `data` (PAGE). The same page may
  // come again: the later one holds.
  virtual Status OnZeroPage(size_t block, uint64_t offset, uint8_t fill) = 0;
  virtual Status OnPage(size_t block, uint64_t offset, const char* data) = 0;
  // RAM's END section has been read: the VM is stopped from here on.
  virtual Status OnRamEnd() = 0;
  // The devices' state after it, to the stream's end, in pieces.
  virtual Status OnDeviceState(std::string_view bytes) = 0;
};

// Totals of a parse, for logs and tests.
struct StreamStats {
  uint64_t bytes = 0;       // read from the source
  uint64_t pages = 0;       // PAGE records
  uint64_t zero_pages = 0;  // ZERO records
  uint64_t iterations = 0;  // RAM PART sections
  uint64_t device_bytes = 0;
};

// Reads a whole stream from `in` (to its end), calling `v`. Refuses what
// the header comment says it refuses (InvalidArgument naming it), and a
// stream that breaks off or contradicts itself (Corruption).
[[nodiscard]] Result<StreamStats> ParseMigrationStream(ByteSource& in,
                                                       StreamVisitor& v);

// Writes a stream a QEMU 7.2 loads: the prologue as read, RAM's START with
// the block list, one PART of pages, RAM's END, and the device state as
// read. Pages are written in calls to Page/ZeroPage, each page once; they
// reach the sink in pieces of about 1 MiB (a FIFO's reader wakes up once
// per piece, not once per record). Without a sink, the bytes stay in the
// writer until the caller takes them (TakeBuffered): a reader pulls them.
class MigrationStreamWriter {
 public:
  explicit MigrationStreamWriter(ByteSink& out) : out_(&out) {}
  MigrationStreamWriter() = default;
  Status Begin(std::string_view prologue, const RamSection& ram);
  Status ZeroPage(size_t block, uint64_t offset, uint8_t fill);
  Status Page(size_t block, uint64_t offset, const char* data);
  // A PAGE record without its kPageSize bytes, which the caller puts
  // right after the bytes written so far (a restore that splices the
  // pages from the region).
  Status PageHeader(size_t block, uint64_t offset);
  // Ends RAM's sections; `device_state` follows as read.
  Status End(std::string_view device_state);
  // Without a sink: the bytes written since the last take.
  size_t buffered() const { return buf_.size(); }
  // Swaps them into `into` (whose old bytes are dropped, its storage kept
  // for the writer's next ones).
  void TakeBuffered(std::string* into) {
    into->swap(buf_);
    buf_.clear();
  }

 private:
  static constexpr size_t kFlushBytes = 1 << 20;
  Status Record(size_t block, uint64_t offset, uint64_t flag);
  // Writes the buffer out when it holds kFlushBytes, or `always`; keeps it
  // without a sink.
  Status Flush(bool always);
  ByteSink* out_ = nullptr;
  std::string buf_;
  RamSection ram_;
  bool in_part_ = false;
  size_t last_block_ = SIZE_MAX;
};

}  // namespace strata::memsnap
