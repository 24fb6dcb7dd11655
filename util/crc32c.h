// CRC-32C (Castagnoli), the checksum of the redirect cache's records (the
// same polynomial as iSCSI, ext4 metadata and LevelDB's log). The CPU's
// crc32 instruction (SSE 4.2) where there is one — a VM's every write is
// checksummed on its way into the cache — else slicing-by-8 tables.
// Thread-safety: reentrant.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata {

// The CRC-32C of `n` bytes at `data`, continuing from `crc` (0 to start).
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);
// The table-driven version, whatever the CPU (for tests).
uint32_t Crc32cPortable(const void* data, size_t n, uint32_t crc = 0);

}  // namespace strata
