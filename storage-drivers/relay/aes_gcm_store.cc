// AES-256-GCM relay stage. See aes_gcm_store.h for the object format.
//
// Put: EncryptingSource serves the header, then reads the plaintext one chunk
// at a time and serves each sealed chunk (ciphertext || tag). A chunk shorter
// than the chunk size is the final one, so no look-ahead is needed.
// Get: DecryptingSink checks the header, then buffers one record (chunk +
// tag). A full record cannot be the final chunk, so it is opened at once;
// whatever is left at Finish() is the final chunk. Plaintext is written on
// only after its tag verified.
#include "storage-drivers/relay/aes_gcm_store.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "storage-drivers/store_wrapper.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/sha256.h"

namespace strata::store {
namespace {

constexpr unsigned char kMagic[8] = {'S', 'T', 'R', 'A', 'T', 'A', 'G', 'C'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 32;
constexpr size_t kTagSize = 16;
constexpr size_t kIvSize = 12;
constexpr size_t kAadSize = kHeaderSize + 8 + 1;
// Readers refuse larger chunk sizes: memory per transfer stays bounded.
constexpr uint32_t kMaxChunkSize = 64 << 20;
constexpr char kFingerprintLabel[] = "strata-aes-gcm-key-v1";

using Header = std::array<unsigned char, kHeaderSize>;
using FingerprintBytes = std::array<unsigned char, 8>;

void PutBigEndian(unsigned char* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = v & 0xff;
}
uint32_t GetU32(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         p[3];
}
// The first 8 bytes of SHA-256(label || key).
FingerprintBytes Fingerprint(const AesKey& key) {
  Sha256 h;
  h.Update(kFingerprintLabel, sizeof(kFingerprintLabel) - 1);
  h.Update(key.bytes.data(), key.bytes.size());
  const std::string hex = h.HexDigest();
  FingerprintBytes fp;
  for (size_t i = 0; i < fp.size(); ++i)
    fp[i] = HexDigitValue(hex[2 * i]) << 4 | HexDigitValue(hex[2 * i + 1]);
  return fp;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// Seals and opens the chunks of one object (one transfer).
class ChunkCipher {
 public:
  ChunkCipher(const AesKey& key, const Header& header)
      : key_(key), header_(header), ctx_(EVP_CIPHER_CTX_new()) {}

  // Encrypts buf[0, n) in place and writes the tag to buf[n, n + 16).
  Status Seal(uint64_t index, bool final, unsigned char* buf, size_t n) {
    STRATA_RETURN_IF_ERROR(Init(index, final, 1));
    int len = 0;
    unsigned char none[16];
    if ((n > 0 && EVP_CipherUpdate(ctx_.get(), buf, &len, buf,
                                   static_cast<int>(n)) != 1) ||
        EVP_CipherFinal_ex(ctx_.get(), none, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                            buf + n) != 1)
      return Status::Internal("aes-gcm: OpenSSL failed to encrypt a chunk");
    return Status::OK();
  }

  // Verifies and decrypts the record buf[0, n) (ciphertext || tag) in place:
  // the plaintext is buf[0, n - 16), valid only when OK.
  Status Open(uint64_t index, bool final, unsigned char* buf, size_t n) {
    STRATA_RETURN_IF_ERROR(Init(index, final, 0));
    const size_t m = n - kTagSize;
    int len = 0;
    unsigned char none[16];
    if ((m > 0 && EVP_CipherUpdate(ctx_.get(), buf, &len, buf,
                                   static_cast<int>(m)) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                            buf + m) != 1)
      return Status::Internal("aes-gcm: OpenSSL failed to decrypt a chunk");
    if (EVP_CipherFinal_ex(ctx_.get(), none, &len) != 1)
      return Status::Corruption("aes-gcm: authentication failed at chunk " +
                                std::to_string(index) +
                                " (damaged or truncated object)");
    return Status::OK();
  }

 private:
  // Starts chunk `index`: key, IV and AAD. `enc` is 1 to seal, 0 to open.
  Status Init(uint64_t index, bool final, int enc) {
    if (!ctx_) return Status::Internal("aes-gcm: cannot allocate a context");
    if (index > UINT32_MAX)
      return Status::TooLarge("aes-gcm: more than 2^32 chunks in one object");
    unsigned char iv[kIvSize];
    std::memcpy(iv, header_.data() + 24, 8);
    PutBigEndian(iv + 8, index, 4);
    unsigned char aad[kAadSize];
    std::memcpy(aad, header_.data(), kHeaderSize);
    PutBigEndian(aad + kHeaderSize, index, 8);
    aad[kAadSize - 1] = final ? 1 : 0;
    int len = 0;
    if (EVP_CipherInit_ex(ctx_.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                          nullptr, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_SET_IVLEN, kIvSize,
                            nullptr) != 1 ||
        EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, key_.bytes.data(), iv,
                          enc) != 1 ||
        EVP_CipherUpdate(ctx_.get(), nullptr, &len, aad, kAadSize) != 1)
      return Status::Internal("aes-gcm: OpenSSL failed to start a chunk");
    return Status::OK();
  }

  const AesKey& key_;
  const Header header_;
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx_;
};

// Reads plaintext from `in`, yields the encrypted object.
class EncryptingSource : public ByteSource {
 public:
  EncryptingSource(ByteSource* in, const AesKey& key, const Header& header)
      : in_(in), cipher_(key, header), buf_(kChunkSize + kTagSize) {
    std::memcpy(buf_.data(), header.data(), kHeaderSize);  // served first
    len_ = kHeaderSize;
  }

  Result<size_t> Read(char* out, size_t n) override {
    while (pos_ == len_) {
      if (done_) return size_t{0};
      STRATA_RETURN_IF_ERROR(NextChunk());
    }
    const size_t k = std::min(n, len_ - pos_);
    std::memcpy(out, buf_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  // Reads up to a chunk of plaintext and seals it into buf_.
  Status NextChunk() {
    size_t got = 0;
    while (got < kChunkSize) {
      STRATA_ASSIGN_OR_RETURN(
          size_t r, in_->Read(reinterpret_cast<char*>(buf_.data()) + got,
                              kChunkSize - got));
      if (r == 0) break;
      got += r;
    }
    const bool final = got < kChunkSize;
    STRATA_RETURN_IF_ERROR(cipher_.Seal(index_, final, buf_.data(), got));
    ++index_;
    pos_ = 0;
    len_ = got + kTagSize;
    done_ = final;
    return Status::OK();
  }

  ByteSource* in_;
  ChunkCipher cipher_;
  std::vector<unsigned char> buf_;
  size_t pos_ = 0, len_ = 0;
  uint64_t index_ = 0;
  bool done_ = false;
};

// Takes the encrypted object, writes authenticated plaintext to `out`.
class DecryptingSink : public ByteSink {
 public:
  DecryptingSink(ByteSink* out, const AesKey& key, const FingerprintBytes& fp)
      : out_(out), key_(key), fp_(fp) {}

  Status Write(const char* data, size_t n) override {
    if (!failed_.ok()) return failed_;
    failed_ = Consume(reinterpret_cast<const unsigned char*>(data), n);
    return failed_;
  }

  // Corruption unless the object ended with its final chunk.
  Status Finish() {
    if (!failed_.ok()) return failed_;
    if (head_len_ < kHeaderSize)
      return Status::Corruption("aes-gcm: the object ends inside its header (" +
                                std::to_string(head_len_) + " of " +
                                std::to_string(kHeaderSize) + " bytes)");
    if (len_ < kTagSize)
      return Status::Corruption("aes-gcm: the object ends early: chunk " +
                                std::to_string(index_) +
                                ", the final chunk, is missing or cut short");
    return OpenChunk(true);
  }

 private:
  Status Consume(const unsigned char* data, size_t n) {
    while (n > 0) {
      size_t k;
      if (head_len_ < kHeaderSize) {
        k = std::min(n, kHeaderSize - head_len_);
        std::memcpy(header_.data() + head_len_, data, k);
        head_len_ += k;
        if (head_len_ == kHeaderSize) STRATA_RETURN_IF_ERROR(ParseHeader());
      } else {
        k = std::min(n, buf_.size() - len_);
        std::memcpy(buf_.data() + len_, data, k);
        len_ += k;
        // A full record is never the final chunk (that one is shorter).
        if (len_ == buf_.size()) STRATA_RETURN_IF_ERROR(OpenChunk(false));
      }
      data += k;
      n -= k;
    }
    return Status::OK();
  }

  Status ParseHeader() {
    if (std::memcmp(header_.data(), kMagic, sizeof(kMagic)) != 0)
      return Status::Corruption(
          "aes-gcm: not a Strata AES-256-GCM object (bad magic)");
    const uint32_t version = GetU32(header_.data() + 8);
    if (version != kVersion)
      return Status::Corruption(
          "aes-gcm: unknown format version " + std::to_string(version) +
          " (this build reads " + std::to_string(kVersion) + ")");
    const uint32_t chunk = GetU32(header_.data() + 12);
    if (chunk == 0 || chunk > kMaxChunkSize)
      return Status::Corruption("aes-gcm: bad chunk size " +
                                std::to_string(chunk));
    if (std::memcmp(header_.data() + 16, fp_.data(), fp_.size()) != 0)
      return Status::Corruption(
          "aes-gcm: the object was encrypted with a different key (key "
          "fingerprint " +
          HexEncode(header_.data() + 16, fp_.size()) +
          "; this store's key is " + HexEncode(fp_.data(), fp_.size()) + ")");
    cipher_ = std::make_unique<ChunkCipher>(key_, header_);
    buf_.resize(chunk + kTagSize);
    return Status::OK();
  }

  Status OpenChunk(bool final) {
    STRATA_RETURN_IF_ERROR(cipher_->Open(index_, final, buf_.data(), len_));
    STRATA_RETURN_IF_ERROR(
        out_->Write(reinterpret_cast<char*>(buf_.data()), len_ - kTagSize));
    ++index_;
    len_ = 0;
    return Status::OK();
  }

  ByteSink* out_;
  const AesKey& key_;
  const FingerprintBytes fp_;
  Header header_{};
  size_t head_len_ = 0;
  std::unique_ptr<ChunkCipher> cipher_;  // set once the header is checked
  std::vector<unsigned char> buf_;       // one record: chunk + tag
  size_t len_ = 0;
  uint64_t index_ = 0;
  Status failed_;  // sticky: the first error
};

class AesGcmStore : public StoreWrapper {
 public:
  AesGcmStore(std::unique_ptr<Store> next, const AesKey& key)
      : StoreWrapper(std::move(next)), key_(key), fp_(Fingerprint(key)) {}
  ~AesGcmStore() override {
    OPENSSL_cleanse(key_.bytes.data(), key_.bytes.size());
  }

  Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                         const RequestOptions& opts) override {
    Header header{};
    std::memcpy(header.data(), kMagic, sizeof(kMagic));
    PutBigEndian(header.data() + 8, kVersion, 4);
    PutBigEndian(header.data() + 12, kChunkSize, 4);
    std::memcpy(header.data() + 16, fp_.data(), fp_.size());
    if (RAND_bytes(header.data() + 24, 8) != 1)
      return Status::Internal("aes-gcm: RAND_bytes failed (put " + key + ")");
    const bool outermost = IsOutermostStage(opts);
    HashingSource plain(&src);
    EncryptingSource esrc(outermost ? &plain : &src, key_, header);
    auto info = next().Put(key, esrc, WithRelayStage(opts, "aes-256-gcm"));
    if (info.ok() && outermost) info->content_sha256 = plain.HexDigest();
    return info;
  }

  Status Get(const std::string& key, ByteSink& sink,
             const std::string& expected_sha256,
             const RequestOptions& opts) override {
    DecryptingSink dsink(&sink, key_, fp_);
    STRATA_RETURN_IF_ERROR(next().Get(key, dsink, expected_sha256, opts));
    return dsink.Finish().WithContext("get " + key);
  }

 private:
  AesKey key_;
  const FingerprintBytes fp_;
};

// Parses the contents of a key file (see LoadAesKey).
Result<AesKey> ParseKey(const std::string& path, const std::string& data) {
  AesKey key;
  if (data.size() == key.bytes.size()) {
    std::memcpy(key.bytes.data(), data.data(), key.bytes.size());
  } else if (data.size() == 64 || (data.size() == 65 && data[64] == '\n')) {
    for (size_t i = 0; i < key.bytes.size(); ++i) {
      const int hi = HexDigitValue(data[2 * i]),
                lo = HexDigitValue(data[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return Status::InvalidArgument(
            "AES key file " + path + ": bad hex digit at offset " +
            std::to_string(2 * i + (hi < 0 ? 0 : 1)) +
            " (expected 64 hex digits)");
      key.bytes[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
  } else {
    return Status::InvalidArgument(
        "AES key file " + path + " holds " + std::to_string(data.size()) +
        " bytes: expected 32 raw bytes, or 64 hex digits and an optional "
        "newline");
  }
  const FingerprintBytes fp = Fingerprint(key);
  key.fingerprint = HexEncode(fp.data(), fp.size());
  return key;
}

}  // namespace

Result<AesKey> LoadAesKey(const std::string& path) {
  const std::string what = "AES key file " + path;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid())
    return Status::InvalidArgument(what +
                                   ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return Status::InvalidArgument(what +
                                   ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return Status::InvalidArgument(what + " is not a regular file");
  if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    return Status::InvalidArgument(what +
                                   " is accessible by group or others (mode " +
                                   mode + "): run `chmod 600 " + path + "`");
  }
  // Longest valid file: 65 bytes. Read one more to notice a longer one.
  char buf[66];
  size_t got = 0;
  while (got < sizeof(buf)) {
    const ssize_t r = read(fd.get(), buf + got, sizeof(buf) - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return Status::InvalidArgument(what +
                                     ": cannot read: " + std::strerror(errno));
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  if (got == sizeof(buf)) {
    OPENSSL_cleanse(buf, sizeof(buf));
    return Status::InvalidArgument(
        what + " holds " + std::to_string(st.st_size) +
        " bytes: expected 32 raw bytes, or 64 hex digits and an optional "
        "newline");
  }
  std::string data(buf, got);
  auto key = ParseKey(path, data);
  OPENSSL_cleanse(buf, sizeof(buf));
  OPENSSL_cleanse(data.data(), data.size());
  return key;
}

std::unique_ptr<Store> MakeAesGcmStore(std::unique_ptr<Store> next,
                                       const AesKey& key) {
  return std::make_unique<AesGcmStore>(std::move(next), key);
}

}  // namespace strata::store
