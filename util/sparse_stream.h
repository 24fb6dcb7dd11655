// SparseStream: a sparse file as a stream of its data extents, the stored
// form of a layer whose file is mostly holes (issue 17: an overlay with
// qcow2 subclusters leaves the unwritten rest of each cluster a hole, so
// its file is ~16 times the data it holds after 4 KiB random writes).
//
// The stream (integers big-endian):
//   "STRATA-SPARSE-1\n"                      16 bytes
//   u64 file_size                            the file's size, holes included
//   u64 extent_count                         at most kMaxExtents
//   extent_count × {u64 offset, u64 length}  sorted, disjoint, non-empty,
//                                            within file_size
//   the extents' bytes, in table order; nothing after them.
// Decoded, it is the same file: the extents' bytes at their offsets, holes
// (zeros) elsewhere. The stream carries no checksum of its own: its SHA-256
// is the layer's digest, checked by the store's Get and by the decoder
// (R1.3), like a plain layer's.
// Thread-safety: single-owner streams.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/byte_stream.h"
#include "util/status.h"

namespace strata {

inline constexpr std::string_view kSparseMagic = "STRATA-SPARSE-1\n";
// 16 GiB of scattered 4 KiB writes in one layer; a table of 64 MiB at most.
inline constexpr uint64_t kMaxExtents = 1ull << 22;

// Where a stream's data part stands: in which extent, how far into it.
class ExtentCursor {
 public:
  void Reset(std::vector<Extent> extents) {
    extents_ = std::move(extents);
    index_ = 0;
    done_ = 0;
  }
  // True once every extent's bytes have passed (finished ones skipped).
  bool AtEnd() {
    while (index_ < extents_.size() && done_ == extents_[index_].length) {
      ++index_;
      done_ = 0;
    }
    return index_ == extents_.size();
  }
  // Call when !AtEnd(): the file offset and the bytes left of the extent.
  uint64_t offset() const { return extents_[index_].offset + done_; }
  uint64_t left() const { return extents_[index_].length - done_; }
  void Advance(uint64_t n) { done_ += n; }

 private:
  std::vector<Extent> extents_;
  size_t index_ = 0;
  uint64_t done_ = 0;
};

// Reads a file as a sparse stream. The file must not change while read.
class SparseFileSource : public ByteSource {
 public:
  static Result<std::unique_ptr<SparseFileSource>> Open(
      const std::string& path);
  Result<size_t> Read(char* buf, size_t n) override;
  uint64_t size() const { return header_.size() + data_bytes_; }  // stream
  uint64_t file_size() const { return file_size_; }
  uint64_t data_bytes() const { return data_bytes_; }

 private:
  SparseFileSource(UniqueFd fd, std::string path, uint64_t file_size,
                   std::vector<Extent> extents);
  UniqueFd fd_;
  std::string path_;
  uint64_t file_size_, data_bytes_ = 0;
  std::string header_;  // magic, sizes and table
  uint64_t pos_ = 0;    // in the stream
  ExtentCursor data_;
};

// The stream's header and table for `file_size` and `extents`.
std::string SparseHeader(uint64_t file_size,
                         const std::vector<Extent>& extents);

// Decodes a sparse stream into a file: Write takes the stream in order; the
// extents' bytes go to `out` at their offsets (FileSink::WriteAt), and
// Finish sizes it. Corruption for a stream that is not one (bad magic, a
// table out of order or out of bounds, bytes missing or left over).
class SparseDecoder {
 public:
  explicit SparseDecoder(FileSink* out) : out_(out) {}
  [[nodiscard]] Status Write(const char* buf, size_t n);
  // After the last Write: the stream was complete; `out` is truncated to
  // file_size.
  [[nodiscard]] Status Finish();
  uint64_t file_size() const { return file_size_; }

 private:
  Status ParseHead();
  Status Bad(const std::string& why) const;
  FileSink* out_;
  std::string head_;  // bytes of the header and table, until parsed
  bool parsed_ = false;
  uint64_t file_size_ = 0, count_ = 0;
  ExtentCursor data_;
};

}  // namespace strata
