// QEMU 7.2's migration stream: see migration_stream.h.
#include "memsnap/migration_stream.h"

#include <cstring>
#include <map>

namespace strata::memsnap {
namespace {

constexpr uint32_t kMagic = 0x5145564d;  // "QEVM"
constexpr uint32_t kVersion = 3;
// Section types (savevm.h).
constexpr uint8_t kEof = 0x00, kStart = 0x01, kPart = 0x02, kEnd = 0x03,
                  kFull = 0x04, kSubsection = 0x05, kConfiguration = 0x07,
                  kCommand = 0x08, kFooter = 0x7e;
// RAM record flags (ram.c), in an address's low 12 bits.
constexpr uint64_t kFlagFull = 0x01, kFlagZero = 0x02, kFlagMemSize = 0x04,
                   kFlagPage = 0x08, kFlagEos = 0x10, kFlagContinue = 0x20,
                   kFlagXbzrle = 0x40, kFlagHook = 0x80,
                   kFlagCompressPage = 0x100;
constexpr uint64_t kFlagMask = kPageSize - 1;
constexpr uint32_t kRamVersion = 4;

// A buffered reader over a ByteSource that counts what it read and can
// look at the next byte.
class Reader {
 public:
  explicit Reader(ByteSource& in) : in_(in) {}

  // Corruption when the stream ends first: `what` says what was expected.
  Status Read(char* out, size_t n, const char* what) {
    while (n > 0) {
      STRATA_ASSIGN_OR_RETURN(bool more, Refill());
      if (!more)
        return Status::Corruption(
            std::string("the migration stream ends inside ") + what +
            " (at byte " + std::to_string(consumed_) + ")");
      const size_t k = std::min(n, len_ - pos_);
      std::memcpy(out, buf_ + pos_, k);
      if (record_) record_->append(buf_ + pos_, k);
      pos_ += k;
      out += k;
      n -= k;
      consumed_ += k;
    }
    return Status::OK();
  }
  Result<uint8_t> U8(const char* what) {
    char c;
    STRATA_RETURN_IF_ERROR(Read(&c, 1, what));
    return static_cast<uint8_t>(c);
  }
  Result<uint32_t> Be32(const char* what) {
    unsigned char b[4];
    STRATA_RETURN_IF_ERROR(Read(reinterpret_cast<char*>(b), 4, what));
    return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 |
           b[3];
  }
  Result<uint64_t> Be64(const char* what) {
    STRATA_ASSIGN_OR_RETURN(uint64_t hi, Be32(what));
    STRATA_ASSIGN_OR_RETURN(uint64_t lo, Be32(what));
    return hi << 32 | lo;
  }
  // A u8 length, then that many bytes.
  Result<std::string> Idstr(const char* what) {
    STRATA_ASSIGN_OR_RETURN(uint8_t n, U8(what));
    std::string s(n, '\0');
    STRATA_RETURN_IF_ERROR(Read(s.data(), n, what));
    return s;
  }
  // The next byte, not consumed; -1 at the stream's end.
  Result<int> Peek() {
    STRATA_ASSIGN_OR_RETURN(bool more, Refill());
    if (!more) return -1;
    return static_cast<unsigned char>(buf_[pos_]);
  }
  // The bytes buffered, at least one unless at the end (then empty).
  Result<std::string_view> Some() {
    STRATA_RETURN_IF_ERROR(Refill().status());
    std::string_view v(buf_ + pos_, len_ - pos_);
    consumed_ += v.size();
    pos_ = len_;
    return v;
  }
  // Appends every byte Read from now on to `*into` (null: stops).
  void Record(std::string* into) { record_ = into; }
  uint64_t consumed() const { return consumed_; }

 private:
  // Reads more when the buffer is used up; false at the stream's end.
  Result<bool> Refill() {
    if (pos_ < len_) return true;
    STRATA_ASSIGN_OR_RETURN(size_t got, in_.Read(buf_, sizeof(buf_)));
    pos_ = 0;
    len_ = got;
    return got > 0;
  }
  ByteSource& in_;
  char buf_[1 << 16];
  size_t pos_ = 0, len_ = 0;
  uint64_t consumed_ = 0;
  std::string* record_ = nullptr;
};

Status Unsupported(const std::string& what) {
  return Status::InvalidArgument(
      "the migration stream uses " + what +
      ", which Strata's memory snapshots do not support; turn it off "
      "(docs/memory-snapshot.md)");
}

// The parse, as a small state machine over sections.
class Parser {
 public:
  Parser(ByteSource& in, StreamVisitor& v) : r_(in), v_(v) {}

