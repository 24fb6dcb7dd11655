// Sparse files as streams of their data extents. See sparse_stream.h.
#include "util/sparse_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace strata {
namespace {

constexpr size_t kFixedHead = 32;  // magic, file_size, extent_count

void PutBe64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xff));
}

uint64_t GetBe64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

std::string SparseHeader(uint64_t file_size,
                         const std::vector<Extent>& extents) {
  std::string h(kSparseMagic);
  PutBe64(&h, file_size);
  PutBe64(&h, extents.size());
  for (const Extent& e : extents) {
    PutBe64(&h, e.offset);
    PutBe64(&h, e.length);
  }
  return h;
}

// ---- SparseFileSource ----

Result<std::unique_ptr<SparseFileSource>> SparseFileSource::Open(
    const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return Status::FromErrno("fstat " + path, errno);
  if (!S_ISREG(st.st_mode))
    return Status::InvalidArgument(path + " is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  auto extents = DataExtents(fd.get(), size, kMaxExtents);
  if (!extents.ok()) return extents.status().WithContext(path);
  return std::unique_ptr<SparseFileSource>(
      new SparseFileSource(std::move(fd), path, size, std::move(*extents)));
}

SparseFileSource::SparseFileSource(UniqueFd fd, std::string path,
                                   uint64_t file_size,
                                   std::vector<Extent> extents)
    : fd_(std::move(fd)),
      path_(std::move(path)),
      file_size_(file_size),
      header_(SparseHeader(file_size_, extents)) {
  for (const Extent& e : extents) data_bytes_ += e.length;
  data_.Reset(std::move(extents));
}

Result<size_t> SparseFileSource::Read(char* buf, size_t n) {
  if (pos_ < header_.size()) {
    const size_t k = std::min<size_t>(n, header_.size() - pos_);
    std::memcpy(buf, header_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  if (data_.AtEnd() || n == 0) return size_t{0};
  const size_t k = static_cast<size_t>(std::min<uint64_t>(n, data_.left()));
  bool short_read = false;
  STRATA_RETURN_IF_ERROR(
      PreadAll(fd_.get(), buf, k, data_.offset(), path_, &short_read));
  if (short_read) return Status::IoError(path_ + " shrank while it was read");
  data_.Advance(k);
  pos_ += k;
  return k;
}

// ---- SparseDecoder ----

Status SparseDecoder::Bad(const std::string& why) const {
  return Status::Corruption(out_->path() +
                            ": not a sparse layer stream: " + why);
}

Status SparseDecoder::ParseHead() {
  if (head_.compare(0, kSparseMagic.size(), kSparseMagic) != 0)
    return Bad("bad magic");
  file_size_ = GetBe64(head_.data() + 16);
  count_ = GetBe64(head_.data() + 24);
  if (count_ > kMaxExtents) return Bad(std::to_string(count_) + " extents");
  return Status::OK();
}

Status SparseDecoder::Write(const char* buf, size_t n) {
  while (n > 0) {
    if (!parsed_) {
      const size_t want =
          head_.size() < kFixedHead ? kFixedHead : kFixedHead + 16 * count_;
      const size_t k = std::min(n, want - head_.size());
      head_.append(buf, k);
      buf += k;
      n -= k;
      if (head_.size() == kFixedHead) STRATA_RETURN_IF_ERROR(ParseHead());
      if (head_.size() < kFixedHead || head_.size() < kFixedHead + 16 * count_)
        continue;
      std::vector<Extent> extents;
      uint64_t next = 0;
      for (uint64_t i = 0; i < count_; ++i) {
        const Extent e{GetBe64(head_.data() + kFixedHead + 16 * i),
                       GetBe64(head_.data() + kFixedHead + 16 * i + 8)};
        if (e.length == 0 || e.offset < next || e.offset > file_size_ ||
            e.length > file_size_ - e.offset)
          return Bad("extent " + std::to_string(i) +
                     " is empty, out of order or past the file's end");
        next = e.offset + e.length;
        extents.push_back(e);
      }
      data_.Reset(std::move(extents));
      parsed_ = true;
      head_.clear();
      continue;
    }
    if (data_.AtEnd()) return Bad("bytes after the last extent");
    const size_t k = static_cast<size_t>(std::min<uint64_t>(n, data_.left()));
    STRATA_RETURN_IF_ERROR(out_->WriteAt(data_.offset(), buf, k));
    data_.Advance(k);
    buf += k;
    n -= k;
  }
  return Status::OK();
}

Status SparseDecoder::Finish() {
  if (!parsed_) return Bad("the stream ends inside its header");
  if (!data_.AtEnd()) return Bad("the stream ends inside an extent");
  return out_->Truncate(file_size_);
}

}  // namespace strata
