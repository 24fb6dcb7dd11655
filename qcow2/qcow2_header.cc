// Qcow2 header reader. See qcow2_header.h and docs/qcow2-header.md.
//
// Everything parsed lies in the first cluster (QEMU refuses a header, backing
// name or header extension that leaves it), so min(file size, cluster size)
// bytes suffice. Checks go from the most basic on, so an image with several
// faults reports the first: magic, size, version, cluster_bits, header_length,
// refcount_order, incompatible features, encryption, compression type, table
// offsets, backing name, header extensions. Big-endian decoding is by hand.
//
// Thread-safety: no shared state; safe to call from any thread.
#include "qcow2/qcow2_header.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>
#include <utility>

namespace strata::qcow2 {
namespace {

constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
constexpr uint32_t kV2HeaderLength = 72;
constexpr uint32_t kV3MinHeaderLength = 104;  // also compression_type's offset
constexpr uint32_t kMinClusterBits = 9, kMaxClusterBits = 21;  // 512 B..2 MiB
constexpr uint32_t kMaxBackingFileSize = 1023;
constexpr uint32_t kMaxRefcountOrder = 6;
constexpr uint64_t kFirstRead = 64 * 1024;
// Incompatible feature bits; bits 0, 3 and 4 are accepted.
constexpr uint64_t kDirtyBit = 1 << 0, kCorruptBit = 1 << 1,
                   kDataFileBit = 1 << 2, kExtendedL2Bit = 1 << 4,
                   kKnownBits = 0x1f;
// Header extension types.
constexpr uint32_t kExtEnd = 0, kExtBackingFormat = 0xe2792aca,
                   kExtEncryption = 0x0537be77;  // full disk encryption

// Big-endian reads; callers check the bounds first (HeaderParser::Need).
uint32_t Be32(std::string_view b, uint64_t off) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data()) + off;
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         uint32_t{p[3]};
}
uint64_t Be64(std::string_view b, uint64_t off) {
  return uint64_t{Be32(b, off)} << 32 | Be32(b, off + 4);
}

// Concatenates strings and (decimal) numbers into a message.
template <class... Args>
std::string Cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
std::string Hex(uint64_t v) { return Cat("0x", std::hex, v); }

// Decodes and checks one header; `name` names the image in messages.
class HeaderParser {
 public:
  HeaderParser(std::string_view head, uint64_t file_size, std::string name)
      : head_(head.substr(0, file_size)),  // bytes past the end are ignored
        file_size_(file_size),
        name_(std::move(name)) {}

  Result<Qcow2Header> Parse() {
    STRATA_RETURN_IF_ERROR(ParseFixedFields());
    STRATA_RETURN_IF_ERROR(CheckFeatures());
    STRATA_RETURN_IF_ERROR(CheckTable("L1", h_.l1_table_offset, h_.l1_size));
    STRATA_RETURN_IF_ERROR(CheckTable("refcount", h_.refcount_table_offset, 1));
    STRATA_RETURN_IF_ERROR(ReadBackingFile());
    STRATA_RETURN_IF_ERROR(ReadExtensions());
    return std::move(h_);
  }

 private:
  // Corruption "qcow2 header of <name> is <why>", `why` being "corrupt: ..."
  // or "truncated ..."; NotSupported "<name> <why>".
  template <class... Args>
  Status Corrupt(const Args&... why) const {
    return Status::Corruption(Cat("qcow2 header of ", name_, " is ", why...));
  }
  template <class... Args>
  Status Unsupported(const Args&... why) const {
    return Status::NotSupported(Cat(name_, " ", why...));
  }

  // OK when the first `end` bytes are in `head_`. Corruption when they run
  // past the end of the file; InvalidArgument when the caller read too little.
  Status Need(uint64_t end) const {
    if (end > file_size_)
      return Corrupt("truncated (", file_size_, " bytes, need ", end, ")");
    if (end <= head_.size()) return Status::OK();
    return Status::InvalidArgument(
        Cat("only ", head_.size(), " bytes of ", name_, " given; need ", end));
  }

