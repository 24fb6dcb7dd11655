// RecordLog: the redirect cache's file (R0.4–R0.6, R0.8). Writes a VM sends
// while its disk is snapshotted are appended here as records, in the order
// received, and written back to the disk from the head later.
//
// On disk (docs/redirect-cache.md has the byte layout):
//   [header slot A, 4 KiB][header slot B, 4 KiB][record][record]…
// A header slot holds the disk size, `drained_seq` (every record with a
// sequence number up to it is on the disk, flushed) and a CRC; updates
// alternate between the two slots, so a torn header write leaves the other
// one valid. A record is
//   header (48 B: magic, kind, seq, receive time, disk offset, length, data
//   CRC, header CRC) + data + completeness mark (16 B: magic, seq)
// and counts only when all three check out (R0.6); a crash mid-append
// leaves a torn tail, which Scan() drops (it was never acknowledged).
// Zero and trim records carry no data.
//
// Durability: Append() writes into the page cache; Sync() makes everything
// appended so far durable (the NBD client's FLUSH, or FUA). kill -9 of the
// process loses nothing appended; a host crash loses only what was not
// synced, as the NBD protocol allows.
// Thread-safety: Append, MarkDrained, Format and Sync are serialised on mu_;
// ReadData may run concurrently with them (positional reads), except with
// Format, which the caller must exclude.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "util/fs.h"
#include "util/status.h"

namespace strata::cache {

enum class RecordKind : uint32_t { kWrite = 1, kZero = 2, kTrim = 3 };

struct Record {
  uint64_t seq = 0;          // request number, increasing (R0.5)
  uint64_t received_us = 0;  // receive timestamp, µs since the epoch
  uint64_t offset = 0;       // on the virtual disk
  uint32_t length = 0;
  RecordKind kind = RecordKind::kWrite;
  uint64_t data_pos = 0;  // file offset of the data (kWrite)
  uint64_t end_pos = 0;   // file offset just past the record
};

class RecordLog {
 public:
  static constexpr uint64_t kHeaderBytes = 8192;  // both slots
  static constexpr uint64_t kRecordOverhead = 48 + 16;

  // Opens the log at `path`, creating it (empty, mode 0600) when missing.
  // An existing log must be Scan()ned before anything is appended (the scan
  // finds its tail).
  // An existing log must be of a disk of `disk_size` bytes (else
  // InvalidArgument: another disk's cache) and have a valid header slot
  // (else Corruption).
  static Result<std::unique_ptr<RecordLog>> Open(const std::string& path,
                                                 uint64_t disk_size);

  // Appends one record (R0.4–R0.5): `data` is `length` bytes for kWrite and
  // ignored otherwise. Returns it; not durable until Sync(). `data_crc`:
  // the data's CRC-32C when the caller computed it outside its own locks.
  Result<Record> Append(RecordKind kind, uint64_t offset, const void* data,
                        uint32_t length, uint64_t received_us,
                        std::optional<uint32_t> data_crc = std::nullopt);
  Status Sync();
  // Reserves room for `bytes` of records in the file system (R0.3), without
  // changing the file's size. NotSupported where the file system cannot.
  Status Reserve(uint64_t bytes);
  // Reads `n` bytes of `r`'s data, from `skip` bytes into it.
  Status ReadData(const Record& r, uint64_t skip, void* buf, uint32_t n) const;
  // Every complete record after drained_seq, in order (R0.8). A torn or
  // corrupt record ends the scan; it and anything after it are cut off.
  Result<std::vector<Record>> Scan();
  // Records up to `seq` are on the disk, flushed: durable header update.
  Status MarkDrained(uint64_t seq);
  // Empties the log (R0.12): all records count as drained and new ones
  // start over after the header. Fast: the file keeps its size (see
  // ReleaseSpace). The caller excludes readers.
  Status Format();
  // Cuts the file back to its records (after Format: to the header),
  // returning the space to the file system. Slow for a large log (ext4
  // frees ~2 GiB/s), so it runs outside any write pause.
  Status ReleaseSpace();

  uint64_t drained_seq() const;
  uint64_t last_seq() const;
  // Bytes of records in the file (past the header).
  uint64_t record_bytes() const;
  const std::string& path() const { return path_; }

 private:
  RecordLog(std::string path, UniqueFd fd, uint64_t disk_size)
      : path_(std::move(path)), fd_(std::move(fd)), disk_size_(disk_size) {}
  // Writes the next header slot with the current state (not synced).
  // REQUIRES: mu_ held.
  Status WriteHeader();
  Status LoadHeader();

  const std::string path_;
  const UniqueFd fd_;
  const uint64_t disk_size_;
  mutable std::mutex mu_;
  uint64_t header_updates_ = 0;   // GUARDED_BY(mu_): picks the slot
  uint64_t drained_seq_ = 0;      // GUARDED_BY(mu_)
  uint64_t last_seq_ = 0;         // GUARDED_BY(mu_)
  uint64_t tail_ = kHeaderBytes;  // GUARDED_BY(mu_): where the next goes
  bool scanned_ = false;          // GUARDED_BY(mu_): tail_ is known
};

}  // namespace strata::cache
