// Streamed digests over OpenSSL EVP. See sha256.h.
#include "util/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "util/fs.h"
#include "util/guarded.h"
#include "util/hex.h"
#include "util/log.h"

namespace strata {

namespace {

constexpr size_t kChunk = 1 << 20;

[[noreturn]] void DieOpenSsl(const char* what) {
  std::fprintf(stderr, "strata: OpenSSL %s failed for a digest\n", what);
  std::abort();
}

}  // namespace

void Digest::CtxFree::operator()(evp_md_ctx_st* ctx) const {
  EVP_MD_CTX_free(ctx);
}

Digest::Digest(DigestKind kind) : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) DieOpenSsl("EVP_MD_CTX_new");
  const EVP_MD* md = kind == DigestKind::kSha512 ? EVP_sha512()
                     : kind == DigestKind::kMd5  ? EVP_md5()
                                                 : EVP_sha256();
  if (EVP_DigestInit_ex(ctx_.get(), md, nullptr) != 1)
    DieOpenSsl("EVP_DigestInit_ex");
}

Digest::~Digest() = default;
Digest::Digest(Digest&&) noexcept = default;
Digest& Digest::operator=(Digest&&) noexcept = default;

void Digest::Update(const void* p, size_t n) {
  assert(digest_.empty() && "Digest::Update after HexDigest");
  if (n == 0) return;
  if (EVP_DigestUpdate(ctx_.get(), p, n) != 1) DieOpenSsl("EVP_DigestUpdate");
}

std::string Digest::HexDigest() {
  if (!digest_.empty()) return digest_;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1)
    DieOpenSsl("EVP_DigestFinal_ex");
  digest_ = HexEncode(md, len);
  return digest_;
}

namespace {
constexpr size_t kBatch = 1 << 20;
constexpr size_t kMaxWaiting = 4;
}  // namespace

BackgroundDigest::~BackgroundDigest() {
  if (worker_.joinable()) HexDigest();
}

void BackgroundDigest::Update(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    size_t take = std::min(n, kBatch - filling_.size());
    filling_.insert(filling_.end(), c, c + take);
    c += take;
    n -= take;
    if (filling_.size() == kBatch) {
      Hand(std::move(filling_));
      filling_ = std::vector<char>();
      filling_.reserve(kBatch);
    }
  }
}

void BackgroundDigest::Hand(std::vector<char> batch) {
  if (!worker_.joinable()) worker_ = std::thread([this] { Run(); });
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return queue_.size() < kMaxWaiting; });
  queue_.push_back(std::move(batch));
  cv_.notify_all();
}

void BackgroundDigest::Run() {
  for (;;) {
    std::vector<char> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing, all hashed
      batch = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
    }
    if (failed_) continue;  // drained unhashed: the digest is void already
    Status s = CatchAll("digest.worker", [&] {
      sha_.Update(batch.data(), batch.size());
      return Status::OK();
    });
    if (!s.ok()) {
      LogError(s.message());
      failed_ = true;
    }
  }
}

std::string BackgroundDigest::HexDigest() {
  if (worker_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    worker_.join();  // every handed batch is hashed, in order
  }
  // A batch the worker could not hash: a digest that matches nothing and
  // is no SHA-256 (IsSha256Hex false), so that no check passes on it.
  if (failed_) return kFailedDigest;
  // The partial batch last (the worker has stopped: sha_ is ours now).
  if (!filling_.empty()) sha_.Update(filling_.data(), filling_.size());
  filling_.clear();
  return sha_.HexDigest();  // the same digest when called again
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
  for (char c : s)
    if (HexDigitValue(c) < 0) return false;
  return true;
}

}  // namespace strata