  Status ParseFixedFields() {
    STRATA_RETURN_IF_ERROR(Need(std::min<uint64_t>(file_size_, 4)));
    const uint32_t magic = file_size_ < 4 ? 0 : Be32(head_, 0);
    if (magic != kMagic) {
      return Status::InvalidArgument(
          Cat(name_, " is not a qcow2 image (bad ", "magic ", Hex(magic), ")"));
    }
    STRATA_RETURN_IF_ERROR(Need(kV2HeaderLength));
    h_.version = Be32(head_, 4);
    if (h_.version != 2 && h_.version != 3)
      return Corrupt("corrupt: version ", h_.version, " is not 2 or 3");
    h_.cluster_bits = Be32(head_, 20);
    h_.virtual_size = Be64(head_, 24);
    h_.crypt_method = Be32(head_, 32);
    h_.l1_size = Be32(head_, 36);
    h_.l1_table_offset = Be64(head_, 40);
    h_.refcount_table_offset = Be64(head_, 48);
    h_.refcount_table_clusters = Be32(head_, 56);
    h_.nb_snapshots = Be32(head_, 60);
    h_.snapshots_offset = Be64(head_, 64);
    if (h_.version == 3) {
      STRATA_RETURN_IF_ERROR(Need(kV3MinHeaderLength));
      h_.incompatible_features = Be64(head_, 72);
      h_.compatible_features = Be64(head_, 80);
      h_.autoclear_features = Be64(head_, 88);
      h_.refcount_order = Be32(head_, 96);
      h_.header_length = Be32(head_, 100);
    }
    const uint32_t bits = h_.cluster_bits, length = h_.header_length;
    if (bits < kMinClusterBits || bits > kMaxClusterBits)
      return Corrupt("corrupt: cluster_bits ", bits, " is outside 9..21");
    h_.cluster_size = uint64_t{1} << bits;
    if (h_.version == 3 && (length < kV3MinHeaderLength || length % 8 != 0))
      return Corrupt("corrupt: header_length ", length, " is not 104 + 8 * n");
    if (length > h_.cluster_size)
      return Corrupt("corrupt: header_length ", length, " exceeds the cluster");
    STRATA_RETURN_IF_ERROR(Need(length));
    // Every image holds its header cluster and more: a shorter file was cut.
    if (file_size_ < h_.cluster_size) return Need(h_.cluster_size);
    if (h_.refcount_order > kMaxRefcountOrder)
      return Corrupt("corrupt: refcount_order ", h_.refcount_order, " > 6");
    return Status::OK();
  }

  Status CheckFeatures() {
    const uint64_t incompat = h_.incompatible_features;
    h_.dirty = (incompat & kDirtyBit) != 0;
    h_.extended_l2 = (incompat & kExtendedL2Bit) != 0;
    if (incompat & kCorruptBit) {
      return Corrupt("corrupt: the image is marked corrupt (incompatible ",
                     "bit 1); repair it with 'qemu-img check -r all'");
    }
    if (incompat & kDataFileBit) {
      return Unsupported("uses an external data file (incompatible feature ",
                         "bit 2), which is not supported");
    }
    if (const uint64_t unknown = incompat & ~kKnownBits; unknown != 0) {
      std::string list;
      for (int bit = 0; bit < 64; ++bit)
        if (unknown >> bit & 1) list += Cat(list.empty() ? "" : ", ", bit);
      return Unsupported("uses unknown incompatible feature bit(s) ", list);
    }
    if (h_.crypt_method != 0) {
      return Unsupported("is encrypted (crypt_method ", h_.crypt_method,
                         h_.crypt_method == 2 ? ", LUKS" : "",
                         "); encrypted images are not supported");
    }
    if (h_.header_length > kV3MinHeaderLength)
      h_.compression_type = static_cast<uint8_t>(head_[kV3MinHeaderLength]);
    if (const int type = h_.compression_type; type > 1)
      return Unsupported("uses unknown compression type ", type);
    return Status::OK();
  }

  // A metadata table at `off`: cluster-aligned and, when it has entries,
  // starting inside the file after the header cluster. Like QEMU, which reads
  // zeros past the end of the file, only the table's start is checked.
  Status CheckTable(const char* what, uint64_t off, uint64_t entries) const {
    const std::string table =
        Cat("corrupt: ", what, " table offset ", Hex(off));
    if (off % h_.cluster_size != 0)
      return Corrupt(table, " is not cluster-aligned");
    if (entries == 0 || (off != 0 && off < file_size_)) return Status::OK();
    return Corrupt(table, off == 0 ? " overlaps the header"
                                   : " lies beyond the end of the file");
  }

