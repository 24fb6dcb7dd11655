// The redirect cache's record log. See record_log.h; the byte layout is in
// docs/redirect-cache.md. Integers are little-endian.
#include "cache/record_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/crc32c.h"

namespace strata::cache {
namespace {

constexpr char kLogMagic[8] = {'S', 'T', 'R', 'R', 'C', 'L', 'O', 'G'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kSlotBytes = 4096;
constexpr uint32_t kRecordMagic = 0x44524352;   // "RCRD"
constexpr uint32_t kTrailerMagic = 0x454e4f44;  // "DONE"
constexpr size_t kRecordHeader = 48, kTrailer = 16;
// No record is longer: the NBD server's largest request.
constexpr uint32_t kMaxRecordLength = 32u << 20;

template <typename T>
void Put(char* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// What the log's I/O errors call it ("read cache log: …").
constexpr char kWhat[] = "cache log";

// pwritev until all of `iov` is written (short writes resumed).
Status PwritevAll(int fd, iovec* iov, int n, uint64_t pos) {
  while (n > 0) {
    ssize_t r = ::pwritev(fd, iov, n, static_cast<off_t>(pos));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno("write cache log", errno);
    pos += static_cast<uint64_t>(r);
    auto left = static_cast<size_t>(r);
    while (n > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --n;
    }
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<RecordLog>> RecordLog::Open(const std::string& path,
                                                   uint64_t disk_size) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return Status::FromErrno("stat " + path, errno);
  std::unique_ptr<RecordLog> log(new RecordLog(path, std::move(fd), disk_size));
  std::lock_guard<std::mutex> lock(log->mu_);
  if (st.st_size == 0) {
    STRATA_RETURN_IF_ERROR(log->WriteHeader());
    STRATA_RETURN_IF_ERROR(log->WriteHeader());  // both slots valid
    STRATA_RETURN_IF_ERROR(log->Sync());
    log->scanned_ = true;
    STRATA_RETURN_IF_ERROR(FsyncPath(DirName(path)));
    return log;
  }
  STRATA_RETURN_IF_ERROR(log->LoadHeader());
  return log;
}

Status RecordLog::WriteHeader() {
  char slot[kSlotBytes] = {};
  ++header_updates_;
  std::memcpy(slot, kLogMagic, 8);
  Put<uint32_t>(slot + 8, kVersion);
  Put<uint64_t>(slot + 16, header_updates_);
  Put<uint64_t>(slot + 24, disk_size_);
  Put<uint64_t>(slot + 32, drained_seq_);
  Put<uint64_t>(slot + 40, last_seq_);
  Put<uint32_t>(slot + 48, Crc32c(slot, 48));
  const uint64_t pos = (header_updates_ % 2) * kSlotBytes;
  return PwriteAll(fd_.get(), slot, sizeof slot, pos, kWhat);
}

Status RecordLog::LoadHeader() {
  bool found = false;
  for (uint64_t s = 0; s < 2; ++s) {
    char slot[kSlotBytes];
    bool short_read = false;
    STRATA_RETURN_IF_ERROR(PreadAll(fd_.get(), slot, sizeof slot,
                                    s * kSlotBytes, kWhat, &short_read));
    if (short_read || std::memcmp(slot, kLogMagic, 8) != 0 ||
        Get<uint32_t>(slot + 48) != Crc32c(slot, 48) ||
        Get<uint32_t>(slot + 8) != kVersion)
      continue;
    const uint64_t updates = Get<uint64_t>(slot + 16);
    if (found && updates < header_updates_) continue;
    found = true;
    header_updates_ = updates;
    if (Get<uint64_t>(slot + 24) != disk_size_)
      return Status::InvalidArgument(
          "cache log " + path_ + " belongs to a disk of " +
          std::to_string(Get<uint64_t>(slot + 24)) + " bytes, not " +
          std::to_string(disk_size_));
    drained_seq_ = Get<uint64_t>(slot + 32);
    last_seq_ = std::max(drained_seq_, Get<uint64_t>(slot + 40));
  }
  if (!found)
    return Status::Corruption("cache log " + path_ + " has no valid header");
  return Status::OK();
}

Result<Record> RecordLog::Append(RecordKind kind, uint64_t offset,
                                 const void* data, uint32_t length,
                                 uint64_t received_us,
                                 std::optional<uint32_t> data_crc) {
  if (length > kMaxRecordLength)
    return Status::InvalidArgument("a cache record of " +
                                   std::to_string(length) + " bytes");
  const bool has_data = kind == RecordKind::kWrite;
  // Header and mark are built here; the data goes out from the caller's
  // buffer (one pwritev, no copy). The CRC is computed before the lock.
  if (!has_data) data_crc = 0;
  if (!data_crc) data_crc = Crc32c(data, length);
  char h[kRecordHeader] = {}, t[kTrailer] = {};
  std::lock_guard<std::mutex> lock(mu_);
  if (!scanned_)
    return Status::Internal("cache log " + path_ + " appended before Scan()");
  Record r;
  r.seq = last_seq_ + 1;
  r.received_us = received_us;
  r.offset = offset;
  r.length = length;
  r.kind = kind;
  r.data_pos = tail_ + kRecordHeader;
  r.end_pos = r.data_pos + (has_data ? length : 0) + kTrailer;
  Put<uint32_t>(h, kRecordMagic);
  Put<uint32_t>(h + 4, static_cast<uint32_t>(kind));
  Put<uint64_t>(h + 8, r.seq);
  Put<uint64_t>(h + 16, received_us);
  Put<uint64_t>(h + 24, offset);
  Put<uint32_t>(h + 32, length);
  Put<uint32_t>(h + 36, *data_crc);
  Put<uint32_t>(h + 40, Crc32c(h, 40));
  Put<uint32_t>(t, kTrailerMagic);
  Put<uint64_t>(t + 8, r.seq);
  iovec iov[3] = {{h, kRecordHeader},
                  {const_cast<void*>(data), has_data ? length : 0},
                  {t, kTrailer}};
  STRATA_RETURN_IF_ERROR(PwritevAll(fd_.get(), iov, 3, tail_));
  tail_ = r.end_pos;
  last_seq_ = r.seq;
  return r;
}

Status RecordLog::Sync() {
  if (::fdatasync(fd_.get()) != 0)
    return Status::FromErrno("sync cache log " + path_, errno);
  return Status::OK();
}

Status RecordLog::Reserve(uint64_t bytes) {
  if (::fallocate(fd_.get(), FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(kHeaderBytes),
                  static_cast<off_t>(bytes)) != 0)
    return errno == EOPNOTSUPP
               ? Status::NotSupported("no fallocate for " + path_)
               : Status::FromErrno("reserve room for " + path_, errno);
  return Status::OK();
}

Status RecordLog::ReadData(const Record& r, uint64_t skip, void* buf,
                           uint32_t n) const {
  bool short_read = false;
  STRATA_RETURN_IF_ERROR(
      PreadAll(fd_.get(), buf, n, r.data_pos + skip, kWhat, &short_read));
  if (short_read)
    return Status::Corruption("cache log " + path_ + " ends inside record " +
                              std::to_string(r.seq));
  return Status::OK();
}

Result<std::vector<Record>> RecordLog::Scan() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Record> out;
  uint64_t pos = kHeaderBytes, prev_seq = 0;
  std::string chunk(1 << 20, '\0');
  for (;;) {
    char h[kRecordHeader];
    bool short_read = false;
    STRATA_RETURN_IF_ERROR(
        PreadAll(fd_.get(), h, sizeof h, pos, kWhat, &short_read));
    if (short_read || Get<uint32_t>(h) != kRecordMagic ||
        Get<uint32_t>(h + 40) != Crc32c(h, 40))
      break;
    Record r;
    r.kind = static_cast<RecordKind>(Get<uint32_t>(h + 4));
    r.seq = Get<uint64_t>(h + 8);
    r.received_us = Get<uint64_t>(h + 16);
    r.offset = Get<uint64_t>(h + 24);
    r.length = Get<uint32_t>(h + 32);
    r.data_pos = pos + kRecordHeader;
    const bool has_data = r.kind == RecordKind::kWrite;
    if ((r.kind != RecordKind::kWrite && r.kind != RecordKind::kZero &&
         r.kind != RecordKind::kTrim) ||
        r.length > kMaxRecordLength || r.offset > disk_size_ ||
        r.length > disk_size_ - r.offset || r.seq <= prev_seq)
      break;
    uint32_t crc = 0;
    uint64_t left = has_data ? r.length : 0, at = r.data_pos;
    while (left > 0 && !short_read) {
      size_t n = std::min<uint64_t>(left, chunk.size());
      STRATA_RETURN_IF_ERROR(
          PreadAll(fd_.get(), chunk.data(), n, at, kWhat, &short_read));
      crc = Crc32c(chunk.data(), n, crc);
      left -= n;
      at += n;
    }
    char t[kTrailer];
    if (!short_read)
      STRATA_RETURN_IF_ERROR(
          PreadAll(fd_.get(), t, sizeof t, at, kWhat, &short_read));
    // The completeness mark (R0.6): data as received, and the trailer.
    if (short_read || (has_data && crc != Get<uint32_t>(h + 36)) ||
        Get<uint32_t>(t) != kTrailerMagic || Get<uint64_t>(t + 8) != r.seq)
      break;
    r.end_pos = at + kTrailer;
    pos = r.end_pos;
    prev_seq = r.seq;
    if (r.seq > drained_seq_) out.push_back(r);
  }
  // A torn tail was never acknowledged: cut it off so appends follow the
  // last good record.
  struct stat st;
  if (fstat(fd_.get(), &st) != 0)
    return Status::FromErrno("stat " + path_, errno);
  if (static_cast<uint64_t>(st.st_size) > pos) {
    if (::ftruncate(fd_.get(), static_cast<off_t>(pos)) != 0)
      return Status::FromErrno("truncate " + path_, errno);
    STRATA_RETURN_IF_ERROR(Sync());
  }
  tail_ = pos;
  scanned_ = true;
  last_seq_ = std::max({last_seq_, drained_seq_, prev_seq});
  return out;
}

Status RecordLog::MarkDrained(uint64_t seq) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    drained_seq_ = std::max(drained_seq_, seq);
    STRATA_RETURN_IF_ERROR(WriteHeader());
  }
  // Synced without mu_: the sync also writes out the records appended since
  // the last one, and appends must not wait for that.
  return Sync();
}

Status RecordLog::Format() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Every record counts as drained; new ones overwrite them from the
    // start. A scan stops at the first old one it meets (its number is lower
    // than the new ones'), so the file need not be cut here — cutting a
    // file of gigabytes takes a second, which the final drain pause must not.
    drained_seq_ = last_seq_;
    STRATA_RETURN_IF_ERROR(WriteHeader());
    tail_ = kHeaderBytes;
  }
  return Sync();
}

Status RecordLog::ReleaseSpace() {
  std::lock_guard<std::mutex> lock(mu_);
  if (::ftruncate(fd_.get(), static_cast<off_t>(tail_)) != 0)
    return Status::FromErrno("truncate " + path_, errno);
  return Status::OK();
}

uint64_t RecordLog::drained_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return drained_seq_;
}

uint64_t RecordLog::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seq_;
}

uint64_t RecordLog::record_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tail_ - kHeaderBytes;
}

}  // namespace strata::cache
