// Streamed digests: SHA-256, the integrity check of every layer Strata
// uploads or downloads, and the MD5 and SHA-512 that stores such as Glance
// publish for what they received (OpenSSL EVP underneath).
//
// Digest hashes bytes fed in any number of Update() calls; HexDigest()
// finalises and returns lower-case hex, the form `sha256sum` prints and the
// stores record. Sha256 is the SHA-256 Digest every layer carries.
// Sha256File hashes a whole file in bounded memory.
//
// Thread-safety: a Sha256 object is single-owner (not shared between threads
// without a lock); Sha256File is reentrant.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "util/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header.

namespace strata {

// Length of a SHA-256 digest in lower-case hex.
inline constexpr size_t kSha256HexLength = 64;

enum class DigestKind { kSha256, kSha512, kMd5 };

class Digest {
 public:
  // Starts a new digest. Aborts the process if OpenSSL cannot provide the
  // algorithm at all (a broken installation, not a runtime condition).
  explicit Digest(DigestKind kind = DigestKind::kSha256);
  ~Digest();
  Digest(Digest&&) noexcept;
  Digest& operator=(Digest&&) noexcept;
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  // Adds `n` bytes at `p`. REQUIRES: HexDigest() not called yet.
  void Update(const void* p, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }

  // Finalises and returns the lower-case hex digest (64 characters for
  // SHA-256). Calling it again returns the same digest.
  std::string HexDigest();

 private:
  struct CtxFree {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, CtxFree> ctx_;
  std::string digest_;  // set once finalised
};

using Sha256 = Digest;  // the default kind

// A Digest that hashes on a thread of its own, so a transfer does not wait
// for the digest (SHA-256 runs at ~1.5 GB/s here: a third of a second per
// 512 MiB on the transfer's own thread otherwise). Update copies the bytes
// into 1 MiB batches handed to the worker; at most 4 batches wait, so memory
// stays bounded and a slow hash slows the transfer rather than growing. The
// worker starts with the first full batch: less than 1 MiB in all (or
// nothing: an unverified download) is hashed by HexDigest itself.
// Thread-safety: single-owner, like Digest.
class BackgroundDigest {
 public:
  explicit BackgroundDigest(DigestKind kind = DigestKind::kSha256)
      : sha_(kind) {}
  ~BackgroundDigest();
  BackgroundDigest(const BackgroundDigest&) = delete;
  BackgroundDigest& operator=(const BackgroundDigest&) = delete;

  void Update(const void* p, size_t n);
  // Waits for the worker and returns the digest; kFailedDigest when the
  // worker failed to hash a batch (util/guarded.h: the exception stops at
  // its thread's edge, the digest is void).
  std::string HexDigest();
  static constexpr const char* kFailedDigest = "digest-failed";

 private:
  void Hand(std::vector<char> batch);
  void Run();

  Digest sha_;  // used by the worker only, until it has stopped
  std::vector<char> filling_;
  std::deque<std::vector<char>> queue_;  // GUARDED_BY(mu_)
  bool closing_ = false;                 // GUARDED_BY(mu_)
  bool failed_ = false;                  // the worker's, read after join
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread worker_;
};

using BackgroundSha256 = BackgroundDigest;  // the default kind

// The SHA-256 (lower-case hex) of the whole file at `path`, read in 1 MiB
// chunks. NotFound when the file does not exist.
Result<std::string> Sha256File(const std::string& path);

// True when `s` looks like a SHA-256 hex digest: 64 hex digits, any case.
bool IsSha256Hex(std::string_view s);

}  // namespace strata
