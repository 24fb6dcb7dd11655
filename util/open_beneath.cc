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

Result<UniqueFd> OpenDirNoSymlinks(const std::string& abs_dir) {
  if (abs_dir.empty() || abs_dir[0] != '/')
    return Status::InvalidArgument("an absolute directory expected: " +
                                   abs_dir);
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const long fd =
      syscall(SYS_openat2, AT_FDCWD, abs_dir.c_str(), &how, sizeof how);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  const int err = errno;
  if (err == ELOOP)
    return Status::InvalidArgument(abs_dir + " goes through a symlink");
  return Status::FromErrno("open directory " + abs_dir, err);
}

namespace {

// fsync of a directory held by an O_PATH fd (fsync needs a real open).
Status FsyncDirFd(int dir_fd, const std::string& name) {
  UniqueFd d(openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d.valid()) return Status::FromErrno("open dir " + name, errno);
  if (fsync(d.get()) != 0) return Status::FromErrno("fsync " + name, errno);
  return Status::OK();
}

}  // namespace

Status RenameDurableNoSymlinks(const std::string& from, const std::string& to) {
  const std::string from_dir = DirName(from), to_dir = DirName(to);
  STRATA_ASSIGN_OR_RETURN(UniqueFd fd_from, OpenDirNoSymlinks(from_dir));
  UniqueFd fd_to_own;
  int fd_to = fd_from.get();
  if (to_dir != from_dir) {
    STRATA_ASSIGN_OR_RETURN(fd_to_own, OpenDirNoSymlinks(to_dir));
    fd_to = fd_to_own.get();
  }
  if (renameat(fd_from.get(), BaseName(from).c_str(), fd_to,
               BaseName(to).c_str()) != 0)
    return Status::FromErrno("rename " + from + " -> " + to, errno);
  STRATA_RETURN_IF_ERROR(FsyncDirFd(fd_to, to_dir));
  if (to_dir != from_dir)
    STRATA_RETURN_IF_ERROR(FsyncDirFd(fd_from.get(), from_dir));
  return Status::OK();
}

Status RemoveFileNoSymlinks(const std::string& path) {
  const std::string dir = DirName(path);
  STRATA_ASSIGN_OR_RETURN(UniqueFd fd, OpenDirNoSymlinks(dir));
  if (unlinkat(fd.get(), BaseName(path).c_str(), 0) != 0) {
    if (errno == ENOENT) return Status::OK();
    return Status::FromErrno("unlink " + path, errno);
  }
  return FsyncDirFd(fd.get(), dir);
}

Status LinkNoSymlinks(const std::string& existing,
                      const std::string& new_path) {
  STRATA_ASSIGN_OR_RETURN(UniqueFd fd, OpenDirNoSymlinks(DirName(new_path)));
  if (linkat(AT_FDCWD, existing.c_str(), fd.get(), BaseName(new_path).c_str(),
             0) != 0)
    return Status::FromErrno("link " + existing + " -> " + new_path, errno);
  return Status::OK();
}

}  // namespace strata