  Result<StreamStats> Run() {
    STRATA_RETURN_IF_ERROR(Prologue());
    for (;;) {
      STRATA_ASSIGN_OR_RETURN(uint8_t type, r_.U8("a section"));
      switch (type) {
        case kStart:
          STRATA_RETURN_IF_ERROR(Start());
          break;
        case kPart:
        case kEnd: {
          STRATA_RETURN_IF_ERROR(RamPart(type == kEnd));
          if (type == kEnd) return Tail();
          break;
        }
        case kFull:
          return Unsupported("a device section before RAM's end");
        case kCommand:
          return Unsupported("a migration command (postcopy or COLO)");
        case kEof:
          return Status::Corruption(
              "the migration stream ends before RAM's last section");
        default:
          return Status::Corruption("unknown section type " +
                                    std::to_string(type) + " at byte " +
                                    std::to_string(r_.consumed() - 1));
      }
    }
  }

 private:
  // "QEVM", the version, the configuration section: kept byte for byte.
  Status Prologue() {
    std::string bytes;
    r_.Record(&bytes);
    Status s = ReadPrologue();
    r_.Record(nullptr);
    STRATA_RETURN_IF_ERROR(s);
    return v_.OnPrologue(bytes, machine_);
  }
  Status ReadPrologue() {
    char head[8];
    STRATA_RETURN_IF_ERROR(r_.Read(head, 8, "the header"));
    auto be32 = [&](int at) {
      const auto* b = reinterpret_cast<const unsigned char*>(head + at);
      return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 |
             b[3];
    };
    if (be32(0) != kMagic)
      return Status::Corruption("not a QEMU migration stream (no QEVM magic)");
    if (be32(4) != kVersion)
      return Unsupported("stream version " + std::to_string(be32(4)) +
                         " (QEMU 7.2 writes 3)");
    std::string& machine = machine_;
    STRATA_ASSIGN_OR_RETURN(int next, r_.Peek());
    if (next == kConfiguration) {
      STRATA_ASSIGN_OR_RETURN(uint8_t c, r_.U8("the configuration"));
      (void)c;
      STRATA_ASSIGN_OR_RETURN(uint32_t len, r_.Be32("the configuration"));
      if (len > 256)
        return Status::Corruption("a machine type of " + std::to_string(len) +
                                  " bytes");
      machine.resize(len);
      STRATA_RETURN_IF_ERROR(r_.Read(machine.data(), len, "the machine type"));
      for (;;) {
        STRATA_ASSIGN_OR_RETURN(int peek, r_.Peek());
        if (peek != kSubsection) break;
        STRATA_RETURN_IF_ERROR(r_.U8("a subsection").status());
        STRATA_ASSIGN_OR_RETURN(std::string name, r_.Idstr("a subsection"));
        STRATA_ASSIGN_OR_RETURN(uint32_t version, r_.Be32("a subsection"));
        (void)version;
        if (name == "configuration/target-page-bits") {
          STRATA_ASSIGN_OR_RETURN(uint32_t bits, r_.Be32("target-page-bits"));
          if (bits != 12)
            return Unsupported("target pages of 2^" + std::to_string(bits) +
                               " bytes");
        } else if (name == "configuration/capabilities") {
          STRATA_ASSIGN_OR_RETURN(uint32_t n, r_.Be32("capabilities"));
          for (uint32_t i = 0; i < n; ++i) {
            STRATA_ASSIGN_OR_RETURN(std::string cap, r_.Idstr("a capability"));
            // Those that change what Strata reads; the others are the
            // target's business (validated again on restore).
            if (cap == "xbzrle" || cap == "compress" || cap == "multifd" ||
                cap == "postcopy-ram" || cap == "x-ignore-shared" ||
                cap == "rdma-pin-all" || cap == "block" ||
                cap == "dirty-bitmaps")
              return Unsupported("the '" + cap + "' capability");
          }
        } else if (name == "configuration/uuid") {
          char uuid[16];
          STRATA_RETURN_IF_ERROR(r_.Read(uuid, 16, "the uuid"));
        } else {
          return Unsupported("configuration subsection '" + name + "'");
        }
      }
    }
    return Status::OK();
  }

  Status Footer(uint32_t id) {
    STRATA_ASSIGN_OR_RETURN(uint8_t f, r_.U8("a section footer"));
    STRATA_ASSIGN_OR_RETURN(uint32_t fid, r_.Be32("a section footer"));
    if (f != kFooter || fid != id)
      return Status::Corruption("section " + std::to_string(id) +
                                " has no matching footer");
    return Status::OK();
  }

