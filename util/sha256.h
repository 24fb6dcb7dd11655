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

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

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

// The SHA-256 (lower-case hex) of the whole file at `path`, read in 1 MiB
// chunks. NotFound when the file does not exist.
Result<std::string> Sha256File(const std::string& path);

// True when `s` looks like a SHA-256 hex digest: 64 hex digits, any case.
bool IsSha256Hex(std::string_view s);

}  // namespace strata
