// CRC-32C (Castagnoli), the checksum of the redirect cache's records (the
// same polynomial as iSCSI, ext4 metadata and LevelDB's log). Table-driven,
// software only: the records it guards are written at disk speed anyway.
// Thread-safety: reentrant.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata {

// The CRC-32C of `n` bytes at `data`, continuing from `crc` (0 to start).
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);

}  // namespace strata
