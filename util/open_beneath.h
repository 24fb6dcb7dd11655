// OpenBeneath: opens a file by a path relative to a directory, refusing any
// symlink on the way and any escape from that directory (Linux openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS). The check
// and the open are one system call, so a directory swapped for a symlink
// between a check and the open cannot redirect it.
// Thread-safety: reentrant.
#pragma once

#include <string>
#include <vector>

#include "util/fs.h"
#include "util/status.h"

namespace strata {

// Opens `rel` (no leading '/') beneath the directory `dir` with `flags`
// (O_CLOEXEC added). InvalidArgument when a symlink or ".." would be
// followed or the path leaves `dir`; NotFound when it does not exist;
// other failures as FromErrno.
[[nodiscard]] Result<UniqueFd> OpenBeneath(const std::string& dir,
                                           const std::string& rel, int flags);

// Opens the directory `abs_dir` (an absolute path) with no symlink on any
// component: openat2 from "/" with RESOLVE_NO_SYMLINKS. InvalidArgument when
// a component is a symlink.
[[nodiscard]] Result<UniqueFd> OpenDirNoSymlinks(const std::string& abs_dir);

// Opens the file `abs_path` with `flags` (O_CLOEXEC and O_NOFOLLOW added;
// `mode` for O_CREAT) with no symlink on any component, in one openat2, and
// requires a regular file (O_NONBLOCK is added for the open, so a FIFO put
// in a layer's place cannot block it). InvalidArgument for a symlink or a
// file that is not regular; NotFound when it does not exist.
[[nodiscard]] Result<UniqueFd> OpenFileNoSymlinks(const std::string& abs_path,
                                                  int flags, int mode = 0640);

// RenameDurable, RemoveFile and link(2) for files whose directories must be
// what their absolute names say (a disk's directory): each directory is
// opened with OpenDirNoSymlinks and the operation runs on its fd
// (renameat, unlinkat, linkat; then fsync of the directory), so a directory
// swapped for a symlink, before or during a task, fails the operation
// instead of redirecting root's write. RemoveFileNoSymlinks of a missing
// file is OK, as RemoveFile's. LinkNoSymlinks reads `existing` by its path
// (a store's file) and creates `new_path` beneath its checked directory.
[[nodiscard]] Status RenameDurableNoSymlinks(const std::string& from,
                                             const std::string& to);
[[nodiscard]] Status RemoveFileNoSymlinks(const std::string& path);
// The names in the directory `abs_dir` (not "." and ".."), listed through a
// descriptor opened with no symlink on its path.
[[nodiscard]] Result<std::vector<std::string>> ListDirNoSymlinks(
    const std::string& abs_dir);
[[nodiscard]] Status LinkNoSymlinks(const std::string& existing,
                                    const std::string& new_path);
// CopyFileSparse with `from` opened by OpenFileNoSymlinks and `to` written
// beneath its checked directory (a temporary renamed into place), so a
// swapped directory can neither feed the copy another file nor receive it.
[[nodiscard]] Status CopyFileSparseNoSymlinks(const std::string& from,
                                              const std::string& to);

}  // namespace strata
