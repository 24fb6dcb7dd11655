// Helpers shared by every Store driver: key validation, deadlines, chunked
// copying with hashing, and the file-level PutFile/GetToFile. See store.h.
//
// Thread-safety: all functions are reentrant.
#include "storage-drivers/store.h"

#include <vector>

namespace strata::store {

namespace {

bool IsKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Checks one complete '/'-separated segment of a key.
Status ValidateSegment(std::string_view seg, std::string_view key) {
  if (seg.empty())
    return Status::InvalidArgument("key '" + std::string(key) +
                                   "' has an empty segment or an edge '/'");
  if (seg == ".")
    return Status::InvalidArgument("key '" + std::string(key) +
                                   "' has a '.' segment");
  if (seg.size() > kMaxKeySegmentLength)
    return Status::InvalidArgument(
        "key '" + std::string(key) + "' has a segment over " +
        std::to_string(kMaxKeySegmentLength) + " bytes");
  return Status::OK();
}

// Characters and length rules common to keys and prefixes.
Status ValidateChars(std::string_view s, std::string_view what) {
  if (s.size() > kMaxKeyLength)
    return Status::InvalidArgument(std::string(what) + " longer than " +
                                   std::to_string(kMaxKeyLength) + " bytes");
  for (char c : s) {
    if (c != '/' && !IsKeyChar(c))
      return Status::InvalidArgument(
          std::string(what) + " '" + std::string(s) +
          "' has a character outside [A-Za-z0-9._-/]");
  }
  if (s.find("..") != std::string_view::npos)
    return Status::InvalidArgument(std::string(what) + " '" + std::string(s) +
                                   "' contains '..'");
  return Status::OK();
}

}  // namespace

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("empty key");
  STRATA_RETURN_IF_ERROR(ValidateChars(key, "key"));
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    std::string_view seg =
        key.substr(start, slash == key.npos ? key.npos : slash - start);
    STRATA_RETURN_IF_ERROR(ValidateSegment(seg, key));
    if (slash == key.npos) return Status::OK();
    start = slash + 1;
  }
}

Status ValidateKeyPrefix(std::string_view prefix) {
  if (prefix.empty()) return Status::OK();
  STRATA_RETURN_IF_ERROR(ValidateChars(prefix, "prefix"));
  size_t last_slash = prefix.rfind('/');
  if (last_slash == prefix.npos) return Status::OK();
  // Everything before the last '/' is made of complete segments.
  return ValidateKey(prefix.substr(0, last_slash));
}

Result<std::string> NormalizeExpectedSha256(const std::string& expected) {
  if (expected.empty()) return std::string();
  if (!IsSha256Hex(expected))
    return Status::InvalidArgument("expected sha256 '" + expected +
                                   "' is not 64 hex digits");
  std::string lower = expected;
  for (char& c : lower)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  return lower;
}

Status CheckDownloadDigest(const std::string& ctx, uint64_t bytes,
                           BackgroundSha256& hash,
                           const std::string& expected) {
  if (expected.empty()) return Status::OK();
  std::string actual = hash.HexDigest();
  if (actual == expected) return Status::OK();
  return Status::Corruption(ctx + ": sha256 of the " + std::to_string(bytes) +
                            " bytes read is " + actual + ", expected " +
                            expected);
}

std::string OpContext(std::string_view op, std::string_view key,
                      const RequestOptions& opts) {
  std::string out = std::string(op) + " " + std::string(key);
  if (!opts.request_id.empty()) out += " (request " + opts.request_id + ")";
  return out;
}

Result<uint64_t> CopyStream(ByteSource& src, ByteSink& dst,
                            BackgroundSha256* hash, const Deadline& deadline) {
  std::vector<char> buf(kChunkSize);
  uint64_t total = 0;
  for (;;) {
    STRATA_RETURN_IF_ERROR(deadline.Check());
    STRATA_ASSIGN_OR_RETURN(size_t n, src.Read(buf.data(), buf.size()));
    if (n == 0) return total;
    if (n > buf.size()) return Status::Internal("source overran its buffer");
    if (hash) hash->Update(buf.data(), n);
    STRATA_RETURN_IF_ERROR(dst.Write(buf.data(), n));
    total += n;
  }
}

Result<ObjectInfo> PutFile(Store& store, const std::string& key,
                           const std::string& path,
                           const RequestOptions& opts) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<FileSource> src,
                          FileSource::Open(path));
  return store.Put(key, *src, opts);
}

Status GetToFile(Store& store, const std::string& key, const std::string& path,
                 const std::string& expected_sha256, const RequestOptions& opts,
                 const FileSinkOptions& file) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<FileSink> sink,
                          FileSink::Create(path, file));
  // On any failure `sink` unlinks its temp file: nothing lands at `path`.
  STRATA_RETURN_IF_ERROR(store.Get(key, *sink, expected_sha256, opts));
  return sink->Commit();
}

}  // namespace strata::store
