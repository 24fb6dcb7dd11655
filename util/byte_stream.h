// Byte streams: how data moves in and out of a Store without being held in
// memory. A ByteSource is read until it returns 0; a ByteSink is written in
// order. FileSource/FileSink bind them to files; FileSink makes the file
// appear atomically (temp file + fsync + rename + fsync of the directory) and
// removes its temp file unless committed. StringSource/StringSink hold bytes
// in memory (small objects, tests).
//
// Thread-safety: every stream is single-owner; do not share one between
// threads without a lock.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "util/fs.h"
#include "util/sha256.h"
#include "util/status.h"

namespace strata {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` bytes into `buf`. Returns how many were read; 0 means the
  // end of the stream. May return fewer than `n` before the end.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Writes all `n` bytes at `buf` (short writes are the sink's business).
  virtual Status Write(const char* buf, size_t n) = 0;
};

// Writes to a descriptor as it is (a pipe, a FIFO another process reads, a
// socket): no temp file, no commit. `what` names it in errors.
class FdSink : public ByteSink {
 public:
  FdSink(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}
  Status Write(const char* buf, size_t n) override;

 private:
  int fd_;
  std::string what_;
};

// Reads a file (or block device) from its start.
class FileSource : public ByteSource {
 public:
  // NotFound when `path` does not exist; InvalidArgument for a directory.
  static Result<std::unique_ptr<FileSource>> Open(const std::string& path);

  Result<size_t> Read(char* buf, size_t n) override;
  // Size when opened (st_size).
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  FileSource(UniqueFd fd, std::string path, uint64_t size)
      : fd_(std::move(fd)), path_(std::move(path)), size_(size) {}

  UniqueFd fd_;
  std::string path_;
  uint64_t size_;
};

struct FileSinkOptions {
  // The temp file is "<path><temp_infix><random hex>" in the same directory.
  std::string temp_infix = ".part-";
  mode_t mode = 0640;  // before umask
  // Write the file back as it grows (util/fs.h WriteBehind): for large files
  // that must end durable, so the final fsync is short and no VM's flush
  // waits behind their dirty data.
  bool write_behind = false;
  // false: Commit() renames without fsyncs. For scratch files that are
  // deleted again before anything depends on them being on disk.
  bool durable = true;
  // Non-empty: the SHA-256 (hex) the written bytes must have. Commit() fails
  // with Corruption otherwise, and nothing appears at the path. For a
  // layer's own digest, checked after relay stages have been undone.
  std::string expected_sha256 = "";
  // Called after each write with the offset below which the file is final:
  // for writes in ascending order (a stream written as it comes, or a
  // sparse stream's extents), whose holes below it stay holes. A reader of
  // the file as it grows (engine/streamed_layer.h) waits on it.
  std::function<void(uint64_t)> on_written = nullptr;
};

// Writes a new version of `path`; nothing appears at `path` until Commit().
class FileSink : public ByteSink {
 public:
  static Result<std::unique_ptr<FileSink>> Create(const std::string& path);
  static Result<std::unique_ptr<FileSink>> Create(
      const std::string& path, const FileSinkOptions& options);
  // Unlinks the temp file if not committed.
  ~FileSink() override;

  // Loops over short writes and EINTR. Fails after Commit().
  Status Write(const char* buf, size_t n) override;
  // Writes `n` bytes at `offset` of the file (extents ascending, for
  // write-behind); not with FileSinkOptions::expected_sha256, which hashes
  // bytes in stream order (Internal).
  Status WriteAt(uint64_t offset, const char* buf, size_t n);
  // Sets the file's size (holes past the last write).
  Status Truncate(uint64_t size);
  // fsync(temp) now, e.g. before taking a lock around Commit().
  Status Sync();
  // Checks FileSinkOptions::expected_sha256, then fsync(temp), rename(temp →
  // path), fsync(directory). After a failed Commit the temp file is still
  // removed by the destructor.
  Status Commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  // Inode of the file being written; rename(2) keeps it.
  uint64_t inode() const { return inode_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  FileSink(UniqueFd fd, std::string path, std::string temp_path, uint64_t inode,
           const FileSinkOptions& options)
      : fd_(std::move(fd)),
        path_(std::move(path)),
        temp_path_(std::move(temp_path)),
        inode_(inode),
        behind_(fd_.get()),
        write_behind_(options.write_behind),
        durable_(options.durable),
        expected_sha256_(options.expected_sha256),
        on_written_(options.on_written) {
    if (!expected_sha256_.empty()) hash_ = std::make_unique<BackgroundSha256>();
  }

  UniqueFd fd_;
  std::string path_;
  std::string temp_path_;
  uint64_t inode_;
  uint64_t bytes_written_ = 0;
  bool committed_ = false;
  WriteBehind behind_;
  bool write_behind_;
  bool durable_;
  std::string expected_sha256_;
  std::function<void(uint64_t)> on_written_;
  std::unique_ptr<BackgroundSha256> hash_;  // set when there is one to check
};

// Passes `inner`'s bytes on unchanged, hashing them (SHA-256, on a thread of
// its own) for HexDigest() once the source is drained.
class HashingSource : public ByteSource {
 public:
  explicit HashingSource(ByteSource* inner) : inner_(inner) {}
  Result<size_t> Read(char* buf, size_t n) override {
    auto r = inner_->Read(buf, n);
    if (r.ok()) hash_.Update(buf, *r);
    return r;
  }
  std::string HexDigest() { return hash_.HexDigest(); }

 private:
  ByteSource* inner_;
  BackgroundSha256 hash_;
};

// Serves the bytes of a string, in reads of at most `max_read` bytes.
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data, size_t max_read = SIZE_MAX)
      : data_(std::move(data)), max_read_(max_read) {}
  Result<size_t> Read(char* buf, size_t n) override;

 private:
  std::string data_;
  size_t max_read_;
  size_t pos_ = 0;
};

// Appends everything written to a string.
class StringSink : public ByteSink {
 public:
  Status Write(const char* buf, size_t n) override {
    data_.append(buf, n);
    return Status::OK();
  }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

}  // namespace strata
