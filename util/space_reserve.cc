// Space reserved past a file's end. See space_reserve.h.
#include "util/space_reserve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "util/open_beneath.h"

namespace strata {

Result<uint64_t> ReserveSpacePastEnd(int fd, uint64_t bytes) {
  if (bytes == 0) return uint64_t{0};
  struct stat st;
  struct statvfs vfs;
  if (fstat(fd, &st) != 0 || fstatvfs(fd, &vfs) != 0)
    return Status::FromErrno("stat before a reservation", errno);
  const uint64_t free_bytes =
      static_cast<uint64_t>(vfs.f_bavail) * static_cast<uint64_t>(vfs.f_frsize);
  if (free_bytes / 4 < bytes) return uint64_t{0};
  if (fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size,
                static_cast<off_t>(bytes)) != 0) {
    if (errno == EOPNOTSUPP || errno == ENOSPC || errno == ENOSYS)
      return uint64_t{0};
    return Status::FromErrno("fallocate(KEEP_SIZE)", errno);
  }
  return bytes;
}

Status ReleaseSpacePastEnd(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Status::FromErrno("fstat", errno);
  // Truncating to the same size keeps every byte and frees the blocks past
  // the end (ext4 and XFS both drop them on any truncate).
  if (ftruncate(fd, st.st_size) != 0)
    return Status::FromErrno("ftruncate", errno);
  return Status::OK();
}

Status ReleaseSpacePastEnd(const std::string& path) {
  STRATA_ASSIGN_OR_RETURN(UniqueFd fd, OpenFileNoSymlinks(path, O_RDWR));
  return ReleaseSpacePastEnd(fd.get());
}

}  // namespace strata
