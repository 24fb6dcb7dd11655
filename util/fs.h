// File-system helpers with the durability rules Strata relies on.
//
// Every change to a disk's chain is made of steps that are each atomic on a
// POSIX file system (rename, link, unlink) and made durable with fsync of the
// file and of its directory, so a crash leaves either the old or the new
// state, never a mix. Copies are sparse-aware (SEEK_DATA/SEEK_HOLE with
// copy_file_range), so a 2 GiB qcow2 with 64 MiB of data copies 64 MiB.
//
// Thread-safety: functions are reentrant; UniqueFd is a single-owner handle.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace strata {

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

bool PathExists(const std::string& path);
// True for a regular file with no other name (st_nlink == 1).
bool IsSoleName(const std::string& path);
Result<uint64_t> FileSize(const std::string& path);
// Bytes the file really occupies on disk (st_blocks * 512).
Result<uint64_t> AllocatedBytes(const std::string& path);
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);
// `dir` + "/" + `name`, without doubling the slash.
std::string JoinPath(const std::string& dir, const std::string& name);
// realpath(3): absolute, symlinks resolved. NotFound when it does not exist.
Result<std::string> CanonicalPath(const std::string& path);
// True when canonical `path` is `dir` itself or below it (both canonical).
bool IsUnderDir(const std::string& path, const std::string& dir);

// mkdir -p: missing directories get `mode`; existing ones are left as they
// are.
Status MakeDirs(const std::string& path, int mode = 0750);
Status FsyncPath(const std::string& path);
Status FsyncDir(const std::string& dir);
// rename(2) then fsync of the destination's directory (and the source's, if
// different).
Status RenameDurable(const std::string& from, const std::string& to);
// unlink(2); OK when the file is already gone. Fsyncs the directory.
Status RemoveFile(const std::string& path);
// RemoveFile for a large file nobody else may still read (only one name,
// and the caller knows no process holds it open): its extents merged first
// when it has many (MergeExtentsToZeros), then truncated in steps.
Status RemoveBigFileGently(const std::string& path);
// For a file about to be freed: when it has many extents (more than one per
// MiB on average), makes the whole file a few zeroed extents
// (FALLOC_FL_ZERO_RANGE: written extents become unwritten ones and merge
// with their neighbours and the holes between; no data is written, dirty
// pages are dropped unwritten) and returns true. False, changing nothing,
// for a file of few extents, a file system that cannot, or when filling its
// holes would take more than a quarter of the free space. Why: ext4 mounted
// with discard frees a file with one discard per extent; a layer of 16384
// scattered 4 KiB writes took 0.7-1.0 s to remove here, 0.13-0.16 s merged
// first. (Zeroing it in 8 MiB ranges merged nothing, on this host's 6.18
// kernel: only the whole file at once did.) The file reads as zeros
// afterwards, so only for files whose content is no longer wanted.
bool MergeExtentsToZeros(int fd);
// Removes a directory tree (best effort for contents; error if the top
// cannot be removed). OK when absent.
Status RemoveTree(const std::string& path);
// Writes a file back to disk as it is written, so its final fsync has little
// left to do and little dirty data ever waits in the page cache: ext4's
// ordered mode makes every fsync on the file system (a running VM's flushes
// included) write out the dirty data of the current journal transaction, so a
// large write left dirty stalls them all. Call Wrote() after each write of a
// file written front to back (or chunk by chunk); it starts writeback of each
// full 4 MiB chunk and waits for the one before, so at most two are dirty.
class WriteBehind {
 public:
  static constexpr off_t kChunk = 4 << 20;
  explicit WriteBehind(int fd) : fd_(fd) {}
  // [off, off+len) was just written.
  void Wrote(off_t off, off_t len);

 private:
  int fd_;
  off_t started_ = 0;  // chunks below this offset have had writeback started
};
// A run of data in a file: [offset, offset + length).
struct Extent {
  uint64_t offset = 0, length = 0;
};
// The data extents of the open file `fd` of `size` bytes, by SEEK_DATA and
// SEEK_HOLE; NotSupported past `max_extents`.
[[nodiscard]] Result<std::vector<Extent>> DataExtents(
    int fd, uint64_t size, uint64_t max_extents = UINT64_MAX);
// Copies `from` to `to` preserving holes, fsyncs, and replaces `to`
// atomically (temp + rename). `to` must not be `from`.
Status CopyFileSparse(const std::string& from, const std::string& to);
// The copy itself: `in` (named `from` in messages) into the empty `out`,
// holes kept, `out` fsynced.
Status CopySparse(int in, int out, const std::string& from);
// pread(2)/pwrite(2) of all `n` bytes at `pos`: short transfers resumed,
// EINTR retried; `what` names the file in errors ("read <what>: …").
// PreadAll at end of file: sets *short_read (and returns OK) when given,
// else an IoError.
Status PreadAll(int fd, void* buf, size_t n, uint64_t pos,
                const std::string& what, bool* short_read = nullptr);
Status PwriteAll(int fd, const void* buf, size_t n, uint64_t pos,
                 const std::string& what);
// Writes `data` to `path` atomically and durably.
Status WriteFileAtomic(const std::string& path, std::string_view data);
Result<std::string> ReadSmallFile(const std::string& path,
                                  size_t max_bytes = 1 << 20);

}  // namespace strata
