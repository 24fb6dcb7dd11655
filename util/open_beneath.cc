// Opening beneath a directory without symlinks. See open_beneath.h.
#include "util/open_beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace strata {

Result<UniqueFd> OpenBeneath(const std::string& dir, const std::string& rel,
                             int flags) {
  if (rel.empty() || rel[0] == '/')
    return Status::InvalidArgument("a path relative to " + dir + " expected");
  UniqueFd dfd(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid()) return Status::FromErrno("open " + dir, errno);
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const long fd =
      syscall(SYS_openat2, dfd.get(), rel.c_str(), &how, sizeof how);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  const int err = errno;
  if (err == ELOOP || err == EXDEV)
    return Status::InvalidArgument(rel + " under " + dir +
                                   " goes through a symlink or leaves it");
  if (err == ENOENT) return Status::NotFound(rel + " does not exist");
  return Status::FromErrno("open " + rel + " under " + dir, err);
}

}  // namespace strata
