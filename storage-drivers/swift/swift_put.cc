// The swift driver's Put: segments up, each checked against Swift's ETag,
// a resumed Put's stored segments compared and reused, then the manifest.
// See swift_store.h.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "http/http_exchange.h"
#include "storage-drivers/http_driver_util.h"
#include "storage-drivers/swift/swift_store.h"
#include "storage-drivers/swift/swift_util.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"

namespace strata::store {
namespace {

using nlohmann::json;

// Reads at most `limit` bytes of `src`; `ended` once `src` itself ended.
class SegmentSource : public ByteSource {
 public:
  SegmentSource(ByteSource& src, uint64_t limit) : src_(src), left_(limit) {}
  Result<size_t> Read(char* buf, size_t n) override {
    if (left_ == 0) return size_t{0};
    STRATA_ASSIGN_OR_RETURN(
        size_t got,
        src_.Read(buf, static_cast<size_t>(std::min<uint64_t>(n, left_))));
    if (got == 0) ended_ = true;
    left_ -= got;
    return got;
  }
  bool ended() const { return ended_; }

 private:
  ByteSource& src_;
  uint64_t left_;
  bool ended_ = false;
};

// One segment's bytes in an unnamed file of `dir` (unlinked at once: it
// goes with its descriptor), for a resumed Put that must read them before
// it knows whether to send them.
class SpoolFile : public ByteSource {
 public:
  static Result<SpoolFile> Create(const std::string& dir) {
    std::string path = dir + "/strata-swift-spool-XXXXXX";
    UniqueFd fd(mkstemp(path.data()));
    if (fd.get() < 0)
      return Status::IoError("swift: cannot make a spool file in " + dir +
                             ": " + std::strerror(errno));
    unlink(path.c_str());
    return SpoolFile(std::move(fd));
  }
  // Appends all of `src`, fed to `digests` on the way.
  Status Fill(ByteSource& src, const std::vector<BackgroundDigest*>& digests) {
    std::vector<char> buf(kChunkSize);
    for (;;) {
      STRATA_ASSIGN_OR_RETURN(size_t got, src.Read(buf.data(), buf.size()));
      if (got == 0) return Status::OK();
      for (BackgroundDigest* d : digests) d->Update(buf.data(), got);
      STRATA_RETURN_IF_ERROR(
          PwriteAll(fd_.get(), buf.data(), got, size_, "the spool file"));
      size_ += got;
    }
  }
  uint64_t size() const { return size_; }
  // Reads from the start, once.
  Result<size_t> Read(char* buf, size_t n) override {
    const size_t take =
        static_cast<size_t>(std::min<uint64_t>(n, size_ - read_));
    STRATA_RETURN_IF_ERROR(
        PreadAll(fd_.get(), buf, take, read_, "the spool file"));
    read_ += take;
    return take;
  }

