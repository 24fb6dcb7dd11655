// The "swift" driver. See swift_store.h.
#include "storage-drivers/swift/swift_store.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "http/http_exchange.h"
#include "http/json_field.h"
#include "storage-drivers/http_driver_util.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/sha256.h"

namespace strata::store {
namespace {

using nlohmann::json;

const char kMetaPrefix[] = "x-object-meta-strata-";

bool StartsWith(const std::string& s, const std::string& p) {
  return s.compare(0, p.size(), p) == 0;
}

Status SwiftError(long code, const std::string& ctx, const std::string& body) {
  if (code == 401)
    return Status::Unauthenticated(ctx + ": Swift refused the credentials");
  if (code == 403)
    return Status::PermissionDenied(ctx + ": Swift forbids it (HTTP 403)");
  if (code == 413)
    return Status::TooLarge(ctx + ": Swift refused the size (HTTP 413)");
  return http::HttpError(code, ctx, body);
}

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

// Swift's ETag header, without quotes.
std::string ETagOf(const http::HttpExchange& x) {
  auto it = x.response_headers.find("etag");
  if (it == x.response_headers.end()) return "";
  std::string e = it->second;
  while (!e.empty() && (e.back() == '\r' || e.back() == ' ')) e.pop_back();
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"')
    e = e.substr(1, e.size() - 2);
  return e;
}

std::string HeaderOf(const http::HttpExchange& x, const std::string& name) {
  auto it = x.response_headers.find(name);
  if (it == x.response_headers.end()) return "";
  std::string v = it->second;
  while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
  return v;
}

}  // namespace

Result<std::unique_ptr<Store>> SwiftStore::Create(const std::string& spec) {
  const std::string usage =
      "store spec '" + spec +
      "' is not swift:http(s)://host[:port]/auth/v1.0?user=ACCOUNT:USER&"
      "key_file=PATH[&container=NAME][&segment_mib=N]";
  STRATA_ASSIGN_OR_RETURN(SpecParts parts, SplitSpec(spec, kScheme, usage));
  Config c;
  c.auth_url = parts.url;
  for (const auto& [name, value] : parts.options) {
    if (name == "user") {
      c.user = value;
    } else if (name == "key_file") {
      c.key_file = value;
    } else if (name == "container") {
      // Swift's limit is 256 bytes; "_segments" is added to it.
      if (value.empty() || value.size() > 200 ||
          value.find('/') != std::string::npos)
        return Status::InvalidArgument(usage +
                                       ": container must be 1-200 bytes, "
                                       "no '/'");
      c.container = value;
    } else if (name == "segment_mib") {
      char* end = nullptr;
      const unsigned long long mib = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || mib < 1 || mib > 5120)
        return Status::InvalidArgument(usage + ": segment_mib is 1..5120");
      c.segment_bytes = mib << 20;
    } else {
      return Status::InvalidArgument(usage + ": unknown option '" + name + "'");
    }
  }
  if (c.user.empty() || c.key_file.empty())
    return Status::InvalidArgument(usage + ": user and key_file are needed");
  if (!std::ifstream(c.key_file))
    return Status::InvalidArgument("swift store: cannot read key_file " +
                                   c.key_file);
  return std::unique_ptr<Store>(new SwiftStore(std::move(c)));
}

Result<SwiftStore::Session> SwiftStore::Authenticate(const Deadline& deadline,
                                                     bool renew) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!renew && !session_.token.empty()) return session_;
  }
  std::ifstream f(cfg_.key_file);
  std::string key;
  if (!f || !std::getline(f, key) || key.empty())
    return Status::Unauthenticated("swift store: no key in " + cfg_.key_file);
  http::HttpExchange x;
  x.headers = {"X-Auth-User: " + cfg_.user, "X-Auth-Key: " + key};
  STRATA_ASSIGN_OR_RETURN(
      long code, http::HttpPerform("GET", cfg_.auth_url, &x, deadline));
  if (code != 200 && code != 204)
    return SwiftError(code, "swift authentication as " + cfg_.user,
                      x.small_body);
  Session s{HeaderOf(x, "x-storage-url"), HeaderOf(x, "x-auth-token")};
  if (s.storage_url.empty() || s.token.empty())
    return Status::IoError(
        "swift authentication: no X-Storage-Url or X-Auth-Token in the "
        "answer");
  std::lock_guard<std::mutex> lock(mu_);
  session_ = s;
  return s;
}

