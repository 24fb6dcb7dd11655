// The fast integrity check of a layer kept as a local file: XXH3-128 of
// each 64 MiB chunk, folded with the length into one XXH3-128 (libxxhash).
//
// Why not SHA-256: a revert that hard-links stored layers reads them only to
// check them, and SHA-256 (~1.6 GB/s on one core here) is most of its time.
// This check guards against what can happen to a file on the host's own
// disk (media or file-system errors, a stray write, a truncation), which a
// 128-bit non-cryptographic hash catches as surely; it is not a defence
// against a forger, who with write access to the store directory could
// rewrite the catalog too. Layers that cross a network keep SHA-256.
// Chunks make it parallel: FileCheck hashes a file on several threads, and
// FileCheckHasher computes the same value from a stream (an upload).
//
// The value reads "xxh3-128/64MiB:<32 hex digits>".
// Thread-safety: a FileCheckHasher is single-owner; FileCheck is reentrant.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

struct XXH3_state_s;  // libxxhash's streaming state, kept out of this header.

namespace strata {

inline constexpr uint64_t kFileCheckChunkBytes = uint64_t{64} << 20;

class FileCheckHasher {
 public:
  FileCheckHasher();
  ~FileCheckHasher();
  FileCheckHasher(const FileCheckHasher&) = delete;
  FileCheckHasher& operator=(const FileCheckHasher&) = delete;

  // Adds `n` bytes at `p`.
  void Update(const void* p, size_t n);
  // The check of all bytes added (call once).
  std::string Finish();

 private:
  struct StateFree {
    void operator()(XXH3_state_s* s) const;
  };
  void EndChunk();

  std::unique_ptr<XXH3_state_s, StateFree> chunk_;
  std::vector<std::array<unsigned char, 16>> chunks_;  // digests so far
  uint64_t in_chunk_ = 0;
  uint64_t total_ = 0;
};

// The check of the file at `path`, its chunks hashed by up to `threads`
// threads. NotFound when the file does not exist.
Result<std::string> FileCheck(const std::string& path, int threads);

// True when `s` is a value FileCheck returns.
bool IsFileCheck(std::string_view s);

}  // namespace strata
