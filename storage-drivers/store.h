// Store: the one interface every storage backend implements (local
// directory, dav HTTP file server, glance, swift). The engine names
// stores only by their spec string (see store_registry.h) and talks to them
// through this interface, so a layer moves the same way whatever holds it.
//
// Contract for every driver (tests/unit/store_contract_test.cc checks it):
//  - keys are validated with ValidateKey() (InvalidArgument otherwise);
//  - Put streams in bounded memory, computes the SHA-256 on the way, and the
//    object appears atomically: readers see nothing, or the old object, or
//    the whole new one; a failed Put leaves no trace of the new bytes;
//  - Get verifies against expected_sha256 when given (Corruption on mismatch);
//  - missing objects are NotFound, Delete of a missing key is OK;
//  - List is sorted by key and never shows temporary or metadata files;
//  - RequestOptions::timeout bounds each call (Unavailable, retryable).
//
// Thread-safety: a Store must be safe to call from several threads at once.
// Concurrent Puts of the same key end with one of the versions, whole.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/byte_stream.h"
#include "util/deadline.h"
#include "util/sha256.h"
#include "util/status.h"

namespace strata::store {

// Drivers move data in chunks of this size: memory use does not grow with
// object size.
inline constexpr size_t kChunkSize = 1 << 20;
// Longest key, and longest '/'-separated segment of a key.
inline constexpr size_t kMaxKeyLength = 1024;
inline constexpr size_t kMaxKeySegmentLength = 200;

struct RequestOptions {
  std::chrono::milliseconds timeout{0};  // 0 = none
  // A transfer that moves no byte for this long fails as Unavailable
  // (retryable): a server that accepts and then stalls (stopped, a hung
  // disk) never pins a worker or a volume's lease. 0 = none. Drivers that
  // talk to a server honour it; the local store has no server to stall.
  std::chrono::seconds stall_timeout{0};
  std::string request_id;  // carried into error messages
  // What a Put's object is ("volume_id", "snapshot_id", "parent_id", …), for
  // drivers that keep metadata with objects (glance: image properties
  // "strata_<name>"); other drivers ignore them. Names are [a-z_]+.
  std::map<std::string, std::string> labels;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string sha256;    // hex of the bytes, "" if unknown
  std::string location;  // driver URL, e.g. file:///…
  // Put only, set by relay stages: the SHA-256 of the bytes the caller gave
  // Put, which the stages transformed into the stored ones. "" means no
  // stage ran: the caller's bytes are the stored ones (`sha256`).
  std::string content_sha256 = "";
  // Stat and List of drivers that keep a Put's labels with the object
  // (swift): those labels, as the Put gave them. Empty for the others.
  std::map<std::string, std::string> labels = {};
};

class Store {
 public:
  virtual ~Store() = default;
  // The scheme this driver registers under, e.g. "local".
  virtual std::string Name() const = 0;
  // Streams `src` into object `key`, computing its SHA-256 on the way. The
  // object appears atomically: readers see either nothing or the whole
  // object. Overwrites an existing key.
  virtual Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                                 const RequestOptions& opts) = 0;
  // Streams object `key` into `sink`. If expected_sha256 is non-empty, the
  // bytes are hashed on the way and a mismatch returns Status::Corruption
  // (the sink has then seen bad bytes: callers write to a temp sink and
  // commit only on OK). Missing key → NotFound.
  virtual Status Get(const std::string& key, ByteSink& sink,
                     const std::string& expected_sha256,
                     const RequestOptions& opts) = 0;
  // NotFound if absent.
  virtual Result<ObjectInfo> Stat(const std::string& key,
                                  const RequestOptions& opts) = 0;
  // OK if already absent (idempotent).
  virtual Status Delete(const std::string& key, const RequestOptions& opts) = 0;
  // Objects whose key starts with `prefix` (plain string prefix, "" = all),
  // sorted by key.
  virtual Result<std::vector<ObjectInfo>> List(const std::string& prefix,
                                               const RequestOptions& opts) = 0;
  // True when the store keeps objects as plain files on this host that a
  // caller may hard-link (LocalFile) instead of downloading a copy: the
  // local driver, with no decorator that must see every transfer.
  virtual bool CanLink() const { return false; }
  // The path of object `key` as a plain file on this host, when CanLink():
  // a caller on the same file system may hard-link it and must never
  // modify it. Others return NotSupported.
  virtual Result<std::string> LocalFile(const std::string& key) {
    return Status::NotSupported("the " + Name() +
                                " store has no local files (" + key + ")");
  }
};

// Keys look like "volumes/<uuid>/<snapshot-uuid>.qcow2": '/'-separated
// segments of [A-Za-z0-9._-], no "." or ".." segment, no leading or trailing
// '/', no empty segment, at most kMaxKeyLength bytes and kMaxKeySegmentLength
// per segment. Anything else → InvalidArgument.
Status ValidateKey(std::string_view key);
// A List prefix: "" or a string of key characters whose complete segments
// (all but the last) are valid key segments.
Status ValidateKeyPrefix(std::string_view prefix);
// Checks `expected_sha256` for Get: "" or 64 hex digits. Returns it in lower
// case.
Result<std::string> NormalizeExpectedSha256(const std::string& expected);
// Get's final check: Corruption (naming `ctx`, the byte count and both
// digests) when `expected` is non-empty and differs from `hash`'s digest.
Status CheckDownloadDigest(const std::string& ctx, uint64_t bytes,
                           BackgroundSha256& hash, const std::string& expected);

// "<op> <key> (request <id>)": context for a driver's error messages.
std::string OpContext(std::string_view op, std::string_view key,
                      const RequestOptions& opts);

// The deadline of one request: RequestOptions' timeout and stall_timeout.
inline Deadline DeadlineOf(const RequestOptions& opts) {
  return Deadline(opts.timeout, opts.stall_timeout);
}

// Copies `src` to `dst` in kChunkSize chunks until the end of `src`, feeding
// `hash` (if not null) and checking `deadline` between chunks. Returns the
// number of bytes copied.
Result<uint64_t> CopyStream(ByteSource& src, ByteSink& dst,
                            BackgroundSha256* hash, const Deadline& deadline);

// Uploads the file at `path` as `key`.
Result<ObjectInfo> PutFile(Store& store, const std::string& key,
                           const std::string& path, const RequestOptions& opts);
// Downloads `key` to `path`, verified against `expected_sha256` if non-empty:
// the bytes go to a temp file next to `path`, which is fsynced (unless
// `file.durable` is false) and renamed onto `path` only when the Get
// succeeded. On failure nothing appears at `path` (an existing file there is
// left untouched).
Status GetToFile(Store& store, const std::string& key, const std::string& path,
                 const std::string& expected_sha256, const RequestOptions& opts,
                 const FileSinkOptions& file = FileSinkOptions());

}  // namespace strata::store
