// FileBackend: a raw file or block device as an NBD export's `next`
// backend. Reads and writes are pread/pwrite at the offset; flush and FUA
// are fdatasync; trim punches a hole; zeroing uses fallocate's zero range
// (or a hole when trimming is allowed), falling back to writing zeroes where
// the file system or device cannot.
// Thread-safety: all methods may be called concurrently (positional I/O on
// one descriptor).
#pragma once

#include <memory>

#include "nbd/block_backend.h"
#include "util/fs.h"

namespace strata::nbd {

class FileBackend : public BlockBackend {
 public:
  // Opens `path` read-write (read-only with `read_only`). NotFound when it
  // does not exist; InvalidArgument when it is neither a regular file nor a
  // block device.
  static Result<std::unique_ptr<FileBackend>> Open(const std::string& path,
                                                   bool read_only = false);

  std::string Describe() const override { return "file:" + path_; }
  uint64_t Size() const override { return size_; }
  bool CanWrite() const override { return !read_only_; }
  bool CanFlush() const override { return true; }
  bool CanFua() const override { return !read_only_; }
  bool CanTrim() const override { return !read_only_; }
  bool CanZero() const override { return !read_only_; }
  bool CanMultiConn() const override { return true; }

  Status Pread(void* buf, uint32_t count, uint64_t offset) override;
  Status Pwrite(const void* buf, uint32_t count, uint64_t offset,
                bool fua) override;
  Status Flush() override;
  Status Trim(uint32_t count, uint64_t offset, bool fua) override;
  Status Zero(uint32_t count, uint64_t offset, bool may_trim,
              bool fua) override;

 private:
  FileBackend(std::string path, UniqueFd fd, uint64_t size, bool read_only,
              bool is_block)
      : path_(std::move(path)),
        fd_(std::move(fd)),
        size_(size),
        read_only_(read_only),
        is_block_(is_block) {}
  Status WriteZeroes(uint32_t count, uint64_t offset);

  const std::string path_;
  const UniqueFd fd_;
  const uint64_t size_;
  const bool read_only_;
  const bool is_block_;
};

}  // namespace strata::nbd
