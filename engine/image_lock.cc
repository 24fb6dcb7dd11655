// QEMU's image locks, queried. See image_lock.h.
#include "engine/image_lock.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "util/fs.h"

namespace strata::engine {
namespace {
constexpr off_t kQemuPermLockBase = 100;  // RAW_LOCK_PERM_BASE
constexpr int kQemuPermWriteBit = 1;      // BLK_PERM_WRITE = 1 << 1
}  // namespace

Result<bool> QemuHoldsForWriting(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid())
    return Status::IoError("open " + path + ": " + strerror(errno));
  struct flock probe {};
  probe.l_type = F_WRLCK;  // conflicts with any shared lock held there
  probe.l_whence = SEEK_SET;
  probe.l_start = kQemuPermLockBase + kQemuPermWriteBit;
  probe.l_len = 1;
  if (fcntl(fd.get(), F_OFD_GETLK, &probe) != 0)
    return Status::IoError("query the locks of " + path + ": " +
                           strerror(errno));
  return probe.l_type != F_UNLCK;
}

}  // namespace strata::engine
