// Raw file or block device backend. See file_backend.h.
#include "nbd/file_backend.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace strata::nbd {

Result<std::unique_ptr<FileBackend>> FileBackend::Open(const std::string& path,
                                                       bool read_only) {
  UniqueFd fd(
      ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return Status::FromErrno("stat " + path, errno);
  uint64_t size = 0;
  const bool is_block = S_ISBLK(st.st_mode);
  if (is_block) {
    if (ioctl(fd.get(), BLKGETSIZE64, &size) != 0)
      return Status::FromErrno("size of " + path, errno);
  } else if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
  } else {
    return Status::InvalidArgument(path +
                                   " is neither a file nor a block device");
  }
  return std::unique_ptr<FileBackend>(
      new FileBackend(path, std::move(fd), size, read_only, is_block));
}

Status FileBackend::Pread(void* buf, uint32_t count, uint64_t offset) {
  return PreadAll(fd_.get(), buf, count, offset, path_);
}

Status FileBackend::Pwrite(const void* buf, uint32_t count, uint64_t offset,
                           bool fua) {
  STRATA_RETURN_IF_ERROR(PwriteAll(fd_.get(), buf, count, offset, path_));
  return fua ? Flush() : Status::OK();
}

Status FileBackend::Flush() {
  if (::fdatasync(fd_.get()) != 0)
    return Status::FromErrno("fdatasync " + path_, errno);
  return Status::OK();
}

Status FileBackend::Trim(uint32_t count, uint64_t offset, bool fua) {
  int r;
  if (is_block_) {
    uint64_t range[2] = {offset, count};
    r = ioctl(fd_.get(), BLKDISCARD, &range);
  } else {
    r = ::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(offset), count);
  }
  // Trim is advisory: a file system or device that cannot is not an error.
  if (r != 0 && errno != EOPNOTSUPP && errno != ENOTTY)
    return Status::FromErrno("trim " + path_, errno);
  return fua ? Flush() : Status::OK();
}

Status FileBackend::WriteZeroes(uint32_t count, uint64_t offset) {
  const std::vector<char> zeroes(std::min<uint32_t>(count, 1u << 20), 0);
  while (count > 0) {
    uint32_t n =
        std::min<uint32_t>(count, static_cast<uint32_t>(zeroes.size()));
    STRATA_RETURN_IF_ERROR(Pwrite(zeroes.data(), n, offset, false));
    count -= n;
    offset += n;
  }
  return Status::OK();
}

Status FileBackend::Zero(uint32_t count, uint64_t offset, bool may_trim,
                         bool fua) {
  if (!is_block_) {
    int mode = may_trim ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                        : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    if (::fallocate(fd_.get(), mode, static_cast<off_t>(offset), count) == 0)
      return fua ? Flush() : Status::OK();
    if (errno != EOPNOTSUPP) return Status::FromErrno("zero " + path_, errno);
  } else {
    uint64_t range[2] = {offset, count};
    if (ioctl(fd_.get(), BLKZEROOUT, &range) == 0)
      return fua ? Flush() : Status::OK();
  }
  STRATA_RETURN_IF_ERROR(WriteZeroes(count, offset));
  return fua ? Flush() : Status::OK();
}

}  // namespace strata::nbd
