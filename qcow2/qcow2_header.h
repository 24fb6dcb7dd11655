// Qcow2 header reader: decodes and validates the header of a qcow2 image (the
// fixed fields, the header extensions and the backing-file name, all of which
// live in the image's first cluster), and refuses images Strata must not
// snapshot: not qcow2, corrupt, encrypted, or using features it does not
// understand. The format is QEMU's docs/interop/qcow2.txt; docs/qcow2-header.md
// lists what is read and what is refused.
//
// Thread-safety: stateless free functions; safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace strata::qcow2 {

// The decoded header of one qcow2 image. Fields that version 2 lacks keep the
// values the spec assumes for it.
struct Qcow2Header {
  uint32_t version = 0;       // 2 or 3
  uint64_t virtual_size = 0;  // bytes
  uint32_t cluster_bits = 0;
  uint64_t cluster_size = 0;  // 1 << cluster_bits
  uint32_t crypt_method = 0;
  uint64_t incompatible_features = 0, compatible_features = 0,
           autoclear_features = 0;
  uint32_t refcount_order = 4;   // v2: always 4
  uint32_t header_length = 72;   // v2: 72
  std::string backing_file;      // "" when none
  std::string backing_format;    // from the backing-format extension, or ""
  bool dirty = false;            // incompatible bit 0
  uint8_t compression_type = 0;  // 0 zlib, 1 zstd (v3 with bit 3)
  bool extended_l2 = false;      // incompatible bit 4
  // Header extension types seen, in file order (the end marker excluded).
  std::vector<uint32_t> extension_types;

  // Metadata tables. The L1 and refcount table offsets are checked to be
  // cluster-aligned and inside the file; the snapshot table is not checked.
  uint32_t l1_size = 0;  // entries in the active L1 table
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;  // internal snapshots
  uint64_t snapshots_offset = 0;
};

// Parses the header from the first bytes of a file. `head` holds at least the
// bytes read from offset 0 (read e.g. 64 KiB or the whole file if smaller);
// `file_size` is the file's real size, to detect truncation.
//
// Returns the header, or: InvalidArgument when the bytes are not a qcow2 image
// (bad magic) or when `head` stops before header data that the file does hold
// (read more: it all lies in the first cluster, at most 2 MiB); Corruption
// when the header is truncated or inconsistent; NotSupported when the image is
// encrypted or uses an external data file, an unknown incompatible feature or
// an unknown compression type. Bytes of `head` past `file_size` are ignored.
Result<Qcow2Header> ParseQcow2Header(std::string_view head, uint64_t file_size);

// Opens `path` read-only (a file or a block device), reads its first 64 KiB,
// or its whole first cluster when clusters are larger, and parses them as
// ParseQcow2Header does, naming `path` in messages. NotFound when `path` does
// not exist; IoError when it cannot be opened, sized or read.
Result<Qcow2Header> ReadQcow2Header(const std::string& path);
// The same for a file the caller opened (and keeps open), named `path` in
// messages.
Result<Qcow2Header> ReadQcow2Header(int fd, const std::string& path);

}  // namespace strata::qcow2
