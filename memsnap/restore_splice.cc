// Splicing a restore image into a pipe: see restore_splice.h.
#include "memsnap/restore_splice.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "memsnap/restore_image.h"

namespace strata::memsnap {
namespace {

// Anonymous memory for the record headers, never written again once
// spliced: a pipe holds references to its pages, not copies, until QEMU
// reads them. Unmapping leaves those pages to the pipe; reusing them (as a
// heap would) would change bytes QEMU has yet to read.
class HeaderArena {
 public:
  HeaderArena() = default;
  HeaderArena(const HeaderArena&) = delete;
  HeaderArena& operator=(const HeaderArena&) = delete;
  ~HeaderArena() {
    for (const auto& m : maps_) munmap(m.first, m.second);
  }
  // A copy of `bytes` that stays put until the arena goes.
  Result<const char*> Keep(const std::string& bytes) {
    if (bytes.size() > left_) {
      const size_t len = std::max(kArenaBytes, bytes.size());
      void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return Status::FromErrno("mmap headers", errno);
      maps_.emplace_back(p, len);
      next_ = static_cast<char*>(p);
      left_ = len;
    }
    char* at = next_;
    std::memcpy(at, bytes.data(), bytes.size());
    next_ += bytes.size();
    left_ -= bytes.size();
    return at;
  }

 private:
  static constexpr size_t kArenaBytes = 4 << 20;
  std::vector<std::pair<void*, size_t>> maps_;
  char* next_ = nullptr;
  size_t left_ = 0;
};

// The region's pages, mapped read-only: their page cache is what is
// spliced.
class PageMap {
 public:
  PageMap(const PageMap&) = delete;
  PageMap& operator=(const PageMap&) = delete;
  ~PageMap() {
    if (base_ != MAP_FAILED) munmap(base_, len_);
  }
  static Result<std::unique_ptr<PageMap>> Of(const RegionReader& region) {
    const RegionLayout& l = region.layout();
    std::unique_ptr<PageMap> m(new PageMap);
    m->len_ = std::max<uint64_t>(l.pages * kPageSize, kPageSize);
    // slots_offset is a multiple of 4 KiB (the layout's parts are).
    m->base_ = mmap(nullptr, m->len_, PROT_READ, MAP_SHARED, region.fd(),
                    static_cast<off_t>(l.slots_offset));
    if (m->base_ == MAP_FAILED)
      return Status::FromErrno("mmap " + region.what(), errno);
    return m;
  }
  const char* Page(uint64_t slot) const {
    return static_cast<const char*>(base_) + slot * kPageSize;
  }

 private:
  PageMap() = default;
  void* base_ = MAP_FAILED;
  size_t len_ = 0;
};

// Splices every segment of `iov` (which it consumes), in batches of
// IOV_MAX; a pipe with room for part of a batch takes that part.
Status SpliceAll(int pipe_fd, std::vector<iovec>* iov) {
  size_t i = 0;
  while (i < iov->size()) {
    const size_t n = std::min<size_t>(iov->size() - i, IOV_MAX);
    const ssize_t k = vmsplice(pipe_fd, iov->data() + i, n, 0);
    if (k < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("vmsplice into the restore pipe", errno);
    }
    size_t done = static_cast<size_t>(k);
    while (i < iov->size() && done >= (*iov)[i].iov_len) {
      done -= (*iov)[i].iov_len;
      ++i;
    }
    if (done > 0) {
      (*iov)[i].iov_base = static_cast<char*>((*iov)[i].iov_base) + done;
      (*iov)[i].iov_len -= done;
    }
  }
  iov->clear();
  return Status::OK();
}

}  // namespace

Status SpliceRestoreImage(const RegionReader& region, int pipe_fd) {
  STRATA_ASSIGN_OR_RETURN(auto src, RestoreImageSource::Over(region));
  STRATA_ASSIGN_OR_RETURN(auto pages, PageMap::Of(region));
  HeaderArena arena;
  std::string bytes;
  std::vector<RestoreImageSource::PageRef> refs;
  std::vector<iovec> iov;
  for (;;) {
    STRATA_RETURN_IF_ERROR(src->NextByReference(&bytes, &refs));
    if (bytes.empty() && refs.empty()) return Status::OK();
    STRATA_ASSIGN_OR_RETURN(const char* kept, arena.Keep(bytes));
    size_t from = 0;
    auto add = [&iov](const char* p, size_t n) {
      if (n > 0) iov.push_back({const_cast<char*>(p), n});
    };
    for (const auto& r : refs) {
      add(kept + from, r.at - from);
      add(pages->Page(r.slot), kPageSize);
      from = r.at;
    }
    add(kept + from, bytes.size() - from);
    STRATA_RETURN_IF_ERROR(SpliceAll(pipe_fd, &iov));
  }
}

}  // namespace strata::memsnap