 private:
  explicit SpoolFile(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  uint64_t size_ = 0, read_ = 0;
};

// "K/<stamp>/<8 digits>" → the index; -1 when a name is not of that form.
long long SegmentIndex(const std::string& key, const std::string& name) {
  if (name.compare(0, key.size() + 1, key + "/") != 0) return -1;
  const size_t slash = name.rfind('/');
  if (slash == std::string::npos || slash < key.size() + 1 ||
      name.size() - slash - 1 != 8)
    return -1;
  const std::string digits = name.substr(slash + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

}  // namespace

Result<ObjectInfo> SwiftStore::Put(const std::string& key, ByteSource& src,
                                   const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("swift put", key, opts);
  const Deadline deadline = DeadlineOf(opts);
  const Where where = WhereIs(key);
  STRATA_RETURN_IF_ERROR(EnsureContainers(where, deadline).WithContext(ctx));
  // What a Put of this key stored before, finished (the current manifest's)
  // or not (kept by a failed one): the newest of each index may be reused.
  auto stored = SegmentsUnder(key, deadline);
  if (!stored.ok()) return stored.status().WithContext(ctx);
  std::map<long long, Segment> reusable;  // names sort by stamp: newest last
  for (const Segment& s : *stored)
    if (SegmentIndex(key, s.name) >= 0 && s.bytes > 0 && s.etag.size() == 32)
      reusable[SegmentIndex(key, s.name)] = s;

  const std::string stamp = PutStamp();
  BackgroundSha256 sha256;
  json manifest = json::array();
  std::vector<std::string> sent;  // this Put's new segments
  std::set<std::string> used;     // every segment the manifest names
  auto fail = [&](Status s) {
    // Verified segments stay for the next Put of the key to resume from
    // when Swift (or the way to it) failed; otherwise they are garbage.
    if (s.retryable() && s.code() != StatusCode::kCorruption) {
      if (!sent.empty())
        LogInfo(ctx + ": kept " + std::to_string(sent.size()) +
                " stored segment(s) for the next put to resume");
      return s;
    }
    LogIfError(
        DeleteSegments(where.segments, sent, DeadlineOf(CleanupOptions(opts))),
        "cleanup of a failed swift upload's segments");
    return s;
  };
  // Sends `body` as segment `name`; checks Swift's ETag against the MD5
  // of what was sent (`md5`: fed by the transfer, or already final).
  auto send = [&](const std::string& name, ByteSource& body,
                  BackgroundDigest& md5,
                  std::vector<BackgroundDigest*> digests) -> Result<uint64_t> {
    http::HttpExchange x;
    x.headers.push_back("Content-Type: application/octet-stream");
    x.upload = &body;
    x.upload_digests = std::move(digests);
    STRATA_ASSIGN_OR_RETURN(long code,
                            Request("PUT", ObjectPath(where.segments, name), &x,
                                    deadline, /*retry=*/false));
    if (code != 201)
      return SwiftError(code, ctx + " (segment " + name + ")", x.small_body);
    sent.push_back(name);
    const std::string sent_md5 = md5.HexDigest();
    if (ETagOf(x) != sent_md5)
      return Status::Corruption(ctx + ": Swift's ETag of segment " + name +
                                " is " + ETagOf(x) + ", sent " + sent_md5)
          .SetRetryable(true);
    return x.uploaded;
  };

  uint64_t total = 0, reused = 0;
  for (long long index = 0;; ++index) {
    char digits[24];
    std::snprintf(digits, sizeof digits, "%08lld", index);
    std::string name = key + "/" + stamp + "/" + digits;
    SegmentSource part(src, cfg_.segment_bytes);
    BackgroundDigest md5(DigestKind::kMd5);
    uint64_t bytes = 0;
    std::string etag;
    auto candidate = reusable.find(index);
    if (candidate == reusable.end()) {
      auto up = send(name, part, md5, {&sha256, &md5});
      if (!up.ok()) return fail(up.status().WithContext(ctx));
      bytes = *up;
      etag = md5.HexDigest();
      if (bytes == 0) {
        // The source ended at a segment boundary: this empty one is not
        // part of the object (an SLO segment must hold bytes).
        sent.pop_back();
        LogIfError(DeleteSegments(where.segments, {name}, deadline),
                   "an empty trailing segment");
        break;
      }
    } else {
      // A stored segment of this index: read ours aside, and send it only
      // if it differs.
      auto spool = SpoolFile::Create(cfg_.spool_dir);
      if (!spool.ok()) return fail(spool.status().WithContext(ctx));
      Status filled = spool->Fill(part, {&sha256, &md5});
      if (!filled.ok()) return fail(filled.WithContext(ctx));
      if (spool->size() == 0) break;
      etag = md5.HexDigest();
      bytes = spool->size();
      if (bytes == candidate->second.bytes && etag == candidate->second.etag) {
        name = candidate->second.name;
        ++reused;
      } else {
        auto up = send(name, *spool, md5, {});
        if (!up.ok()) return fail(up.status().WithContext(ctx));
        if (*up != bytes)
          return fail(Status::IoError(ctx + ": sent " + std::to_string(*up) +
                                      " of the spooled " +
                                      std::to_string(bytes) + " bytes"));
      }
    }
    total += bytes;
    used.insert(name);
    manifest.push_back({{"path", "/" + where.segments + "/" + name},
                        {"etag", etag},
                        {"size_bytes", bytes}});
    if (part.ended()) break;
  }
  const std::string sent_sha256 = sha256.HexDigest();
  if (reused > 0)
    LogInfo(ctx + ": resumed: " + std::to_string(reused) + " of " +
            std::to_string(manifest.size()) +
            " segment(s) were stored and verified already");

  // The manifest (or, for no bytes at all, an empty plain object) makes the
  // new version the object, with what it is as metadata.
  http::HttpExchange x;
  x.headers = {"Content-Type: application/octet-stream",
               MetaHeader("sha256", sent_sha256),
               MetaHeader("size", std::to_string(total))};
  for (const auto& [label, value] : opts.labels) {
    if (label == "sha256" || label == "size") continue;
    std::string header = MetaHeader(label, value);
    // Swift refuses a metadata value over 256 bytes (the whole Put with
    // it): a label that long (a long name or path) is left out.
    if (header.size() - header.find(": ") - 2 > 256) {
      LogWarning(ctx + ": label " + label +
                 " is longer than Swift keeps; not stored");
      continue;
    }
    x.headers.push_back(std::move(header));
  }
  const std::string body = manifest.empty() ? "" : manifest.dump();
  x.body = &body;
  auto code = Request("PUT",
                      ObjectPath(where.container, key) +
                          (manifest.empty() ? "" : "?multipart-manifest=put"),
                      &x, deadline);
  if (!code.ok()) return fail(code.status().WithContext(ctx + " (manifest)"));
  if (*code != 201)
    return fail(SwiftError(*code, ctx + " (manifest)", x.small_body));
  // Every other segment of the key is garbage now: the replaced version's
  // and those failed Puts kept (best effort).
  std::vector<std::string> garbage;
  for (const Segment& s : *stored)
    if (!used.count(s.name)) garbage.push_back(s.name);
  LogIfError(
      DeleteSegments(where.segments, garbage, DeadlineOf(CleanupOptions(opts))),
      "the replaced segments of " + key);
  return ObjectInfo{key, total, sent_sha256,
                    "swift:" + ObjectPath(where.container, key)};
}

}  // namespace strata::store
