// A memory snapshot's restore image: see restore_image.h.
#include "memsnap/restore_image.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "memsnap/libvirt_save_header.h"

namespace strata::memsnap {
namespace {

// The reader hands out pieces of about this much; a run of pages is read
// from the region in one go up to this many slots.
constexpr size_t kPieceBytes = 1 << 20;
constexpr uint64_t kPagesAtOnce = 256;

// Whether a slot's record is left out of the image: a page of zeros in a
// block that QEMU holds zeroed until the stream fills it (ZeroedAtLoad).
bool LeftOut(const RamBlock& block, uint64_t word) {
  const bool zeros = word == 0 || ((word & 0xf) == kSlotZero &&
                                   ((word >> kSlotFillShift) & 0xff) == 0);
  return zeros && ZeroedAtLoad(block);
}

}  // namespace

bool ZeroedAtLoad(const RamBlock& block) { return block.id == "pc.ram"; }

Result<std::unique_ptr<RestoreImageSource>> RestoreImageSource::Open(
    const std::string& path, bool libvirt_header) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  STRATA_ASSIGN_OR_RETURN(RegionReader reader,
                          RegionReader::Open(fd.get(), path));
  auto owned = std::make_unique<RegionReader>(std::move(reader));
  STRATA_ASSIGN_OR_RETURN(auto src, Over(*owned, libvirt_header));
  src->fd_ = std::move(fd);
  src->owned_ = std::move(owned);
  return src;
}

Result<std::unique_ptr<RestoreImageSource>> RestoreImageSource::Over(
    const RegionReader& region, bool libvirt_header) {
  if (libvirt_header && region.libvirt_header().empty())
    return Status::InvalidArgument(region.what() +
                                   " keeps no libvirt save header");
  std::unique_ptr<RestoreImageSource> src(new RestoreImageSource(region));
  STRATA_ASSIGN_OR_RETURN(src->words_, region.ReadWords());
  // The stream's fixed parts are what a writer makes of no page at all;
  // each record adds its word, its block's id the first time (the writer
  // names the block only when it changes), and a fill byte or a page.
  MigrationStreamWriter fixed;
  STRATA_RETURN_IF_ERROR(fixed.Begin(region.prologue(), region.ram()));
  STRATA_RETURN_IF_ERROR(fixed.End(region.device_state()));
  uint64_t size = fixed.buffered();
  const RegionLayout& l = region.layout();
  for (size_t b = 0; b < region.ram().blocks.size(); ++b) {
    const RamBlock& block = region.ram().blocks[b];
    const uint64_t pages = block.length / kPageSize;
    bool named = false;
    for (uint64_t i = 0; i < pages; ++i) {
      const uint64_t word = src->words_[l.first_slot[b] + i];
      if (LeftOut(block, word)) continue;
      if (!named) size += 1 + block.id.size();
      named = true;
      size += 8 + ((word & 0xf) == kSlotPage ? kPageSize : 1);
    }
  }
  if (libvirt_header) {
    size += region.libvirt_header().size();
    src->header_pending_ = true;
  }
  src->size_ = size;
  STRATA_RETURN_IF_ERROR(src->writer_.Begin(region.prologue(), region.ram()));
  return src;
}

