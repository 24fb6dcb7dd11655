// The fixed-size memory snapshot region: see region.h.
#include "memsnap/region.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "util/crash_point.h"
#include "util/sha256.h"

namespace strata::memsnap {
namespace {

constexpr char kMagic[16] = "STRATA-MEMSNAP\0";
constexpr uint32_t kFormat = 1;
constexpr uint32_t kStateWriting = 1, kStateComplete = 2;
// Superblock field offsets.
constexpr size_t kHashLen = 64;
constexpr size_t kTableHashAt = 112, kMetaHashAt = kTableHashAt + kHashLen,
                 kSelfHashAt = kMetaHashAt + kHashLen;

uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

void Put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void Put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t Get32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

std::string Hash(std::string_view bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.HexDigest();
}

std::string Table(const std::vector<RamBlock>& blocks, const RegionLayout& l) {
  std::string t(blocks.size() * kTableEntryBytes, '\0');
  for (size_t i = 0; i < blocks.size(); ++i) {
    char* e = t.data() + i * kTableEntryBytes;
    e[0] = static_cast<char>(blocks[i].id.size());
    std::memcpy(e + 1, blocks[i].id.data(), blocks[i].id.size());
    Put64(e + 256, blocks[i].length);
    Put64(e + 264, l.first_slot[i]);
  }
  return t;
}

struct Superblock {
  uint32_t state = 0;
  RegionLayout layout;
  RamSection ram;  // ids and lengths come from the table
  uint32_t blocks = 0;
  uint64_t libvirt = 0, prologue = 0, devices = 0;
  std::string table_hash, meta_hash;