  Status ReadBackingFile() {
    const uint64_t off = backing_offset_ = Be64(head_, 8);
    if (off == 0) return Status::OK();
    const uint32_t size = Be32(head_, 16);
    const std::string name =
        Cat("corrupt: backing file name at ", Hex(off), " (", size, " bytes)");
    if (off >= file_size_ || size > file_size_ - off)
      return Corrupt(name, " lies beyond the end of the file");
    if (size > kMaxBackingFileSize)
      return Corrupt(name, " is longer than the 1023 bytes allowed");
    if (off < h_.header_length || off + size > h_.cluster_size)
      return Corrupt(name, " is not between the header and the cluster end");
    STRATA_RETURN_IF_ERROR(Need(off + size));
    h_.backing_file.assign(head_.substr(off, size));
    return Status::OK();
  }

  // Extensions run from the header's end to the backing-file name, or to the
  // end of the first cluster; an end marker (type 0) may stop them earlier.
  Status ReadExtensions() {
    const uint64_t end = backing_offset_ ? backing_offset_ : h_.cluster_size;
    for (uint64_t off = h_.header_length; off < end;) {
      STRATA_RETURN_IF_ERROR(Need(std::min(off + 8, end)));
      const uint32_t len = end - off < 8 ? 0 : Be32(head_, off + 4);
      if (end - off < 8 || len > end - off - 8) {
        return Corrupt("corrupt: header extension at ", Hex(off),
                       " runs past the cluster (or the backing file name)");
      }
      STRATA_RETURN_IF_ERROR(Need(off + 8 + len));
      const uint32_t type = Be32(head_, off);
      if (type == kExtEnd) break;
      h_.extension_types.push_back(type);
      if (type == kExtEncryption) {
        return Unsupported("is encrypted (it has a full disk encryption ",
                           "header); encrypted images are not supported");
      }
      if (type == kExtBackingFormat)
        h_.backing_format.assign(head_.substr(off + 8, len));
      off += 8 + ((uint64_t{len} + 7) & ~uint64_t{7});
    }
    return Status::OK();
  }

  std::string_view head_;
  uint64_t file_size_;
  std::string name_;
  Qcow2Header h_;
  uint64_t backing_offset_ = 0;
};

// Owns a file descriptor; closes it on destruction.
struct ScopedFd {
  explicit ScopedFd(int fd) : fd(fd) {}
  ~ScopedFd() {
    if (fd >= 0) ::close(fd);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  const int fd;
};

// NotFound for ENOENT, else IoError "<op> <path>: <strerror(errno)>".
Status ErrnoStatus(const char* op, const std::string& path) {
  const int err = errno;
  if (err == ENOENT) return Status::NotFound(path + " does not exist");
  return Status::FromErrno(std::string(op) + " " + path, err);
}

}  // namespace

Result<Qcow2Header> ParseQcow2Header(std::string_view head,
                                     uint64_t file_size) {
  return HeaderParser(head, file_size, "the image").Parse();
}

Result<Qcow2Header> ReadQcow2Header(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) return ErrnoStatus("open", path);
  return ReadQcow2Header(fd.fd, path);
}

Result<Qcow2Header> ReadQcow2Header(int fd, const std::string& path) {
  const off_t end = ::lseek(fd, 0, SEEK_END);  // also sizes devices
  if (end < 0) return ErrnoStatus("seek", path);

  const uint64_t size = static_cast<uint64_t>(end);
  // Read 64 KiB, or the whole first cluster when clusters are larger.
  std::string head(std::min(size, kFirstRead), '\0');
  size_t done = 0;
  while (done < head.size()) {
    const ssize_t n = ::pread(fd, &head[done], head.size() - done, done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read", path);
    if (n == 0) break;  // it shrank: the parser reports too few bytes
    done += static_cast<size_t>(n);
    const uint32_t bits = done >= 24 ? Be32(head, 20) : 0;
    if (bits > 16 && bits <= kMaxClusterBits)
      head.resize(std::min(size, uint64_t{1} << bits));
  }
  head.resize(done);
  return HeaderParser(head, size, path).Parse();
}

}  // namespace strata::qcow2