Status RestoreImageSource::Fill() {
  const RamSection& ram = region_->ram();
  const RegionLayout& l = region_->layout();
  const std::string& what = region_->what();
  while (writer_.buffered() + refs_.size() * kPageSize < kPieceBytes) {
    if (block_ == ram.blocks.size()) {
      if (!ended_) STRATA_RETURN_IF_ERROR(writer_.End(region_->device_state()));
      ended_ = true;
      return Status::OK();
    }
    const uint64_t pages = ram.blocks[block_].length / kPageSize;
    if (offset_ / kPageSize >= pages) {
      ++block_;
      offset_ = 0;
      continue;
    }
    const uint64_t slot = l.first_slot[block_] + offset_ / kPageSize;
    const uint64_t word = words_[slot];
    const uint64_t flags = word & 0xf;
    if (LeftOut(ram.blocks[block_], word)) {
      // QEMU's guest RAM reads as zeros until the stream fills it.
    } else if (word == 0) {  // never written: a zero page of a fresh region
      STRATA_RETURN_IF_ERROR(writer_.ZeroPage(block_, offset_, 0));
    } else if ((word & ~(kPageSize - 1)) != offset_) {
      return Status::Corruption(what + ": the slot of page " +
                                std::to_string(offset_) + " of '" +
                                ram.blocks[block_].id + "' names page " +
                                std::to_string(word & ~(kPageSize - 1)));
    } else if (flags == kSlotZero) {
      STRATA_RETURN_IF_ERROR(writer_.ZeroPage(
          block_, offset_,
          static_cast<uint8_t>((word >> kSlotFillShift) & 0xff)));
    } else if (flags == kSlotPage && by_reference_) {
      STRATA_RETURN_IF_ERROR(writer_.PageHeader(block_, offset_));
      refs_.push_back({writer_.buffered(), slot});
    } else if (flags == kSlotPage) {
      if (pages_.empty() || slot < pages_from_ ||
          slot >= pages_from_ + pages_.size() / kPageSize) {
        // This slot and those after it in its block that hold pages, in
        // one read.
        const uint64_t block_end = l.first_slot[block_] + pages;
        uint64_t n = 1;
        while (n < kPagesAtOnce && slot + n < block_end &&
               (words_[slot + n] & 0xf) == kSlotPage)
          ++n;
        pages_from_ = slot;
        pages_.resize(n * kPageSize);
        STRATA_RETURN_IF_ERROR(region_->ReadPages(slot, n, pages_.data()));
      }
      STRATA_RETURN_IF_ERROR(writer_.Page(
          block_, offset_, pages_.data() + (slot - pages_from_) * kPageSize));
    } else {
      return Status::Corruption(what + ": a slot with flags " +
                                std::to_string(flags));
    }
    offset_ += kPageSize;
  }
  return Status::OK();
}

Result<std::string_view> RestoreImageSource::Next() {
  if (header_pending_) {
    header_pending_ = false;
    return std::string_view(region_->libvirt_header());
  }
  STRATA_RETURN_IF_ERROR(Fill());
  writer_.TakeBuffered(&piece_);
  return std::string_view(piece_);
}

Status RestoreImageSource::NextByReference(std::string* bytes,
                                           std::vector<PageRef>* pages) {
  by_reference_ = true;
  pages->clear();
  if (header_pending_) {
    header_pending_ = false;
    bytes->assign(region_->libvirt_header());
    return Status::OK();
  }
  refs_.clear();
  STRATA_RETURN_IF_ERROR(Fill());
  writer_.TakeBuffered(bytes);
  pages->swap(refs_);
  return Status::OK();
}

Result<size_t> RestoreImageSource::Read(char* buf, size_t n) {
  if (read_at_ >= read_piece_.size()) {
    STRATA_ASSIGN_OR_RETURN(read_piece_, Next());
    read_at_ = 0;
    if (read_piece_.empty()) return size_t{0};
  }
  const size_t k = std::min(n, read_piece_.size() - read_at_);
  std::memcpy(buf, read_piece_.data() + read_at_, k);
  read_at_ += k;
  return k;
}

Status WriteRestoreImage(const RegionReader& region, ByteSink& out,
                         bool libvirt_header) {
  STRATA_ASSIGN_OR_RETURN(auto src,
                          RestoreImageSource::Over(region, libvirt_header));
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(std::string_view piece, src->Next());
    if (piece.empty()) return Status::OK();
    STRATA_RETURN_IF_ERROR(out.Write(piece.data(), piece.size()));
  }
}

Result<StreamStats> ImportRestoreImage(ByteSource& in, int fd,
                                       const std::string& what, bool fresh) {
  STRATA_ASSIGN_OR_RETURN(std::string header, ReadLibvirtSaveHeader(in, what));
  RegionWriter w(fd, what, fresh, kDefaultMetadataBound, std::move(header));
  STRATA_ASSIGN_OR_RETURN(StreamStats stats, ParseMigrationStream(in, w));
  STRATA_RETURN_IF_ERROR(w.Finish());
  return stats;
}

}  // namespace strata::memsnap
