// SHA-256 over OpenSSL EVP. See sha256.h.
#include "util/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "util/fs.h"

namespace strata {

namespace {

constexpr size_t kChunk = 1 << 20;

[[noreturn]] void DieOpenSsl(const char* what) {
  std::fprintf(stderr, "strata: OpenSSL %s failed for SHA-256\n", what);
  std::abort();
}

}  // namespace

void Sha256::CtxFree::operator()(evp_md_ctx_st* ctx) const {
  EVP_MD_CTX_free(ctx);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) DieOpenSsl("EVP_MD_CTX_new");
  if (EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
    DieOpenSsl("EVP_DigestInit_ex");
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(const void* p, size_t n) {
  assert(digest_.empty() && "Sha256::Update after HexDigest");
  if (n == 0) return;
  if (EVP_DigestUpdate(ctx_.get(), p, n) != 1) DieOpenSsl("EVP_DigestUpdate");
}

std::string Sha256::HexDigest() {
  if (!digest_.empty()) return digest_;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1)
    DieOpenSsl("EVP_DigestFinal_ex");
  static constexpr char kHex[] = "0123456789abcdef";
  digest_.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    digest_.push_back(kHex[md[i] >> 4]);
    digest_.push_back(kHex[md[i] & 0xf]);
  }
  return digest_;
}

Result<std::string> Sha256File(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::FromErrno("open " + path, errno);
  }
  Sha256 hash;
  std::vector<char> buf(kChunk);
  for (;;) {
    ssize_t n = read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read " + path, errno);
    if (n == 0) break;
    hash.Update(buf.data(), static_cast<size_t>(n));
  }
  return hash.HexDigest();
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != kSha256HexLength) return false;
  for (char c : s) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
               (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

}  // namespace strata