  // A START: only RAM's, whose content is the block list.
  Status Start() {
    STRATA_ASSIGN_OR_RETURN(uint32_t id, r_.Be32("a section header"));
    STRATA_ASSIGN_OR_RETURN(std::string name, r_.Idstr("a section header"));
    STRATA_ASSIGN_OR_RETURN(uint32_t instance, r_.Be32("a section header"));
    STRATA_ASSIGN_OR_RETURN(uint32_t version, r_.Be32("a section header"));
    if (name != "ram")
      return Unsupported("the iterable section '" + name +
                         "' (block or dirty-bitmap migration)");
    if (have_ram_) return Status::Corruption("a second RAM section");
    if (version != kRamVersion)
      return Unsupported("RAM section version " + std::to_string(version));
    ram_.section_id = id;
    ram_.instance_id = instance;
    ram_.version = version;
    STRATA_ASSIGN_OR_RETURN(uint64_t first, r_.Be64("the RAM block list"));
    if ((first & kFlagMask) != kFlagMemSize)
      return Status::Corruption("RAM's setup does not start with its size");
    uint64_t left = first & ~kFlagMask;
    while (left > 0) {
      RamBlock b;
      STRATA_ASSIGN_OR_RETURN(b.id, r_.Idstr("a RAM block"));
      STRATA_ASSIGN_OR_RETURN(b.length, r_.Be64("a RAM block"));
      if (b.length == 0 || b.length > left || b.length % kPageSize)
        return Status::Corruption("RAM block '" + b.id + "' of " +
                                  std::to_string(b.length) + " bytes");
      if (by_id_.count(b.id))
        return Status::Corruption("RAM block '" + b.id + "' listed twice");
      by_id_[b.id] = ram_.blocks.size();
      left -= b.length;
      ram_.blocks.push_back(std::move(b));
    }
    STRATA_ASSIGN_OR_RETURN(uint64_t eos, r_.Be64("RAM's setup"));
    if (eos != kFlagEos)
      return Status::Corruption(
          "RAM's setup does not end after its blocks "
          "(a postcopy or ignore-shared layout?)");
    STRATA_RETURN_IF_ERROR(Footer(id));
    have_ram_ = true;
    return v_.OnRamSetup(ram_);
  }

  // A PART or END of RAM: page records up to EOS.
  Status RamPart(bool end) {
    STRATA_ASSIGN_OR_RETURN(uint32_t id, r_.Be32("a section header"));
    if (!have_ram_ || id != ram_.section_id)
      return Status::Corruption("a section part of unknown section " +
                                std::to_string(id));
    if (!end) ++stats_.iterations;
    char page[kPageSize];
    for (;;) {
      STRATA_ASSIGN_OR_RETURN(uint64_t word, r_.Be64("a page record"));
      const uint64_t flags = word & kFlagMask, offset = word & ~kFlagMask;
      if (flags & kFlagXbzrle) return Unsupported("XBZRLE pages");
      if (flags & kFlagCompressPage) return Unsupported("compressed pages");
      const uint64_t kind = flags & ~kFlagContinue;
      if (kind == kFlagEos) break;
      if (kind == kFlagHook || kind == kFlagFull) return Unsupported("RDMA");
      if (kind == kFlagMemSize)
        return Status::Corruption("a RAM size record after RAM's setup");
      if (kind != kFlagZero && kind != kFlagPage)
        return Status::Corruption("page record flags " + std::to_string(flags));
      if (!(flags & kFlagContinue)) {
        STRATA_ASSIGN_OR_RETURN(std::string bid, r_.Idstr("a page record"));
        auto it = by_id_.find(bid);
        if (it == by_id_.end())
          return Status::Corruption("a page of unknown RAM block '" + bid +
                                    "'");
        block_ = it->second;
      } else if (block_ == SIZE_MAX) {
        return Status::Corruption("a page record continues no block");
      }
      if (offset >= ram_.blocks[block_].length)
        return Status::Corruption("a page at " + std::to_string(offset) +
                                  " past RAM block '" + ram_.blocks[block_].id +
                                  "'");
      if (kind == kFlagZero) {
        STRATA_ASSIGN_OR_RETURN(uint8_t fill, r_.U8("a zero page"));
        ++stats_.zero_pages;
        STRATA_RETURN_IF_ERROR(v_.OnZeroPage(block_, offset, fill));
      } else {
        STRATA_RETURN_IF_ERROR(r_.Read(page, kPageSize, "a page"));
        ++stats_.pages;
        STRATA_RETURN_IF_ERROR(v_.OnPage(block_, offset, page));
      }
    }
    return Footer(id);
  }

