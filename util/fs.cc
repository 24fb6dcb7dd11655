// File-system helpers. See fs.h.
#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>

#include "util/uuid.h"

namespace strata {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

bool IsSoleName(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         st.st_nlink == 1;
}

Result<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::FromErrno("stat " + path, errno);
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<uint64_t> AllocatedBytes(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return Status::FromErrno("stat " + path, errno);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

std::string DirName(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string BaseName(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Result<std::string> CanonicalPath(const std::string& path) {
  char buf[PATH_MAX];
  if (!realpath(path.c_str(), buf)) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::FromErrno("realpath " + path, errno);
  }
  return std::string(buf);
}

bool IsUnderDir(const std::string& path, const std::string& dir) {
  if (dir.empty()) return false;
  if (path == dir) return true;
  std::string prefix = dir.back() == '/' ? dir : dir + "/";
  return path.compare(0, prefix.size(), prefix) == 0;
}

Status MakeDirs(const std::string& path, int mode) {
  // Creates missing components with `mode`; existing directories keep
  // theirs (an operator's permissions are not ours to change).
  std::filesystem::path p(path);
  std::filesystem::path acc;
  for (const auto& part : p) {
    acc /= part;
    if (mkdir(acc.c_str(), static_cast<mode_t>(mode)) == 0) {
      chmod(acc.c_str(), static_cast<mode_t>(mode));  // not narrowed by umask
    } else if (errno != EEXIST) {
      return Status::FromErrno("mkdir " + acc.string(), errno);
    }
  }
  return Status::OK();
}

Status FsyncPath(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  if (fsync(fd.get()) != 0) return Status::FromErrno("fsync " + path, errno);
  return Status::OK();
}

Status FsyncDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open dir " + dir, errno);
  if (fsync(fd.get()) != 0) return Status::FromErrno("fsync " + dir, errno);
  return Status::OK();
}

Status RenameDurable(const std::string& from, const std::string& to) {
  if (rename(from.c_str(), to.c_str()) != 0)
    return Status::FromErrno("rename " + from + " -> " + to, errno);
  STRATA_RETURN_IF_ERROR(FsyncDir(DirName(to)));
  if (DirName(from) != DirName(to))
    STRATA_RETURN_IF_ERROR(FsyncDir(DirName(from)));
  return Status::OK();
}

Status RemoveFile(const std::string& path) {
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::OK();
    return Status::FromErrno("unlink " + path, errno);
  }
  return FsyncDir(DirName(path));
}

bool MergeExtentsToZeros(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  fiemap count{};  // fm_extent_count 0: the number of extents only
  count.fm_length = FIEMAP_MAX_OFFSET;
  if (ioctl(fd, FS_IOC_FIEMAP, &count) != 0) return false;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (count.fm_mapped_extents <= 16 + (size >> 20)) return false;
  // The holes become (unwritten) blocks until the file is freed.
  const uint64_t holes =
      size -
      std::min<uint64_t>(size, static_cast<uint64_t>(st.st_blocks) * 512);
  struct statvfs fs;
  if (fstatvfs(fd, &fs) != 0 ||
      holes > static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize / 4)
    return false;
  return fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, st.st_size) == 0;
}

Status RemoveBigFileGently(const std::string& path) {
  // Freeing a large file's extents at once (ext4, mounted with discard here)
  // puts all of them into one journal commit, which every fsync on the
  // filesystem then waits for; shrinking it step by step spreads that out.
  // A file of many small extents (a layer of scattered small writes) is
  // made a few large ones first: a discard each, not one per write.
  constexpr off_t kStep = 8 << 20;
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st;
  if (fd.valid() && fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) &&
      st.st_nlink == 1) {
    (void)MergeExtentsToZeros(fd.get());  // only saves time
    for (off_t size = st.st_size; size > kStep;) {
      size -= kStep;
      if (ftruncate(fd.get(), size) != 0) break;
      fdatasync(fd.get());
    }
  }
  fd.reset();
  return RemoveFile(path);
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return Status::IoError("remove " + path + ": " + ec.message());
  return Status::OK();
}

void WriteBehind::Wrote(off_t off, off_t len) {
  const off_t end = off + len;
  // Start writeback of every chunk now complete, wait for the one before.
  off_t first = std::max(started_, off / kChunk * kChunk);
  for (off_t c = first; c + kChunk <= end; c += kChunk) {
    sync_file_range(fd_, c, kChunk, SYNC_FILE_RANGE_WRITE);
    if (c >= kChunk)
      sync_file_range(fd_, c - kChunk, kChunk,
                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                          SYNC_FILE_RANGE_WAIT_AFTER);
    started_ = c + kChunk;
  }
}

