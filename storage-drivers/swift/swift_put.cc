// The swift driver's Put: segments up, each checked against Swift's ETag,
// a resumed Put's stored segments compared and reused, then the manifest.
// See swift_store.h.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

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

// Reads at most `limit` bytes of `src`, feeding `digests` what it reads;
// `ended` once `src` itself ended.
class SegmentSource : public ByteSource {
 public:
  SegmentSource(ByteSource& src, uint64_t limit,
                std::vector<BackgroundDigest*> digests)
      : src_(src), left_(limit), digests_(std::move(digests)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    if (left_ == 0) return size_t{0};
    STRATA_ASSIGN_OR_RETURN(
        size_t got,
        src_.Read(buf, static_cast<size_t>(std::min<uint64_t>(n, left_))));
    if (got == 0) ended_ = true;
    for (BackgroundDigest* d : digests_) d->Update(buf, got);
    left_ -= got;
    return got;
  }
  bool ended() const { return ended_; }
  bool done() const { return ended_ || left_ == 0; }

 private:
  ByteSource& src_;
  uint64_t left_;
  std::vector<BackgroundDigest*> digests_;
  bool ended_ = false;
};

// One segment streamed from the source on a thread of its own. Its body
// is read from the source in order; once all of it is sent the source is
// free for the next segment, while this one still waits for Swift's answer
// (the object server writing and syncing it): segments overlap there, and
// memory stays one transfer buffer each.
class SegmentUpload {
 public:
  using Send = std::function<Result<uint64_t>(ByteSource&)>;
  SegmentUpload(long long index, std::string name, ByteSource& src,
                uint64_t limit, BackgroundDigest* sha256)
      : index_(index),
        name_(std::move(name)),
        signal_(this),
        part_(src, limit, {sha256, &md5_}) {}
  ~SegmentUpload() {
    if (thread_.joinable()) thread_.join();
  }
  void Start(Send send) {
    thread_ = std::thread([this, send = std::move(send)] {
      Result<uint64_t> r = Status::Internal("segment upload did not run");
      try {
        r = send(signal_);
      } catch (const std::exception& e) {
        r = Status::Internal(std::string("segment upload: ") + e.what());
      }
      std::lock_guard<std::mutex> lock(mu_);
      result_ = std::move(r);
      finished_ = true;
      cv_.notify_all();
    });
  }
  // Blocks until the whole body was read (true: the source is free) or the
  // upload ended without it (false: it failed; Finish says why).
  bool AwaitBodyRead() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return body_read_ || finished_; });
    return body_read_;
  }
  // Joins the thread: the bytes Swift took, checked against its ETag.
  Result<uint64_t> Finish() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  bool source_ended() const { return part_.ended(); }
  std::string md5() { return md5_.HexDigest(); }
  BackgroundDigest& md5_digest() { return md5_; }
  long long index() const { return index_; }
  const std::string& name() const { return name_; }

 private:
  // The body as the transfer reads it: the segment, and the moment it ends.
  class Signal : public ByteSource {
   public:
    explicit Signal(SegmentUpload* up) : up_(up) {}
    Result<size_t> Read(char* buf, size_t n) override {
      auto got = up_->part_.Read(buf, n);
      if (got.ok() && *got == 0 && up_->part_.done()) {
        std::lock_guard<std::mutex> lock(up_->mu_);
        up_->body_read_ = true;
        up_->cv_.notify_all();
      }
      return got;
    }

   private:
    SegmentUpload* up_;
  };

  const long long index_;
  const std::string name_;
  BackgroundDigest md5_{DigestKind::kMd5};
  Signal signal_;
  SegmentSource part_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool body_read_ = false;  // GUARDED_BY(mu_)
  bool finished_ = false;   // GUARDED_BY(mu_)
  Result<uint64_t> result_ = Status::Internal("segment upload not finished");
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
  if (!name.starts_with(key + "/")) return -1;
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
  const Where where = WhereToPut(key, opts);
  STRATA_RETURN_IF_ERROR(EnsureContainers(where, deadline).WithContext(ctx));
  // What a Put of this key stored before, finished (the current manifest's)
  // or not (kept by a failed one): the newest of each index may be reused.
  auto stored = SegmentsUnder(where, key, deadline);
  if (!stored.ok()) return stored.status().WithContext(ctx);
  std::map<long long, Listed> reusable;  // names sort by stamp: newest last
  for (const Listed& s : *stored)
    if (SegmentIndex(key, s.name) >= 0 && s.bytes > 0 && s.etag.size() == 32)
      reusable[SegmentIndex(key, s.name)] = s;

  const std::string stamp = PutStamp();
  BackgroundSha256 sha256;
  std::mutex sent_mu;
  std::vector<std::string> sent;  // GUARDED_BY(sent_mu): new segments
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
  // of what was sent (`md5`: fed as the body is read, or already final).
  auto send = [&](const std::string& name, ByteSource& body,
                  BackgroundDigest& md5) -> Result<uint64_t> {
    http::HttpExchange x;
    x.headers.push_back("Content-Type: application/octet-stream");
    x.upload = &body;
    STRATA_ASSIGN_OR_RETURN(long code,
                            Request("PUT", ObjectPath(where.segments, name), &x,
                                    deadline, /*retry=*/false));
    if (code != 201)
      return SwiftError(code, ctx + " (segment " + name + ")", x.small_body);
    {
      std::lock_guard<std::mutex> lock(sent_mu);
      sent.push_back(name);
    }
    const std::string sent_md5 = md5.HexDigest();
    if (ETagOf(x) != sent_md5)
      return Status::Corruption(ctx + ": Swift's ETag of segment " + name +
                                " is " + ETagOf(x) + ", sent " + sent_md5)
          .SetRetryable(true);
    return x.uploaded;
  };

  struct Entry {
    std::string name, etag;
    uint64_t bytes = 0;
  };
  std::map<long long, Entry> entries;  // the manifest, by index
  Status failure;
  // Segments whose bodies are sent, waiting for Swift's answer, oldest
  // first; at most cfg_.parallel_segments at once.
  std::deque<std::unique_ptr<SegmentUpload>> flying;
  auto settle_oldest = [&] {
    SegmentUpload& up = *flying.front();
    Result<uint64_t> r = up.Finish();
    if (!r.ok()) {
      if (failure.ok()) failure = r.status();
    } else if (*r == 0) {
      // The source ended at a segment boundary: this empty one is not part
      // of the object (an SLO segment must hold bytes).
      {
        std::lock_guard<std::mutex> lock(sent_mu);
        std::erase(sent, up.name());
      }
      LogIfError(DeleteSegments(where.segments, {up.name()}, deadline),
                 "an empty trailing segment");
    } else {
      entries[up.index()] = {up.name(), up.md5(), *r};
    }
    flying.pop_front();
  };

  uint64_t reused = 0;
  bool ended = false;
  for (long long index = 0; !ended && failure.ok(); ++index) {
    char digits[24];
    std::snprintf(digits, sizeof digits, "%08lld", index);
    const std::string name = key + "/" + stamp + "/" + digits;
    auto candidate = reusable.find(index);
    if (candidate == reusable.end()) {
      auto up = std::make_unique<SegmentUpload>(index, name, src,
                                                cfg_.segment_bytes, &sha256);
      SegmentUpload* raw = up.get();
      raw->Start([&send, raw](ByteSource& body) {
        return send(raw->name(), body, raw->md5_digest());
      });
      // Its body read whole, the source is the next segment's; read short,
      // the upload failed (settled below) or the source ended.
      ended = !raw->AwaitBodyRead() || raw->source_ended();
      flying.push_back(std::move(up));
      while (flying.size() >= cfg_.parallel_segments ||
             (ended && !flying.empty()))
        settle_oldest();
      continue;
    }
    // A stored segment of this index: read ours aside, and send it only if
    // it differs.
    SegmentSource part(src, cfg_.segment_bytes, {});
    BackgroundDigest md5(DigestKind::kMd5);
    auto spool = SpoolFile::Create(cfg_.spool_dir);
    if (!spool.ok()) {
      failure = spool.status();
      break;
    }
    if (Status filled = spool->Fill(part, {&sha256, &md5}); !filled.ok()) {
      failure = filled;
      break;
    }
    ended = part.ended();
    if (spool->size() == 0) break;
    Entry e{name, md5.HexDigest(), spool->size()};
    Status kept = Status::NotFound("differs");
    if (e.bytes == candidate->second.bytes && e.etag == candidate->second.etag)
      kept = KeepSegment(where.segments, candidate->second.name, deadline);
    if (kept.ok()) {
      e.name = candidate->second.name;
      ++reused;
    } else if (!kept.IsNotFound()) {
      failure = kept.WithContext(ctx);
      break;
    } else {
      auto up = send(name, *spool, md5);
      if (up.ok() && *up != e.bytes)
        up = Status::IoError(ctx + ": sent " + std::to_string(*up) +
                             " of the spooled " + std::to_string(e.bytes) +
                             " bytes");
      if (!up.ok()) {
        failure = up.status();
        break;
      }
    }
    entries[index] = e;
  }
  while (!flying.empty()) settle_oldest();
  if (!failure.ok()) return fail(failure.WithContext(ctx));

  json manifest = json::array();
  std::set<std::string> used;  // every segment the manifest names
  uint64_t total = 0;
  for (const auto& [index, e] : entries) {
    manifest.push_back({{"path", "/" + where.segments + "/" + e.name},
                        {"etag", e.etag},
                        {"size_bytes", e.bytes}});
    used.insert(e.name);
    total += e.bytes;
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
  // and those failed Puts kept. They expire rather than go at once: a
  // reader may be streaming the replaced version (best effort).
  std::vector<std::string> garbage;
  for (const Listed& s : *stored)
    if (!used.count(s.name)) garbage.push_back(s.name);
  LogIfError(
      ExpireSegments(where.segments, garbage, DeadlineOf(CleanupOptions(opts))),
      "the replaced segments of " + key);
  return ObjectInfo{key, total, sent_sha256,
                    "swift:" + ObjectPath(where.container, key)};
}

}  // namespace strata::store
