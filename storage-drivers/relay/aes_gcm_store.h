// AesGcmStore: the encryption stage of relay processing (R1.3). A decorator
// over any Store, like the zstd stage: Put streams the object through
// AES-256-GCM on its way to the next store, Get decrypts and authenticates on
// the way back. Memory stays bounded (one cipher context and one chunk
// buffer per transfer), whatever the size.
//
// Object format (what the next store holds; integers big-endian):
//   header, 32 bytes:
//     0  magic "STRATAGC"                                8 bytes
//     8  format version = 1                              u32
//    12  chunk size C (plaintext bytes per chunk)        u32 (1 MiB written)
//    16  key fingerprint (its first 8 raw bytes)         8 bytes
//    24  nonce prefix, random and fresh per object       8 bytes
//   (no reserved bytes: a new layout gets a new version number)
//   then chunks i = 0, 1, ...: chunk i encrypts plaintext [i*C, (i+1)*C) and
//   is stored as ciphertext (as long as its plaintext) || 16-byte GCM tag.
//   Every chunk but the last holds exactly C plaintext bytes; the last holds
//   0 <= n < C (an empty final chunk when the length is a multiple of C,
//   0 included). So the stored size is 32 + plaintext + 16 * (plaintext/C+1).
//   IV (12 bytes) = nonce prefix || i as u32. AAD = the 32 header bytes ||
//   i as u64 || final flag (1 byte: 1 for the last chunk, else 0). So
//   reordered, dropped or damaged chunks, truncation (at a chunk boundary
//   too) and a changed header all fail authentication.
//
// Get authenticates each chunk before any of its plaintext reaches the
// caller's sink: a failure is Corruption, and the sink has then seen only
// whole, authenticated chunks before the bad one (callers still write to a
// temp sink and commit on OK, as with any Get). An object written with
// another key is Corruption naming both key fingerprints. ObjectInfo (size,
// sha256) describes the stored, encrypted bytes, as in the zstd stage.
//
// Thread-safety: as safe as the wrapped store; transfers are independent.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "storage-drivers/store.h"
#include "util/status.h"

namespace strata::store {

// A 256-bit AES key.
struct AesKey {
  std::array<unsigned char, 32> bytes{};
  // 16 hex digits: the first 8 bytes of
  // SHA-256("strata-aes-gcm-key-v1" || key). Names the key in objects and
  // error messages without revealing it.
  std::string fingerprint;
};

// Loads a key from the file at `path`: exactly 32 raw bytes, or 64 hex
// digits optionally followed by one newline. InvalidArgument (naming the
// path) when the file is missing or unreadable, has another length or bad
// hex, or is accessible by group or others (mode & 077; chmod 600 fixes it).
Result<AesKey> LoadAesKey(const std::string& path);

// Wraps `next`, encrypting with `key` (copied).
std::unique_ptr<Store> MakeAesGcmStore(std::unique_ptr<Store> next,
                                       const AesKey& key);

}  // namespace strata::store
