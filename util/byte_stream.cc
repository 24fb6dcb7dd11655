// File and string byte streams. See byte_stream.h.
//
// FileSink's temp file carries a random suffix and is opened with O_EXCL, so
// concurrent writers of the same path never share a temp file; the last
// rename wins, and each reader sees one complete version.
#include "util/byte_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "util/uuid.h"

namespace strata {

namespace {

// 16 random lower-case hex digits (OpenSSL's CSPRNG via NewUuid).
std::string RandomHex() {
  std::string uuid = NewUuid();
  uuid.erase(std::remove(uuid.begin(), uuid.end(), '-'), uuid.end());
  return uuid.substr(0, 16);
}

}  // namespace

// ---- FileSource ----

Result<std::unique_ptr<FileSource>> FileSource::Open(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR)
      return Status::NotFound(path + " does not exist");
    return Status::FromErrno("open " + path, errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return Status::FromErrno("fstat " + path, errno);
  if (S_ISDIR(st.st_mode))
    return Status::InvalidArgument(path + " is a directory");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) {  // st_size is 0 for block devices
    off_t end = lseek(fd.get(), 0, SEEK_END);
    if (end < 0 || lseek(fd.get(), 0, SEEK_SET) != 0)
      return Status::FromErrno("lseek " + path, errno);
    size = static_cast<uint64_t>(end);
  }
  return std::unique_ptr<FileSource>(new FileSource(std::move(fd), path, size));
}

Result<size_t> FileSource::Read(char* buf, size_t n) {
  for (;;) {
    ssize_t got = read(fd_.get(), buf, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) return Status::FromErrno("read " + path_, errno);
  }
}

// ---- FileSink ----

Result<std::unique_ptr<FileSink>> FileSink::Create(const std::string& path) {
  return Create(path, FileSinkOptions());
}

Result<std::unique_ptr<FileSink>> FileSink::Create(
    const std::string& path, const FileSinkOptions& options) {
  constexpr int kAttempts = 4;  // a clash of 64 random bits is a fluke
  for (int i = 0; i < kAttempts; ++i) {
    std::string temp = path + options.temp_infix + RandomHex();
    UniqueFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     options.mode));
    if (!fd.valid()) {
      if (errno == EEXIST) continue;
      return Status::FromErrno("create " + temp, errno);
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0) {
      Status s = Status::FromErrno("fstat " + temp, errno);
      unlink(temp.c_str());
      return s;
    }
    return std::unique_ptr<FileSink>(
        new FileSink(std::move(fd), path, std::move(temp),
                     static_cast<uint64_t>(st.st_ino), options));
  }
  return Status::IoError("create temp file for " + path + ": names taken");
}

FileSink::~FileSink() {
  if (committed_) return;
  fd_.reset();
  unlink(temp_path_.c_str());
}

Status FdSink::Write(const char* buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd_, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Status::FromErrno("write " + what_, errno);
    if (w == 0) return Status::IoError("write " + what_ + ": no progress");
    buf += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

Status FileSink::Write(const char* buf, size_t n) {
  if (!fd_.valid())
    return Status::Internal("write to " + path_ + " after Commit");
  if (hash_) hash_->Update(buf, n);
  while (n > 0) {
    ssize_t w = write(fd_.get(), buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Status::FromErrno("write " + temp_path_, errno);
    if (w == 0) return Status::IoError("write " + temp_path_ + ": no progress");
    buf += w;
    n -= static_cast<size_t>(w);
    if (write_behind_)
      behind_.Wrote(static_cast<off_t>(bytes_written_), static_cast<off_t>(w));
    bytes_written_ += static_cast<uint64_t>(w);
  }
  if (on_written_) on_written_(bytes_written_);
  return Status::OK();
}

Status FileSink::WriteAt(uint64_t offset, const char* buf, size_t n) {
  if (!fd_.valid())
    return Status::Internal("write to " + path_ + " after Commit");
  if (hash_)
    return Status::Internal("positional write to " + path_ +
                            ", whose bytes are hashed in order");
  STRATA_RETURN_IF_ERROR(PwriteAll(fd_.get(), buf, n, offset, temp_path_));
  if (write_behind_)
    behind_.Wrote(static_cast<off_t>(offset), static_cast<off_t>(n));
  bytes_written_ += n;
  if (on_written_) on_written_(offset + n);
  return Status::OK();
}

Status FileSink::Truncate(uint64_t size) {
  if (!fd_.valid())
    return Status::Internal("truncate of " + path_ + " after Commit");
  if (ftruncate(fd_.get(), static_cast<off_t>(size)) != 0)
    return Status::FromErrno("ftruncate " + temp_path_, errno);
  return Status::OK();
}

Status FileSink::Sync() {
  if (!fd_.valid())
    return Status::Internal("Sync of " + path_ + " after Commit");
  if (fsync(fd_.get()) != 0)
    return Status::FromErrno("fsync " + temp_path_, errno);
  return Status::OK();
}

Status FileSink::Commit() {
  if (!fd_.valid())
    return Status::Internal("Commit of " + path_ + " called twice");
  if (hash_) {
    const std::string got = hash_->HexDigest();
    std::string want = expected_sha256_;
    for (char& c : want) c = static_cast<char>(std::tolower(c));
    if (got != want)
      return Status::Corruption(path_ + ": the " +
                                std::to_string(bytes_written_) +
                                " bytes written have sha256 " + got +
                                ", expected " + expected_sha256_);
  }
  if (durable_ && fsync(fd_.get()) != 0)
    return Status::FromErrno("fsync " + temp_path_, errno);
  // close(2) can report a deferred write error (NFS); do not ignore it.
  if (close(fd_.release()) != 0)
    return Status::FromErrno("close " + temp_path_, errno);
  if (rename(temp_path_.c_str(), path_.c_str()) != 0)
    return Status::FromErrno("rename " + temp_path_ + " -> " + path_, errno);
  committed_ = true;
  return durable_ ? FsyncDir(DirName(path_)) : Status::OK();
}

// ---- StringSource ----

Result<size_t> StringSource::Read(char* buf, size_t n) {
  size_t take = std::min({n, max_read_, data_.size() - pos_});
  std::memcpy(buf, data_.data() + pos_, take);
  pos_ += take;
  return take;
}

}  // namespace strata