  // After RAM's END: the devices' sections and the end, opaque.
  Result<StreamStats> Tail() {
    STRATA_RETURN_IF_ERROR(v_.OnRamEnd());
    for (;;) {
      STRATA_ASSIGN_OR_RETURN(std::string_view piece, r_.Some());
      if (piece.empty()) break;
      stats_.device_bytes += piece.size();
      STRATA_RETURN_IF_ERROR(v_.OnDeviceState(piece));
    }
    if (stats_.device_bytes == 0)
      return Status::Corruption("the migration stream ends with RAM");
    stats_.bytes = r_.consumed();
    return stats_;
  }

  Reader r_;
  StreamVisitor& v_;
  std::string machine_;
  RamSection ram_;
  bool have_ram_ = false;
  std::map<std::string, size_t> by_id_;
  size_t block_ = SIZE_MAX;
  StreamStats stats_;
};

void PutBe32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    s.push_back(static_cast<char>(v >> shift));
}
void PutBe64(std::string& s, uint64_t v) {
  PutBe32(s, static_cast<uint32_t>(v >> 32));
  PutBe32(s, static_cast<uint32_t>(v));
}
void PutIdstr(std::string& s, const std::string& id) {
  s.push_back(static_cast<char>(id.size()));
  s += id;
}

}  // namespace

Result<StreamStats> ParseMigrationStream(ByteSource& in, StreamVisitor& v) {
  return Parser(in, v).Run();
}

Status MigrationStreamWriter::Begin(std::string_view prologue,
                                    const RamSection& ram) {
  ram_ = ram;
  std::string& s = buf_;
  s.append(prologue);
  s.push_back(static_cast<char>(kStart));
  PutBe32(s, ram.section_id);
  PutIdstr(s, "ram");
  PutBe32(s, ram.instance_id);
  PutBe32(s, ram.version);
  uint64_t total = 0;
  for (const auto& b : ram.blocks) total += b.length;
  PutBe64(s, total | kFlagMemSize);
  for (const auto& b : ram.blocks) {
    PutIdstr(s, b.id);
    PutBe64(s, b.length);
  }
  PutBe64(s, kFlagEos);
  s.push_back(static_cast<char>(kFooter));
  PutBe32(s, ram.section_id);
  // The pages go in one PART.
  s.push_back(static_cast<char>(kPart));
  PutBe32(s, ram.section_id);
  in_part_ = true;
  return Flush(false);
}

Status MigrationStreamWriter::Record(size_t block, uint64_t offset,
                                     uint64_t flag) {
  if (!in_part_ || block >= ram_.blocks.size() || offset % kPageSize ||
      offset >= ram_.blocks[block].length)
    return Status::InvalidArgument("a page record outside the RAM blocks");
  const bool same = block == last_block_;
  PutBe64(buf_, offset | flag | (same ? kFlagContinue : 0));
  if (!same) PutIdstr(buf_, ram_.blocks[block].id);
  last_block_ = block;
  return Status::OK();
}

Status MigrationStreamWriter::Flush(bool always) {
  if (!out_ || buf_.empty() || (!always && buf_.size() < kFlushBytes))
    return Status::OK();
  Status s = out_->Write(buf_.data(), buf_.size());
  buf_.clear();
  return s;
}

Status MigrationStreamWriter::ZeroPage(size_t block, uint64_t offset,
                                       uint8_t fill) {
  STRATA_RETURN_IF_ERROR(Record(block, offset, kFlagZero));
  buf_.push_back(static_cast<char>(fill));
  return Flush(false);
}

Status MigrationStreamWriter::Page(size_t block, uint64_t offset,
                                   const char* data) {
  STRATA_RETURN_IF_ERROR(Record(block, offset, kFlagPage));
  buf_.append(data, kPageSize);
  return Flush(false);
}

Status MigrationStreamWriter::PageHeader(size_t block, uint64_t offset) {
  return Record(block, offset, kFlagPage);
}

Status MigrationStreamWriter::End(std::string_view device_state) {
  if (!in_part_) return Status::InvalidArgument("End before Begin");
  std::string& s = buf_;
  PutBe64(s, kFlagEos);
  s.push_back(static_cast<char>(kFooter));
  PutBe32(s, ram_.section_id);
  s.push_back(static_cast<char>(kEnd));
  PutBe32(s, ram_.section_id);
  PutBe64(s, kFlagEos);
  s.push_back(static_cast<char>(kFooter));
  PutBe32(s, ram_.section_id);
  in_part_ = false;
  s.append(device_state);
  return Flush(true);
}

}  // namespace strata::memsnap
