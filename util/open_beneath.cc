// Opening beneath a directory without symlinks. See open_beneath.h.
#include "util/open_beneath.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "util/uuid.h"

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

Result<UniqueFd> OpenFileNoSymlinks(const std::string& abs_path, int flags,
                                    int mode) {
  if (abs_path.empty() || abs_path[0] != '/')
    return Status::InvalidArgument("an absolute file name expected: " +
                                   abs_path);
  open_how how{};
  how.flags =
      static_cast<uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (flags & O_CREAT) how.mode = static_cast<uint64_t>(mode);
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const long got =
      syscall(SYS_openat2, AT_FDCWD, abs_path.c_str(), &how, sizeof how);
  if (got < 0) {
    const int err = errno;
    if (err == ELOOP)
      return Status::InvalidArgument(abs_path + " goes through a symlink");
    if (err == ENOENT) return Status::NotFound(abs_path + " does not exist");
    return Status::FromErrno("open " + abs_path, err);
  }
  UniqueFd fd(static_cast<int>(got));
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return Status::FromErrno("fstat " + abs_path, errno);
  if (!S_ISREG(st.st_mode))
    return Status::InvalidArgument(abs_path + " is not a regular file");
  if (!(flags & O_NONBLOCK)) {
    const int fl = fcntl(fd.get(), F_GETFL);
    if (fl < 0 || fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0)
      return Status::FromErrno("fcntl " + abs_path, errno);
  }
  return fd;
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

Status CopyFileSparseNoSymlinks(const std::string& from,
                                const std::string& to) {
  STRATA_ASSIGN_OR_RETURN(UniqueFd in, OpenFileNoSymlinks(from, O_RDONLY));
  const std::string dir = DirName(to);
  STRATA_ASSIGN_OR_RETURN(UniqueFd dfd, OpenDirNoSymlinks(dir));
  const std::string tmp = BaseName(to) + ".copy-" + NewUuid().substr(0, 8);
  UniqueFd out(openat(dfd.get(), tmp.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0640));
  if (!out.valid()) return Status::FromErrno("create " + tmp, errno);
  Status s = CopySparse(in.get(), out.get(), from);
  out.reset();
  if (s.ok() &&
      renameat(dfd.get(), tmp.c_str(), dfd.get(), BaseName(to).c_str()) != 0)
    s = Status::FromErrno("rename the copy of " + from + " to " + to, errno);
  if (s.ok()) return FsyncDirFd(dfd.get(), dir);
  unlinkat(dfd.get(), tmp.c_str(), 0);
  return s;
}

Result<std::vector<std::string>> ListDirNoSymlinks(const std::string& abs_dir) {
  STRATA_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirNoSymlinks(abs_dir));
  const int list_fd =
      openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0) return Status::FromErrno("open " + abs_dir, errno);
  DIR* d = fdopendir(list_fd);
  if (!d) {
    close(list_fd);
    return Status::FromErrno("opendir " + abs_dir, errno);
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  return names;
}

}  // namespace strata