Result<long> SwiftStore::Request(const std::string& method,
                                 const std::string& path, http::HttpExchange* x,
                                 const Deadline& deadline, bool retry) {
  const http::HttpExchange request = *x;
  for (int attempt = 0;; ++attempt) {
    STRATA_ASSIGN_OR_RETURN(Session s, Authenticate(deadline, attempt > 0));
    *x = request;
    x->headers.push_back("X-Auth-Token: " + s.token);
    STRATA_ASSIGN_OR_RETURN(
        long code,
        http::HttpPerform(method, s.storage_url + path, x, deadline));
    if (code != 401 || attempt > 0 || !retry) return code;
  }
}

std::string SwiftStore::ObjectPath(const std::string& key) const {
  return "/" + PercentEncode(cfg_.container) + "/" + PercentEncode(key, "/");
}

Status SwiftStore::EnsureContainers(const Deadline& deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (containers_ok_) return Status::OK();
  }
  for (const std::string& c : {cfg_.container, cfg_.container + "_segments"}) {
    // A new account's first container can meet a 503 while Swift creates
    // the account: tried a few times, 0.1 s apart and doubling.
    for (int attempt = 0;; ++attempt) {
      http::HttpExchange x;
      STRATA_ASSIGN_OR_RETURN(
          long code, Request("PUT", "/" + PercentEncode(c), &x, deadline));
      if (code == 201 || code == 202) break;
      if (code < 500 || attempt == 4)
        return SwiftError(code, "swift: creating container " + c, x.small_body);
      std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  containers_ok_ = true;
  return Status::OK();
}

Result<std::vector<std::string>> SwiftStore::SegmentsOf(
    const std::string& key, const Deadline& deadline) {
  http::HttpExchange x;
  STRATA_ASSIGN_OR_RETURN(
      long code, Request("GET", ObjectPath(key) + "?multipart-manifest=get", &x,
                         deadline));
  std::vector<std::string> out;
  if (code == 404) return out;
  if (code != 200)
    return SwiftError(code, "swift: reading the manifest of " + key,
                      x.small_body);
  if (HeaderOf(x, "x-static-large-object") != "True") return out;
  json manifest = json::parse(x.small_body, nullptr, false);
  if (!manifest.is_array()) return out;
  for (const json& seg : manifest)
    if (seg.is_object()) out.push_back(http::JsonString(seg, "name"));
  return out;
}

Status SwiftStore::DeleteSegments(const std::vector<std::string>& paths,
                                  const Deadline& deadline) {
  Status first;
  for (const std::string& p : paths) {
    // A manifest names its segments "/container/object", unencoded.
    const std::string plain = StartsWith(p, "/") ? p.substr(1) : p;
    const size_t slash = plain.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = "/" + PercentEncode(plain.substr(0, slash)) + "/" +
                             PercentEncode(plain.substr(slash + 1), "/");
    http::HttpExchange x;
    auto code = Request("DELETE", path, &x, deadline);
    if (!code.ok()) {
      if (first.ok()) first = code.status();
      continue;
    }
    if (*code != 204 && *code != 404 && first.ok())
      first = SwiftError(*code, "swift: deleting segment " + p, x.small_body);
  }
  return first;
}

Result<ObjectInfo> SwiftStore::Put(const std::string& key, ByteSource& src,
                                   const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("swift put", key, opts);
  const Deadline deadline = DeadlineOf(opts);
  STRATA_RETURN_IF_ERROR(EnsureContainers(deadline).WithContext(ctx));
  auto old = SegmentsOf(key, deadline);
  if (!old.ok()) return old.status().WithContext(ctx);

  const std::string stamp = PutStamp();
  const std::string seg_container = cfg_.container + "_segments";
  BackgroundSha256 sha256;
  json manifest = json::array();
  std::vector<std::string> sent_segments;
  auto fail = [&](Status s) {
    LogIfError(DeleteSegments(sent_segments, DeadlineOf(CleanupOptions(opts))),
               "cleanup of a failed swift upload's segments");
    return s;
  };
  uint64_t total = 0;
  for (uint64_t index = 0;; ++index) {
    char name[16];
    std::snprintf(name, sizeof name, "%08llu",
                  static_cast<unsigned long long>(index));
    const std::string seg = key + "/" + stamp + "/" + name;
    SegmentSource part(src, cfg_.segment_bytes);
    BackgroundDigest md5(DigestKind::kMd5);
    http::HttpExchange x;
    x.headers.push_back("Content-Type: application/octet-stream");
    x.upload = &part;
    x.upload_digests = {&sha256, &md5};
    auto code = Request(
        "PUT",
        "/" + PercentEncode(seg_container) + "/" + PercentEncode(seg, "/"), &x,
        deadline, /*retry=*/false);
    if (!code.ok()) return fail(code.status().WithContext(ctx));
    if (*code != 201)
      return fail(
          SwiftError(*code, ctx + " (segment " + name + ")", x.small_body));
    sent_segments.push_back("/" + seg_container + "/" + seg);
    const std::string sent_md5 = md5.HexDigest();
    if (ETagOf(x) != sent_md5)
      return fail(Status::Corruption(ctx + ": Swift's ETag of segment " + name +
                                     " is " + ETagOf(x) + ", sent " + sent_md5)
                      .SetRetryable(true));
    if (x.uploaded == 0) {
      // The source ended at a segment boundary: this empty one is not part
      // of the object (an SLO segment must hold bytes).
      sent_segments.pop_back();
      LogIfError(DeleteSegments({"/" + seg_container + "/" + seg}, deadline),
                 "an empty trailing segment");
      break;
    }
    total += x.uploaded;
    manifest.push_back({{"path", "/" + seg_container + "/" + seg},
                        {"etag", sent_md5},
                        {"size_bytes", x.uploaded}});
    if (part.ended()) break;
  }
  const std::string sent_sha256 = sha256.HexDigest();

  // The manifest (or, for no bytes at all, an empty plain object) makes the
  // new version the object, with what it is as metadata.
  http::HttpExchange x;
  x.headers = {"Content-Type: application/octet-stream",
               std::string("X-Object-Meta-Strata-Sha256: ") + sent_sha256,
               "X-Object-Meta-Strata-Size: " + std::to_string(total)};
  // "volume_id" → X-Object-Meta-Strata-Volume-Id: a WSGI server cannot
  // tell '_' from '-' in a header's name.
  for (const auto& [label, value] : opts.labels) {
    std::string name = label;
    for (char& ch : name)
      if (ch == '_') ch = '-';
    x.headers.push_back("X-Object-Meta-Strata-" + name + ": " + value);
  }
  const std::string body = manifest.empty() ? "" : manifest.dump();
  x.body = &body;
  auto code = Request(
      "PUT",
      ObjectPath(key) + (manifest.empty() ? "" : "?multipart-manifest=put"), &x,
      deadline);
  if (!code.ok()) return fail(code.status().WithContext(ctx + " (manifest)"));
  if (*code != 201)
    return fail(SwiftError(*code, ctx + " (manifest)", x.small_body));
  // The replaced version's segments are garbage now (best effort).
  LogIfError(DeleteSegments(*old, DeadlineOf(CleanupOptions(opts))),
             "the replaced segments of " + key);
  return ObjectInfo{key, total, sent_sha256, "swift:" + ObjectPath(key)};
}

Status SwiftStore::Get(const std::string& key, ByteSink& sink,
                       const std::string& expected_sha256,
                       const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  STRATA_ASSIGN_OR_RETURN(std::string expected,
                          NormalizeExpectedSha256(expected_sha256));
  const std::string ctx = OpContext("swift get", key, opts);
  BackgroundSha256 hash;
  http::HttpExchange x;
  x.download = &sink;
  if (!expected.empty()) x.download_digests = {&hash};
  auto code = Request("GET", ObjectPath(key), &x, DeadlineOf(opts));
  if (!code.ok()) return code.status().WithContext(ctx);
  if (*code == 404) return Status::NotFound(ctx);
  if (*code != 200) return SwiftError(*code, ctx, x.small_body);
  if (x.content_length >= 0 &&
      x.downloaded != static_cast<uint64_t>(x.content_length))
    return Status::Corruption(ctx + ": Swift sent " +
                              std::to_string(x.downloaded) + " bytes of " +
                              std::to_string(x.content_length));
  return CheckDownloadDigest(ctx, x.downloaded, hash, expected);
}

Result<ObjectInfo> SwiftStore::Stat(const std::string& key,
                                    const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("swift stat", key, opts);
  http::HttpExchange x;
  auto code = Request("HEAD", ObjectPath(key), &x, DeadlineOf(opts));
  if (!code.ok()) return code.status().WithContext(ctx);
  if (*code == 404) return Status::NotFound(ctx);
  if (*code != 200) return SwiftError(*code, ctx, x.small_body);
  const std::string size = HeaderOf(x, std::string(kMetaPrefix) + "size");
  const std::string sha = HeaderOf(x, std::string(kMetaPrefix) + "sha256");
  const std::string length = HeaderOf(x, "content-length");
  ObjectInfo info{key, std::strtoull(length.c_str(), nullptr, 10), "",
                  "swift:" + ObjectPath(key)};
  if (IsSha256Hex(sha) && size == std::to_string(info.size)) info.sha256 = sha;
  return info;
}

Status SwiftStore::Delete(const std::string& key, const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("swift delete", key, opts);
  http::HttpExchange x;
  // With multipart-manifest=delete Swift removes a manifest's segments
  // too, and a plain object as usual.
  auto code = Request("DELETE", ObjectPath(key) + "?multipart-manifest=delete",
                      &x, DeadlineOf(opts));
  if (!code.ok()) return code.status().WithContext(ctx);
  if (*code == 404) return Status::OK();
  if (*code != 200 && *code != 204) return SwiftError(*code, ctx, x.small_body);
  return Status::OK();
}

Result<std::vector<ObjectInfo>> SwiftStore::List(const std::string& prefix,
                                                 const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKeyPrefix(prefix));
  const std::string ctx = OpContext("swift list", prefix, opts);
  const Deadline deadline = DeadlineOf(opts);
  std::vector<ObjectInfo> out;
  std::string marker;
  for (int page = 0; page < 100000; ++page) {
    http::HttpExchange x;
    std::string path =
        "/" + PercentEncode(cfg_.container) +
        "?format=json&limit=10000&prefix=" + PercentEncode(prefix);
    if (!marker.empty()) path += "&marker=" + PercentEncode(marker);
    auto code = Request("GET", path, &x, deadline);
    if (!code.ok()) return code.status().WithContext(ctx);
    if (*code == 404) return out;  // no container yet: nothing stored
    if (*code == 204) return out;
    if (*code != 200) return SwiftError(*code, ctx, x.small_body);
    json rows = json::parse(x.small_body, nullptr, false);
    if (!rows.is_array()) return Status::IoError(ctx + ": not a JSON list");
    if (rows.empty()) return out;
    for (const json& r : rows) {
      if (!r.is_object()) continue;
      marker = http::JsonString(r, "name");
      if (!ValidateKey(marker).ok()) continue;
      // A listing carries no object metadata: the SHA-256 (and the size of
      // a large object) come from each object's own HEAD.
      auto info = Stat(marker, opts);
      if (info.status().IsNotFound()) continue;  // deleted meanwhile
      if (!info.ok()) return info.status().WithContext(ctx);
      out.push_back(*info);
    }
  }
  return out;
}

}  // namespace strata::store