namespace {

// Copies [off, off+len) with copy_file_range, falling back to read/write.
Status CopyChunk(int in, int out, off_t off, off_t len) {
  while (len > 0) {
    loff_t in_off = off, out_off = off;
    ssize_t n = copy_file_range(in, &in_off, out, &out_off,
                                static_cast<size_t>(len), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP)) {
      char buf[1 << 16];
      ssize_t r = pread(in, buf, std::min<off_t>(len, sizeof buf), off);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return Status::FromErrno("pread", r == 0 ? EIO : errno);
      ssize_t w = pwrite(out, buf, r, off);
      if (w != r) return Status::FromErrno("pwrite", w < 0 ? errno : EIO);
      n = r;
    } else if (n < 0) {
      return Status::FromErrno("copy_file_range", errno);
    } else if (n == 0) {
      return Status::IoError("copy_file_range: unexpected end of file");
    }
    off += n;
    len -= n;
  }
  return Status::OK();
}

// Copies [off, off+len) chunk by chunk, written back as it goes (a history
// copy left dirty stalled the test guest's flushes ~100 ms; direct I/O for
// the copy was tried as well: its guest stalls were longer).
Status CopyRange(int in, int out, off_t off, off_t len) {
  WriteBehind behind(out);
  while (len > 0) {
    const off_t step = std::min<off_t>(len, WriteBehind::kChunk);
    STRATA_RETURN_IF_ERROR(CopyChunk(in, out, off, step));
    behind.Wrote(off, step);
    off += step;
    len -= step;
  }
  return Status::OK();
}

}  // namespace

Result<std::vector<Extent>> DataExtents(int fd, uint64_t size,
                                        uint64_t max_extents) {
  std::vector<Extent> out;
  uint64_t pos = 0;
  while (pos < size) {
    const off_t data = lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole is left
      return Status::FromErrno("lseek SEEK_DATA", errno);
    }
    const off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return Status::FromErrno("lseek SEEK_HOLE", errno);
    const uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    if (end > static_cast<uint64_t>(data))
      out.push_back(
          {static_cast<uint64_t>(data), end - static_cast<uint64_t>(data)});
    pos = end;
    if (out.size() > max_extents)
      return Status::NotSupported("more than " + std::to_string(max_extents) +
                                  " data extents");
  }
  return out;
}

Status CopySparse(int in, int out, const std::string& from) {
  struct stat st;
  if (fstat(in, &st) != 0) return Status::FromErrno("fstat " + from, errno);
  if (ftruncate(out, st.st_size) != 0)
    return Status::FromErrno("ftruncate the copy of " + from, errno);
  auto extents = DataExtents(in, static_cast<uint64_t>(st.st_size));
  if (!extents.ok()) return extents.status().WithContext(from);
  for (const Extent& e : *extents)
    STRATA_RETURN_IF_ERROR(CopyRange(in, out, static_cast<off_t>(e.offset),
                                     static_cast<off_t>(e.length))
                               .WithContext("copy " + from));
  if (fsync(out) != 0)
    return Status::FromErrno("fsync the copy of " + from, errno);
  return Status::OK();
}

Status CopyFileSparse(const std::string& from, const std::string& to) {
  UniqueFd in(open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return Status::FromErrno("open " + from, errno);
  std::string tmp = to + ".copy-" + NewUuid().substr(0, 8);
  UniqueFd out(
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (!out.valid()) return Status::FromErrno("create " + tmp, errno);
  Status s = CopySparse(in.get(), out.get(), from);
  out.reset();
  if (s.ok()) s = RenameDurable(tmp, to);
  if (!s.ok()) unlink(tmp.c_str());
  return s;
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp-" + NewUuid().substr(0, 8);
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (!fd.valid()) return Status::FromErrno("create " + tmp, errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      unlink(tmp.c_str());
      return Status::FromErrno("write " + tmp, errno);
    }
    done += n;
  }
  if (fsync(fd.get()) != 0) {
    unlink(tmp.c_str());
    return Status::FromErrno("fsync " + tmp, errno);
  }
  fd.reset();
  return RenameDurable(tmp, path);
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::FromErrno("open " + path, errno);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read " + path, errno);
    if (n == 0) break;
    out.append(buf, n);
    if (out.size() > max_bytes) return Status::TooLarge(path + " is too large");
  }
  return out;
}

Status PreadAll(int fd, void* buf, size_t n, uint64_t pos,
                const std::string& what, bool* short_read) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(pos));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno("read " + what, errno);
    if (r == 0) {
      if (!short_read)
        return Status::IoError("read " + what + ": unexpected end");
      *short_read = true;
      return Status::OK();
    }
    p += r;
    n -= static_cast<size_t>(r);
    pos += static_cast<uint64_t>(r);
  }
  return Status::OK();
}

Status PwriteAll(int fd, const void* buf, size_t n, uint64_t pos,
                 const std::string& what) {
  const auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(pos));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno("write " + what, errno);
    p += r;
    n -= static_cast<size_t>(r);
    pos += static_cast<uint64_t>(r);
  }
  return Status::OK();
}

}  // namespace strata