  std::string Encode() const {
    std::string s(kSuperblockBytes, '\0');
    char* p = s.data();
    std::memcpy(p, kMagic, 16);
    Put32(p + 16, kFormat);
    Put32(p + 20, state);
    Put64(p + 24, layout.bytes);
    Put64(p + 32, layout.table_offset);
    Put64(p + 40, layout.metadata_offset);
    Put64(p + 48, layout.metadata_bound);
    Put64(p + 56, layout.slots_offset);
    Put64(p + 64, layout.pages);
    Put32(p + 72, blocks);
    Put32(p + 76, ram.section_id);
    Put32(p + 80, ram.instance_id);
    Put32(p + 84, ram.version);
    Put64(p + 88, libvirt);
    Put64(p + 96, prologue);
    Put64(p + 104, devices);
    std::memcpy(p + kTableHashAt, table_hash.data(),
                std::min(table_hash.size(), kHashLen));
    std::memcpy(p + kMetaHashAt, meta_hash.data(),
                std::min(meta_hash.size(), kHashLen));
    const std::string self = Hash(std::string_view(p, kSelfHashAt));
    std::memcpy(p + kSelfHashAt, self.data(), kHashLen);
    return s;
  }
};

Status Sync(int fd, const std::string& what) {
  if (fdatasync(fd) != 0)
    return Status::IoError("sync " + what + ": " + std::strerror(errno));
  return Status::OK();
}

}  // namespace

RegionLayout LayoutOf(const std::vector<RamBlock>& blocks,
                      uint64_t metadata_bound) {
  RegionLayout l;
  l.metadata_offset =
      RoundUp(l.table_offset + blocks.size() * kTableEntryBytes, 4096);
  l.metadata_bound = RoundUp(metadata_bound, 4096);
  l.slots_offset = l.metadata_offset + l.metadata_bound;
  for (const auto& b : blocks) {
    l.first_slot.push_back(l.pages);
    l.pages += b.length / kPageSize;
  }
  l.bytes = l.slots_offset + l.pages * kSlotBytes;
  return l;
}

Status RegionWriter::OnPrologue(std::string_view bytes, const std::string&) {
  prologue_ = bytes;
  return Status::OK();
}

Status RegionWriter::OnRamSetup(const RamSection& ram) {
  ram_ = ram;
  layout_ = LayoutOf(ram.blocks, metadata_bound_);
  if (libvirt_.size() + prologue_.size() > layout_.metadata_bound)
    return Status::InvalidArgument("the metadata exceeds the region's bound");
  struct stat st;
  if (fstat(fd_, &st) != 0)
    return Status::IoError("stat " + what_ + ": " + std::strerror(errno));
  if (S_ISREG(st.st_mode)) {
    // Exactly the layout's size, whatever the file held before.
    if (ftruncate(fd_, static_cast<off_t>(layout_.bytes)) != 0)
      return Status::IoError("size " + what_ + ": " + std::strerror(errno));
  } else if (S_ISBLK(st.st_mode)) {
    uint64_t size = 0;
    if (ioctl(fd_, BLKGETSIZE64, &size) != 0)
      return Status::IoError("size of " + what_ + ": " + std::strerror(errno));
    if (size < layout_.bytes)
      return Status::InvalidArgument(
          what_ + " holds " + std::to_string(size) + " bytes; this VM's " +
          "memory snapshot needs " + std::to_string(layout_.bytes));
  } else {
    return Status::InvalidArgument(what_ +
                                   " is neither a file nor a block "
                                   "device");
  }
  // "Writing" and the table, synced before the first slot.
  Superblock sb;
  sb.state = kStateWriting;
  sb.layout = layout_;
  sb.ram = ram_;
  sb.blocks = static_cast<uint32_t>(ram.blocks.size());
  const std::string table = Table(ram.blocks, layout_);
  sb.table_hash = Hash(table);
  const std::string head = sb.Encode();
  STRATA_RETURN_IF_ERROR(PwriteAll(fd_, head.data(), head.size(), 0, what_));
  STRATA_RETURN_IF_ERROR(
      PwriteAll(fd_, table.data(), table.size(), layout_.table_offset, what_));
  words_.assign(layout_.pages, 0);
  run_.clear();
  run_.reserve(kRunBytes);
  STRATA_RETURN_IF_ERROR(Sync(fd_, what_));
  CrashPoint("memsnap.table");
  return Status::OK();
}

Status RegionWriter::OnZeroPage(size_t block, uint64_t offset, uint8_t fill) {
  // Only the slot's word says what it holds; its page bytes stay as they
  // are. A fresh region reads as zeros: a zero page never written needs
  // not even its word (0 reads as a zero page).
  const uint64_t slot = layout_.first_slot[block] + offset / kPageSize;
  if (fresh_ && fill == 0 && words_[slot] == 0) return Status::OK();
  words_[slot] = offset | kSlotZero | uint64_t{fill} << kSlotFillShift;
  return Status::OK();
}

Status RegionWriter::OnPage(size_t block, uint64_t offset, const char* data) {
  const uint64_t slot = layout_.first_slot[block] + offset / kPageSize;
  words_[slot] = offset | kSlotPage;
  if (!run_.empty() &&
      (slot != run_slot_ + run_.size() / kPageSize || run_.size() >= kRunBytes))
    STRATA_RETURN_IF_ERROR(FlushRun());
  if (run_.empty()) run_slot_ = slot;
  run_.append(data, kPageSize);
  return Status::OK();
}

Status RegionWriter::FlushRun() {
  if (run_.empty()) return Status::OK();
  STRATA_RETURN_IF_ERROR(PwriteAll(fd_, run_.data(), run_.size(),
                                   layout_.PageAt(run_slot_), what_));
  unflushed_ += run_.size();
  run_.clear();
  CrashPoint("memsnap.pages");
  // Start the disk on what is written, so that Finish's sync waits for
  // the last few MiB, not the whole region (best effort).
  if (unflushed_ >= kWritebackBytes) {
    sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
    unflushed_ = 0;
  }
  return Status::OK();
}

Status RegionWriter::WriteWords() {
  // In pieces of 4 KiB; in a fresh region a piece of slots never written
  // (all words 0) is left a hole. Consecutive pieces go in one write.
  constexpr uint64_t kPieceWords = 512;
  std::string out;
  uint64_t out_from = 0;  // the first slot `out` holds
  auto flush = [&]() -> Status {
    if (out.empty()) return Status::OK();
    Status st =
        PwriteAll(fd_, out.data(), out.size(), layout_.WordAt(out_from), what_);
    out.clear();
    return st;
  };
  for (uint64_t at = 0; at < words_.size(); at += kPieceWords) {
    const uint64_t n = std::min<uint64_t>(kPieceWords, words_.size() - at);
    const bool hole =
        fresh_ && std::all_of(words_.begin() + at, words_.begin() + at + n,
                              [](uint64_t w) { return w == 0; });
    if (hole || out.size() >= kRunBytes) STRATA_RETURN_IF_ERROR(flush());
    if (hole) continue;
    if (out.empty()) out_from = at;
    for (uint64_t i = at; i < at + n; ++i) {
      char w[8];
      Put64(w, words_[i]);
      out.append(w, 8);
    }
  }
  return flush();
}

Status RegionWriter::OnDeviceState(std::string_view bytes) {
  if (libvirt_.size() + prologue_.size() + devices_.size() + bytes.size() >
      layout_.metadata_bound)
    return Status::InvalidArgument(
        "the VM's device state exceeds the region's metadata bound of " +
        std::to_string(layout_.metadata_bound) + " bytes");
  devices_ += bytes;
  return Status::OK();
}

Status RegionWriter::Finish() {
  STRATA_RETURN_IF_ERROR(FlushRun());
  STRATA_RETURN_IF_ERROR(WriteWords());
  const std::string meta = libvirt_ + prologue_ + devices_;
  STRATA_RETURN_IF_ERROR(
      PwriteAll(fd_, meta.data(), meta.size(), layout_.metadata_offset, what_));
  STRATA_RETURN_IF_ERROR(Sync(fd_, what_));  // every slot and the metadata
  CrashPoint("memsnap.finish");
  Superblock sb;
  sb.state = kStateComplete;
  sb.layout = layout_;
  sb.ram = ram_;
  sb.blocks = static_cast<uint32_t>(ram_.blocks.size());
  sb.libvirt = libvirt_.size();
  sb.prologue = prologue_.size();
  sb.devices = devices_.size();
  sb.table_hash = Hash(Table(ram_.blocks, layout_));
  sb.meta_hash = Hash(meta);
  const std::string head = sb.Encode();
  STRATA_RETURN_IF_ERROR(PwriteAll(fd_, head.data(), head.size(), 0, what_));
  return Sync(fd_, what_);
}

Result<RegionReader> RegionReader::Open(int fd, std::string what) {
  std::string head(kSuperblockBytes, '\0');
  STRATA_RETURN_IF_ERROR(PreadAll(fd, head.data(), head.size(), 0, what));
  const char* p = head.data();
  if (std::memcmp(p, kMagic, 16) != 0)
    return Status::Corruption(what + " holds no memory snapshot");
  if (Get32(p + 16) != kFormat)
    return Status::Corruption(what + ": unknown region format " +
                              std::to_string(Get32(p + 16)));
  if (Hash(std::string_view(p, kSelfHashAt)) !=
      std::string_view(p + kSelfHashAt, kHashLen))
    return Status::Corruption(what + ": the superblock's checksum fails");
  if (Get32(p + 20) != kStateComplete)
    return Status::Corruption(what +
                              " holds a memory snapshot that was cut "
                              "short (never completed): not restorable");
  RegionReader r;
  r.fd_ = fd;
  r.what_ = what;
  r.ram_.section_id = Get32(p + 76);
  r.ram_.instance_id = Get32(p + 80);
  r.ram_.version = Get32(p + 84);
  const uint32_t blocks = Get32(p + 72);
  if (blocks == 0 || blocks > 4096)
    return Status::Corruption(what + ": " + std::to_string(blocks) +
                              " RAM blocks");
  std::string table(blocks * kTableEntryBytes, '\0');
  STRATA_RETURN_IF_ERROR(
      PreadAll(fd, table.data(), table.size(), Get64(p + 32), what));
  if (Hash(table) != std::string_view(p + kTableHashAt, kHashLen))
    return Status::Corruption(what + ": the block table's checksum fails");
  for (uint32_t i = 0; i < blocks; ++i) {
    const char* e = table.data() + i * kTableEntryBytes;
    RamBlock b;
    b.id.assign(e + 1, static_cast<unsigned char>(e[0]));
    b.length = Get64(e + 256);
    r.ram_.blocks.push_back(std::move(b));
  }
  r.layout_ = LayoutOf(r.ram_.blocks, Get64(p + 48));
  if (r.layout_.bytes != Get64(p + 24) ||
      r.layout_.slots_offset != Get64(p + 56) ||
      r.layout_.metadata_offset != Get64(p + 40) ||
      Table(r.ram_.blocks, r.layout_) != table)
    return Status::Corruption(what + ": the layout contradicts its table");
  const uint64_t lv = Get64(p + 88), pr = Get64(p + 96), dv = Get64(p + 104);
  if (lv + pr + dv > r.layout_.metadata_bound)
    return Status::Corruption(what + ": metadata past its bound");
  std::string meta(lv + pr + dv, '\0');
  STRATA_RETURN_IF_ERROR(
      PreadAll(fd, meta.data(), meta.size(), r.layout_.metadata_offset, what));
  if (Hash(meta) != std::string_view(p + kMetaHashAt, kHashLen))
    return Status::Corruption(what + ": the metadata's checksum fails");
  r.libvirt_ = meta.substr(0, lv);
  r.prologue_ = meta.substr(lv, pr);
  r.devices_ = meta.substr(lv + pr);
  return r;
}

Result<std::vector<uint64_t>> RegionReader::ReadWords() const {
  std::string raw(layout_.pages * 8, '\0');
  STRATA_RETURN_IF_ERROR(
      PreadAll(fd_, raw.data(), raw.size(), layout_.WordAt(0), what_));
  std::vector<uint64_t> words(layout_.pages);
  for (uint64_t i = 0; i < layout_.pages; ++i)
    words[i] = Get64(raw.data() + 8 * i);
  return words;
}

Status RegionReader::ReadPages(uint64_t first, uint64_t n, char* into) const {
  if (first + n > layout_.pages)
    return Status::InvalidArgument(what_ + ": slots past the region's end");
  return PreadAll(fd_, into, n * kPageSize, layout_.PageAt(first), what_);
}

}  // namespace strata::memsnap
