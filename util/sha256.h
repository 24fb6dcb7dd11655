// SHA-256 digests, streamed: the integrity check of every layer Strata
// uploads or downloads (OpenSSL EVP underneath).
//
// Sha256 hashes bytes fed in any number of Update() calls; HexDigest()
// finalises and returns lower-case hex, the form `sha256sum` prints and the
// stores record. Sha256File hashes a whole file in bounded memory.
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

class Sha256 {
 public:
  // Starts a new digest. Aborts the process if OpenSSL cannot provide
  // SHA-256 at all (a broken installation, not a runtime condition).
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Adds `n` bytes at `p`. REQUIRES: HexDigest() not called yet.
  void Update(const void* p, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }

  // Finalises and returns the 64-character lower-case hex digest. Calling it
  // again returns the same digest.
  std::string HexDigest();

 private:
  struct CtxFree {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, CtxFree> ctx_;
  std::string digest_;  // set once finalised
};

// A Sha256 that hashes on a thread of its own, so a transfer does not wait
// for the digest (SHA-256 runs at ~1.5 GB/s here: a third of a second per
// 512 MiB on the transfer's own thread otherwise). Update copies the bytes
// into 1 MiB batches handed to the worker; at most 4 batches wait, so memory
// stays bounded and a slow hash slows the transfer rather than growing. The
// worker starts with the first full batch: less than 1 MiB in all (or
// nothing: an unverified download) is hashed by HexDigest itself.
// Thread-safety: single-owner, like Sha256.
class BackgroundSha256 {
 public:
  BackgroundSha256() = default;
  ~BackgroundSha256();
  BackgroundSha256(const BackgroundSha256&) = delete;
  BackgroundSha256& operator=(const BackgroundSha256&) = delete;

  void Update(const void* p, size_t n);
  // Waits for the worker and returns the digest.
  std::string HexDigest();

 private:
  void Hand(std::vector<char> batch);
  void Run();

  Sha256 sha_;  // used by the worker only, until it has stopped
  std::vector<char> filling_;
  std::deque<std::vector<char>> queue_;  // GUARDED_BY(mu_)
  bool closing_ = false;                 // GUARDED_BY(mu_)
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread worker_;
};

// The SHA-256 (lower-case hex) of the whole file at `path`, read in 1 MiB
// chunks. NotFound when the file does not exist.
Result<std::string> Sha256File(const std::string& path);

// True when `s` looks like a SHA-256 hex digest: 64 hex digits, any case.
bool IsSha256Hex(std::string_view s);

}  // namespace strata
